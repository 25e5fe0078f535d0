"""Times: timeframes <-> milliseconds, UTC dates <-> int ms, and reading a timestamp column
(candles, signals) as int64 milliseconds since the epoch, UTC.

Accepted: integer times in seconds, milliseconds, microseconds or nanoseconds, or ISO
datetimes; one format per file. The unit of integer times is told by magnitude, from the
file's median: a time between 1973 and 2286 is 1e8..1e11 in seconds, 1e11..1e14 in ms,
1e14..1e17 in us and 1e17..1e20 in ns. Seconds, us and ns are converted to ms with a warning
(a seconds file read as ms would be "3600ms candles from 1970"). A value outside its file's
band (1e308, a seconds value among ms) is refused naming its line. Median times below 1e8 are
read as ms (early 1970: synthetic data).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from cryptotrain.errors import UserError

# unit -> (lowest value of the 1973..2286 band, ms per unit as a divisor/multiplier)
YEAR_MS = 365 * 24 * 3600 * 1000


def periods_per_year(timeframe_ms: int) -> float:
    """P = YEAR_MS / timeframe: the factor sqrt(P) annualizes a per-candle Sharpe ratio (8760 for 1h)."""
    return YEAR_MS / int(timeframe_ms)


_BANDS = (("s", 1e8, 1e11), ("ms", 1e11, 1e14), ("us", 1e14, 1e17), ("ns", 1e17, 1e20))
_TO_MS = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}  # (multiply, divide)
_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
_FIX = "use integer ms since epoch UTC or ISO datetimes like 2024-01-31T12:00 (one format per file)"


def _unit(median: float) -> tuple[str, float, float]:
    for unit, lo, hi in _BANDS:
        if lo <= median < hi:
            return unit, lo, hi
    return "ms", -np.inf, _BANDS[1][2]   # below 1e8: early-1970 ms (or an out-of-range median, refused below)


def _integers_to_ms(v: np.ndarray, col: pd.Series, src: str, where) -> np.ndarray:
    """v: (N,) the column's numbers, int64 (then whole by type) or float64."""
    if v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v))
        if bad.any():
            i = int(np.argmax(bad))
            raise UserError(f"{src}: timestamp {col.iloc[i]!r} at {where(i)} is not a whole number; {_FIX}")
    magnitude = np.abs(v)
    unit, lo, hi = _unit(float(np.median(magnitude)))
    outside = (magnitude >= hi) | (magnitude < lo)
    if outside.any():
        i = int(np.argmax(outside))
        raise UserError(f"{src}: timestamp {col.iloc[i]!r} at {where(i)} is not a time in {_NAMES[unit]} like the rest of "
                        f"the file (between 1973 and 2286); fix or remove that row")
    mul, div = _TO_MS[unit]
    ints = v.astype(np.int64, copy=False)
    if div > 1 and (ints % div).any():
        i = int(np.argmax(ints % div != 0))
        raise UserError(f"{src}: timestamps look like {_NAMES[unit]} since the epoch, and {col.iloc[i]!r} at {where(i)} is "
                        f"not a whole millisecond; round the times to ms, {_FIX}")
    if unit != "ms":
        warnings.warn(f"{src}: timestamps look like {_NAMES[unit]} since the epoch (not ms); converted to milliseconds",
                      stacklevel=4)
    return ints if mul == div == 1 else ints * mul // div


def to_ms(col: pd.Series, src: str, where) -> np.ndarray:
    """The timestamp column as int64 ms (see the module docstring); `where(i)` names row i."""
    if pd.api.types.is_datetime64_any_dtype(col):
        dt = col.dt.tz_localize("UTC") if col.dt.tz is None else col.dt.tz_convert("UTC")
        if dt.isna().any():
            raise UserError(f"{src}: missing timestamp at {where(int(np.argmax(dt.isna().to_numpy())))}; fill or remove that row")
        return dt.dt.tz_localize(None).astype("datetime64[ms]").astype("int64").to_numpy()
    num = col if pd.api.types.is_numeric_dtype(col) and col.dtype != bool else pd.to_numeric(col, errors="coerce")
    is_num = num.notna().to_numpy()
    if is_num.all():   # int64 columns (the usual file) as they are: no float copy, whole by type
        whole = num.dtype.kind == "i" and isinstance(num.dtype, np.dtype)
        return _integers_to_ms(num.to_numpy() if whole else num.to_numpy(dtype=np.float64), col, src, where)
    if col.isna().any():
        raise UserError(f"{src}: missing timestamp at {where(int(np.argmax(col.isna().to_numpy())))}; "
                        "fill or remove that row")
    dt = pd.to_datetime(col.astype("string"), utc=True, errors="coerce", format="ISO8601")
    is_iso = dt.notna().to_numpy() & ~is_num
    if is_iso.all():
        return dt.dt.tz_localize(None).astype("datetime64[ms]").astype("int64").to_numpy()
    neither = ~is_num & ~is_iso
    if neither.any():
        i = int(np.argmax(neither))
        raise UserError(f"{src}: cannot read timestamp {str(col.iloc[i])[:40]!r} at {where(i)}; {_FIX}")
    # a mix of numbers and ISO datetimes: name the first row of the minority format
    i = int(np.argmax(~is_num if is_num.sum() >= is_iso.sum() else is_num))
    kind, others = ("an ISO datetime", "numbers") if not is_num[i] else ("a number", "ISO datetimes")
    raise UserError(f"{src}: timestamp {str(col.iloc[i])[:40]!r} at {where(i)} is {kind} but the other timestamps "
                    f"are {others}; {_FIX}")


_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def timeframe_to_ms(timeframe: str) -> int:
    """'1m' -> 60000, '4h' -> 14400000. Units: ms, s, m, h, d, w."""
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|d|w)\s*", str(timeframe))
    if not m or int(m.group(1)) == 0:
        raise UserError(f"unknown timeframe {timeframe!r}; use a number and a unit s, m, h, d or w, e.g. 1m, 15m, 1h, 1d")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


def ms_to_timeframe(ms: int) -> str:
    """60000 -> '1m': the largest unit that divides `ms` exactly."""
    ms = int(ms)
    if ms <= 0:
        raise ValueError(f"timeframe must be positive, got {ms} ms")
    for unit in ("w", "d", "h", "m", "s", "ms"):
        if ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    raise AssertionError("unreachable: every ms count divides by 1")


def parse_utc(text: str | int) -> int:
    """A UTC date ('2024-01-31'), ISO datetime ('2024-01-31T12:00', offsets allowed) or int ms -> int ms."""
    if isinstance(text, (int, np.integer)):
        return int(text)
    s = str(text).strip()
    if re.fullmatch(r"-?\d{10,}", s):
        return int(s)  # already milliseconds since the epoch
    try:
        ts = pd.Timestamp(s)
    except (ValueError, TypeError):
        ts = pd.NaT
    if ts is pd.NaT or pd.isna(ts):
        raise UserError(f"cannot read date {text!r}; use a UTC date or ISO datetime, e.g. 2024-01-31 or 2024-01-31T12:00")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value // 1_000_000)


def format_utc(ms: int) -> str:
    """int ms -> '2021-02-11T03:00' (seconds shown only when not zero)."""
    ts = pd.Timestamp(int(ms), unit="ms")
    return ts.strftime("%Y-%m-%dT%H:%M:%S" if ts.second or ts.microsecond else "%Y-%m-%dT%H:%M")


def candle_rows(ts: np.ndarray, candle_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Timestamp -> candle row: (S,) row of each of `ts` in the sorted open times `candle_ts`, and
    (S,) True where a timestamp is no candle's open time (its row is then only a neighbour's)."""
    candle_ts = np.asarray(candle_ts, dtype=np.int64)
    ts = np.asarray(ts, dtype=np.int64)
    if len(candle_ts) == 0:
        return np.zeros(len(ts), dtype=np.int64), np.ones(len(ts), dtype=bool)
    rows = np.minimum(np.searchsorted(candle_ts, ts), len(candle_ts) - 1)
    return rows, candle_ts[rows] != ts
