"""The walk-forward report: the folds' timeline, the per-fold table, per-fold accuracy against the
baselines, and the stitched test parts as a run (market, equity with the fold boundaries, monthly
returns, rolling Sharpe, statistics, trades, evaluation). Data: commands/report_groups.py."""

from __future__ import annotations

from typing import Any

from cryptotrain.report.html import eval_sections, run_sections
from cryptotrain.report.html.page import COLORS, Page, bullet_list, table

PART_COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def timeline(page: Page, folds: list[dict[str, Any]]) -> None:
    """One row per fold, its train, validation and test parts as bars in time."""
    data = []
    for part, color in PART_COLORS.items():
        data.append({"type": "bar", "orientation": "h", "name": part, "marker": {"color": color},
                     "y": [f"fold {f['fold']}" for f in folds],
                     "base": [f["first_ts"][part] for f in folds],
                     "x": [f["last_ts"][part] - f["first_ts"][part] for f in folds],
                     "hovertemplate": f"{part}: %{{base|%Y-%m-%d %H:%M}} + %{{x}} ms<extra></extra>"})
    layout = {"barmode": "overlay", "xaxis": {"type": "date"}, "yaxis": {"autorange": "reversed", "type": "category"}}
    page.section("Folds", page.figure({"data": data, "layout": layout}, height=120 + 34 * len(folds)),
                 note="Each fold trains on its train part, picks its epoch on validation and is tested on the test "
                      "part after an embargo; the test parts are stitched into one out-of-sample record.")


def _ci(v: dict | None) -> str:
    return "n/a" if not v else f"{v['value']:+.3f} [{v['lo']:+.3f}, {v['hi']:+.3f}]"


def fold_table(page: Page, folds: list[dict[str, Any]], missing: list) -> None:
    header = ["Fold", "Test start", "Test end", "Windows", "Accuracy [95% CI]", "- majority", "- persistence",
              "Return [%]", "Sharpe", "Trades", "Best epoch"]
    rows = [[str(f["fold"]), f["test_start"], f["test_end"], (f"{f['windows']:,}", f["windows"]),
             (f"{f['accuracy']:.3f} [{f['accuracy_ci']['lo']:.3f}, {f['accuracy_ci']['hi']:.3f}]", f["accuracy"]),
             _ci(f.get("minus_majority")), _ci(f.get("minus_persistence")),
             ("n/a", None) if f.get("return_pct") is None else (f"{f['return_pct']:+.2f}", f["return_pct"]),
             ("n/a", None) if f.get("sharpe") is None else (f"{f['sharpe']:.2f}", f["sharpe"]),
             str(f.get("trades", "n/a")), str(f.get("best_epoch", "n/a"))] for f in folds]
    note = "Differences are model minus baseline accuracy with 95% block-bootstrap intervals (not corrected)."
    if missing:
        note += f" Folds not finished: {', '.join(map(str, missing))}."
    page.section("Per fold", table(header, rows, sortable=True), note=note)


def fold_accuracy(page: Page, folds: list[dict[str, Any]]) -> None:
    """Per fold: the model's test accuracy with its interval, and each baseline's (model - difference)."""
    k = [f["fold"] for f in folds]
    acc = [f["accuracy"] for f in folds]
    data = [{"type": "scatter", "mode": "markers", "name": "model (95% interval)", "x": k, "y": acc,
             "marker": {"color": COLORS["model"], "size": 9},
             "error_y": {"type": "data", "symmetric": False, "array": [f["accuracy_ci"]["hi"] - f["accuracy"] for f in folds],
                         "arrayminus": [f["accuracy"] - f["accuracy_ci"]["lo"] for f in folds]}}]
    for (name, key), color in zip((("majority", "minus_majority"), ("persistence", "minus_persistence")), ("#7f7f7f", "#ff7f0e")):
        data.append({"type": "scatter", "mode": "markers", "name": name, "x": k,
                     "y": [f["accuracy"] - f[key]["value"] if f.get(key) else None for f in folds],
                     "marker": {"symbol": "line-ew-open", "size": 16, "color": color, "line": {"width": 2, "color": color}}})
    layout = {"xaxis": {"title": {"text": "fold"}, "dtick": 1}, "yaxis": {"title": {"text": "test accuracy"}}}
    page.section("Per-fold accuracy against the baselines", page.figure({"data": data, "layout": layout}, height=340))


def walkforward_report(d: dict[str, Any]) -> str:
    page = Page(f"{d['name']}: walk-forward, {len(d['plan']['folds'])} folds")
    run_sections.header(page, d["verdicts"], d["provenance"])
    if d["missing_parts"]:
        page.section("Missing or out of date", bullet_list(d["missing_parts"], cls="note"))
    timeline(page, d["plan"]["folds"])
    folds = d["metrics"]["folds"] if d["metrics"] else []
    if folds:
        fold_table(page, folds, d["metrics"].get("missing", []))
        fold_accuracy(page, folds)
    bt = d.get("backtest")
    if bt is not None:
        if bt["candles"] is not None:
            run_sections.market(page, bt["candles"], bt["trades"], d.get("symbol", "price"))
        marks = [(f["start_ts"], f"fold {f['fold']}") for f in folds if f.get("start_ts") is not None]
        run_sections.equity(page, bt["equity"], "Walk-forward", marks)
        run_sections.monthly(page, bt["equity"], float(bt["settings"].get("cash", bt["equity"]["equity"][0])))
        run_sections.sharpe(page, bt["equity"], bt["timeframe_ms"], bt["periods_per_year"], "Walk-forward")
        run_sections.statistics(page, bt["stats"])
        run_sections.trades_table(page, bt["trades"])
    if d["metrics"]:
        eval_sections.evaluation(page, {**d["metrics"], "split": "stitched test"})
    return page.html()
