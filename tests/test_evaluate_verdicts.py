"""The evaluate summary says which kind of edge a model has: the sign of moves, only their size
(hold vs move), or none; direction accuracy has a block-bootstrap interval and a verdict."""

import numpy as np
import pytest

from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.summary import evaluation_report

N = 1500


def _data():
    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.01, N)
    y = np.where(r > 0.005, 2, np.where(r < -0.005, 0, 1))     # about 38% hold
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    return rng, r, y, close


def _report(action):
    rng, r, y, close = _data()
    return evaluation_report(y_true=y, r=r, conf_target=None, model={"action": action, "probs": None},
                             baselines=all_baselines(y, close, np.arange(N), seed=3), horizon=1, n_resamples=200)


def test_a_model_that_knows_the_sign_has_a_sign_edge():
    _, r, y, _ = _data()
    rep = _report(np.where(r > 0, 2, 0))                       # always acts, always the right sign
    assert rep["bootstrap"]["model"]["direction_accuracy"]["lo"] > 0.5
    assert rep["edge"]["kind"] == "sign"
    assert "above 0.5 beyond the 95% interval" in rep["direction_verdict"]
    assert "better than persistence" in rep["direction_verdict"]


def test_a_model_that_knows_only_hold_vs_move_has_a_size_edge():
    rng, r, y, _ = _data()
    coin = rng.integers(0, 2, N) * 2                           # 0 sell or 2 buy, whatever the move
    rep = _report(np.where(y == 1, 1, coin))                   # hold exactly when the move is small
    d = rep["bootstrap"]["model"]["direction_accuracy"]
    assert d["lo"] < 0.5 < d["hi"]
    assert rep["edge"]["kind"] == "size"
    assert "size of moves" in rep["edge"]["sentence"] and "not their sign" in rep["edge"]["sentence"]
    assert "not different from 0.5" in rep["direction_verdict"]


def test_a_random_model_has_no_edge():
    rng, r, y, _ = _data()
    rep = _report(rng.integers(0, 3, N))
    assert rep["edge"]["kind"] == "none" and rep["edge"]["sentence"].startswith("Edge: none")


def test_a_model_that_never_acts_has_no_direction_accuracy():
    rep = _report(np.ones(N, dtype=np.int64))
    assert "never says buy or sell" in rep["direction_verdict"]


@pytest.mark.parametrize("block", [1, 50])
def test_direction_interval_widens_when_hits_come_in_runs(block):
    """Hits in runs of 50 (right, then wrong): the block interval must be wider than with block 1."""
    from cryptotrain.evaluate.bootstrap import circular_block_indices, direction_accuracy_stat, percentile_interval

    n = 1000
    r = np.ones(n)
    action = np.where((np.arange(n) // 50) % 2 == 0, 2, 0)      # 50 right (buy, up), 50 wrong (sell, up)
    idx = circular_block_indices(n, 400, block, np.random.default_rng(0))
    lo, hi = percentile_interval(direction_accuracy_stat(action, r, idx))
    width = hi - lo
    if block == 1:
        assert width < 0.08
    else:
        assert width > 0.12
