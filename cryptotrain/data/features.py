"""Causal features from OHLCV candles, one row per candle.

Every feature at row t uses candles <= t only (rolling windows, EMAs and positive lags; no
centring, no back-fill). Rows where a feature is not yet defined (warm-up) are NaN; the
dataset never puts such rows into a window.

Gaps: the candle frame is cut into contiguous segments (a gap starts a new one) and every
feature is computed on each segment on its own, so no indicator ever reads across a gap
and each segment has its own warm-up. Windows are further required to lie inside one
segment (see dataset.py).

Shapes: N candles, F features. Names (with the default FeaturesConfig):
  ret_k          log(close_t / close_{t-k})
  body, range    (close - open) / close, (high - low) / close
  vol_w          std (ddof 0) of the last w one-step log returns
  rsi_n          Wilder RSI in [0, 100]: 100 * avg_gain / (avg_gain + avg_loss), seeded by the SMA of n
  macd, macd_signal, macd_hist   (EMA_fast - EMA_slow) / close, its EMA_signal, their difference
  bb_pctb_n, bb_width_n          (close - lower) / (upper - lower), (upper - lower) / middle; bands 2 std
  atr_n          Wilder ATR of the true range / close
  log_volume, volume_z_n         log(1 + volume), z-score of log(1 + volume) over n candles
  vwap_dist_n    log(close / VWAP_n), VWAP over n candles of the typical price (h + l + c) / 3
  hour_sin, hour_cos, dow_sin, dow_cos   time of the candle open (UTC) on the day / week circle
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.ohlcv import segment_ids
from cryptotrain.data.rolling import rolling_mean, rolling_mean_std, rolling_std, rolling_sum

_DAY_MS = 86_400_000
_EPS = 1e-12


def feature_names(fcfg: FeaturesConfig) -> list[str]:
    """Names of the columns `compute_features` returns, in order."""
    names = [f"ret_{k}" for k in fcfg.returns]
    names += ["body", "range"] if fcfg.body_range else []
    names += [f"vol_{w}" for w in fcfg.volatility]
    names += [f"rsi_{fcfg.rsi}"] if fcfg.rsi else []
    names += ["macd", "macd_signal", "macd_hist"] if fcfg.macd else []
    names += [f"bb_pctb_{fcfg.bollinger}", f"bb_width_{fcfg.bollinger}"] if fcfg.bollinger else []
    names += [f"atr_{fcfg.atr}"] if fcfg.atr else []
    names += ["log_volume", f"volume_z_{fcfg.volume_zscore}"] if fcfg.volume_zscore else []
    names += [f"vwap_dist_{fcfg.vwap}"] if fcfg.vwap else []
    names += ["hour_sin", "hour_cos", "dow_sin", "dow_cos"] if fcfg.time else []
    return names


def compute_features(df: pd.DataFrame, fcfg: FeaturesConfig, timeframe_ms: int) -> tuple[np.ndarray, list[str]]:
    """(N, F) float64 features and their names; NaN during each segment's warm-up."""
    names = feature_names(fcfg)
    n = len(df)
    XT = np.full((len(names), n), np.nan)  # filled row by row (contiguous), returned as the (N, F) view X = XT.T
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    cols = [df[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")]
    seg = segment_ids(ts, timeframe_ms)
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, n]):
        cols_ab = [c[a:b] for c in cols]
        phase = int(ts[a] // timeframe_ms)   # the candle's index on the time grid: rolling blocks align to it
        for j, values in enumerate(_segment_features(*cols_ab, fcfg, phase)):
            XT[j, a:b] = values
    if fcfg.time:
        XT[-4:] = time_features(ts).T
    return XT.T, names


def time_features(ts: np.ndarray) -> np.ndarray:
    """(N, 4) sin/cos of the hour-of-day and day-of-week of the candle open time (UTC)."""
    day_frac = (ts % _DAY_MS) / _DAY_MS
    week_frac = (((ts // _DAY_MS) + 3) % 7 + day_frac) / 7  # 1970-01-01 was a Thursday; Monday = 0
    a, b = 2 * np.pi * day_frac, 2 * np.pi * week_frac
    return np.stack([np.sin(a), np.cos(a), np.sin(b), np.cos(b)], axis=1)


def log_returns(close: np.ndarray) -> np.ndarray:
    """(N,) one-step log returns log(c_t / c_{t-1}); NaN at row 0."""
    r = np.empty_like(close, dtype=np.float64)
    r[0] = np.nan
    np.log(close[1:] / close[:-1], out=r[1:])
    return r


def _segment_features(o, h, l, c, v, fcfg: FeaturesConfig, phase: int = 0):
    """Yield each non-time feature column for one contiguous segment, in `feature_names` order."""
    n = len(c)
    logc = np.log(c)
    for k in fcfg.returns:
        r = np.full(n, np.nan)
        if k < n:
            r[k:] = logc[k:] - logc[:-k]
        yield r
    if fcfg.body_range:
        yield (c - o) / c
        yield (h - l) / c
    r1 = log_returns(c)
    for w in fcfg.volatility:
        yield rolling_std(r1, w, phase)
    if fcfg.rsi:
        yield _rsi(c, fcfg.rsi)
    if fcfg.macd:
        yield from _macd(c, *fcfg.macd)
    if fcfg.bollinger:
        yield from _bollinger(c, fcfg.bollinger, phase)
    if fcfg.atr:
        yield _atr(h, l, c, fcfg.atr)
    if fcfg.volume_zscore:
        lv = np.log1p(v)
        mean, sd = rolling_mean_std(lv, fcfg.volume_zscore, phase)
        yield lv
        yield np.where(sd > _EPS, (lv - mean) / np.where(sd > _EPS, sd, 1.0), np.where(np.isnan(sd), np.nan, 0.0))
    if fcfg.vwap:
        yield _vwap_dist(h, l, c, v, fcfg.vwap, phase)


def wilder_mean(x: np.ndarray, n: int, first: int) -> np.ndarray:
    """Wilder smoothing y_t = y_{t-1} + (x_t - y_{t-1}) / n, seeded at row first+n-1 by mean(x[first:first+n])."""
    y = np.full(len(x), np.nan)
    seed = first + n - 1
    if seed >= len(x):
        return y
    x2 = x.copy()
    x2[:seed] = np.nan
    x2[seed] = x[first:seed + 1].mean()
    y[seed:] = pd.Series(x2[seed:]).ewm(alpha=1.0 / n, adjust=False).mean().to_numpy()
    return y


def _rsi(c: np.ndarray, n: int) -> np.ndarray:
    d = np.r_[np.nan, np.diff(c)]
    gain = wilder_mean(np.maximum(d, 0.0), n, first=1)
    loss = wilder_mean(np.maximum(-d, 0.0), n, first=1)
    total = gain + loss
    return np.where(total > 0, 100.0 * gain / np.where(total > 0, total, 1.0), np.where(np.isnan(total), np.nan, 50.0))


def _ema(x: np.ndarray, span: int) -> np.ndarray:
    """EMA with alpha = 2 / (span + 1), seeded by the first finite value; NaN until `span` values."""
    return pd.Series(x).ewm(span=span, adjust=False, min_periods=span).mean().to_numpy()


def _macd(c: np.ndarray, fast: int, slow: int, signal: int):
    line = (_ema(c, fast) - _ema(c, slow)) / c
    sig = _ema(line, signal)
    return line, sig, line - sig


def _bollinger(c: np.ndarray, n: int, phase: int):
    mid, sd = rolling_mean_std(c, n, phase)
    width = 4.0 * sd  # upper - lower with bands at mid +- 2 std
    ok = width > _EPS * mid
    pctb = np.where(ok, (c - (mid - 2.0 * sd)) / np.where(ok, width, 1.0), 0.5)  # flat prices: middle
    pctb[np.isnan(sd)] = np.nan
    return pctb, width / mid


def _atr(h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    prev = np.r_[c[0], c[:-1]]
    tr = np.maximum(h - l, np.maximum(np.abs(h - prev), np.abs(l - prev)))
    tr[0] = h[0] - l[0]  # no previous close inside the segment
    return wilder_mean(tr, n, first=0) / c


def _vwap_dist(h, l, c, v, n: int, phase: int) -> np.ndarray:
    tp = (h + l + c) / 3.0
    num, den = rolling_sum(tp * v, n, phase), rolling_sum(v, n, phase)
    # a window without any volume (e.g. forward-filled candles) falls back to the plain mean price;
    # counting traded candles (exact in float) avoids trusting the rounding residue of `den`
    traded = rolling_sum((v > 0).astype(np.float64), n, phase)
    vwap = num / np.where(traded > 0, den, 1.0)
    if np.any(traded == 0):
        plain = rolling_mean(tp, n, phase)
        vwap = np.where(traded > 0, vwap, plain)
    return np.log(c / vwap)
