"""Allocation policies of a universe run (`backtest.policy`): per-pair scores or decisions -> the target
weights the portfolio engine trades, and the cross-sectional momentum score of the benchmark.

Shapes: T grid rows (of the backtest's range), N pairs, D decision rows. `scores` (T, N) is NaN where
a pair has no score at a row (no prediction there: not listed yet, ended, a gap). Output weights
(T, N): a full row at each decision row (decided at that row's close), NaN elsewhere (keep); they
then pass through portfolio_weights.constrain (mode, max_exposure, gross, target_vol).

- `independent`: each pair trades its own decisions by today's single-pair rule (policy.py:
  prediction_actions, a row without a prediction keeps the target, min_hold) on a sleeve of 1/N of
  the starting cash, sized on that sleeve's own equity (portfolio_sleeves.py). The account's cash is
  the sum of the sleeves', so the portfolio is exactly N single-pair backtests on cash / N.
- `topk`: every R candles (R = backtest.rebalance, 0 = the label horizon) the book holds the k
  pairs with the highest scores long (and, long-short, the k lowest short), each at gross / k
  (long-short: gross / 2k), with Qlib's TopkDropout hysteresis (n_drop, below).
- `proportional`: every R candles w_i = s_i / sum_j |s_j| * gross over the pairs with a score;
  long-short demeans first (s_i - mean_j s_j), long-only keeps max(s_i, 0) (all <= 0: flat).
A pair without a score at a decision row is neither bought nor kept: a held pair with no score is
sold there (topk: outside the n_drop budget, its slot refilled by the best scored pair).

TopkDropout (Qlib's rule, method_buy "top", method_sell "bottom"), one side, at each decision row:
  held     the pairs held (with a score), best score first;
  cand     the best n_drop + k - |held| scored pairs not held;
  comb     held and cand together, best first;
  sell     the held pairs among the last n_drop of comb (a pair is only dropped for a better one);
  buy      the first |sell| + k - |held| of cand.
So at most n_drop holdings are replaced per decision; n_drop >= k is plain top-k (every decision
holds the k best), n_drop = 0 keeps the book once full (Qlib's slice `[-0:]` would sell all of it).
Ties go to the pair listed first. The short side runs the same on -score over the pairs not long.
This is sequential over the D decision rows (the book depends on the last one).

Momentum: score[t, i] = close[t, i] / close[t - h, i] - 1, h = the label horizon: the return over
the horizon known at the close of t (NaN when either candle is missing), traded through the same
policy (independent: sign(score) * max_exposure, long-only flat instead of short).
"""

from __future__ import annotations

import math

import numpy as np

from cryptotrain.backtest import policy
from cryptotrain.config import BacktestConfig


def decision_rows(T: int, every: int) -> np.ndarray:
    """(D,) rows 0, R, 2R, ... of a T-row range."""
    return np.arange(0, T, max(int(every), 1))


def rebalance_mask(T: int, rows: np.ndarray) -> np.ndarray:
    """(T,) bool: the opens where decisions at `rows` fill (row + 1): the held pairs are traded back there too."""
    mask = np.zeros(T, dtype=bool)
    mask[rows[rows + 1 < T] + 1] = True
    return mask


def dropout_step(score: list[float], held: set[int], k: int, n_drop: int, allowed: set[int] | None = None,
                 ) -> set[int]:
    """One TopkDropout decision on one side (module docstring): score (N,) as floats, the held pairs -> the
    pairs held after it. `allowed`: the pairs it may hold (None: all)."""
    ok = [i for i, v in enumerate(score) if math.isfinite(v) and (allowed is None or i in allowed)]
    key = lambda i: (-score[i], i)                                    # noqa: E731  best first, ties: lower index
    last = sorted((i for i in ok if i in held), key=key)               # a held pair without a score is dropped here
    cand = sorted((i for i in ok if i not in held), key=key)[: n_drop + k - len(last)]
    comb = sorted(last + cand, key=key)
    bottom = set(comb[len(comb) - n_drop:]) if n_drop > 0 else set()
    sell = {i for i in last if i in bottom}
    return (set(last) - sell) | set(cand[: len(sell) + k - len(last)])


def topk_weights(scores: np.ndarray, rows: np.ndarray, *, k: int, n_drop: int | None, long_short: bool,
                 gross: float) -> np.ndarray:
    """(T, N) weights at `rows` (NaN elsewhere): TopkDropout long (and short) books, equal weights. The loop
    over decisions runs on Python lists: a decision sorts a few pairs, where NumPy's per-call cost dominated
    (nine pairs, 11,978 decisions: 0.8 s with NumPy per row; benchmarks/portfolio.py)."""
    T, N = scores.shape
    n_drop = k if n_drop is None else n_drop
    size = gross / (k * (2 if long_short else 1))
    book = np.zeros((len(rows), N))
    long: set[int] = set()
    short: set[int] = set()
    everyone = set(range(N))
    for d, s in enumerate(scores[rows].tolist()):
        long = dropout_step(s, long, k, n_drop)
        book[d, list(long)] = size
        if long_short:
            short = dropout_step([-v for v in s], short - long, k, n_drop, everyone - long)
            book[d, list(short)] = -size
    out = np.full((T, N), np.nan)
    out[rows] = book
    return out


def proportional_weights(scores: np.ndarray, rows: np.ndarray, *, long_short: bool, gross: float) -> np.ndarray:
    """(T, N) weights at `rows` (NaN elsewhere): proportional to the (demeaned) scores, sum |w| = gross."""
    s = scores[rows]
    ok = np.isfinite(s)
    if long_short:
        n = ok.sum(axis=1, keepdims=True)
        mean = np.divide(np.where(ok, s, 0.0).sum(axis=1, keepdims=True), n, out=np.zeros((len(s), 1)), where=n > 0)
        s = s - mean
    else:
        s = np.maximum(s, 0.0)
    s = np.where(ok, s, 0.0)
    tot = np.abs(s).sum(axis=1, keepdims=True)
    out = np.full(scores.shape, np.nan)
    out[rows] = np.divide(s * gross, tot, out=np.zeros_like(s), where=tot > 0)
    return out


def independent_targets(pred_action: np.ndarray, confidence: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """(T, N) per-sleeve targets (fractions of each sleeve's equity) by today's single-pair rule, held
    between decisions; |target| <= gross (all sleeves at gross make a book of gross, sleeves sum to E)."""
    raw = policy.prediction_actions(pred_action, confidence, bcfg)
    held = np.column_stack([policy.apply_min_hold(policy.hold_forward(raw[:, i]), bcfg.min_hold)
                            for i in range(raw.shape[1])]) if raw.shape[1] else raw
    return np.clip(held, -bcfg.gross, bcfg.gross)


def momentum_scores(close: np.ndarray, horizon: int) -> np.ndarray:
    """(T, N) close[t] / close[t - h] - 1 (NaN for t < h or a missing candle): known at the close of t."""
    out = np.full(close.shape, np.nan)
    if 0 < horizon < len(close):
        out[horizon:] = close[horizon:] / close[:-horizon] - 1.0
    return out


def momentum_actions(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Momentum as independent decisions (pred_action (T, N) = sign of the score, confidence 1; NaN = none)."""
    return np.sign(scores), np.where(np.isfinite(scores), 1.0, np.nan)


def policy_weights(scores: np.ndarray, bcfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray]:
    """topk / proportional: (weights (T, N) at the decision rows, the engine's rebalance mask (T,)).
    `bcfg.rebalance` is the decision interval here (the caller resolves 0 to the label horizon)."""
    rows = decision_rows(len(scores), bcfg.rebalance)
    ls = bcfg.mode == "long-short"
    if bcfg.policy == "topk":
        w = topk_weights(scores, rows, k=bcfg.k, n_drop=bcfg.n_drop, long_short=ls, gross=bcfg.gross)
    else:
        w = proportional_weights(scores, rows, long_short=ls, gross=bcfg.gross)
    return w, rebalance_mask(len(scores), rows)
