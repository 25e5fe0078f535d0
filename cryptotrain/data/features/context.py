"""Higher-timeframe context: features of aggregated candles, joined to the base rows causally.

For a context timeframe P (features.context, e.g. 4h, a multiple of the data timeframe p),
base candles are grouped into buckets [k P, (k+1) P) aligned to the Unix epoch (so 1d
buckets start at 00:00 UTC, 4h ones at 00:00, 04:00, ...). A bucket becomes a context candle
only when every one of its P / p base candles exists (open of the first, max high, min low,
close of the last, summed volume): a bucket with a gap inside is missing, and the context
features restart after it, as the base features restart after a gap. The groups of
features.context_set are computed on the context candles (windows: features.context_windows).

Join: base row t (open time ts_t, close time ts_t + p) gets the context features of bucket
k = floor((ts_t + p) / P) - 1, the last bucket that had closed by the close of t; the bucket
still forming at t is never read. When bucket k is missing the row's context is NaN (it
enters no window). Every base candle of bucket k opens before (k+1) P <= ts_t + p, hence at
or before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.errors import UserError


def context_candles(df: pd.DataFrame, period_ms: int, timeframe_ms: int) -> pd.DataFrame:
    """The complete buckets of `period_ms` as candles (timestamp = bucket open time)."""
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    bucket = ts // period_ms
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])  # rows are sorted by time
    counts = np.diff(np.r_[starts, len(ts)])
    full = counts == period_ms // timeframe_ms
    first, last = starts[full], (starts + counts - 1)[full]
    cols = {c: df[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")}
    return pd.DataFrame({
        "timestamp": bucket[first] * period_ms,
        "open": cols["open"][first],
        "high": np.maximum.reduceat(cols["high"], starts)[full],
        "low": np.minimum.reduceat(cols["low"], starts)[full],
        "close": cols["close"][last],
        "volume": np.add.reduceat(cols["volume"], starts)[full],
    })


def closed_bucket(ts: np.ndarray, period_ms: int, timeframe_ms: int) -> np.ndarray:
    """(N,) index k of the last bucket that had closed by the close of each base row."""
    return (ts + timeframe_ms) // period_ms - 1


def fill_context(XT: np.ndarray, df: pd.DataFrame, timeframe: str, fcfg: FeaturesConfig, timeframe_ms: int,
                 fill) -> None:
    """Write the context features of `timeframe` into XT (F_ctx, N); `fill` is features.fill_groups."""
    period = timeframe_to_ms(timeframe)
    if period <= timeframe_ms or period % timeframe_ms:
        raise UserError(f"features.context: {timeframe} is not a multiple of the data timeframe "
                        f"({timeframe_ms // 60_000} min) above it; use e.g. 4h or 1d")
    htf = context_candles(df, period, timeframe_ms)
    if len(htf) == 0:  # no complete bucket: no row has context
        XT[:] = np.nan
        return
    H = np.full((XT.shape[0], len(htf)), np.nan)
    fill(H, htf, fcfg.context_groups(), fcfg, fcfg.context_windows, period)
    k = closed_bucket(df["timestamp"].to_numpy(dtype=np.int64), period, timeframe_ms)
    keys = htf["timestamp"].to_numpy(dtype=np.int64) // period
    pos = np.clip(np.searchsorted(keys, k), 0, max(len(keys) - 1, 0))
    found = (keys[pos] == k) if len(keys) else np.zeros(len(k), dtype=bool)
    for j in range(len(XT)):  # row by row: contiguous writes into the (F, N) block
        XT[j] = np.where(found, H[j, pos], np.nan)
