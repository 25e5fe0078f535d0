"""Baselines, block bootstrap intervals, verdicts, leakage warnings and attention analysis."""

import json
import math

import numpy as np
import pytest

from cryptotrain.evaluate.attention import attention_by_lag, attention_summary, top_lags
from cryptotrain.report.eval_plots import heatmap_rows
from cryptotrain.evaluate.baselines import all_baselines, class_frequencies, persistence_baseline
from cryptotrain.evaluate.bootstrap import (balanced_accuracy_stat, block_length, bootstrap_intervals,
                                            circular_block_indices, ic_spearman_stat)
from cryptotrain.evaluate.metrics import balanced_accuracy, spearman
from cryptotrain.evaluate.summary import evaluation_report, leakage_warnings, verdict


def test_class_frequencies_ignore_undefined_labels():
    assert class_frequencies(np.array([0, 1, 1, 2, -1])).tolist() == [0.25, 0.5, 0.25]


def test_baselines_by_hand():
    close = np.array([10.0, 11.0, 11.0, 10.5])
    p = persistence_baseline(close, np.array([0, 1, 2, 3]))
    assert p["action"].tolist() == [1, 2, 1, 0]  # t = 0: no last return -> hold
    assert p["pred_return"] == pytest.approx([0.0, 0.1, 0.0, 10.5 / 11 - 1])
    b = all_baselines(np.array([0, 1, 1, 2]), close, np.array([1, 2, 3]), seed=3)
    assert b["majority"]["action"].tolist() == [1, 1, 1]
    assert b["majority"]["probs"].tolist() == [[0.25, 0.5, 0.25]] * 3
    assert all(len(v["action"]) == 3 for v in b.values())
    again = all_baselines(np.array([0, 1, 1, 2]), close, np.array([1, 2, 3]), seed=3)
    assert b["stratified"]["action"].tolist() == again["stratified"]["action"].tolist()


def test_block_indices_are_circular_runs():
    assert block_length(1000) == 10 and block_length(1000, horizon=24) == 24 and block_length(1) == 1
    idx = circular_block_indices(7, 50, 3, np.random.default_rng(0))
    assert idx.shape == (50, 7) and idx.min() >= 0 and idx.max() < 7
    steps = (np.diff(idx, axis=1) % 7)[:, [0, 1, 3, 4]]  # inside blocks 1 and 2
    assert (steps == 1).all()


def test_vectorized_stats_match_scalar_versions():
    rng = np.random.default_rng(1)
    y, yp = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    idx = circular_block_indices(40, 6, 4, rng)
    ba = balanced_accuracy_stat(y, yp, idx)
    x, r = rng.normal(size=40), rng.normal(size=40)
    ic = ic_spearman_stat(x, r, idx)
    for i in range(6):
        assert ba[i] == pytest.approx(balanced_accuracy(y[idx[i]], yp[idx[i]]))
        assert ic[i] == pytest.approx(spearman(x[idx[i]], r[idx[i]]))


def _toy(n=300, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.normal(0, 0.01, n)
    y = np.where(r > 0.004, 2, np.where(r < -0.004, 0, 1))
    return rng, r, y


def test_perfect_model_beats_random_baseline_and_ties_with_itself():
    rng, r, y = _toy()
    model = {"action": y, "pred_return": r + rng.normal(0, 0.001, len(r))}
    noise = {"action": rng.integers(0, 3, len(r)), "pred_return": None}
    out = bootstrap_intervals(y, r, model, {"noise": noise, "same": dict(model)}, n_resamples=200, seed=0)
    assert out["model"]["accuracy"] == {"value": 1.0, "lo": 1.0, "hi": 1.0}
    d = out["baselines"]["same"]["diff"]
    assert d["accuracy"]["lo"] == d["accuracy"]["hi"] == 0.0 and d["ic_pearson"]["hi"] == 0.0
    assert out["baselines"]["noise"]["diff"]["accuracy"]["lo"] > 0.4
    assert "ic_pearson" not in out["baselines"]["noise"]["diff"]  # no return forecast: no IC
    assert verdict("noise", out["baselines"]["noise"]["diff"]).startswith(
        "Model vs noise (descriptive: 3 metrics at 95% each, not corrected): beats it beyond the 95% interval on accuracy, balanced accuracy and direction accuracy.")
    assert verdict("same", d).startswith("Model vs same (descriptive: 6 metrics at 95% each, not corrected): does not beat it beyond the 95% interval on any metric.")
    assert "worse beyond the interval on accuracy" in verdict("x", {"accuracy": {"value": -0.2, "lo": -0.3, "hi": -0.1}})


def test_bootstrap_is_seeded():
    _, r, y = _toy(100)
    model = {"action": np.roll(y, 1), "pred_return": np.roll(r, 1)}
    a = bootstrap_intervals(y, r, model, {}, n_resamples=100, seed=5)
    b = bootstrap_intervals(y, r, model, {}, n_resamples=100, seed=5)
    assert a == b and a["model"]["accuracy"]["lo"] < a["model"]["accuracy"]["value"] < a["model"]["accuracy"]["hi"]


def test_leakage_warning_only_when_implausible_and_enough_windows():
    rng, r, y = _toy(300)
    perfect = {"direction": {"accuracy": 1.0, "n_acted": 200}, "classification": {"balanced_accuracy": 1.0},
               "return": {"ic_pearson": 0.9, "ic_spearman": 0.1}}
    warnings = leakage_warnings(perfect, "1h", 300)
    assert len(warnings) == 3 and all("leakage" in w for w in warnings)
    assert "directional accuracy 100.0% on 1h" in warnings[0]
    assert leakage_warnings(perfect, "1h", 50) == []
    modest = {"direction": {"accuracy": 0.53, "n_acted": 200}, "classification": {"balanced_accuracy": 0.36},
              "return": {"ic_pearson": 0.04, "ic_spearman": float("nan")}}
    assert leakage_warnings(modest, "1m", 300) == []


def test_attention_by_lag_puts_decision_candle_first():
    att = np.array([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    assert attention_by_lag(att) == pytest.approx([0.55, 0.25, 0.2])
    assert [t["lag"] for t in top_lags(np.array([0.1, 0.5, 0.1, 0.3]), k=3)] == [1, 3, 0]
    assert heatmap_rows(10, 64).tolist() == list(range(10)) and len(heatmap_rows(1000, 64)) == 64
    assert attention_summary(None) is None


def test_evaluation_report_is_complete_and_json_ready():
    rng, r, y = _toy(200)
    probs = rng.dirichlet(np.ones(3), len(y))
    model = {"action": probs.argmax(1), "probs": probs, "confidence": rng.uniform(size=len(y)),
             "pred_return": rng.normal(0, 0.01, len(y))}
    base = all_baselines(y, 100 * np.exp(np.cumsum(r)), np.arange(len(y)), seed=0)
    rep = evaluation_report(y_true=y, r=r, conf_target=rng.uniform(size=len(y)), model=model, baselines=base,
                            attention=rng.dirichlet(np.ones(8), len(y)), timeframe="1h", n_resamples=50)
    assert rep["n_windows"] == 200 and set(rep["baselines"]) == {"majority", "persistence", "stratified",
                                                                 "zero_return", "rate_matched"}
    assert rep["model"]["confidence"]["reliability"] and len(rep["attention"]["by_lag"]) == 8
    assert set(rep["bootstrap"]["baselines"]["persistence"]["diff"]) == {"accuracy", "balanced_accuracy", "direction_accuracy",
                                                                         "ic_pearson", "ic_spearman", "rmse"}
    assert set(rep["bootstrap"]["baselines"]["majority"]["diff"]) == {"accuracy", "balanced_accuracy",
                                                                      "direction_accuracy", "log_loss"}
    # the zero forecast's RMSE is sqrt(mean r^2); its IC is undefined (constant), so no interval for it
    zero = rep["bootstrap"]["baselines"]["zero_return"]
    assert zero["metrics"]["rmse"]["value"] == pytest.approx(np.sqrt(np.mean(r ** 2)))
    assert math.isnan(zero["metrics"]["ic_pearson"]["lo"]) and "IC" not in rep["verdicts"]["zero_return"]
    assert all(s.startswith("Model vs ") for s in rep["verdicts"].values())
    assert math.isnan(rep["baselines"]["persistence"]["classification"]["log_loss"])
    json.dumps(rep)  # NaN is allowed here; the writer maps it to null


def test_intervals_use_blocks_when_hits_come_in_long_runs():
    """50 right, then 50 wrong, ...: resampling single windows (i.i.d.) would give a far narrower
    interval than blocks of consecutive windows; the test catches intervals that ignore the block
    length they report."""
    n = 1000
    hit = np.tile(np.r_[np.ones(50, bool), np.zeros(50, bool)], n // 100)
    y = np.ones(n, dtype=np.int64)
    model = {"action": np.where(hit, 1, 0), "pred_return": None}
    out = bootstrap_intervals(y, np.zeros(n), model, {}, n_resamples=400, seed=0)
    acc = out["model"]["accuracy"]
    assert out["block_length"] == 10 and acc["value"] == 0.5
    rng = np.random.default_rng(0)
    iid = hit[rng.integers(0, n, size=(400, n))].mean(axis=1)
    iid_width = np.subtract(*np.quantile(iid, [0.975, 0.025]))
    assert acc["hi"] - acc["lo"] > 2 * iid_width, (acc, iid_width)
