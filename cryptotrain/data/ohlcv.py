"""OHLCV candle files: load, validate, clean, report gaps, write.

`load_ohlcv` is the one public way in: it reads CSV, CSV.gz or Parquet, checks every value,
sorts, drops identical duplicate rows, infers and checks the timeframe, finds gaps and applies
the gap policy. Anything wrong with the file is a `UserError`: one line naming the problem
and the fix. `write_ohlcv` writes atomically (temporary file + rename).

Columns everywhere: timestamp (int64 ms since epoch UTC, the candle OPEN time), open, high,
low, close, volume (float64).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.errors import UserError
from cryptotrain.data.timestamps import format_utc, ms_to_timeframe, timeframe_to_ms, to_ms
from cryptotrain.fileio import atomic_path

COLUMNS = ["timestamp", "open", "high", "low", "close", "volume"]
PRICES = ["open", "high", "low", "close"]
GAP_POLICIES = ("keep", "ffill", "error")
PARQUET_ROW_GROUP = 1 << 16   # candles per Parquet row group written

# ------------------------------------------------------------------------------ report
@dataclass
class OhlcvReport:
    """What `load_ohlcv` found. gaps: (last timestamp before the gap, number of missing candles)."""

    path: str
    rows: int
    timeframe: str
    timeframe_ms: int
    first_ts: int
    last_ts: int
    gaps: list[tuple[int, int]] = field(default_factory=list)
    duplicates_dropped: int = 0
    zero_volume: int = 0
    filled: int = 0               # candles inserted by gap_policy="ffill"
    price_min: float = float("nan")
    price_max: float = float("nan")
    was_sorted: bool = True       # False when the file had to be sorted

    @property
    def missing(self) -> int:
        return sum(n for _, n in self.gaps)


# ------------------------------------------------------------------------- validation
def _row_namer(line_numbers: bool):
    # CSV: name the file line (header is line 1); other frames: the 1-based data row
    return (lambda i: f"line {i + 2}") if line_numbers else (lambda i: f"row {i + 1}")


def normalize_columns(df: pd.DataFrame, src: str) -> pd.DataFrame:
    """Column names stripped and lower-cased; two names that become one ('close', 'Close ') are an error."""
    names = [str(c).strip().lower() for c in df.columns]
    seen: dict[str, object] = {}
    for raw, name in zip(df.columns, names):
        if name in seen:
            raise UserError(f"{src}: columns {str(seen[name])!r} and {str(raw)!r} both mean '{name}'; "
                            "keep one of them")
        seen[name] = raw
    return df.set_axis(names, axis=1)


def _clean(df: pd.DataFrame, src: str = "candles", line_numbers: bool = False) -> tuple[pd.DataFrame, int, bool]:
    """Check every value, sort, drop identical duplicates -> (frame, duplicates dropped, was sorted)."""
    where = _row_namer(line_numbers)
    df = require_columns(df, COLUMNS, src, f"need columns {', '.join(COLUMNS)}")
    ts = to_ms(df["timestamp"], src, where)
    cols = []                 # (N,) float64 each: open, high, low, close, volume (views of float64 columns)
    for name in COLUMNS[1:]:
        col = df[name]
        num = col if pd.api.types.is_numeric_dtype(col) and col.dtype != bool else pd.to_numeric(col, errors="coerce")
        if num is not col:
            bad = (num.isna() & col.notna()).to_numpy()
            if bad.any():
                i = int(np.argmax(bad))
                raise UserError(f"{src}: non-numeric value {col.iloc[i]!r} in column '{name}' at {where(i)}; fix or remove that row")
        cols.append(num.to_numpy(dtype=np.float64, na_value=np.nan))
    finite_positive = all(np.isfinite(v).all() for v in cols) and all((v > 0).all() for v in cols[:4])
    if not (finite_positive and (cols[4] >= 0).all()):   # find and name the first bad value
        values = np.column_stack(cols)                  # (N, 5)
        _first_bad(~np.isfinite(values), src, where, "is NaN, missing or infinite", "fill or remove that row")
        _first_bad(values[:, :4] <= 0, src, where, "is not a positive price", "prices must be > 0", cols=PRICES)
        _first_bad(values[:, 4:] < 0, src, where, "is a negative volume", "volume must be >= 0", cols=["volume"])
    o, h, l, c = cols[:4]
    bad_h, bad_l = h < np.maximum(o, c), l > np.minimum(o, c)
    if bad_h.any() or bad_l.any():
        i = int(np.argmax(bad_h | bad_l))
        what = "high is below max(open, close)" if bad_h[i] else "low is above min(open, close)"
        raise UserError(f"{src}: {what} at {where(i)} (open={o[i]}, high={h[i]}, low={l[i]}, close={c[i]}); "
                        "fix or remove that candle")
    # copy=False: one block per column, the arrays as they are (a million candles: no 48 MB copy)
    out = pd.DataFrame({"timestamp": ts, **dict(zip(COLUMNS[1:], cols))}, copy=False)
    if len(ts) < 2 or bool(np.all(ts[1:] > ts[:-1])):
        return out, 0, True   # strictly increasing: sorted and without duplicates (the usual file)
    # conflicting duplicates, found before sorting so that the message can name the file lines
    clash = ~out.duplicated().to_numpy() & out["timestamp"].duplicated(keep=False).to_numpy()
    clash &= pd.Series(ts).where(clash).duplicated(keep=False).to_numpy()  # two different rows, same time
    if clash.any():
        t = int(ts[np.argmax(clash)])
        rows = np.flatnonzero(clash & (ts == t))
        raise UserError(f"{src}: {where(int(rows[0]))} and {where(int(rows[1]))} share a timestamp with different "
                        f"values ({format_utc(t)}, {t}; {int(clash.sum())} such rows); keep one candle per timestamp")
    was_sorted = bool(np.all(ts[1:] >= ts[:-1]))
    if not was_sorted:
        out = out.sort_values("timestamp", kind="stable", ignore_index=True)
    n0 = len(out)
    out = out.drop_duplicates(ignore_index=True)
    dupes = n0 - len(out)
    return out.reset_index(drop=True), dupes, was_sorted


def _first_bad(bad: np.ndarray, src: str, where, what: str, fix: str, cols: list[str] | None = None) -> None:
    if bad.any():
        i, j = divmod(int(np.argmax(bad)), bad.shape[1])
        raise UserError(f"{src}: column '{(cols or COLUMNS[1:])[j]}' {what} at {where(i)}; {fix}")


def validate_ohlcv_frame(df: pd.DataFrame, source: str = "candles") -> pd.DataFrame:
    """Check and clean candle content -> typed, sorted frame with a RangeIndex (UserError on bad values).

    Identical duplicate rows are dropped with a warning; conflicting duplicates are an error.
    """
    out, dupes, _ = _clean(df, source)
    if dupes:
        warnings.warn(f"{source}: dropped {dupes} identical duplicate row(s)", stacklevel=2)
    return out


# ------------------------------------------------------------------------------ reading
# The one list of candle-file extensions (longest first within a format, so .csv.gz is not .gz).
FORMATS = {"parquet": (".parquet", ".pq"), "csv": (".csv.gz", ".csv")}
EXTENSIONS = tuple(ext for exts in FORMATS.values() for ext in exts)


def symbol_slug(symbol: str) -> str:
    """A market symbol as it appears in file and run names: BTC/USDT -> BTC_USDT, BTC/USDT:USDT -> BTC_USDT_USDT."""
    return symbol.replace("/", "_").replace(":", "_")


def file_stem(path: Path) -> str:
    """The file name without its candle-file extension ("data" if nothing is left)."""
    name = Path(path).name
    for ext in EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)] or "data"
    return name or "data"


def _kind(path: Path) -> str:
    name = path.name.lower()
    for kind, exts in FORMATS.items():
        if name.endswith(exts):
            return kind
    raise UserError(f"{path}: unknown file type; use .csv, .csv.gz or .parquet")


def _read(path: Path) -> tuple[pd.DataFrame, bool]:
    """Raw frame and whether row positions are CSV lines."""
    kind = _kind(path)
    if path.is_dir():
        raise UserError(f"{path} is a directory, not a candle file; pass a file, e.g. {path}/BTC_USDT-1h.csv")
    if not path.is_file():
        where = "" if path.is_absolute() else (
            f" (looked for {path.absolute()}; a config's relative data.path is also looked up beside the config "
            "file, in its parent directory and in cryptotrain's checkout)")
        raise UserError(f"{path}: file not found{where}; check the path or run `cryptotrain fetch` first")
    if kind == "csv":
        read = functools.partial(pd.read_csv, compression="infer", skipinitialspace=True)
    else:
        # split_blocks: a block per column, taken from Arrow's buffers without a consolidating copy
        read = functools.partial(pd.read_parquet, engine="pyarrow", to_pandas_kwargs={"split_blocks": True})
    return read_frame(path, read, kind=kind, empty=f"file is empty; it needs a header {','.join(COLUMNS)} and candle rows",
                      fix=f"check the file is a valid {kind} file"), kind == "csv"


def read_frame(path: Path, read, *, kind: str, empty: str, fix: str) -> pd.DataFrame:
    """`read(path)`, with an empty or unreadable file turned into one UserError line ending in `fix`."""
    try:
        return read(path)
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: {empty}") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: cannot read as {kind} ({first}); {fix}") from None


def require_columns(df: pd.DataFrame, required, src, need: str) -> pd.DataFrame:
    """`df` with stripped lower-case column names (normalize_columns); a UserError naming the missing ones and `need`."""
    df = normalize_columns(df, src)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise UserError(f"{src}: missing column(s) {', '.join(missing)}; {need} "
                        f"(found {', '.join(map(str, df.columns)) or 'none'})")
    return df


def load_ohlcv(path: str | Path, timeframe: str | None = None, gap_policy: str = "keep",
               min_rows: int = 1) -> tuple[pd.DataFrame, OhlcvReport]:
    """Read, check and clean a candle file -> (frame, report). See the module docstring."""
    path = Path(path)
    if gap_policy not in GAP_POLICIES:
        raise UserError(f"unknown gap_policy {gap_policy!r}; use one of {', '.join(GAP_POLICIES)}")
    raw, lines = _read(path)
    src = str(path)
    if len(raw) == 0:
        raise UserError(f"{src}: file has no candle rows; fetch data into it or pick another file")
    df, dupes, was_sorted = _clean(raw, src, line_numbers=lines)
    if dupes:
        warnings.warn(f"{src}: dropped {dupes} identical duplicate row(s)", stacklevel=2)
    if len(df) < min_rows:
        raise UserError(f"{src}: only {len(df)} candle(s), need at least {min_rows}; use a longer file")
    tf_ms = _check_timeframe(df["timestamp"].to_numpy(), timeframe, src)
    gaps = find_gaps(df["timestamp"].to_numpy(), tf_ms)
    filled = 0
    if gaps and gap_policy == "error":
        t, n = gaps[0]
        raise UserError(f"{src}: {len(gaps)} gap(s) ({sum(n for _, n in gaps)} missing candles), first after "
                        f"{format_utc(t)} ({n} missing); use gap_policy keep or ffill, or re-fetch the data")
    if gaps and gap_policy == "ffill":
        df, filled = fill_gaps(df, tf_ms)
    report = OhlcvReport(
        path=src, rows=len(df), timeframe=ms_to_timeframe(tf_ms), timeframe_ms=tf_ms,
        first_ts=int(df["timestamp"].iloc[0]), last_ts=int(df["timestamp"].iloc[-1]), gaps=gaps,
        duplicates_dropped=dupes, zero_volume=int((df["volume"].to_numpy() == 0).sum()) - filled,
        filled=filled, price_min=float(df["low"].min()), price_max=float(df["high"].max()), was_sorted=was_sorted)
    return df, report


def _check_timeframe(ts: np.ndarray, timeframe: str | None, src: str) -> int:
    """Infer the interval (most common spacing), compare with `timeframe`, check alignment."""
    given = timeframe_to_ms(timeframe) if timeframe else None
    diffs = np.diff(ts)
    if len(diffs) == 0:
        if given is None:
            raise UserError(f"{src}: cannot infer the timeframe from one candle; pass the timeframe, e.g. --timeframe 1h")
        return given
    values, counts = np.unique(diffs, return_counts=True)
    inferred = int(values[np.argmax(counts)])
    if given is not None and inferred != given:
        raise UserError(f"{src}: candles are {ms_to_timeframe(inferred)} apart (most common spacing) but timeframe "
                        f"{timeframe} was expected; set the timeframe to {ms_to_timeframe(inferred)} (data.timeframe in a config, --timeframe for data inspect) or use the right file")
    off = diffs % inferred != 0
    if off.any():
        i = int(np.argmax(off))
        raise UserError(f"{src}: candles at {format_utc(ts[i])} and {format_utc(ts[i + 1])} are "
                        f"{diffs[i]} ms apart, not a multiple of {ms_to_timeframe(inferred)}; fix the timestamps")
    return inferred


def find_gaps(ts: np.ndarray, tf_ms: int) -> list[tuple[int, int]]:
    """[(last timestamp before the gap, missing candles)] for every spacing larger than one interval."""
    diffs = np.diff(ts)
    idx = np.flatnonzero(diffs > tf_ms)
    return [(int(ts[i]), int(diffs[i] // tf_ms - 1)) for i in idx]


def segment_ids(ts: np.ndarray, tf_ms: int) -> np.ndarray:
    """(N,) int64 id of the contiguous run each candle belongs to; a gap starts a new segment."""
    seg = np.zeros(len(ts), dtype=np.int64)
    if len(ts) > 1:
        np.cumsum(np.diff(ts) != tf_ms, out=seg[1:])
    return seg


def fill_gaps(df: pd.DataFrame, tf_ms: int) -> tuple[pd.DataFrame, int]:
    """Insert the missing candles as zero-volume candles at the previous close -> (frame, inserted)."""
    ts = df["timestamp"].to_numpy()
    full = np.arange(ts[0], ts[-1] + tf_ms, tf_ms, dtype=np.int64)
    out = df.set_index("timestamp").reindex(full)
    new = out["close"].isna().to_numpy()
    close = out["close"].ffill()
    for col in PRICES:
        out[col] = out[col].fillna(close)
    out["volume"] = out["volume"].fillna(0.0)
    out = out.rename_axis("timestamp").reset_index()
    return out[COLUMNS], int(new.sum())


# ------------------------------------------------------------------------------ writing
def write_ohlcv(df: pd.DataFrame, path: str | Path, fmt: str | None = None) -> Path:
    """Write candles atomically as Parquet (pyarrow) or CSV (gzip when the name ends in .gz)."""
    path = Path(path)
    fmt = fmt or _kind(path)
    if fmt not in ("parquet", "csv"):
        raise UserError(f"unknown format {fmt!r}; use parquet or csv")
    out = pd.DataFrame({"timestamp": df["timestamp"].to_numpy(dtype=np.int64),
                        **{c: df[c].to_numpy(dtype=np.float64) for c in COLUMNS[1:]}})
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            # row groups of 2^16 candles: `cryptotrain predict` reads only the last ones (data/tail.py)
            out.to_parquet(tmp, engine="pyarrow", index=False, row_group_size=PARQUET_ROW_GROUP)
        else:
            gz = path.name.lower().endswith(".gz")
            out.to_csv(tmp, index=False, compression="gzip" if gz else None)
    return path
