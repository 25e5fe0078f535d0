"""Error types the CLI turns into one-line messages and exit codes.

`UserError` is a problem with what the user gave (file, config, option): one line that names
the problem and the fix, exit code 2. `RunFailure` is a run that started but could not finish
(non-finite loss, exchange unreachable): a clear line, exit code 1.
"""


class UserError(Exception):
    """Bad input from the user. The message names the problem and what to do."""

    exit_code = 2


class RunFailure(Exception):
    """A run that could not complete; what was already written stays valid."""

    exit_code = 1


class Interrupted(RunFailure):
    """Ctrl-C: what was kept and how to continue; exit code 130 as a shell gives a SIGINT."""

    exit_code = 130


def install_command(extra: str) -> str:
    """The exact command that adds an optional extra (`ray`, `lightgbm`) to the Python running now:
    `.venv/bin/python -m pip install -e ".[ray]"` from the repository root (`make demo` installs the
    core only), the checkout's path from elsewhere, `cryptotrain[ray]` outside a checkout."""
    import os
    import sys
    from pathlib import Path

    cwd = Path.cwd()
    python = Path(sys.executable)
    python_shown = os.path.relpath(python, cwd) if python.is_relative_to(cwd) else str(python)
    root = Path(__file__).resolve().parents[1]
    if not (root / "pyproject.toml").is_file():
        return f'{python_shown} -m pip install "cryptotrain[{extra}]"'
    where = "." if root == cwd.resolve() else str(root)
    return f'{python_shown} -m pip install -e "{where}[{extra}]"'
