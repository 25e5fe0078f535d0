"""Candles with a planted signal of known strength, for the positive and negative controls
(`cryptotrain control`): the signal families, the shape a config's data gives them, the oracle.

Each candle's log return is x_t = mu_t + sigma eps_t, eps_t ~ N(0, 1) independent, and the drift
mu_t is decided by the candles before t only (so a model reading candles <= t - 1 could know it):

    trend      mu_t = k sigma tanh(z_t),                    z_t = (x_(t-12) + ... + x_(t-1)) / (sigma sqrt 12)
               the saturating trend of issue 30 (k = 0.25: an oracle calls the 4-candle sign ~0.60)
    reversion  mu_t = -k sigma sign(z_t) 1[|z_t| > 1.5],   z_t = (x_(t-4) + ... + x_(t-1)) / (sigma sqrt 4)
               a pull back after a move of more than 1.5 standard deviations over 4 candles (~13% of
               candles are after such a move)

k is the strength (0: a geometric random walk, nothing to find). One seed gives the same eps for
every strength (common random numbers): strengths differ by the planted drift only. Candles:
open_t = close_(t-1), close_t = close_(t-1) exp(x_t), wicks |N(0, sigma / 2)| beyond the body,
volume lognormal; sigma, the volume's log mean and log deviation, the length, timeframe, first
timestamp and price come from the config's data (`measure_shape`: volatility and volume on its
TRAINING rows only, so the control reads nothing of the validation or test candles).

The oracle knows mu: at the close of candle t it calls sign(mu_(t+1)) (no call where mu_(t+1) = 0).
That is the best call of the next candle's sign; for a label over h candles it is the natural
yardstick ("the best any model could do", up to the few candles of drift it cannot foresee).
Its direction accuracy: the share of calls whose sign matches the window's forward return r_t.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cryptotrain.config import Config
from cryptotrain.data.dataset import trim_candles
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.splits import split_bounds
from cryptotrain.errors import UserError

# family -> (lookback L of z_t, what the family plants): the one table of the families
FAMILIES = {"trend": (12, "the saturating trend k sigma tanh(z), z = last 12 candles' return in sigmas"),
            "reversion": (4, "a pull back of k sigma after a move beyond 1.5 sigmas over the last 4 candles")}
REVERSION_Z = 1.5


@dataclass(frozen=True)
class Shape:
    """What synthetic candles copy from a config's data."""
    n: int                     # candles (the trimmed file's rows)
    timeframe_ms: int
    start_ms: int              # first timestamp
    price: float               # first open
    sigma: float               # std of the training rows' log close-to-close returns
    volume_log_mean: float     # mean and std of log volume on the training rows (volume > 0)
    volume_log_std: float

    def to_dict(self) -> dict:
        return asdict(self)


def measure_shape(cfg: Config) -> Shape:
    """The shape of cfg's data: its rows after data.start / end / last_rows, volatility and volume
    level of its training split."""
    d = cfg.data
    if d.universe is not None:
        raise UserError(f"the control plants a signal in one pair's candles, and this config trades data.universe "
                        f"({d.market()}); use a config with one data.path")
    df, report = load_ohlcv(d.path, d.timeframe, d.gap_policy)
    df = trim_candles(df, d.start, d.end, d.last_rows, d.path)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    _, stop = split_bounds(ts, cfg)["train"]
    close, vol = df["close"].to_numpy()[:stop], df["volume"].to_numpy()[:stop]
    x = np.diff(np.log(close))
    if len(x) < 10:
        raise UserError(f"{d.path}: the training split has {stop} candles; the control needs at least 11 to measure "
                        "the volatility: use a longer file or a larger data.split.train")
    lv = np.log(vol[vol > 0]) if (vol > 0).any() else np.zeros(1)
    return Shape(n=len(ts), timeframe_ms=report.timeframe_ms, start_ms=int(ts[0]),
                 price=float(df["open"].iloc[0]), sigma=float(np.std(x, ddof=1)),
                 volume_log_mean=float(lv.mean()), volume_log_std=float(lv.std()))


def planted_returns(eps: np.ndarray, sigma: float, family: str, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, mu): log returns and the planted drift of each candle, from the (n,) standard shocks eps."""
    if family not in FAMILIES:
        raise UserError(f"--family {family!r}: choose one of {', '.join(FAMILIES)}")
    lookback = FAMILIES[family][0]
    n = len(eps)
    x, mu = np.empty(n), np.zeros(n)
    scale = sigma * np.sqrt(lookback)
    s = 0.0                                    # running sum of the last `lookback` log returns
    for t in range(n):
        if strength and t >= lookback:
            z = s / scale
            if family == "trend":
                mu[t] = strength * sigma * np.tanh(z)
            elif abs(z) > REVERSION_Z:
                mu[t] = -strength * sigma * np.sign(z)
        x[t] = mu[t] + sigma * eps[t]
        s += x[t] - (x[t - lookback] if t >= lookback else 0.0)
    return x, mu


def planted_candles(shape: Shape, family: str, strength: float, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """(candles, mu): valid OHLCV candles of `shape` with the family's signal at `strength`; mu (n,)
    is the planted drift of each candle (the oracle's knowledge)."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(shape.n)         # drawn first: the same shocks for every strength
    wick = np.abs(rng.normal(0.0, shape.sigma / 2, (2, shape.n)))
    volume = np.exp(shape.volume_log_mean + shape.volume_log_std * rng.standard_normal(shape.n))
    x, mu = planted_returns(eps, shape.sigma, family, strength)
    close = shape.price * np.exp(np.cumsum(x))
    open_ = np.r_[shape.price, close[:-1]]
    ts = shape.start_ms + shape.timeframe_ms * np.arange(shape.n, dtype=np.int64)
    return pd.DataFrame({"timestamp": ts, "open": open_, "high": np.maximum(open_, close) * (1.0 + wick[0]),
                         "low": np.minimum(open_, close) * (1.0 - wick[1]), "close": close, "volume": volume}), mu


def oracle_calls(mu: np.ndarray) -> np.ndarray:
    """(n,) the oracle's call at the close of each candle: sign of the next candle's drift (0 at the last)."""
    return np.r_[np.sign(mu[1:]), 0.0]


def direction_accuracy(calls: np.ndarray, r: np.ndarray) -> tuple[float, int]:
    """(share of right signs, number of calls) over the windows with a call and a defined r."""
    acted = (calls != 0) & np.isfinite(r)
    n = int(acted.sum())
    return (float(np.mean(np.sign(calls[acted]) == np.sign(r[acted]))) if n else float("nan")), n
