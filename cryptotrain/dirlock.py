"""One writer per directory: `dir_lock(path, command)` holds an exclusive lock on a run directory
(or a walk-forward fold, a sweep trial) while a command writes into it.

The lock is `fcntl.flock` on DIR/.lock, a file that also holds the holder's pid and command so a
second writer can say who is in the way. The kernel drops a flock when its process dies, so a
lock file left by a killed process (kill -9, power loss) is stale by construction: the next
writer takes it over and overwrites the pid. The file is removed on release; a writer that
opened it just before the removal sees a different inode after locking and retries, so two
writers never both hold the lock.

The lock is re-entrant within one process (backtest holds it and runs evaluate, which takes it
again): flock locks belong to open file descriptions, so a second open in the same process
would otherwise block on itself. Reading commands take no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cryptotrain.errors import UserError

LOCK_FILE = ".lock"

_held: dict[str, list] = {}   # realpath of the directory -> [fd, depth] for the locks this process holds


@contextmanager
def dir_lock(directory: str | Path, command: str) -> Iterator[None]:
    """Hold the exclusive lock on `directory` (which must exist); UserError naming the holder when taken."""
    key = os.path.realpath(directory)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    path = Path(directory) / LOCK_FILE
    fd = _acquire(path, directory)
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps({"pid": os.getpid(), "command": command,
                             "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode() + b"\n")
    _held[key] = [fd, 1]
    try:
        yield
    finally:
        del _held[key]
        try:
            path.unlink()
        except OSError:
            pass  # the directory was removed with it (a failed start) or is read-only now
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def holder(directory: str | Path) -> dict | None:
    """{"pid", "command", "since"} of the live process holding `directory`'s lock, else None."""
    path = Path(directory) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None   # nobody holds it: a stale file of a dead process
    finally:
        os.close(fd)


def _acquire(path: Path, directory) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            who = _read_holder(fd) or {}
            os.close(fd)
            pid = who.get("pid", "unknown")
            doing = f" ({who['command']} since {who.get('since')})" if who.get("command") else ""
            raise UserError(f"{directory} is in use by process {pid}{doing}; wait for it to finish, "
                            f"or stop it (kill {pid}) and try again") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)   # the holder removed the file between our open and our lock: start again


def _read_holder(fd: int) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "null")
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None
