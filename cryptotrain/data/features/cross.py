"""The cross group: features of a pair relative to the other pairs of a universe, at each timestamp.

Input: a panel on the union calendar of a universe run, one row per timestamp t (grid rows, one
timeframe apart) and one column per pair i, NaN where the pair has no candle at t (a gap, not yet
listed, delisted); nothing is forward-filled. Every value at t uses candles <= t only.

Who counts at t: the pairs with a candle at t, P_t; a timestamp with |P_t| < m (m =
features.cross_min_pairs, default 3) gets no cross feature at all (every column NaN), so no window
ends there. Each statistic below is further taken over the pairs whose input is defined at t (a
pair in its warm-up is left out, never filled) and is NaN when fewer than m of them remain.

Shapes: T timestamps, N pairs, C cross columns. Names (features.cross lists per-pair features f,
e.g. ret_1, vol_24; W in features.cross_windows; k in features.returns):
  xrank_f      (rank of f_i among the pairs at t - 1) / (n_t - 1) in [0, 1], ties share their mean rank
  xz_f         (f_i - mean_t f) / std_t f   (std ddof 0 over the pairs at t; 0 when that std is 0)
  mkt_ret      m_t = mean over the pairs at t of r_i,t = c_i,t / c_i,t-1 - 1 (candles at t-1 and t):
               the one-candle return of an equal-weight portfolio of the universe
  mkt_beta_W   Cov(r_i, m) / Var(m) over the last W rows t-W+1..t (NaN unless r_i and m are defined
               on all W, so a window never reads across a gap of the pair or a thin timestamp)
  mkt_corr_W   Cov(r_i, m) / sqrt(Var(r_i) Var(m)) over the same rows; NaN where a variance is ~0
  rel_ret_k    log(c_i,t / c_i,t-k) - log(c_ref,t / c_ref,t-k): the pair's ret_k minus the reference
               pair's (features.cross_reference); NaN unless both have every candle t-k..t
The rolling moments are data/features/rolling.py's `rolling_comoments`, blocks aligned to `phase`
(the grid index of row 0), so a window's value depends on its W rows alone.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.rolling import rolling_comoments
from cryptotrain.errors import UserError


def average_ranks(a: np.ndarray) -> np.ndarray:
    """1-based ranks along the last axis; tied values share the mean of their ranks."""
    a = np.asarray(a)
    order = np.argsort(a, axis=-1, kind="stable")
    s = np.take_along_axis(a, order, axis=-1)
    n = a.shape[-1]
    # Tie groups in sorted order: a group starts where the value changes and ends before the
    # next start; every member gets the mean of the group's ordinal ranks, (first + last) / 2 + 1.
    start = np.ones(s.shape, dtype=bool)
    start[..., 1:] = s[..., 1:] != s[..., :-1]
    end = np.ones(s.shape, dtype=bool)
    end[..., :-1] = start[..., 1:]
    pos = np.broadcast_to(np.arange(n), s.shape)
    first = np.maximum.accumulate(np.where(start, pos, 0), axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(end, pos, n), -1), axis=-1), -1)
    ranks_sorted = (first + last) / 2.0 + 1.0
    out = np.empty(s.shape, dtype=np.float64)
    np.put_along_axis(out, order, ranks_sorted, axis=-1)
    return out


def row_ranks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) 1-based average ranks of the finite values of each row (NaN elsewhere) and (T,) their count.
    Non-finite entries are ranked as +inf, after every finite one, so they never shift a finite rank."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x)
    ranks = average_ranks(np.where(ok, x, np.inf))
    return np.where(ok, ranks, np.nan), ok.sum(axis=-1)


def cross_mean(x: np.ndarray, min_pairs: int) -> np.ndarray:
    """(T,) mean of the finite values of each row of x (T, N); NaN where fewer than min_pairs."""
    ok = np.isfinite(x)
    n = ok.sum(axis=1)
    s = np.where(ok, x, 0.0).sum(axis=1)
    return np.where(n >= min_pairs, s / np.maximum(n, 1), np.nan)


def cross_rank01(x: np.ndarray, min_pairs: int) -> np.ndarray:
    """(T, N) (rank - 1) / (n_t - 1) among the finite values of each row; NaN where fewer than min_pairs."""
    ranks, n = row_ranks(x)
    ok = (n >= max(min_pairs, 2))[:, None]
    return np.where(ok, (ranks - 1.0) / np.maximum(n - 1, 1)[:, None], np.nan)


def cross_zscore(x: np.ndarray, min_pairs: int) -> np.ndarray:
    """(T, N) (x - row mean) / row std (ddof 0) over the finite values; 0 where the std is ~0."""
    mean = cross_mean(x, min_pairs)[:, None]
    d = x - mean                                   # NaN in every row with fewer than min_pairs values
    ok = np.isfinite(d)
    sd = np.sqrt(np.where(ok, d * d, 0.0).sum(axis=1, keepdims=True) / np.maximum(ok.sum(axis=1, keepdims=True), 1))
    flat = sd <= 1e-12 * np.abs(np.nan_to_num(mean)) + 1e-300   # equal values: the std is rounding
    return np.where(ok, np.where(flat, 0.0, d / np.where(flat, 1.0, sd)), np.nan)


def run_lengths(present: np.ndarray) -> np.ndarray:
    """(T, N) number of consecutive rows with a candle ending at each row (0 where there is none)."""
    T = len(present)
    rows = np.arange(T)[:, None]
    last_absent = np.maximum.accumulate(np.where(present, -1, rows), axis=0)
    return rows - last_absent


def cross_names(fcfg: FeaturesConfig) -> list[str]:
    """Column names of the cross group, in order (module docstring); [] when features.cross is empty."""
    if not fcfg.cross:
        return []
    names = [f"{p}_{f}" for f in fcfg.cross for p in ("xrank", "xz")] + ["mkt_ret"]
    names += [f"mkt_{s}_{w}" for w in fcfg.cross_windows for s in ("beta", "corr")]
    if fcfg.cross_reference is not None:
        names += [f"rel_ret_{k}" for k in fcfg.returns]
    return names


def check_cross(fcfg: FeaturesConfig, pair_features: list[str], symbols: list[str]) -> None:
    """A config the cross group cannot be built from, as one line naming the fix."""
    if not fcfg.cross:
        return
    if len(symbols) < fcfg.cross_min_pairs:
        raise UserError(f"features.cross needs at least features.cross_min_pairs = {fcfg.cross_min_pairs} pairs in "
                        f"data.universe (got {len(symbols)}); add pairs or set features.cross=[]")
    missing = [f for f in fcfg.cross if f not in pair_features]
    if missing:
        raise UserError(f"features.cross lists {missing[0]}, which is not a feature of the run; use one of "
                        f"{', '.join(pair_features[:12])}{', ...' if len(pair_features) > 12 else ''}")
    if fcfg.cross_reference is not None and fcfg.cross_reference not in symbols:
        raise UserError(f"features.cross_reference {fcfg.cross_reference} is not in data.universe; name one of "
                        f"{', '.join(symbols)} or set it to null")


def _beta_corr(r: np.ndarray, m: np.ndarray, w: int, phase: int) -> tuple[np.ndarray, np.ndarray]:
    """(T,) rolling beta and correlation of r to m over w rows (NaN where a window holds a NaN)."""
    _, _, m2r, m2m, c = rolling_comoments(r, m, w, phase)
    tiny = 1e-14 * w
    ok_m = m2m > tiny
    beta = np.where(ok_m, c / np.where(ok_m, m2m, 1.0), np.nan)
    ok = ok_m & (m2r > tiny)
    corr = np.where(ok, c / np.sqrt(np.where(ok, m2r * m2m, 1.0)), np.nan)
    return beta, corr


def cross_features(close: np.ndarray, values: dict[str, np.ndarray], symbols: list[str], fcfg: FeaturesConfig,
                   phase: int = 0) -> tuple[np.ndarray, list[str]]:
    """(T, N, C) float64 cross features (a view of a (C, T, N) array: one column per block) and their
    names (module docstring).

    close (T, N): the pairs' closes on the union calendar, NaN where a pair has no candle;
    values: name -> (T, N) for each per-pair feature listed in features.cross (NaN where undefined);
    symbols (N,): the pairs, as in data.universe (to find features.cross_reference)."""
    names = cross_names(fcfg)
    close = np.asarray(close, dtype=np.float64)
    T, N = close.shape
    m = fcfg.cross_min_pairs
    out = np.empty((len(names), T, N))
    if not names:
        return out.transpose(1, 2, 0), names
    present = np.isfinite(close)
    col = iter(out)                                # each column is written once, in the order of `names`
    for f in fcfg.cross:
        x = np.asarray(values[f], dtype=np.float64)
        next(col)[:] = cross_rank01(x, m)
        next(col)[:] = cross_zscore(x, m)
    r1 = np.full((T, N), np.nan)
    r1[1:] = close[1:] / close[:-1] - 1.0          # NaN unless the pair has candles at t-1 and t
    mkt = cross_mean(r1, m)
    next(col)[:] = mkt[:, None]
    for w in fcfg.cross_windows:
        beta, corr = next(col), next(col)
        for i in range(N):
            beta[:, i], corr[:, i] = _beta_corr(r1[:, i], mkt, w, phase)
    if fcfg.cross_reference is not None:
        run = run_lengths(present)
        ref = symbols.index(fcfg.cross_reference)
        logc = np.log(close)
        for k in fcfg.returns:
            rk = next(col)
            rk[:k] = np.nan
            np.subtract(logc[k:], logc[:-k], out=rk[k:])
            rk[run < k + 1] = np.nan               # a gap inside t-k..t
            rk -= rk[:, ref:ref + 1].copy()
    out[:, ~present | (present.sum(axis=1) < m)[:, None]] = np.nan   # no candle, or a thin timestamp
    return out.transpose(1, 2, 0), names
