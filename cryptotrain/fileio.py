"""Atomic file writes: write to a temporary file beside the target, flush, fsync, rename.

A crash or kill at any moment leaves either the old file or the new one, never half of one.
The file gets the mode an ordinary `open()` would give it: an existing target keeps its mode,
a new one gets 0666 minus the umask (mkstemp alone would leave every output 0600).
Temporary names carry the writer's pid (`.<name>.<pid>.<random>.tmp`): a writer killed before
its rename leaves one behind, and the next write of the same target removes those whose process
is gone (`remove_leftovers`), so they do not pile up.
Also `read_state`, the one defensive read of a JSON state file a command wrote back, `to_jsonable`,
the one conversion of results to JSON types that every writer uses, and `os_error`, the one
translation of a read-only or full file system into a one-line error.
"""

from __future__ import annotations

import datetime
import errno
import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from cryptotrain.errors import RunFailure, UserError


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is fsynced and renamed onto it.

    `suffix` keeps a file extension on the temporary name for writers that look at it
    (e.g. numpy's savez appends .npz when missing).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=suffix + ".tmp", dir=target.parent)
    try:
        os.fchmod(fd, _mode_for(target))
    finally:
        os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, target)
        fsync_dir(target.parent)
    except OSError as err:
        raise named(err, target) from err
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def read_state(path: str | Path, rebuild: str, fields: tuple[str, ...] = ()) -> Any:
    """A JSON state file a command wrote (atomically) and reads back; a damaged one (cut by a kill
    on a file system without atomic rename, or edited; with `fields`, an object lacking one) is a
    UserError naming it and `rebuild`, how to make it again. A missing one raises FileNotFoundError."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as err:
        where = f" at line {err.lineno} column {err.colno}" if isinstance(err, json.JSONDecodeError) else ""
        raise UserError(f"{path} is damaged (not valid JSON{where}: cut off or edited); {rebuild}") from None
    if fields and not (isinstance(doc, dict) and all(isinstance(doc.get(f), dict) for f in fields)):
        raise UserError(f"{path} is damaged (not an object with {', '.join(fields)}: edited?); {rebuild}")
    return doc


def remove_leftovers(target: str | Path, kind: str = ".tmp") -> list[Path]:
    """Remove the temporary files (or directories) `.<target name>.<pid>.*<kind>` beside `target`
    whose writer is no longer running; -> what was removed."""
    target = Path(target)
    # mkstemp/mkdtemp add 8 characters of [a-z0-9_]
    pattern = re.compile(re.escape(f".{target.name}.") + r"(\d+)\.[a-z0-9_]{8}(?:\.[A-Za-z0-9]+)?"
                         + re.escape(kind))
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = pattern.fullmatch(entry.name)
        if m is None or pid_alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except OSError:
            pass   # another cleaner was first, or the directory is read-only: harmless
    return removed


def named(err: OSError, path: str | Path) -> OSError:
    """`err` with `path` as its file name when it has none (writes through a handle, e.g. savefig)."""
    if err.filename is not None or err.errno is None:
        return err
    return type(err)(err.errno, err.strerror, str(path))


def pid_alive(pid: int) -> bool:
    """True when process `pid` exists on this machine (one of another user counts too)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def os_error(err: OSError) -> UserError | RunFailure | None:
    """A read-only or permission-denied path -> UserError (exit 2: point the command at a writable
    place); a full disk or quota -> RunFailure (exit 1: the input was fine, the machine ran out;
    free space and resume or re-run). Anything else -> None (not ours to explain)."""
    where = err.filename or "a file"
    if err.errno in READ_ONLY:
        why = "read-only file system" if err.errno == errno.EROFS else "permission denied"
        return UserError(f"cannot write {where}: {why}; point the command at a directory you can write "
                         "(train.runs_dir, --run, --out)")
    if err.errno in NO_SPACE:
        return RunFailure(f"cannot write {where}: no space left on the device; free some space and run the "
                          "command again (files already written are complete: a run resumes with --resume)")
    return None


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types, recursively: NaN, infinities and NaT -> None (null); numpy scalars and
    arrays -> Python; timestamps (pandas or datetime) -> ISO text; durations -> their text."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, (datetime.datetime, datetime.timedelta)):
        return None if obj != obj else (obj.isoformat() if isinstance(obj, datetime.datetime) else str(obj))
    return obj


def _mode_for(target: Path) -> int:
    """The permission bits `open(target, "w")` would leave: the existing file's, else 0666 & ~umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        pass
    return 0o666 & ~current_umask()


def current_umask() -> int:
    # the umask can only be read by setting it; set it straight back
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not support fsync on directories; the rename is still atomic
    finally:
        os.close(fd)
