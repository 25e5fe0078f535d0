"""Atomic file writes: write to a temporary file beside the target, flush, fsync, rename.

A crash or kill at any moment leaves either the old file or the new one, never half of one.
The file gets the mode an ordinary `open()` would give it: an existing target keeps its mode,
a new one gets 0666 minus the umask (mkstemp alone would leave every output 0600).
Temporary names carry the writer's pid (`.<name>.<pid>.<random>.tmp`): a writer killed before
its rename leaves one behind, and the next write of the same target removes those whose process
is gone (`remove_leftovers`), so they do not pile up.
Also `to_jsonable`, the one conversion of results to JSON types that every writer uses, and
`os_error`, the one translation of a read-only or full file system into a one-line error.
"""

from __future__ import annotations

import datetime
import errno
import math
import os
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from cryptotrain.blas import usable_cores
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


# pandas writes a float as numpy's shortest round-trip text ('10000.0', '1e-05'); pyarrow's cast
# writes the same digits but drops a trailing '.0' and moves to exponent notation at other
# magnitudes (1e-5 -> '0.00001', 1e15 -> '1e+15'). _PY_FIXED is where repr() writes plain digits.
_PY_FIXED = (1e-4, 1e16)
_CSV_SPECIAL = (",", '"', "\n", "\r")


_CHUNK_ROWS = 1 << 16   # rows formatted and written at a time (the memory of a few chunks, reused)


def write_csv(frame, target: str | Path) -> None:
    """`frame.to_csv(target, index=False)` byte for byte, written atomically, through pyarrow's C++
    CSV writer: pandas formats every float in Python (4 s for a million-row equity curve).
    Columns of other kinds than float, int, bool and plain text go through pandas unchanged.
    The rows go in chunks, formatted on worker threads while the file is written (pyarrow's casts
    and writer release the GIL): the text of a million rows never sits in memory at once."""
    with atomic_path(target, suffix=".csv") as tmp:
        columns = _csv_columns(frame)
        if columns is None:
            frame.to_csv(tmp, index=False)
            return
        import pyarrow as pa

        names = [str(c) for c in frame.columns]

        def rows(start: int):
            return _csv_rows(names, [c[start:start + _CHUNK_ROWS] for c in columns])

        with pa.OSFile(str(tmp), "wb") as sink, ThreadPoolExecutor(max_workers=min(4, usable_cores())) as pool:
            sink.write((",".join(names) + "\n").encode())   # the header unquoted, as pandas writes it
            for text in pool.map(rows, range(0, len(frame), _CHUNK_ROWS)):
                sink.write(text)


def _csv_columns(frame) -> list[np.ndarray] | None:
    """The columns as arrays when pyarrow writes them as pandas would, or None when pandas must write."""
    names = [str(c) for c in frame.columns]
    # pandas quotes such names, and a lone empty field ('""' on a one-column line)
    if len(set(names)) != len(names) or any(s in n for n in names for s in _CSV_SPECIAL) or len(names) < 2:
        return None
    columns = [frame[name].to_numpy() for name in frame.columns]
    for v in columns:
        if v.dtype.kind in "OUT":
            if not all(isinstance(s, str) for s in v) or any(s in t for t in set(v) for s in _CSV_SPECIAL):
                return None   # not plain text, or text that pandas would quote
        elif v.dtype.kind not in "fiub":
            return None
    return columns


def _csv_rows(names: list[str], columns: list[np.ndarray]):
    """The CSV lines (no header) of one chunk of the columns, as pandas writes them -> pyarrow Buffer."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def text(v: np.ndarray):
        if v.dtype.kind == "f":
            return float_text(v.astype(np.float64, copy=False))
        if v.dtype.kind in "iu":
            return pa.array(v).cast(pa.string())
        if v.dtype.kind == "b":
            return pa.array(np.where(v, "True", "False"))
        return pa.array(v, type=pa.string())

    out = pa.BufferOutputStream()
    pacsv.write_csv(pa.table([text(v) for v in columns], names=names), out,
                    pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return out.getvalue()


def float_text(x: np.ndarray):
    """(N,) float64 -> pyarrow string array of the text pandas writes: repr digits, NaN empty (null).

    A column of a few values (a position: -1, 0, 0.5, 1) is written as the text of each distinct
    value taken by index, 4x faster; the first 64 values tell whether to try. Values are told
    apart by their bits (np.unique on floats would merge -0.0 into 0.0, which pandas writes apart)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bits = x.view(np.int64)
    if len(x) > 64 and len(np.unique(bits[:64])) <= 8:
        values, index = np.unique(bits, return_inverse=True)
        return pc.take(_float_text(values.view(np.float64)), pa.array(index.ravel()))
    return _float_text(x)


def _float_text(x: np.ndarray):
    import pyarrow as pa
    import pyarrow.compute as pc

    finite = np.isfinite(x)
    text = pc.cast(pa.array(x), pa.string())
    # Where either writer uses exponent notation the two texts may differ ('1e-7' vs '1e-07',
    # '0.00001' vs '1e-05'): those go through repr(). repr() writes plain digits for
    # 1e-4 <= |x| < 1e16, pyarrow for |x| < 1e6 at least (tests/test_fileio.py checks it on
    # every magnitude), so only larger values need a look at pyarrow's text. Elsewhere the
    # digits agree and only the '.0' that repr() keeps on whole numbers is missing.
    ax = np.abs(x)
    odd = finite & (x != 0) & ((ax < _PY_FIXED[0]) | (ax >= _PY_FIXED[1]))
    big = np.flatnonzero(finite & ~odd & (ax >= 1e6))
    if len(big):
        odd[big[np.asarray(pc.match_substring(pc.take(text, pa.array(big)), "e"), dtype=bool)]] = True
    whole = finite & ~odd & (x == np.trunc(x))
    if whole.any():
        fixed = pc.binary_join_element_wise(pc.cast(pa.array(x[whole]), pa.string()), ".0", "")
        text = pc.replace_with_mask(text, pa.array(whole), fixed)
    if odd.any():
        text = pc.replace_with_mask(text, pa.array(odd), pa.array([repr(float(v)) for v in x[odd]], pa.string()))
    nan = np.isnan(x)
    if nan.any():
        text = pc.if_else(pa.array(nan), pa.scalar(None, pa.string()), text)
    return text
