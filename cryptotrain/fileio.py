"""Atomic file writes: write to a temporary file beside the target, flush, fsync, rename.

A crash or kill at any moment leaves either the old file or the new one, never half of one.
The file gets the mode an ordinary `open()` would give it: an existing target keeps its mode,
a new one gets 0666 minus the umask (mkstemp alone would leave every output 0600).
Also `to_jsonable`, the one conversion of results to JSON types that every writer uses.
"""

from __future__ import annotations

import datetime
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np


@contextmanager
def atomic_path(target: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `target`; on success it is fsynced and renamed onto it.

    `suffix` keeps a file extension on the temporary name for writers that look at it
    (e.g. numpy's savez appends .npz when missing).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
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
        _fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text)


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
    # the umask can only be read by setting it; set it straight back
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(path: Path) -> None:
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
