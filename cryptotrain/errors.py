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
