"""Reading an external signal file for `cryptotrain backtest --signals SIGNALS.csv --data CANDLES`.

The file is a CSV with columns `timestamp,position` (other columns are ignored):
- timestamp: the OPEN time of the candle at whose close the position is decided, as integer
  milliseconds since the epoch (UTC) or ISO datetimes; every timestamp must be a candle of the
  candle file; strictly increasing (sorted, no duplicates);
- position: the target exposure in [-1, 1] (1 = all equity long, -1 = all equity short), no NaN.
Every problem is a UserError naming the file, the line (header = line 1) and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.data.ohlcv import read_frame, require_columns
from cryptotrain.data.timestamps import candle_rows, format_utc, to_ms
from cryptotrain.errors import UserError

REQUIRED = ("timestamp", "position")


def _line(i: int) -> str:
    return f"line {i + 2}"


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise UserError(f"signals file {path} not found; pass a CSV with columns timestamp,position")
    df = read_frame(path, pd.read_csv, kind="CSV",
                    empty="the file is empty; it needs a header timestamp,position and one row per signal",
                    fix="write a CSV with columns timestamp,position")
    df = require_columns(df, REQUIRED, path, "the file needs columns timestamp,position")
    if len(df) == 0:
        raise UserError(f"{path}: no signal rows; add one row per decision: timestamp,position")
    return df


def _positions(col: pd.Series, src: Path) -> np.ndarray:
    num = col if pd.api.types.is_numeric_dtype(col) and col.dtype != bool else pd.to_numeric(col, errors="coerce")
    pos = num.to_numpy(dtype=np.float64)
    bad_text = np.isnan(pos) & col.notna().to_numpy()
    if bad_text.any():
        i = int(np.argmax(bad_text))
        raise UserError(f"{src}: position {col.iloc[i]!r} at {_line(i)} is not a number; use a value in [-1, 1]")
    if np.isnan(pos).any():
        i = int(np.argmax(np.isnan(pos)))
        raise UserError(f"{src}: position is missing (NaN) at {_line(i)}; give a value in [-1, 1] (0 = flat)")
    outside = ~(np.abs(pos) <= 1.0)
    if outside.any():
        i = int(np.argmax(outside))
        raise UserError(f"{src}: position {pos[i]:g} at {_line(i)} is outside [-1, 1]; positions are fractions of "
                        "equity (1 = all long, -1 = all short)")
    return pos


def read_signals(path: str | Path, candle_ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """-> (row index of each signal in the candle file (S,) int64, position (S,) float64)."""
    path = Path(path)
    df = _read_csv(path)
    ts = to_ms(df["timestamp"], str(path), _line)
    step = np.diff(ts)
    if (step <= 0).any():
        i = int(np.argmax(step <= 0)) + 1
        what = "duplicate timestamp" if step[i - 1] == 0 else "timestamps are not sorted"
        raise UserError(f"{path}: {what} at {_line(i)} ({format_utc(int(ts[i]))}, after {format_utc(int(ts[i - 1]))} "
                        f"at {_line(i - 1)}); sort the file by timestamp with one row per candle")
    pos = _positions(df["position"], path)
    candle_ts = np.asarray(candle_ts, dtype=np.int64)
    idx, absent = candle_rows(ts, candle_ts)
    if absent.any():
        i = int(np.argmax(absent))
        raise UserError(f"{path}: timestamp {df['timestamp'].iloc[i]} at {_line(i)} ({format_utc(int(ts[i]))}) is not "
                        f"a candle open time in the candle file; candles run from {format_utc(int(candle_ts[0]))} "
                        f"to {format_utc(int(candle_ts[-1]))}")
    return idx.astype(np.int64), pos
