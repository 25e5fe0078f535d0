"""CSV files with the bytes pandas' `to_csv` writes, through pyarrow's C++ writer: pandas formats
every float in Python, about 18 s more for `backtest --signals` on a million candles (its
equity.csv) on this 2-core machine under load (measured with the variants of benchmarks/commands.py's
backtest command: 28.1 s median with pandas' writer, 9.4-10.5 s with this one). tests/test_csv_and_thin.py
compares the bytes on every float magnitude.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryptotrain.fileio import atomic_path


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
    The rows go in chunks, one after another: the text of a million rows never sits in memory at
    once. (Formatting the chunks on worker threads saved nothing measurable beside the figure's
    child process: -1.04, -0.24 and +0.22 s on the 1M-candle backtest in three interleaved runs
    under load, so it went.)"""
    with atomic_path(target, suffix=".csv") as tmp:
        columns = _csv_columns(frame)
        if columns is None:
            frame.to_csv(tmp, index=False)
            return
        import pyarrow as pa

        names = [str(c) for c in frame.columns]
        with pa.OSFile(str(tmp), "wb") as sink:
            sink.write((",".join(names) + "\n").encode())   # the header unquoted, as pandas writes it
            for start in range(0, len(frame), _CHUNK_ROWS):
                sink.write(_csv_rows(names, [c[start:start + _CHUNK_ROWS] for c in columns]))


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
    # 1e-4 <= |x| < 1e16, pyarrow for |x| < 1e6 at least (tests/test_csv_and_thin.py checks it on
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
