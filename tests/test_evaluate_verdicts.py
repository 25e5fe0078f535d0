"""The evaluate summary says which kind of edge a model has: the sign of moves, only their size
(hold vs move), or none, against the strongest baseline with the comparisons counted (edge.py);
direction accuracy has a block-bootstrap interval and a descriptive sentence."""

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
    assert "beats all 3 baselines that call a sign" in rep["edge"]["sentence"]
    assert "Holm over 3 comparisons" in rep["edge"]["sentence"] and "the null, the strongest of them" in rep["edge"]["sentence"]
    assert "better than persistence" in rep["direction_verdict"]


def test_a_model_that_knows_only_hold_vs_move_has_a_size_edge():
    rng, r, y, _ = _data()
    coin = rng.integers(0, 2, N) * 2                           # 0 sell or 2 buy, whatever the move
    rep = _report(np.where(y == 1, 1, coin))                   # hold exactly when the move is small
    d = rep["bootstrap"]["model"]["direction_accuracy"]
    assert d["lo"] < 0.5 < d["hi"]
    assert rep["edge"]["kind"] == "size"
    assert "size of moves" in rep["edge"]["sentence"] and "not their sign" in rep["edge"]["sentence"]
    assert rep["edge"]["tests"]["sign"]["claimed"] is False


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


def test_a_constant_buy_in_an_up_trend_has_no_sign_edge():
    """Catches 0.5 (a coin) taken as the direction null: always buy in a sample where 60% of the moves
    are up is right 0.6 of the time, beyond 0.5, yet knows nothing; the rate-matched random caller
    (the model's own calls at random places) is right as often, so no sign edge is claimed."""
    rng = np.random.default_rng(2)
    r = rng.normal(0.0025, 0.01, N)                              # P(up) about 0.6
    y = np.where(r > 0.005, 2, np.where(r < -0.005, 0, 1))
    close = 100 * np.exp(np.cumsum(r))
    rep = evaluation_report(y_true=y, r=r, conf_target=None, model={"action": np.full(N, 2), "probs": None},
                            baselines=all_baselines(y, close, np.arange(N), seed=3), horizon=1, n_resamples=200)
    assert rep["bootstrap"]["model"]["direction_accuracy"]["lo"] > 0.5           # the old rule's sign claim
    assert rep["edge"]["kind"] == "none", rep["edge"]["sentence"]
    assert "rate_matched" in rep["baselines"] and rep["edge"]["tests"]["sign"]["claimed"] is False


def test_a_majority_class_predictor_has_no_size_edge():
    """Catches the false "size" edge of pure noise: a model that always calls the majority class beats
    stratified random on accuracy, but its balanced accuracy (size's primary metric) is 1/3, as the
    majority-class baseline's, so no edge is claimed."""
    rng, r, _, close = _data()
    y = np.where(r > 0.007, 2, np.where(r < -0.007, 0, 1))     # about 52% hold
    rep = evaluation_report(y_true=y, r=r, conf_target=None, model={"action": np.ones(N, dtype=np.int64), "probs": None},
                            baselines=all_baselines(y, close, np.arange(N), seed=3), horizon=1, n_resamples=200)
    assert rep["bootstrap"]["baselines"]["stratified"]["diff"]["accuracy"]["lo"] > 0   # the old rule's claim
    assert rep["edge"]["kind"] == "none", rep["edge"]["sentence"]


def test_a_sign_edge_is_weighed_against_the_backtest_round_trip():
    """Catches an evaluate that claims a sign edge costs will eat without saying so: the sentence
    gives the mean signed return per call and the round trip of the backtest settings."""
    from cryptotrain.config import BacktestConfig

    _, r, y, close = _data()
    rep = evaluation_report(y_true=y, r=r, conf_target=None, model={"action": np.where(r > 0, 2, 0), "probs": None},
                            baselines=all_baselines(y, close, np.arange(N), seed=3), horizon=1, n_resamples=200,
                            costs=BacktestConfig(fee_bps=10, slippage_bps=2))
    pc = rep["edge"]["per_call"]
    assert np.isclose(pc["round_trip_bp"], 24.0) and np.isclose(pc["gross_bp"], np.mean(np.abs(r)) * 1e4)
    assert "round trip of 24.0 bp" in rep["edge"]["sentence"] and f"{pc['gross_bp']:+.1f} bp" in rep["edge"]["sentence"]
