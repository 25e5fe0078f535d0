"""Cross-sectional metrics of a universe run: does the score rank the pairs by their next move?

At each decision time t the cross-section is the pairs with a finite score s_i,t and a realized
forward return r_i,t (the label's r_t of data/labels.py); a timestamp with fewer than m of them
(features.cross_min_pairs) is left out. Over the n_t pairs of a cross-section:

    IC_t       = Pearson(s_.,t, r_.,t)
    RankIC_t   = Pearson(rank s_.,t, rank r_.,t)    (average ranks for ties: Spearman)
    group g_i,t = floor(q (rank s_i,t - 1) / n_t) in 0..q-1   (q = evaluate.quantiles, ranks as above)
    G_g,t      = mean of r_i,t over the pairs of group g;  spread_t = G_q-1,t - G_0,t (top minus bottom)

(Qlib's definitions: IC and Rank IC per date, then their mean, std, ICIR = mean / std and the
share of dates with a positive one.) A timestamp where a correlation is undefined (constant scores
or returns) has NaN there and is left out of its mean.

Baselines score the same cells: the cross-sectional momentum of the pairs, s_i,t = c_i,t / c_i,t-h - 1
(the past return over the label horizon h, known at the close of t; NaN unless the pair has every
candle t-h..t), the reversal, -momentum, and the pooled fitted baselines' predicted returns
(fitted_baselines.py, fitted on every pair's training windows). A cell counts for every predictor only where all of them
and r are finite, so each is judged on exactly the same pairs at the same timestamps.

Shapes: T timestamps (the union calendar's decision times), N pairs, q groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cryptotrain.data.features.cross import row_ranks
from cryptotrain.errors import UserError

FRAME_COLUMNS = ("timestamp", "symbol", "forward_return")   # the long frame's keys and the realized return


def score_panel(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
    """A long frame (one row per (timestamp, symbol): FRAME_COLUMNS and the score `columns`) ->
    timestamps (T,), symbols (N,) and column -> (T, N), NaN where the frame has no row."""
    missing = [c for c in (*FRAME_COLUMNS, *columns) if c not in frame.columns]
    if missing:
        raise UserError(f"the predictions have no column {missing[0]}; rerun evaluate on the universe run")
    if frame.duplicated(["timestamp", "symbol"]).any():
        raise UserError("the predictions hold two rows for one (timestamp, symbol); rerun evaluate")
    ts, t_idx = np.unique(frame["timestamp"].to_numpy(dtype=np.int64), return_inverse=True)
    symbols, s_idx = np.unique(frame["symbol"].astype(str).to_numpy(), return_inverse=True)
    out = {}
    for c in ("forward_return", *columns):
        a = np.full((len(ts), len(symbols)), np.nan)
        a[t_idx, s_idx] = frame[c].to_numpy(dtype=np.float64)
        out[c] = a
    return ts, list(symbols), out


def momentum_scores(timestamps: np.ndarray, pair: np.ndarray, close: np.ndarray, idx: np.ndarray, horizon: int,
                    timeframe_ms: int) -> np.ndarray:
    """(M,) c_t / c_{t-h} - 1 of the pair of each decision row idx: the momentum baseline's score. Rows
    are candles, a pair's consecutive in time (a universe dataset's layout); row idx - h is the pair's
    candle h candles before t when its pair and timestamp say so, else the score is NaN (a gap)."""
    idx = np.asarray(idx, dtype=np.int64)
    j = np.maximum(idx - horizon, 0)
    ok = (idx >= horizon) & (pair[j] == pair[idx]) & (timestamps[j] == timestamps[idx] - horizon * timeframe_ms)
    return np.where(ok, close[idx] / np.where(ok, close[j], 1.0) - 1.0, np.nan)


def common_cells(ret: np.ndarray, scores: dict[str, np.ndarray], min_pairs: int) -> np.ndarray:
    """(T, N) bool: the cells every predictor and r have, at timestamps with >= min_pairs of them."""
    ok = np.isfinite(ret)
    for s in scores.values():
        ok &= np.isfinite(s)
    ok &= (ok.sum(axis=1) >= min_pairs)[:, None]
    return ok


def row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(T,) Pearson correlation of each row over the cells where both are finite; NaN where a row
    has fewer than 2 such cells or is constant in x or y."""
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=1)
    x0, y0 = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    nn = np.maximum(n, 1)
    xc = np.where(ok, x0 - (x0.sum(axis=1) / nn)[:, None], 0.0)
    yc = np.where(ok, y0 - (y0.sum(axis=1) / nn)[:, None], 0.0)
    sxx, syy, sxy = (xc * xc).sum(axis=1), (yc * yc).sum(axis=1), (xc * yc).sum(axis=1)
    tiny = 1e-12 * np.maximum((x0 * x0).sum(axis=1), (y0 * y0).sum(axis=1)) + 1e-300
    good = (n >= 2) & (sxx > tiny) & (syy > tiny)
    return np.where(good, sxy / np.sqrt(np.where(good, sxx * syy, 1.0)), np.nan)


def cross_ic(score: np.ndarray, ret: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T,) IC_t and RankIC_t over `cells` (module docstring); NaN at a row without cells."""
    s, r = np.where(cells, score, np.nan), np.where(cells, ret, np.nan)
    return row_pearson(s, r), row_pearson(row_ranks(s)[0], row_ranks(r)[0])


def group_returns(score: np.ndarray, ret: np.ndarray, cells: np.ndarray, q: int) -> np.ndarray:
    """(T, q) G_g,t: mean forward return of each score group (0 = lowest scores), NaN where a row has
    fewer than q cells."""
    ranks, n = row_ranks(np.where(cells, score, np.nan))
    g = np.floor(q * (ranks - 1.0) / np.maximum(n, 1)[:, None])
    out = np.full((len(score), q), np.nan)
    for k in range(q):
        inside = cells & (g == k)
        cnt = inside.sum(axis=1)
        out[:, k] = np.where(cnt > 0, np.where(inside, ret, 0.0).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    out[n < q] = np.nan
    return out


def cross_series(score: np.ndarray, ret: np.ndarray, cells: np.ndarray, q: int) -> dict[str, np.ndarray]:
    """Per-timestamp series of one predictor: "ic", "rank_ic" (T,), "groups" (T, q), "spread" (T,)."""
    ic, ric = cross_ic(score, ret, cells)
    groups = group_returns(score, ret, cells, q)
    return {"ic": ic, "rank_ic": ric, "groups": groups, "spread": groups[:, -1] - groups[:, 0]}
