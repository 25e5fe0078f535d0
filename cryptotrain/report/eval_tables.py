"""What the user sees after `evaluate`: rich tables of the model against its baselines, the
bootstrap intervals, per-class and confusion tables, reliability, attention, verdicts and
warnings. Reads the report dict built by `cryptotrain.evaluate.summary.evaluation_report`.
"""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from cryptotrain.report.labels import METRIC_LABELS

# (row label, section, key, format); a missing value prints as "-".
SUMMARY_ROWS = [
    ("accuracy", "classification", "accuracy", "{:.3f}"),
    ("balanced accuracy", "classification", "balanced_accuracy", "{:.3f}"),
    ("macro F1", "classification", "macro_f1", "{:.3f}"),
    ("log loss [nats]", "classification", "log_loss", "{:.4f}"),
    ("Brier", "classification", "brier", "{:.4f}"),
    ("direction accuracy", "direction", "accuracy", "{:.3f}"),
    ("direction coverage", "direction", "coverage", "{:.3f}"),
    ("IC Pearson", "return", "ic_pearson", "{:+.4f}"),
    ("IC Spearman", "return", "ic_spearman", "{:+.4f}"),
    ("return RMSE [r]", "return", "rmse", "{:.5f}"),
    ("return MAE [r]", "return", "mae", "{:.5f}"),
    ("confidence MSE", "confidence", "mse", "{:.4f}"),
]


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _interval(d: dict, metric: str = "") -> str:
    # RMSE values and differences are ~1e-2..1e-4; log-loss differences ~1e-3
    fmt = {"rmse": "{:+.2e}", "log_loss": "{:+.4f}"}.get(metric, "{:+.3f}")
    return f"{_fmt(d['value'], fmt)}  [{_fmt(d['lo'], fmt)}, {_fmt(d['hi'], fmt)}]"


def summary_table(report: dict) -> Table:
    names = list(report["baselines"])
    t = Table(title=f"Model vs baselines on the same {report['n_windows']} windows", title_justify="left")
    t.add_column("metric")
    t.add_column("model", justify="right", style="bold")
    for b in names:   # the short key (majority, linear, ...) as header: eight columns fit 80 characters
        t.add_column(b, justify="right")
    for label, section, key, fmt in SUMMARY_ROWS:
        cells = [_fmt(report["model"].get(section, {}).get(key), fmt)]
        cells += [_fmt(report["baselines"][b].get(section, {}).get(key), fmt) for b in names]
        if any(c != "-" for c in cells):
            t.add_row(label, *cells)
    return t


def bootstrap_table(boot: dict) -> Table:
    t = Table(title=f"{boot['level']:.0%} intervals: {boot['method']}, block length {boot['block_length']}, "
                    f"{boot['n_resamples']} resamples", title_justify="left")
    t.add_column("statistic")
    t.add_column("value  [CI]", justify="right")
    for m, d in boot["model"].items():
        t.add_row(f"model {METRIC_LABELS.get(m, m)}", _interval(d, m))
    for b, v in boot["baselines"].items():
        for m, d in v["diff"].items():
            t.add_row(f"model - {b}: {METRIC_LABELS.get(m, m)}", _interval(d, m))
    return t


def per_class_table(cls: dict) -> Table:
    names = list(cls["per_class"])   # the class names, in class-index order (evaluate/metrics.py)
    t = Table(title="Per class (model); confusion rows = true, columns = predicted", title_justify="left")
    for c in ("class", "precision", "recall", "F1", "support", *(f"pred {n}" for n in names)):
        t.add_column(c, justify="left" if c == "class" else "right")
    for name, row in zip(names, cls["confusion_matrix"]):
        pc = cls["per_class"][name]
        t.add_row(name, f"{pc['precision']:.3f}", f"{pc['recall']:.3f}", f"{pc['f1']:.3f}", str(pc["support"]),
                  *(str(v) for v in row))
    return t


def reliability_table(rows: list[dict]) -> Table:
    t = Table(title="Confidence reliability (bins of predicted confidence)", title_justify="left")
    for c in ("bin", "count", "mean predicted", "mean target", "hit rate"):
        t.add_column(c, justify="right")
    for r in rows:
        t.add_row(f"[{r['lo']:.1f}, {r['hi']:.1f})", str(r["count"]), f"{r['mean_predicted']:.3f}",
                  f"{r['mean_target']:.3f}", f"{r['hit_rate']:.3f}")
    return t


def importance_table(imp: dict) -> Table:
    t = Table(title=f"Permutation importance by {imp['by'][:-1]} on the {imp['split']} split ({imp['n_windows']} "
                    f"windows, {imp['repeats']} repeats, blocks of {imp['block_length']}; base log loss "
                    f"{imp['base']['log_loss']:.4f}, balanced accuracy {imp['base']['balanced_accuracy']:.3f})",
              title_justify="left")
    t.add_column("feature" if imp["by"] == "features" else "group")
    t.add_column("drop in log loss  [95% CI]", justify="right")
    t.add_column("drop in balanced accuracy  [95% CI]", justify="right")
    for r in imp["rows"]:
        t.add_row(r["name"] if imp["by"] == "features" else f"{r['name']} ({len(r['features'])})",
                  _interval(r["log_loss"], "log_loss"), _interval(r["balanced_accuracy"]))
    return t


def print_evaluation(report: dict, console: Console, *, title: str = "", files: list[str] | None = None) -> None:
    """Everything above, then the verdicts, warnings, notes and written files."""
    if title:
        console.print(title, style="bold")
    console.print(summary_table(report))
    console.print(bootstrap_table(report["bootstrap"]))
    console.print(per_class_table(report["model"]["classification"]))
    if "confidence" in report["model"]:
        console.print(reliability_table(report["model"]["confidence"]["reliability"]))
    att = report.get("attention")
    if att:
        top = ", ".join(f"lag {d['lag']} ({d['weight']:.3f})" for d in att["top_lags"])
        console.print(f"Attention top lags: {top}; uniform would be {att['uniform_weight']:.3f}")
    if report.get("importance"):
        console.print(importance_table(report["importance"]))
    for sentence in report["verdicts"].values():
        console.print(sentence, soft_wrap=True)
    for w in report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {w}", soft_wrap=True)
    for note in report.get("notes", []):
        console.print(f"note: {note}", soft_wrap=True)
    for note in report["model"]["classification"]["notes"]:
        console.print(f"note: {note}", style="dim")
    for f in files or []:
        console.print(f"wrote {f}", style="dim", soft_wrap=True)
