"""The sweep report: the selection's verdicts (deflated Sharpe ratio, PBO when the sweep has one),
the optimization history with the running best, the objective against each parameter, parallel
coordinates, importances (with the warning under 20 trials) and the trials, each linked to its
own report when it has one. Data: commands/report_groups.py."""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptotrain.report.html import run_sections
from cryptotrain.report.html.page import COLORS, Html, Page, esc, table
from cryptotrain.report.sweep_plots import importance_warning


def history(page: Page, trials: list[dict[str, Any]], objective: str, minimize: bool) -> None:
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    x = [t["number"] for t in done]
    v = np.array([t["value"] for t in done], dtype=np.float64)
    best = (np.minimum.accumulate(v) if minimize else np.maximum.accumulate(v)).tolist() if len(v) else []
    data = [{"type": "scatter", "mode": "markers", "name": f"{objective} per complete trial", "x": x, "y": v.tolist(),
             "marker": {"color": COLORS["model"], "size": 8}},
            {"type": "scatter", "mode": "lines", "name": "running best", "x": x, "y": best,
             "line": {"shape": "hv", "color": COLORS["short"], "simplify": False}}]
    layout = {"xaxis": {"title": {"text": "trial"}, "dtick": 1}, "yaxis": {"title": {"text": objective}}}
    page.section("Optimization history", page.figure({"data": data, "layout": layout}, height=340))


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def params(page: Page, trials: list[dict[str, Any]], keys: list[str], objective: str, log_keys: list[str]) -> None:
    """The objective against each drawn parameter, one panel per parameter."""
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    data, layout, n = [], {}, max(1, len(keys))
    for i, key in enumerate(keys):
        ax = "" if i == 0 else str(i + 1)
        xs = [t["params"].get(key) for t in done]
        data.append({"type": "scatter", "mode": "markers", "name": key, "x": xs if _numeric(xs) else [str(x) for x in xs],
                     "y": [t["value"] for t in done], "xaxis": f"x{ax}", "yaxis": f"y{ax}", "showlegend": False,
                     "text": [f"trial {t['number']}" for t in done], "marker": {"color": COLORS["model"], "size": 8}})
        layout[f"xaxis{ax}"] = {"domain": [i / n + 0.04, (i + 1) / n - 0.02], "title": {"text": key},
                                "type": "log" if key in log_keys else "-" if _numeric(xs) else "category"}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "title": {"text": objective if i == 0 else ""}}
    page.section("Objective against each parameter", page.figure({"data": data, "layout": layout}, height=340))


def parallel(page: Page, trials: list[dict[str, Any]], keys: list[str], objective: str) -> None:
    """Parallel coordinates drawn as one line per complete trial over the parameters and the objective,
    each axis scaled to its range (SVG lines: hover a line for its trial and values)."""
    done = [t for t in trials if t["state"] == "complete" and t["value"] is not None]
    dims = [*keys, objective]
    cols = [[t["params"].get(k) for t in done] for k in keys] + [[t["value"] for t in done]]
    scaled = []
    for col in cols:
        if _numeric(col):
            a = np.asarray(col, dtype=np.float64)
            span = a.max() - a.min() if len(a) else 0.0
            scaled.append(((a - a.min()) / span if span > 0 else np.full(len(a), 0.5)).tolist())
        else:
            labels = sorted({str(c) for c in col})
            scaled.append([labels.index(str(c)) / max(1, len(labels) - 1) for c in col])
    v = np.array(cols[-1], dtype=np.float64)
    lo, hi = (v.min(), v.max()) if len(v) else (0.0, 1.0)
    data = []
    for j, t in enumerate(done):
        shade = 0.5 if hi == lo else (t["value"] - lo) / (hi - lo)
        data.append({"type": "scatter", "mode": "lines", "name": f"trial {t['number']}", "x": list(range(len(dims))),
                     "y": [s[j] for s in scaled], "showlegend": False, "line": {"width": 1.5, "simplify": False,
                     "color": f"rgba({int(30 + 200 * shade)},{int(120 - 60 * shade)},{int(220 - 180 * shade)},0.8)"},
                     "text": [f"{k} = {c[j]}" for k, c in zip(dims, cols)], "hoverinfo": "name+text"})
    layout = {"xaxis": {"tickvals": list(range(len(dims))), "ticktext": dims, "range": [-0.2, len(dims) - 0.8]},
              "yaxis": {"title": {"text": "each axis scaled to its range"}, "range": [-0.05, 1.05]}, "hovermode": "closest"}
    page.section("Parallel coordinates", page.figure({"data": data, "layout": layout}, height=360),
                 note=f"One line per complete trial; blue: low {objective}, red: high.")


def importances(page: Page, imp: dict[str, float], method: str | None, n_complete: int) -> None:
    if not imp:
        return
    names = list(imp)[::-1]
    warn = importance_warning(n_complete)
    data = [{"type": "bar", "orientation": "h", "name": "importance", "y": names, "x": [imp[k] for k in names],
             "marker": {"color": COLORS["model"]}}]
    layout = {"xaxis": {"title": {"text": "importance (normalized to sum 1)"}}, "yaxis": {"automargin": True}}
    page.section("Parameter importances", page.figure({"data": data, "layout": layout}, height=140 + 30 * len(names)),
                 note=f"{method or 'importance'} over {n_complete} complete trials." + (f" {warn}" if warn else ""))


def trials_table(page: Page, trials: list[dict[str, Any]], keys: list[str], objective: str) -> None:
    header = ["Trial", "State", *keys, objective, "val Sharpe", "Epochs", "Report"]
    rows = []
    for t in trials:
        link = Html(f'<a href="{esc(t["report"])}">report</a>' if t.get("report") else "")
        rows.append([(str(t["number"]), t["number"]), t["state"], *[str(t["params"].get(k, "")) for k in keys],
                     ("n/a", None) if t["value"] is None else (f"{t['value']:.5g}", t["value"]),
                     ("n/a", None) if t.get("val_sharpe") is None else (f"{t['val_sharpe']:.3f}", t["val_sharpe"]),
                     str(t.get("epochs", "")), link])
    page.section(f"Trials ({len(trials)})", table(header, rows, sortable=True, scroll=True, table_id="trials"),
                 note="A trial's report exists once `cryptotrain report` was run on its directory.")


def sweep_report(d: dict[str, Any]) -> str:
    page = Page(f"{d['name']}: sweep of {len(d['trials'])} trials")
    run_sections.header(page, d["verdicts"], d["provenance"])
    history(page, d["trials"], d["objective"], d["minimize"])
    params(page, d["trials"], d["keys"], d["objective"], d["log_keys"])
    parallel(page, d["trials"], d["keys"], d["objective"])
    importances(page, d["importances"], d["importance_method"], d["n_complete"])
    trials_table(page, d["trials"], d["keys"], d["objective"])
    return page.html()
