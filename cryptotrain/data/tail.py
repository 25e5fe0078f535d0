"""The end of a candle file, read without processing all of it: for scoring the newest window.

`CandleFile(path)` knows every timestamp of the file (for the timeframe, the gaps and the row
of a given candle) and hands out validated candle rows [a, b) on request. A Parquet file with
integer timestamps in strictly increasing order reads only its timestamp column in full and
then just the row groups that hold the rows asked for; any other file (CSV, ISO timestamps,
unsorted or duplicated rows) goes through `load_ohlcv` once, so it is checked and cleaned
exactly as training and evaluate do, and is sliced afterwards.

How much history a window needs (`warmup_rows`, `ema_memory_rows`): a feature row is NaN until
each indicator has its first value (the warm-up, measured on synthetic candles), and the EMAs (MACD, and RSI and ATR through
Wilder's smoothing) never forget their first value: started at another row, they give other
bits, and the difference shrinks by (1 - alpha) per candle. After
    K(alpha) = ceil(64 ln 2 / -ln(1 - alpha))
candles an O(1) relative difference has shrunk below 2^-64, under a quarter of the last bit, and
from then on both starts round to the same value (measured on the 1h sample: 800 candles suffice
for the default spans, 400 do not). MACD's signal EMA starts converging only once the line has,
so its K adds up. An EMA on context candles (features.context, period P) needs K of them, each
P / p base candles, plus one bucket (a tail's first one may be incomplete). The rolling windows
forget everything older than the window (data/rolling.py).

Shapes: N rows of the file.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.ohlcv import COLUMNS, _check_timeframe, _clean, _kind, load_ohlcv
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.data.synthetic import synthetic_candles
from cryptotrain.errors import UserError


def warmup_rows(fcfg: FeaturesConfig, timeframe_ms: int = 3_600_000) -> int:
    """Leading rows of a segment where some feature is still NaN (the first full row is this index).

    Measured, not derived: the features of synthetic candles are computed and the first row with
    every feature defined is counted, so a feature added or changed in features.py can never make
    this number wrong (a warm-up depends on window lengths, not on the prices)."""
    n = 1024
    while True:
        X, _ = compute_features(synthetic_candles(n, timeframe_ms), fcfg, timeframe_ms)
        full = np.isfinite(X).all(axis=1)
        if full.any():
            return int(np.argmax(full))
        n *= 4


def ema_rows(alpha: float) -> int:
    """K(alpha): candles after which two starts of an EMA agree to the bit (module docstring)."""
    return math.ceil(64 * math.log(2) / -math.log1p(-alpha))


def ema_memory_rows(fcfg: FeaturesConfig, timeframe_ms: int | None = None) -> int:
    """History beyond the warm-up that makes every EMA of the features independent of where it started;
    with `timeframe_ms`, also of the EMAs on context candles (features.context), each P / p base candles."""
    rows = [_ema_memory(fcfg, fcfg.groups())]
    ctx = _ema_memory(fcfg, fcfg.context_groups())
    for tf in (fcfg.context if timeframe_ms and ctx else []):
        ratio = timeframe_to_ms(tf) // timeframe_ms
        rows.append((ctx + 1) * ratio)   # + 1 bucket: the first one of a tail may be incomplete (missing)
    return max(rows)


def _ema_memory(fcfg: FeaturesConfig, groups: list[str]) -> int:
    rows = [0]
    if fcfg.macd and "macd" in groups:
        fast, slow, signal = fcfg.macd
        rows.append(ema_rows(2 / (slow + 1)) + ema_rows(2 / (signal + 1)))   # slow converges slower than fast
    rows += [ema_rows(1 / n) for g, n in (("rsi", fcfg.rsi), ("atr", fcfg.atr)) if n and g in groups]
    return max(rows)


class CandleFile:
    """Timestamps of a whole candle file and validated rows on request (module docstring)."""

    def __init__(self, path: str | Path, timeframe: str | None = None):
        self.path = Path(path)
        self.src = str(self.path)
        self._frame: pd.DataFrame | None = None
        self._pq = self._parquet_fast_path()
        if self._pq is None:
            self._frame, report = load_ohlcv(self.path, None, "keep")
            self.timestamps = self._frame["timestamp"].to_numpy(dtype=np.int64)
        d = np.diff(self.timestamps)
        uniform = timeframe is None and len(d) > 0 and d[0] > 0 and bool((d == d[0]).all())
        # no gap at all (the usual fetched file): the spacing is the timeframe, without sorting 1M spacings
        self.timeframe_ms = int(d[0]) if uniform else _check_timeframe(self.timestamps, timeframe, self.src)

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    def _parquet_fast_path(self):
        """(ParquetFile, column names, row-group starts) when the timestamps allow reading by row groups."""
        if _kind(self.path) != "parquet" or not self.path.is_file():
            return None
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self.path)
        except (OSError, ValueError, pa.ArrowException):
            return None           # load_ohlcv names the problem
        names = {str(n).strip().lower(): n for n in pf.schema_arrow.names}
        if any(c not in names for c in COLUMNS) or not pa.types.is_integer(pf.schema_arrow.field(names["timestamp"]).type):
            return None
        col = pf.read(columns=[names["timestamp"]]).column(0)
        if col.null_count or len(col) == 0:
            return None
        ts = col.to_numpy().astype(np.int64)
        if len(ts) > 1 and not np.all(ts[1:] > ts[:-1]):
            return None           # unsorted or duplicated: load_ohlcv sorts and dedupes
        self.timestamps = ts
        sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)]
        return pf, [names[c] for c in COLUMNS], np.r_[0, np.cumsum(sizes)]

    def frame(self, a: int, b: int) -> pd.DataFrame:
        """Validated candles of rows [a, b) (0 <= a < b <= rows), columns COLUMNS, index from 0."""
        if self._pq is None:
            return self._frame.iloc[a:b].reset_index(drop=True)
        pf, cols, starts = self._pq
        first, last = np.searchsorted(starts, a, "right") - 1, np.searchsorted(starts, b, "left")
        table = pf.read_row_groups(list(range(first, last)), columns=cols)
        raw = table.slice(a - starts[first], b - a).to_pandas()
        raw.columns = COLUMNS
        df, _, _ = _clean(raw, f"{self.src} (rows {a + 1}-{b})")
        if len(df) != b - a:
            raise UserError(f"{self.src}: rows {a + 1}-{b} changed while being read; run the command again")
        return df
