"""How likely a selection among many strategies is an artefact of the selection: PBO by CSCV.

Bailey, Borwein, Lopez de Prado and Zhu (2015), "The probability of backtest overfitting",
combinatorially symmetric cross-validation (CSCV). Given the per-candle returns of N strategies
on the same T candles (a sweep's trials on one validation span, a grid's combinations):

    1. cut the T rows into S contiguous blocks of equal size (S even; the first T mod S rows are
       dropped so every block has the same length and the latest candles are all kept);
    2. for each of the C(S, S/2) ways to pick S/2 blocks as in-sample (IS, the rest out-of-sample,
       OOS): n* = the strategy with the best IS performance (per-candle Sharpe, ddof = 1);
       omega = its OOS rank among the N, as a relative rank rank / (N + 1) with rank 1 = worst
       (ties share the average rank); lambda = log(omega / (1 - omega));
    3. PBO = the share of combinations with lambda <= 0: the IS winner ranked at or below the
       OOS median.

PBO near 0: the IS winner stays a winner OOS (a real difference between the strategies); near
0.5: the ranking carries no information (strategies alike in distribution, e.g. all noise);
above 0.5: the selection picks what fails OOS. It judges the selection process, not one
strategy's profit: an edge shared by every strategy leaves PBO near 0.5.

Per-block sums of r and r^2 make each combination's Sharpe ratios one product of a (C, S)
0/1 matrix with (S, N) block sums: C(16, 8) = 12,870 combinations cost milliseconds.
Shapes: T candles, N strategies, S blocks, C combinations.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from cryptotrain.errors import UserError

DEFAULT_BLOCKS = 16


@dataclass
class PBOResult:
    pbo: float                # share of combinations whose IS winner ranks at or below the OOS median
    logits: np.ndarray        # (C,) lambda of each combination
    n_strategies: int         # N
    n_blocks: int             # S
    block_rows: int           # candles per block
    n_combinations: int       # C = C(S, S/2)
    winner_counts: np.ndarray  # (N,) how often each strategy was the IS winner

    def to_dict(self) -> dict:
        return {"pbo": self.pbo, "n_strategies": self.n_strategies, "n_blocks": self.n_blocks,
                "block_rows": self.block_rows, "n_combinations": self.n_combinations,
                "logit_median": float(np.median(self.logits))}


def _sharpe(s1: np.ndarray, s2: np.ndarray, n: int) -> np.ndarray:
    """Per-candle Sharpe (ddof = 1) from sums of r and r^2 over n candles; 0 where std is 0."""
    mean = s1 / n
    var = np.maximum(s2 - n * mean * mean, 0.0) / (n - 1)
    std = np.sqrt(var)
    return np.divide(mean, std, out=np.zeros_like(mean), where=std > 1e-15)


def pbo(returns: np.ndarray, n_blocks: int = DEFAULT_BLOCKS) -> PBOResult:
    """PBO of choosing the best of N strategies from their (T, N) per-candle returns (module doc)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"returns must be (T, N), got shape {r.shape}")
    t, n = r.shape
    if n < 2:
        raise UserError(f"PBO needs at least 2 strategies to choose from, got {n}")
    if n_blocks < 2 or n_blocks % 2:
        raise UserError(f"PBO needs an even number of blocks >= 2, got {n_blocks}")
    if not np.isfinite(r).all():
        raise UserError("PBO needs finite returns for every strategy on every candle; "
                        "use the trials or combinations backtested on the same candles")
    rows = t // n_blocks
    if rows < 2:
        raise UserError(f"PBO with {n_blocks} blocks needs at least {2 * n_blocks} candles, got {t}")
    blocks = r[t - rows * n_blocks:].reshape(n_blocks, rows, n)
    s1, s2 = blocks.sum(axis=1), (blocks * blocks).sum(axis=1)          # (S, N)
    half = n_blocks // 2
    combos = np.array(list(combinations(range(n_blocks), half)), dtype=np.int64)
    mask = np.zeros((len(combos), n_blocks))                             # (C, S) 1 = in-sample
    np.put_along_axis(mask, combos, 1.0, axis=1)
    m = half * rows
    is_sr = _sharpe(mask @ s1, mask @ s2, m)                             # (C, N)
    oos_sr = _sharpe((1 - mask) @ s1, (1 - mask) @ s2, m)
    best = np.argmax(is_sr, axis=1)                                      # (C,) first best on ties
    from scipy.stats import rankdata   # ~1 s of import: only when a PBO is computed
    ranks = rankdata(oos_sr, axis=1)                                     # 1 = worst OOS
    omega = ranks[np.arange(len(combos)), best] / (n + 1)
    logits = np.log(omega / (1 - omega))
    return PBOResult(pbo=float(np.mean(logits <= 0)), logits=logits, n_strategies=n, n_blocks=n_blocks,
                     block_rows=rows, n_combinations=len(combos),
                     winner_counts=np.bincount(best, minlength=n))


def sentence(result: PBOResult, what: str = "trials") -> str:
    """One line naming what PBO measures, for the sweep's and the grid's printouts."""
    verdict = ("the best in-sample pick tends to stay above the median out of sample" if result.pbo < 0.25 else
               "the best in-sample pick is no better than a random pick out of sample" if result.pbo <= 0.6 else
               "the best in-sample pick tends to be among the worst out of sample")
    return (f"Probability of backtest overfitting (CSCV, {result.n_blocks} blocks of {result.block_rows} candles, "
            f"{result.n_combinations:,} splits, {result.n_strategies} {what}): {result.pbo:.2f}: {verdict} "
            "(0 = the selection holds out of sample, 0.5 = it carries no information)")
