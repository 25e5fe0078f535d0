"""Evaluation tables and figures render from a report built on synthetic arrays."""

import numpy as np
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
