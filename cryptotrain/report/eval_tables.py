"""What the user sees after `evaluate`: rich tables of the model against its baselines, the
bootstrap intervals, per-class and confusion tables, reliability, attention, verdicts and
warnings. Reads the report dict built by `cryptotrain.evaluate.summary.evaluation_report`.
"""

from __future__ import annotations

import math

from rich.console import Console
from rich.markup import escape

from cryptotrain.report.labels import in_display_units, labeled
from cryptotrain.report.tables import print_fitted_table

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
    ("return RMSE [bp]", "return", "rmse", "{:.2f}"),   # bp of r_t, as everywhere (report/labels.py)
    ("return MAE [bp]", "return", "mae", "{:.2f}"),
    ("confidence MSE", "confidence", "mse", "{:.4f}"),
]


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def _shown(key: str, value):
    return value if value is None else in_display_units(key, value)


def _ci_number(value) -> str:
    """At most 7 characters (+ sign, 3 decimals below 10): the CI column fits 60 columns beside
    the longest statistic label."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:+.3f}" if abs(value) < 10 else f"{value:+.2f}" if abs(value) < 100 else f"{value:+.1f}"


def print_summary_table(console: Console, report: dict) -> None:
    names = list(report["baselines"])
    rows, cols = [], {"model": [], **{report["baselines"][b]["label"]: [] for b in names}}
    for label, section, key, fmt in SUMMARY_ROWS:
        sources = [report["model"], *(report["baselines"][b] for b in names)]
        cells = [_fmt(_shown(key, s.get(section, {}).get(key)), fmt) for s in sources]
        if any(c != "-" for c in cells):
            rows.append(label)
            for col, cell in zip(cols.values(), cells):
                col.append(cell)
    print_fitted_table(console, f"Model vs baselines on the same {report['n_windows']} windows (descriptive)", "metric", rows, cols,
                       styles={"model": "bold"})


def print_bootstrap_table(console: Console, boot: dict) -> None:
    rows, values, cis = [], [], []
    items = [(f"model {labeled(m)}", m, d) for m, d in boot["model"].items()]
    items += [(f"model - {b}: {labeled(m)}", m, d) for b, v in boot["baselines"].items()
              for m, d in v["diff"].items()]
    for label, m, d in items:
        rows.append(label)
        values.append(_ci_number(in_display_units(m, d["value"])))
        cis.append(f"[{_ci_number(in_display_units(m, d['lo']))}, {_ci_number(in_display_units(m, d['hi']))}]")
    print_fitted_table(console, f"{boot['level']:.0%} intervals (descriptive, not corrected): {boot['method']}, block length "
                                f"{boot['block_length']}, {boot['n_resamples']} resamples",
                       "statistic", rows, {"value": values, f"{boot['level']:.0%} CI": cis})


def print_per_class_table(console: Console, cls: dict) -> None:
    names = list(cls["per_class"])   # the class names, in class-index order (evaluate/metrics.py)
    cols: dict[str, list[str]] = {c: [] for c in ("precision", "recall", "F1", "support", *(f"pred {n}" for n in names))}
    for name, row in zip(names, cls["confusion_matrix"]):
        pc = cls["per_class"][name]
        cells = [f"{pc['precision']:.3f}", f"{pc['recall']:.3f}", f"{pc['f1']:.3f}", str(pc["support"]),
                 *(str(v) for v in row)]
        for col, cell in zip(cols.values(), cells):
            col.append(cell)
    print_fitted_table(console, "Per class (model); confusion rows = true, columns = predicted", "class", names, cols)


def print_reliability_table(console: Console, rows: list[dict]) -> None:
    cols = {"count": [str(r["count"]) for r in rows], "mean predicted": [f"{r['mean_predicted']:.3f}" for r in rows],
            "mean target": [f"{r['mean_target']:.3f}" for r in rows], "hit rate": [f"{r['hit_rate']:.3f}" for r in rows]}
    print_fitted_table(console, "Confidence reliability (bins of predicted confidence)", "bin",
                       [f"[{r['lo']:.1f}, {r['hi']:.1f})" for r in rows], cols)


def print_importance_table(console: Console, imp: dict) -> None:
    """Permutation importance (evaluate/importance.py), rows as sorted there."""
    def ci(d: dict, fmt: str) -> str:
        return f"{_fmt(d['value'], fmt)}  [{_fmt(d['lo'], fmt)}, {_fmt(d['hi'], fmt)}]"

    rows = [r["name"] if imp["by"] == "features" else f"{r['name']} ({len(r['features'])})" for r in imp["rows"]]
    cols = {"drop in log loss [95% CI]": [ci(r["log_loss"], "{:+.4f}") for r in imp["rows"]],
            "drop in balanced accuracy [95% CI]": [ci(r["balanced_accuracy"], "{:+.3f}") for r in imp["rows"]]}
    print_fitted_table(console, f"Permutation importance by {imp['by'][:-1]} on the {imp['split']} split "
                                f"({imp['n_windows']} windows, {imp['repeats']} repeats, blocks of {imp['block_length']}; "
                                f"base log loss {imp['base']['log_loss']:.4f}, balanced accuracy "
                                f"{imp['base']['balanced_accuracy']:.3f})",
                       "feature" if imp["by"] == "features" else "group", rows, cols)


def print_per_pair_table(console: Console, per_pair: dict) -> None:
    """A universe run's pairs, each on its own windows (evaluate/per_pair.py)."""
    def ci(d: dict | None, fmt: str) -> str:
        return "-" if d is None else f"{_fmt(d['value'], fmt)} [{_fmt(d['lo'], fmt)}, {_fmt(d['hi'], fmt)}]"

    rows = list(per_pair)
    cols = {"windows": [str(v["windows"]) for v in per_pair.values()],
            "accuracy [95% CI]": [ci(v["accuracy"], "{:.3f}") for v in per_pair.values()],
            "majority": [_fmt(v["baselines"]["majority"].get("accuracy"), "{:.3f}") for v in per_pair.values()],
            "direction acc. [95% CI]": [ci(v["direction_accuracy"], "{:.3f}") for v in per_pair.values()],
            "rate-matched": [_fmt(v["baselines"]["rate_matched"].get("direction_accuracy"), "{:.3f}")
                             for v in per_pair.values()]}
    if any("ic_pearson" in v for v in per_pair.values()):
        cols["IC Pearson [95% CI]"] = [ci(v.get("ic_pearson"), "{:+.4f}") for v in per_pair.values()]
    print_fitted_table(console, f"Per pair ({len(rows)} pairs, each on its own windows; baselines on the same windows; "
                                "descriptive, not corrected)", "pair", rows, cols)


def print_evaluation(report: dict, console: Console, *, title: str = "", files: list[str] | None = None) -> None:
    """Everything above, then the verdicts, warnings, notes and written files."""
    if title:
        console.print(title, style="bold", markup=False)
    print_summary_table(console, report)
    print_bootstrap_table(console, report["bootstrap"])
    print_per_class_table(console, report["model"]["classification"])
    if report.get("per_pair"):
        print_per_pair_table(console, report["per_pair"])
    if "confidence" in report["model"]:
        print_reliability_table(console, report["model"]["confidence"]["reliability"])
    att = report.get("attention")
    if att:
        top = ", ".join(f"lag {d['lag']} ({d['weight']:.3f})" for d in att["top_lags"])
        shape = ("about uniform: the model averages its window" if att.get("about_uniform")
                 else "not uniform") if "about_uniform" in att else ""
        console.print(f"Attention top lags: {top}; uniform would be {att['uniform_weight']:.3f}"
                      + (f" ({shape}; largest deviation {att['max_relative_deviation']:.0%} of it)" if shape else ""),
                      soft_wrap=True, markup=False)
    if report.get("importance"):
        print_importance_table(console, report["importance"])
    for sentence in report["verdicts"].values():
        console.print(sentence, soft_wrap=True, markup=False)
    for key in ("direction_verdict",):
        if report.get(key):
            console.print(report[key], soft_wrap=True, markup=False)
    if report.get("edge"):
        console.print(report["edge"]["sentence"], style="bold", soft_wrap=True, markup=False)
    for w in report["warnings"]:
        console.print(f"[bold yellow]warning:[/] {escape(w)}", soft_wrap=True)
    for note in report.get("notes", []):
        console.print(f"note: {note}", soft_wrap=True, markup=False)
    for note in report["model"]["classification"]["notes"]:
        console.print(f"note: {note}", style="dim", markup=False)
    for f in files or []:
        console.print(f"wrote {f}", style="dim", soft_wrap=True, markup=False)
