"""Output directories written as one unit: `output_unit(target, command)` yields a fresh temporary
directory beside `target`; when the block finishes, that directory replaces `target` in one
atomic exchange (Linux renameat2 RENAME_EXCHANGE; elsewhere two renames, between which `target`
is briefly absent). A reader sees the old outputs or the new ones, never stats from one run
beside an equity curve of another; a kill leaves a temporary directory that the next write of
the same target removes (fileio.remove_leftovers).

The command owns what it replaces: `target` must be absent, empty, or hold a marker file
(MARKER, listing the files written) and nothing else; a directory with files the command did not
write is refused, so `--out DIR` never overwrites a user's own files.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cryptotrain.errors import UserError
from cryptotrain.fileio import current_umask, fsync_dir, remove_leftovers

MARKER = ".cryptotrain-output.json"
NEW, OLD = ".new", ".old"


def check_target(target: Path, option: str = "the output directory") -> None:
    """UserError unless `target` may be replaced: absent, empty, or written by cryptotrain."""
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir() or target.is_symlink():
        raise UserError(f"{option} {target} exists and is not a directory; pass a directory to write into")
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if not p.is_dir())
    if not files:
        return
    foreign = [f for f in files if f != MARKER and f not in _written(target)]
    if MARKER not in files or foreign:
        shown = ", ".join((foreign or files)[:3]) + (" ..." if len(foreign or files) > 3 else "")
        raise UserError(f"{option} {target} holds files cryptotrain did not write ({shown}); "
                        "pass a new or empty directory")


@contextmanager
def output_unit(target: str | Path, command: str, *, option: str = "the output directory") -> Iterator[Path]:
    """Yield a fresh directory to write `command`'s outputs into; swap it in place of `target` on success."""
    target = Path(target)
    check_target(target, option)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target, NEW)
    remove_leftovers(target, OLD)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=NEW, dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())   # mkdtemp makes 0700; outputs are for colleagues too
        yield tmp
        written = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if not p.is_dir())
        (tmp / MARKER).write_text(json.dumps({"command": command, "files": written}, indent=1) + "\n")
        _fsync_tree(tmp)
        _swap(tmp, target)
    except OSError as err:
        # name the directory the user asked for, not the temporary one beside it
        if err.errno is not None and (err.filename is None or str(tmp) in str(err.filename)):
            raise OSError(err.errno, err.strerror, str(target)) from err
        raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _written(target: Path) -> set[str]:
    try:
        doc = json.loads((target / MARKER).read_text())
        return set(doc.get("files", [])) if isinstance(doc, dict) else set()
    except (OSError, ValueError):
        return set()


def _swap(new: Path, target: Path) -> None:
    """Put `new` at `target`; afterwards `new` holds the old directory (or nothing)."""
    if not target.exists():
        os.rename(new, target)
    elif not _exchange(new, target):
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=OLD, dir=target.parent))
        os.rename(target, old / "x")
        os.rename(new, target)
        shutil.rmtree(old, ignore_errors=True)
    fsync_dir(target.parent)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux >= 3.15); False where the call is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):   # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(err, os.strerror(err), str(b))


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
