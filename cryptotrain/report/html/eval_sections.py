"""The sections of a single run's report that show what the model learned and knows: training
curves (metrics.jsonl), and evaluate's figures (metrics.json): confusion matrix, reliability of
the confidence head with the windows per bin, attention by lag and over windows, importance."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from cryptotrain.report.html.page import COLORS, Page


def training(page: Page, rows: list[dict[str, Any]]) -> None:
    """Loss and accuracy per epoch, training against validation; the best epoch marked."""
    if not rows:
        return
    epochs = [r["epoch"] for r in rows]
    data = []
    for key, axis, color, dash in (("train_loss", "y", COLORS["model"], "dot"), ("val_loss", "y", COLORS["model"], "solid"),
                                   ("train_accuracy", "y2", COLORS["long"], "dot"), ("val_accuracy", "y2", COLORS["long"], "solid")):
        if any(key in r for r in rows):
            data.append({"type": "scatter", "mode": "lines+markers", "name": key.replace("_", " "), "x": epochs,
                         "y": [r.get(key) for r in rows], "yaxis": axis, "xaxis": "x" if axis == "y" else "x2",
                         "line": {"color": color, "dash": dash}, "marker": {"size": 5}})
    best = [r["epoch"] for r in rows if r.get("note") == "best"]
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": best[-1], "x1": best[-1], "y0": 0, "y1": 1,
               "line": {"color": "#999", "dash": "dash", "width": 1}}] if best else []
    layout = {"grid": {"rows": 1, "columns": 2, "pattern": "independent"},
              "xaxis": {"title": {"text": "epoch"}, "dtick": 1}, "xaxis2": {"title": {"text": "epoch"}, "dtick": 1},
              "yaxis": {"title": {"text": "loss"}}, "yaxis2": {"title": {"text": "accuracy"}}, "shapes": shapes}
    note = "Dotted: training batches; solid: the validation split." + (
        f" The dashed line marks the best epoch ({best[-1]}), the checkpoint evaluated." if best else "")
    page.section("Training", page.figure({"data": data, "layout": layout}, height=320), note=note)


def _confusion(page: Page, cls: dict[str, Any]) -> str:
    cm = np.asarray(cls["confusion_matrix"], dtype=np.int64)
    names = list(cls["per_class"])
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    text = [[f"{cm[i, j]:,}<br>{share[i, j]:.0%}" for j in range(cm.shape[1])] for i in range(cm.shape[0])]
    data = [{"type": "heatmap", "name": "confusion", "x": names, "y": names, "z": share.tolist(), "text": text, "texttemplate": "%{text}",
             "colorscale": "Blues", "zmin": 0, "zmax": 1, "showscale": False,
             "hovertemplate": "true %{y}, predicted %{x}: %{text}<extra></extra>"}]
    layout = {"xaxis": {"title": {"text": "predicted"}, "type": "category"},
              "yaxis": {"title": {"text": "true"}, "type": "category", "autorange": "reversed"},
              "title": {"text": "Confusion matrix (count, row share)", "font": {"size": 13}, "x": 0.02, "xanchor": "left"}}
    return page.figure({"data": data, "layout": layout}, height=360)


def _reliability(page: Page, rows: list[dict[str, Any]]) -> str:
    x = [r["mean_predicted"] for r in rows]
    n = [r["count"] for r in rows]
    data = [{"type": "scatter", "mode": "lines", "name": "perfect calibration", "x": [0, 1], "y": [0, 1],
             "line": {"color": "#999", "dash": "dot"}},
            {"type": "scatter", "mode": "lines+markers", "name": "mean confidence target", "x": x,
             "y": [r["mean_target"] for r in rows], "line": {"color": COLORS["model"]}},
            {"type": "scatter", "mode": "lines+markers", "name": "hit rate", "x": x, "y": [r["hit_rate"] for r in rows],
             "line": {"color": "#ff7f0e", "dash": "dash"}, "marker": {"symbol": "square"}},
            {"type": "bar", "name": "windows per bin", "x": [(r["lo"] + r["hi"]) / 2 for r in rows], "y": n,
             "yaxis": "y2", "xaxis": "x", "width": 0.08, "marker": {"color": "#bbb"}, "text": [f"{c:,}" for c in n],
             "textposition": "outside", "showlegend": False}]
    layout = {"xaxis": {"range": [0, 1], "title": {"text": "predicted confidence (bins of 0.1)"}, "anchor": "y2"},
              "yaxis": {"domain": [0.35, 1], "range": [0, 1], "title": {"text": "realized"}},
              "yaxis2": {"domain": [0, 0.25], "title": {"text": "windows"}, "range": [0, 1.35 * max(n or [1])]},
              "title": {"text": "Reliability of the confidence head", "font": {"size": 13}, "x": 0.02, "xanchor": "left"},
              "legend": {"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"}}
    return page.figure({"data": data, "layout": layout}, height=420)


def _attention_by_lag(page: Page, by_lag: list[float]) -> str:
    w = np.asarray(by_lag, dtype=np.float64)
    T = len(w)
    dev = 100.0 * (w * T - 1.0)
    data = [{"type": "bar", "x": list(range(T)), "y": dev.tolist(), "name": "attention",
             "marker": {"color": [COLORS["model"] if d >= 0 else "#ff7f0e" for d in dev]},
             "hovertemplate": "lag %{x}: %{y:+.1f}% vs uniform<extra></extra>"}]
    layout = {"xaxis": {"title": {"text": "lag [candles before t]"}},
              "yaxis": {"title": {"text": f"mean weight vs 1/{T} [%]"}},
              "title": {"text": "Attention by lag (deviation from uniform)", "font": {"size": 13}, "x": 0.02, "xanchor": "left"}, "showlegend": False}
    return page.figure({"data": data, "layout": layout}, height=360)


def _importance(page: Page, imp: dict[str, Any]) -> str:
    rows = imp["rows"][::-1]
    names = [r["name"] for r in rows]
    data = []
    for key, axis, color in (("log_loss", "x", COLORS["model"]), ("balanced_accuracy", "x2", "#ff7f0e")):
        v = [r[key]["value"] for r in rows]
        data.append({"type": "bar", "orientation": "h", "y": names, "x": v, "xaxis": axis, "name": key.replace("_", " "),
                     "marker": {"color": color},
                     "error_x": {"type": "data", "symmetric": False, "array": [r[key]["hi"] - r[key]["value"] for r in rows],
                                 "arrayminus": [r[key]["value"] - r[key]["lo"] for r in rows]}})
    layout = {"xaxis": {"domain": [0, 0.48], "title": {"text": "drop in log loss [nats]"}},
              "xaxis2": {"domain": [0.52, 1], "title": {"text": "drop in balanced accuracy"}},
              "yaxis": {"automargin": True},
              "title": {"text": f"Permutation importance by {imp['by'][:-1]} ({imp['split']} split, {imp['repeats']} repeats)",
                        "font": {"size": 13}, "x": 0.02, "xanchor": "left"}}
    return page.figure({"data": data, "layout": layout}, height=max(320, 22 * len(rows) + 140))


def evaluation(page: Page, metrics: dict[str, Any], attention_png: bytes | None = None) -> None:
    """evaluate's figures, drawn from metrics.json; the attention heatmap is evaluate's own PNG (its
    weights per window are not kept in a file), inlined as a data: URL."""
    figs = [_confusion(page, metrics["model"]["classification"])]
    if (metrics["model"].get("confidence") or {}).get("reliability"):
        figs.append(_reliability(page, metrics["model"]["confidence"]["reliability"]))
    if (metrics.get("attention") or {}).get("by_lag"):
        figs.append(_attention_by_lag(page, metrics["attention"]["by_lag"]))
    if attention_png:
        figs.append('<img class="figure" alt="attention over windows" src="data:image/png;base64,'
                    + base64.b64encode(attention_png).decode("ascii") + '">')
    blocks = ['<div class="grid">' + "".join(f"<div>{f}</div>" for f in figs) + "</div>"]
    if metrics.get("importance"):
        blocks.append(_importance(page, metrics["importance"]))
    page.section(f"Evaluation ({metrics.get('split', '')} split, {metrics.get('n_windows', 0):,} windows)", *blocks)
