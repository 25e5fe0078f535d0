"""Synthetic valid OHLCV candles (geometric random walk) for tests and benchmarks.

Every candle satisfies the loader's checks: positive prices, high >= max(open, close),
low <= min(open, close), volume >= 0, timestamps on the timeframe grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START_MS = 1_704_067_200_000  # 2024-01-01T00:00 UTC


def synthetic_candles(n: int, timeframe_ms: int = 3_600_000, *, seed: int = 0, sigma: float = 0.01,
                      start_ms: int = START_MS, price: float = 100.0) -> pd.DataFrame:
    """n candles; close follows exp(cumsum(N(0, sigma))), open = previous close."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.r_[price, close[:-1]]
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    volume = rng.lognormal(3.0, 1.0, n)
    ts = start_ms + timeframe_ms * np.arange(n, dtype=np.int64)
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": high, "low": low, "close": close,
                         "volume": volume})


def random_valid_candles(rng: np.random.Generator, n: int, price: float = 100.0) -> dict[str, np.ndarray]:
    """n independent random valid candles around `price` (no continuity), as column arrays: the
    feature tests' input (tests/test_data_features.py, test_data_features_context.py)."""
    o = price * np.exp(rng.normal(0.0, 0.2, n))
    c = price * np.exp(rng.normal(0.0, 0.2, n))
    high = np.maximum(o, c) * np.exp(np.abs(rng.normal(0.0, 0.05, n)))
    low = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0.0, 0.05, n)))
    return {"open": o, "high": high, "low": low, "close": c, "volume": rng.exponential(50.0, n)}
