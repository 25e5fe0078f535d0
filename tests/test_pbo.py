"""PBO by CSCV (backtest/pbo.py) on constructed cases with a known answer."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from cryptotrain.backtest.pbo import pbo
from cryptotrain.errors import UserError


def _slow_pbo(r: np.ndarray, s: int) -> float:
    """Reference written from the paper's steps, one combination at a time with pandas-free NumPy."""
    t, n = r.shape
    rows = t // s
    blocks = np.split(r[t - rows * s:], s)
    below = 0
    combos = list(combinations(range(s), s // 2))
    for c in combos:
        ins = np.vstack([blocks[i] for i in c])
        oos = np.vstack([blocks[i] for i in range(s) if i not in c])
        sr_is = ins.mean(0) / ins.std(0, ddof=1)
        sr_oos = oos.mean(0) / oos.std(0, ddof=1)
        best = int(np.argmax(sr_is))
        rank = 1 + np.sum(sr_oos < sr_oos[best]) + 0.5 * (np.sum(sr_oos == sr_oos[best]) - 1)
        below += rank / (n + 1) <= 0.5
    return below / len(combos)


def test_pbo_equals_a_loop_over_the_combinations():
    """Catches a wrong IS/OOS mask, a rank counted from the best instead of the worst, or the
    Sharpe ratio's sums mixed up: the vectorized PBO equals the per-combination loop."""
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.01, size=(203, 7)) + rng.normal(0, 0.002, size=7)
    assert pbo(r, n_blocks=8).pbo == pytest.approx(_slow_pbo(r, 8), abs=1e-12)


def test_noise_strategies_give_pbo_near_one_half():
    """Catches a PBO that flatters a selection among strategies with nothing to find: N noise
    strategies alike in distribution have an IS winner that is a random pick OOS."""
    rng = np.random.default_rng(0)
    values = [pbo(rng.normal(0, 0.01, size=(1600, 10))).pbo for _ in range(20)]
    assert 0.4 < np.mean(values) < 0.6


def test_one_real_edge_among_noise_gives_pbo_near_zero():
    """Catches a PBO that cannot tell a real edge: one strategy with a Sharpe of 0.15 per candle
    among 9 noise strategies is the IS winner and stays above the OOS median."""
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, size=(1600, 10))
    r[:, 4] += 0.0015
    res = pbo(r)
    assert res.pbo < 0.05
    assert res.winner_counts.argmax() == 4
    assert res.n_combinations == 12870


def test_bad_input_is_a_user_error():
    with pytest.raises(UserError, match="at least 2 strategies"):
        pbo(np.zeros((100, 1)))
    with pytest.raises(UserError, match="even number"):
        pbo(np.zeros((100, 3)), n_blocks=5)
    with pytest.raises(UserError, match="at least 32 candles"):
        pbo(np.zeros((20, 3)))
