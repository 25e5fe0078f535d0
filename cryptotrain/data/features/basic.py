"""Causal features from OHLCV candles, one row per candle: the entry point and the basic set.

`features.set` picks groups (config.py: BASIC_GROUPS, ALPHA158_GROUPS, the sets basic and
alpha158); this module computes each group and, for `features.context`, the same kind of
groups on higher-timeframe candles (features/context.py). The alpha158 groups and their
formulas are in features/alpha158.py.

Every feature at row t uses candles <= t only (rolling windows, EMAs and positive lags; no
centring, no back-fill). Rows where a feature is not yet defined (warm-up) are NaN; the
dataset never puts such rows into a window.

Gaps: the candle frame is cut into contiguous segments (a gap starts a new one) and every
feature is computed on each segment on its own, so no indicator ever reads across a gap
and each segment has its own warm-up. Windows are further required to lie inside one
segment (see dataset.py).

Shapes: N candles, F features. Basic names (with the default FeaturesConfig):
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

from typing import Iterator

import numpy as np
import pandas as pd

from cryptotrain.config import ALPHA158_GROUPS, ALPHA158_ROLLING, FeaturesConfig
from cryptotrain.data.features import alpha158 as a158
from cryptotrain.data.features.context import fill_context
from cryptotrain.data.features.cross import cross_names
from cryptotrain.data.ohlcv import segment_ids
from cryptotrain.data.features.rolling import rolling_mean, rolling_mean_std, rolling_std, rolling_sum

_DAY_MS = 86_400_000
_EPS = 1e-12
_COLS = ("open", "high", "low", "close", "volume")
# alpha158 columns are computed on blocks of rows (plus the look-back of the longest window
# before each block): a block's temporaries stay in cache instead of each one faulting in
# fresh pages, which on 1e6 rows costs more than the arithmetic
_BLOCK = 1 << 16


def group_names(group: str, fcfg: FeaturesConfig, windows: list[int]) -> list[str]:
    """Column names of one group; `windows` are the alpha158 rolling windows in use."""
    basic = {
        "returns": [f"ret_{k}" for k in fcfg.returns],
        "body_range": ["body", "range"],
        "volatility": [f"vol_{w}" for w in fcfg.volatility],
        "rsi": [f"rsi_{fcfg.rsi}"],
        "macd": ["macd", "macd_signal", "macd_hist"],
        "bollinger": [f"bb_pctb_{fcfg.bollinger}", f"bb_width_{fcfg.bollinger}"],
        "atr": [f"atr_{fcfg.atr}"],
        "volume_zscore": ["log_volume", f"volume_z_{fcfg.volume_zscore}"],
        "vwap": [f"vwap_dist_{fcfg.vwap}"],
        "time": ["hour_sin", "hour_cos", "dow_sin", "dow_cos"],
    }
    return basic[group] if group in basic else a158.group_names(group, windows)


def groups_names(groups: list[str], fcfg: FeaturesConfig, windows: list[int]) -> list[str]:
    return [name for g in groups for name in group_names(g, fcfg, windows)]


def feature_names(fcfg: FeaturesConfig) -> list[str]:
    """Names of the columns `compute_features` returns, in order: the set, then each context timeframe."""
    names = groups_names(fcfg.groups(), fcfg, fcfg.windows)
    ctx = groups_names(fcfg.context_groups(), fcfg, fcfg.context_windows)
    return names + [f"{tf}_{name}" for tf in fcfg.context for name in ctx]


def feature_groups(fcfg: FeaturesConfig) -> dict[str, list[str]]:
    """Group -> its column names, in column order: the set's groups, then "<tf>_<group>" per context
    timeframe (for permutation importance by group)."""
    out = {g: group_names(g, fcfg, fcfg.windows) for g in fcfg.groups()}
    for tf in fcfg.context:
        out.update({f"{tf}_{g}": [f"{tf}_{name}" for name in group_names(g, fcfg, fcfg.context_windows)]
                    for g in fcfg.context_groups()})
    if fcfg.cross:                                 # a universe run's cross group, appended last (cross_universe.py)
        out["cross"] = cross_names(fcfg)
    return out


def compute_features(df: pd.DataFrame, fcfg: FeaturesConfig, timeframe_ms: int,
                     dtype=np.float32) -> tuple[np.ndarray, list[str]]:
    """(N, F) features of `dtype` and their names; NaN during each segment's warm-up."""
    names = feature_names(fcfg)
    XT = np.empty((len(names), len(df)), dtype=dtype)  # every row written once, returned as the (N, F) view
    own = groups_names(fcfg.groups(), fcfg, fcfg.windows)
    fill_groups(XT[:len(own)], df, fcfg.groups(), fcfg, fcfg.windows, timeframe_ms)
    width = (len(names) - len(own)) // max(len(fcfg.context), 1)
    for i, tf in enumerate(fcfg.context):
        a = len(own) + i * width
        fill_context(XT[a:a + width], df, tf, fcfg, timeframe_ms, fill_groups)
    return XT.T, names


def fill_groups(XT: np.ndarray, df: pd.DataFrame, groups: list[str], fcfg: FeaturesConfig,
                windows: list[int], timeframe_ms: int) -> None:
    """Write the columns of `groups` into the rows of XT (F, N), segment by segment."""
    index = {name: j for j, name in enumerate(groups_names(groups, fcfg, windows))}
    written = np.zeros(len(index), dtype=bool)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    cols = [df[c].to_numpy(dtype=np.float64) for c in _COLS]
    n = len(df)
    seg = segment_ids(ts, timeframe_ms)
    bounds = np.flatnonzero(np.diff(seg)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, n]):
        phase = int(ts[a] // timeframe_ms)   # the candle's index on the time grid: rolling blocks align to it
        for name, start, values in _segment_columns([c[a:b] for c in cols], groups, fcfg, windows, phase):
            XT[index[name], a + start:a + start + len(values)] = values
            written[index[name]] = True
    if "time" in groups:
        for name, values in zip(group_names("time", fcfg, windows), time_features(ts).T):
            XT[index[name]] = values
            written[index[name]] = True
    assert written.all() or n == 0, "a feature group did not write all its columns"


def _segment_columns(cols, groups: list[str], fcfg: FeaturesConfig, windows: list[int],
                     phase: int = 0) -> Iterator[tuple[str, int, np.ndarray]]:
    """(name, first row, values) of every per-segment group for one contiguous segment whose first
    candle has index `phase` on the time grid (data/rolling.py aligns its blocks to it)."""
    o, h, l, c, v = cols
    basic = {
        "returns": lambda: _returns(c, fcfg.returns),
        "body_range": lambda: (("body", (c - o) / c), ("range", (h - l) / c)),
        "volatility": lambda: ((f"vol_{w}", rolling_std(log_returns(c), w, phase)) for w in fcfg.volatility),
        "rsi": lambda: ((f"rsi_{fcfg.rsi}", _rsi(c, fcfg.rsi)),),
        "macd": lambda: zip(("macd", "macd_signal", "macd_hist"), _macd(c, *fcfg.macd)),
        "bollinger": lambda: zip(group_names("bollinger", fcfg, windows), _bollinger(c, fcfg.bollinger, phase)),
        "atr": lambda: ((f"atr_{fcfg.atr}", _atr(h, l, c, fcfg.atr)),),
        "volume_zscore": lambda: zip(group_names("volume_zscore", fcfg, windows), _volume_z(v, fcfg.volume_zscore, phase)),
        "vwap": lambda: ((f"vwap_dist_{fcfg.vwap}", _vwap_dist(h, l, c, v, fcfg.vwap, phase)),),
    }
    for g in groups:
        if g in basic:
            for name, values in basic[g]():
                yield name, 0, values
    alpha = [g for g in groups if g in ALPHA158_GROUPS]
    halo = max(windows) + 1  # the longest look-back: ROC and the c_{t-1} of the oldest window row
    for a in range(0, len(c) if alpha else 0, _BLOCK):
        lo = max(a - halo, 0)
        for name, values in _alpha158([x[lo:a + _BLOCK] for x in cols], alpha, windows, phase + lo):
            yield name, a, values[a - lo:]


def _alpha158(cols, groups: list[str], windows: list[int], phase: int) -> Iterator[tuple[str, np.ndarray]]:
    o, h, l, c, v = cols
    if "kbar" in groups:
        yield from a158.kbar(o, h, l, c)
    if "price" in groups:
        yield from a158.price(o, h, l, c)
    ops = [g for g in groups if g in ALPHA158_ROLLING]
    if ops:
        yield from a158.rolling(h, l, c, v, ops, windows, phase)


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


def _returns(c: np.ndarray, lags: list[int]) -> Iterator[tuple[str, np.ndarray]]:
    logc = np.log(c)
    for k in lags:
        r = np.full(len(c), np.nan)
        if k < len(c):
            r[k:] = logc[k:] - logc[:-k]
        yield f"ret_{k}", r


def _volume_z(v: np.ndarray, n: int, phase: int):
    lv = np.log1p(v)
    mean, sd = rolling_mean_std(lv, n, phase)
    return lv, np.where(sd > _EPS, (lv - mean) / np.where(sd > _EPS, sd, 1.0), np.where(np.isnan(sd), np.nan, 0.0))


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
    return atr_price(h, l, c, n) / c


def atr_price(h: np.ndarray, l: np.ndarray, c: np.ndarray, n: int) -> np.ndarray:
    """Wilder ATR of the true range over n candles, in price units (NaN for the first n - 1); the
    feature atr_n divides it by the close, the backtest's *_atr rules use it as it is."""
    prev = np.r_[c[0], c[:-1]]
    tr = np.maximum(h - l, np.maximum(np.abs(h - prev), np.abs(l - prev)))
    tr[0] = h[0] - l[0]  # no previous close inside the segment
    return wilder_mean(tr, n, first=0)


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
