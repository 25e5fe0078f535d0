"""The deflated and probabilistic Sharpe ratios against cases worked by hand (Bailey and
Lopez de Prado 2014): SR_0 from N trial Sharpe ratios, PSR with skew and raw kurtosis."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from cryptotrain.backtest.deflated_sharpe import (candle_stats, deflated_sharpe, expected_max_sharpe, psr,
                                                 verdict)

GAMMA = 0.5772156649015329


def test_deflated_sharpe_of_a_hand_worked_case():
    # N = 3 trials with per-candle Sharpe ratios 0.1, 0.0, -0.1: V = (0.01 + 0 + 0.01) / 2 = 0.01
    # SR_0 = sqrt(0.01) ((1 - g) Phi^-1(1 - 1/3) + g Phi^-1(1 - 1/(3e)))
    #      = 0.1 (0.4227843 * 0.4307273 + 0.5772157 * 1.1619569) = 0.1 * 0.8528045 = 0.08528045
    assert norm.ppf(2 / 3) == pytest.approx(0.4307273, abs=1e-7)
    assert norm.ppf(1 - 1 / (3 * math.e)) == pytest.approx(1.1619569, abs=1e-7)
    sr0 = 0.1 * ((1 - GAMMA) * 0.43072729929545744 + GAMMA * 1.161956928912733)
    assert sr0 == pytest.approx(0.08528045, abs=1e-8)
    assert expected_max_sharpe([0.1, 0.0, -0.1]) == pytest.approx(sr0, rel=1e-12)
    # the winner: SR = 0.1 over n = 101 candles, normal returns (skew 0, raw kurtosis 3)
    # denominator sqrt(1 - 0 * 0.1 + (3 - 1) / 4 * 0.01) = sqrt(1.005)
    # z = (0.1 - 0.08528045) * sqrt(100) / sqrt(1.005) = 0.1471955 / 1.0024969 = 0.1468289
    z = (0.1 - sr0) * 10 / math.sqrt(1.005)
    assert z == pytest.approx(0.1468289, abs=1e-7)
    d = deflated_sharpe(0.1, [0.1, 0.0, -0.1], n=101, skew=0.0, kurtosis=3.0)
    assert d["sr0"] == pytest.approx(sr0, rel=1e-12) and d["n_trials"] == 3
    assert d["dsr"] == pytest.approx(norm.cdf(z), rel=1e-12)
    assert d["dsr"] == pytest.approx(0.5583665, abs=1e-7)   # Phi(0.1468289)


def test_psr_uses_skew_and_raw_kurtosis():
    # SR 0.1, n 101, skew -1, raw kurtosis 6: denominator 1 - (-1)(0.1) + (6 - 1)/4 * 0.01 = 1.1125
    # PSR(0) = Phi(0.1 * 10 / sqrt(1.1125)) = Phi(0.9480909) = 0.8284584
    assert psr(0.1, 0.0, 101, -1.0, 6.0) == pytest.approx(norm.cdf(1.0 / math.sqrt(1.1125)), rel=1e-12)
    assert psr(0.1, 0.0, 101, -1.0, 6.0) == pytest.approx(0.8284584, abs=1e-7)
    # excess kurtosis (3 less) would give another number: the formula wants the raw one
    assert psr(0.1, 0.0, 101, 0.0, 3.0) != psr(0.1, 0.0, 101, 0.0, 0.0)


def test_one_trial_is_no_selection_and_candle_stats_are_raw_moments():
    assert expected_max_sharpe([0.3]) == 0.0
    r = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02])
    st = candle_stats(r)
    z = (r - r.mean()) / r.std()
    assert st["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1)) and st["n"] == 6
    assert st["kurtosis"] == pytest.approx(np.mean(z ** 4)) and st["skew"] == pytest.approx(np.mean(z ** 3))
    assert math.isnan(candle_stats(np.zeros(10))["sharpe"])   # a flat equity has no Sharpe ratio


def test_the_sentence_says_whether_the_selection_survives_and_the_test_agrees():
    assert verdict(0.97, 0.99, 20).startswith("The selection survives")
    assert "agrees" in verdict(0.97, 0.99, 20)
    low = verdict(0.40, 0.20, 20)
    assert "does not survive" in low and "after 20 trials" in low and "does not confirm" in low
    assert "PSR(0) = 0.946 < 0.95" in verdict(0.5, 0.9461, 4)   # never shown rounded up to the level


def test_n_counts_every_trial_tried_and_the_spread_only_those_with_a_sharpe():
    """Catches a deflation that forgets the pruned and failed trials: 3 complete trials with Sharpe
    ratios 0.1, 0.0, -0.1 and 2 pruned or failed ones (no validation backtest, NaN) are N = 5 draws;
    V is still that of the 3 Sharpe ratios (0.01), and SR_0 = 0.1 ((1 - g) Phi^-1(4/5) + g Phi^-1(1 - 1/(5e)))."""
    sr0 = 0.1 * ((1 - GAMMA) * norm.ppf(1 - 1 / 5) + GAMMA * norm.ppf(1 - 1 / (5 * math.e)))
    d = deflated_sharpe(0.1, [0.1, 0.0, -0.1, float("nan"), float("nan")], n=101, skew=0.0, kurtosis=3.0, n_trials=5)
    assert d["n_trials"] == 5 and d["n_sharpes"] == 3
    assert d["sr0"] == pytest.approx(sr0, rel=1e-12) and d["sr0"] > expected_max_sharpe([0.1, 0.0, -0.1])
    assert d["dsr"] < deflated_sharpe(0.1, [0.1, 0.0, -0.1], n=101, skew=0.0, kurtosis=3.0)["dsr"]
    assert "after 5 trials tried" in verdict(d["dsr"], 0.5, d["n_trials"])


def test_the_importance_figure_warns_under_20_trials(tmp_path):
    """Catches importances shown as if meaningful from a handful of trials: under 20 complete trials
    the figure's title and the sweep's end carry a warning; from 20 on, none."""
    from cryptotrain.report.sweep_plots import importance_warning, plot_importances

    assert "only 19 complete trials" in importance_warning(19) and importance_warning(20) is None
    assert plot_importances(tmp_path / "imp.png", {"train.lr": 0.7, "model.hidden_size": 0.3}, "fANOVA", 5).is_file()
