"""Target weights for the portfolio engine: the `backtest` constraints applied to decided weights.

A policy (anyone's weight file today; top-k or proportional scores from a universe run later) is
a function scores -> weights (T, N) with NaN = no decision; `constrain` then applies, at every
row where any pair has a decision (the book is the last decision of every pair, 0 before one):
1. mode: long-only sets negative weights to 0 (as signal files in long-only mode);
2. max_exposure: each |w_i| is clipped to it;
3. gross: when sum_i |w_i| > gross the whole book is scaled down to gross;
4. target_vol (0 = off): the book is scaled by min(target_vol / sigma_t, gross / sum_i |w_i|) with
   sigma_t the annualized standard deviation of the book's candle returns over the trailing
   VOL_WINDOW_DAYS, sum_i w_i r_{s,i} for the last L closes s <= t (r_{s,i} = close_s / previous
   close - 1 of pair i, 0 where it has no candle): causal, closes up to the decision only. With
   fewer than L returns (the start) the book is not scaled up (factor <= 1). The window's
   covariance of pair returns comes from running sums, so this is vectorized over rows.
The scale changes only at decision rows, so volatility targeting adds no trades of its own
between decisions. Output: the constrained weights, a full row at each decision row, NaN elsewhere.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.backtest.portfolio_engine import last_valid
from cryptotrain.backtest.stats import YEAR_MS

VOL_WINDOW_DAYS = 30


def book(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows with a decision (D,), the book at those rows (D, N): each pair's last decision, 0 before)."""
    rows = np.flatnonzero(np.isfinite(weights).any(axis=1))
    return rows, np.nan_to_num(last_valid(weights)[rows])


def trailing_vol(close: np.ndarray, rows: np.ndarray, w: np.ndarray, timeframe_ms: int) -> np.ndarray:
    """(D,) annualized std of sum_i w[d, i] r_{s,i} over the VOL_WINDOW_DAYS up to rows[d]; NaN until full."""
    T = len(close)
    L = max(2, int(VOL_WINDOW_DAYS * 86_400_000 // timeframe_ms))
    last = last_valid(close)
    r = np.zeros_like(close)
    r[1:] = np.where(np.isfinite(close[1:]) & np.isfinite(last[:-1]), close[1:] / last[:-1] - 1.0, 0.0)
    s1 = np.vstack([np.zeros((1, r.shape[1])), np.cumsum(r, axis=0)])                   # (T+1, N)
    s2 = np.concatenate([np.zeros((1, r.shape[1], r.shape[1])),
                         np.cumsum(r[:, :, None] * r[:, None, :], axis=0)])              # (T+1, N, N)
    hi, lo = rows + 1, rows + 1 - L
    ok = lo >= 0
    lo = np.maximum(lo, 0)
    m = (s1[hi] - s1[lo]) / L
    cov = ((s2[hi] - s2[lo]) - L * m[:, :, None] * m[:, None, :]) / (L - 1)               # (D, N, N) ddof 1
    var = np.einsum("dn,dnm,dm->d", w, cov, w)
    vol = np.sqrt(np.maximum(var, 0.0) * (YEAR_MS / timeframe_ms))
    return np.where(ok & (T > 0), vol, np.nan)


def constrain(weights: np.ndarray, close: np.ndarray, *, mode: str, max_exposure: float, gross: float,
              target_vol: float, timeframe_ms: int) -> np.ndarray:
    """Decided weights (T, N), NaN = none -> the constrained book at each decision row (module docstring)."""
    rows, w = book(np.asarray(weights, dtype=np.float64))
    if mode == "long-only":
        w = np.maximum(w, 0.0)
    w = np.clip(w, -max_exposure, max_exposure)
    g = np.abs(w).sum(axis=1)
    cap = np.divide(gross, g, out=np.ones_like(g), where=g > gross)     # <= 1: scale down to gross only
    if target_vol > 0:
        vol = trailing_vol(np.asarray(close, dtype=np.float64), rows, w, timeframe_ms)
        up = np.divide(gross, g, out=np.ones_like(g), where=g > 0)      # the most gross allows
        want = np.divide(target_vol, vol, out=np.full_like(g, np.inf), where=vol > 0)
        cap = np.where(np.isfinite(vol), np.minimum(want, up), np.minimum(cap, 1.0))
    out = np.full(np.shape(weights), np.nan)
    out[rows] = w * cap[:, None]
    return out
