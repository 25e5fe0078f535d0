"""Evaluation tables and figures render from a report built on synthetic arrays."""

import numpy as np
import pytest
from rich.console import Console

from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.summary import evaluation_report
from cryptotrain.report.eval_plots import write_eval_plots
from cryptotrain.report.eval_tables import print_evaluation


def _report(n=120, T=6):
    rng = np.random.default_rng(0)
    r = rng.normal(0, 0.01, n)
    y = np.where(r > 0.004, 2, np.where(r < -0.004, 0, 1))
    probs = rng.dirichlet(np.ones(3), n)
    probs[:, 2] = 0.0  # buy never predicted: a note, not a crash
    probs /= probs.sum(1, keepdims=True)
    model = {"action": probs.argmax(1), "probs": probs, "confidence": rng.uniform(size=n),
             "pred_return": rng.normal(0, 0.01, n)}
    att = rng.dirichlet(np.ones(T), n)
    rep = evaluation_report(y_true=y, r=r, conf_target=rng.uniform(size=n), model=model,
                            baselines=all_baselines(y, 100 + np.cumsum(r), np.arange(n)), attention=att,
                            timeframe="1h", n_resamples=50)
    return rep, att


def test_tables_print_everything(tmp_path):
    rep, _ = _report()
    console = Console(record=True, width=160)
    print_evaluation(rep, console, title="evaluate test", files=["x/metrics.json"])
    text = console.export_text()
    for needle in ("majority class", "persistence", "stratified random", "balanced accuracy", "IC Pearson",
                   "model - persistence: IC (Spearman)", "Attention top lags", "buy never predicted",
                   "wrote x/metrics.json", "Model vs persistence"):
        assert needle in text, needle


def test_plots_are_written(tmp_path):
    rep, att = _report()
    ts = 1_609_459_200_000 + 3_600_000 * np.arange(len(att))
    paths = write_eval_plots(rep, att, ts, tmp_path / "plots")
    names = sorted(p.name for p in paths)
    assert names == ["attention_by_lag.png", "attention_heatmap.png", "confusion_matrix.png", "reliability.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert not list((tmp_path / "plots").glob(".*tmp"))


@pytest.mark.parametrize("width", [60, 80])
def test_tables_never_cut_a_label_on_narrow_terminals(width):
    rep, _ = _report()
    console = Console(record=True, width=width)
    print_evaluation(rep, console, title="evaluate test")
    text = console.export_text()
    lines = text.splitlines()
    assert "…" not in text
    for label in ("precision", "recall", "support", "pred sell", "balanced accuracy", "direction accuracy",
                  "majority class", "stratified random", "model - stratified: direction accuracy", "95% CI"):
        # whole, on one table line that fits (the verdict sentences are soft-wrapped lines: not counted)
        assert any(label in line and len(line) <= width and "Model vs" not in line and "Direction:" not in line
                   for line in lines), label


def test_direction_gets_an_interval_and_the_edge_sentence_names_its_kind():
    rep, _ = _report()
    d = rep["bootstrap"]["model"]["direction_accuracy"]
    assert d["lo"] <= d["value"] <= d["hi"]
    assert "persistence" in rep["bootstrap"]["baselines"] and \
        "direction_accuracy" in rep["bootstrap"]["baselines"]["persistence"]["diff"]
    assert rep["direction_verdict"].startswith("Direction (descriptive") and "persistence" in rep["direction_verdict"]
    assert rep["edge"]["kind"] in ("sign", "size", "none") and rep["edge"]["sentence"].startswith("Edge:")


def test_attention_is_called_about_uniform_only_when_every_lag_is_near_1_over_T(tmp_path):
    from cryptotrain.evaluate.attention import attention_summary
    from cryptotrain.report.eval_plots import plot_attention_by_lag

    flat = np.full((20, 10), 0.1)
    flat[:, 0] = 0.12                                  # one lag 20% above uniform
    flat /= flat.sum(1, keepdims=True)
    peaked = np.full((20, 10), 0.05)
    peaked[:, -1] = 0.55                              # lag 0 (candle t) takes most of the weight
    a, b = attention_summary(flat), attention_summary(peaked)
    assert a["about_uniform"] and a["max_relative_deviation"] < 0.25
    assert not b["about_uniform"] and b["max_relative_deviation"] == pytest.approx(4.5)
    assert plot_attention_by_lag(b["by_lag"], tmp_path / "a.png", b["about_uniform"]).stat().st_size > 1000
