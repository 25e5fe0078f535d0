"""The fitted baselines (evaluate/fitted_baselines.py): the logistic fit against its optimality
conditions, determinism, fitted on training rows only, their verdict sentences, and how backtest
trades them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cryptotrain.backtest.backtester import trade
from cryptotrain.backtest.policy import baseline_actions
from cryptotrain.config import BacktestConfig
from cryptotrain.evaluate import fitted_baselines as fb
from cryptotrain.evaluate.summary import verdict

needs_lgb = pytest.mark.skipif(not fb.lightgbm_available(), reason="lightgbm not installed (the lightgbm extra)")


def _rows(n: int, rng, f: int = 4):
    """Features, and labels that depend on them (so that the fits have something to find)."""
    X = rng.normal(size=(n, f))
    score = X[:, 0] - 0.5 * X[:, 1] + rng.normal(0, 1.0, n)
    y = np.digitize(score, [-0.5, 0.5]).astype(np.int64)           # 0 sell, 1 hold, 2 buy
    r = 0.01 * (0.3 * X[:, 0] + rng.normal(0, 1.0, n))
    return X, y, r


@pytest.fixture(scope="module")
def parts():
    rng = np.random.default_rng(0)
    return _rows(600, rng), _rows(200, rng), _rows(150, rng)[0]


def test_logistic_fit_is_the_penalized_optimum():
    rng = np.random.default_rng(1)
    X, y, _ = _rows(300, rng, f=3)
    lam = 0.01
    theta = fb.fit_logistic(X, y, lam)
    # gradient of mean NLL + lam/2 ||W||^2 vanishes (class 0's logits fixed at 0)
    p = fb.logistic_probs(X, theta)
    X1 = np.hstack([X, np.ones((len(X), 1))])
    grad = X1.T @ (p - np.eye(3)[y])[:, 1:] / len(X) + np.r_[np.full(3, lam), 0.0][:, None] * theta
    assert np.abs(grad).max() < 1e-7
    # and central differences of the loss agree with that gradient at a perturbed point
    th = theta + 0.1
    loss = lambda t: fb._logistic_loss(X1, y, t, lam)   # noqa: E731
    e = np.zeros_like(th)
    e[1, 0] = 1e-6
    num = (loss(th + e) - loss(th - e)) / 2e-6
    pp = fb.logistic_probs(X, th)
    ana = (X1.T @ (pp - np.eye(3)[y])[:, 1:] / len(X))[1, 0] + lam * th[1, 0]
    assert num == pytest.approx(ana, rel=1e-6)


def test_ridge_matches_the_normal_equations():
    rng = np.random.default_rng(2)
    X, _, r = _rows(200, rng)
    w, c = fb.fit_ridge(X, r, 0.1)
    A = np.hstack([X, np.ones((len(X), 1))])
    P = np.diag(np.r_[np.full(X.shape[1], 0.1 * len(X)), 0.0])   # intercept not penalized
    np.testing.assert_allclose(np.r_[w, c], np.linalg.solve(A.T @ A + P, A.T @ r), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["linear", pytest.param("lightgbm", marks=needs_lgb)])
def test_fitted_baselines_are_deterministic(parts, name):
    train, val, X_eval = parts
    fit = (lambda: fb.linear_baseline(train, val, X_eval)) if name == "linear" else (
        lambda: fb.lightgbm_baseline(train, val, X_eval, seed=3))
    a, b = fit(), fit()
    for k in ("action", "probs", "pred_return"):
        np.testing.assert_array_equal(a[k], b[k])
    assert a["fit"] == b["fit"]


def test_linear_baseline_reads_val_labels_only_to_choose_the_l2_strength(parts):
    train, (Xv, yv, rv), X_eval = parts
    rng = np.random.default_rng(5)
    shuffled = (Xv, rng.permutation(yv), rng.permutation(rv))
    for val in [(Xv, yv, rv), shuffled]:
        got = fb.linear_baseline(train, val, X_eval)
        # whatever lam the validation labels picked, the fit at that lam is a function of training rows alone
        theta = fb.logistic_path(train[0], train[1])[got["fit"]["logistic_l2"]]
        np.testing.assert_array_equal(got["probs"], fb.logistic_probs(X_eval, theta))
        w, c = fb.fit_ridge(train[0], train[2], got["fit"]["ridge_l2"])
        np.testing.assert_allclose(got["pred_return"], X_eval @ w + c, rtol=1e-9, atol=1e-15)
    # the choice itself does react to the validation labels (else the test above proves little)
    lams = {fb.linear_baseline(train, v, X_eval)["fit"]["ridge_l2"] for v in [(Xv, yv, rv), (Xv, yv, -50 * rv)]}
    assert len(lams) == 2


@needs_lgb
def test_lightgbm_baseline_reads_val_labels_only_to_stop(parts):
    train, (Xv, yv, rv), X_eval = parts
    rng = np.random.default_rng(6)
    for val in [(Xv, yv, rv), (Xv, rng.permutation(yv), rng.permutation(rv))]:
        got = fb.lightgbm_baseline(train, val, X_eval, seed=0)
        rounds = (got["fit"]["rounds_classifier"], got["fit"]["rounds_regressor"])
        # the same number of rounds without any validation set gives the same booster
        alone = fb.lightgbm_baseline(train, (Xv[:0], yv[:0], rv[:0]), X_eval, seed=0, rounds=rounds)
        np.testing.assert_array_equal(got["probs"], alone["probs"])
        np.testing.assert_array_equal(got["pred_return"], alone["pred_return"])


@needs_lgb
def test_evaluated_split_labels_are_never_read(parts):
    """Through fitted_baselines (what score calls): changing the test split's labels changes nothing."""
    (Xt, yt, rt), (Xv, yv, rv), X_eval = parts
    n = len(Xt) + len(Xv) + len(X_eval)
    features = np.vstack([Xt, Xv, X_eval]).astype(np.float32)
    splits = {"train": np.arange(len(Xt)), "val": len(Xt) + np.arange(len(Xv)),
              "test": len(Xt) + len(Xv) + np.arange(len(X_eval))}
    action, ret = np.r_[yt, yv, np.zeros(len(X_eval), dtype=np.int64)], np.r_[rt, rv, np.zeros(len(X_eval))]
    outs = []
    for fill in (0, 2):
        a, r = action.copy(), ret.copy()
        a[splits["test"]], r[splits["test"]] = fill, fill * 0.1
        src = SimpleNamespace(features=features, action=a, ret=r, splits=splits)
        outs.append(fb.fitted_baselines(src, fb.decision_rows(features, splits["test"]), seed=0)[0])
    assert set(outs[0]) == {"linear", "lightgbm"} and n == len(features)
    for name in outs[0]:
        np.testing.assert_array_equal(outs[0][name]["probs"], outs[1][name]["probs"])
        np.testing.assert_array_equal(outs[0][name]["pred_return"], outs[1][name]["pred_return"])


def test_too_few_rows_skip_with_a_note():
    src = SimpleNamespace(features=np.zeros((5, 2)), action=np.zeros(5, dtype=np.int64), ret=np.zeros(5),
                          splits={"train": np.arange(3), "val": np.arange(3, 5)})
    fitted, notes = fb.fitted_baselines(src, np.zeros((2, 2)), seed=0)
    assert fitted == {} and "fitted baselines skipped: 3 training and 2 validation windows" in notes[0]


def test_without_lightgbm_the_linear_baseline_remains_with_a_note(parts, monkeypatch):
    (Xt, yt, rt), (Xv, yv, rv), X_eval = parts
    src = SimpleNamespace(features=np.vstack([Xt, Xv]), action=np.r_[yt, yv], ret=np.r_[rt, rv],
                          splits={"train": np.arange(len(Xt)), "val": len(Xt) + np.arange(len(Xv))})
    monkeypatch.setattr(fb, "lightgbm_available", lambda: False)   # stands in for an environment without it
    fitted, notes = fb.fitted_baselines(src, X_eval, seed=0)
    assert set(fitted) == {"linear"} and len(notes) == 1
    assert notes[0].startswith("LightGBM baseline skipped: lightgbm is not installed (")
    assert notes[0].endswith(' -m pip install -e ".[lightgbm]")')   # the exact command, from the checkout's root


def _d(value, lo, hi):
    return {"value": value, "lo": lo, "hi": hi}


def test_verdict_sentences_for_the_fitted_baselines():
    beats = verdict(fb.FITTED_LABELS["linear"], {"balanced_accuracy": _d(0.03, 0.01, 0.05),
                                                 "log_loss": _d(-0.01, -0.02, -0.004)})
    assert beats.startswith("Model vs logistic/ridge regression (descriptive: 2 metrics at 95% each, not corrected): "
                            "beats it beyond the 95% interval on "
                            "balanced accuracy and log loss.")
    not_ = verdict(fb.FITTED_LABELS["lightgbm"], {"balanced_accuracy": _d(0.01, -0.01, 0.03),
                                                  "rmse": _d(2e-4, 1e-4, 3e-4)})
    assert not_.startswith("Model vs LightGBM (descriptive: 2 metrics at 95% each, not corrected): does not beat it beyond the 95% interval on any metric, "
                           "and is worse beyond the interval on return RMSE.")
    assert "return RMSE [bp] +2.00 [+1.00, +3.00]" in not_   # bp, the unit of the tables too


def test_backtest_trades_a_fitted_baseline_with_the_models_policy():
    n = 40
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    candles = pd.DataFrame({"timestamp": np.arange(n) * 3_600_000, "open": close, "close": close})
    rows = np.arange(5, 30)
    act = rng.integers(-1, 2, len(rows))
    bcfg = BacktestConfig(threshold=0.7, sizing="confidence", mode="long-only")
    # confidence 1: the threshold passes and confidence sizing is full size
    np.testing.assert_array_equal(baseline_actions(np.array([-1, 0, 1]), bcfg), [0, np.nan, 1])
    from cryptotrain.backtest.policy import prediction_actions
    model = prediction_actions(act, np.ones(len(rows)), bcfg)
    res, stats = trade(candles, 3_600_000, rows, model, bcfg, {"linear": baseline_actions(act, bcfg)})
    assert list(stats) == ["model", "buy_and_hold", "persistence", "linear"]
    np.testing.assert_array_equal(res["linear"].equity, res["model"].equity)
    assert stats["linear"]["# Trades"] == stats["model"]["# Trades"] > 0
