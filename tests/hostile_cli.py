"""Helpers of the hostile-input tests (tests/test_hostile_*.py): run a command with --debug off and
check it failed with one `error:` line and no traceback; hash a directory tree; hold a directory's
lock from outside the command, as a second process would."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.dirlock import LOCK_FILE


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error(res, code: int = 2, *words: str) -> str:
    """The command exited with `code`, printed exactly one `error:` line holding `words`, no traceback."""
    out = res.output
    assert res.exit_code == code, out
    assert isinstance(res.exception, SystemExit), repr(res.exception)   # not an exception that escaped
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, out
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root (the lock file aside: it belongs to the holder)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file() and p.name != LOCK_FILE}


@contextmanager
def held_lock(directory: Path, pid: int = 4242, command: str = "walkforward"):
    """Hold `directory`'s lock through a file description of our own, as another process's command
    would (flock locks of two open file descriptions conflict even inside one process)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, json.dumps({"pid": pid, "command": command, "since": "2026-01-01T00:00:00Z"}).encode())
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
