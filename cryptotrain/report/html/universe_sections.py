"""The universe report (a run over many pairs, `data.universe`): the per-pair table, the cross-section
(Rank IC across the pairs per timestamp and its cumulative sum; each score group's cumulative forward
return, the quantile spread), then the portfolio backtest's sections (portfolio_sections.py), training
and the pooled evaluation. Takes the plain data of commands/report_universe.py.
Shapes: T' timestamps with a cross-section, q score groups.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptotrain.report.cross_section import cumulative_groups
from cryptotrain.report.html import eval_sections, run_sections
from cryptotrain.report.html.arrays import thin, typed
from cryptotrain.report.html.page import COLORS, Page, bullet_list, table
from cryptotrain.report.html.portfolio_sections import add_portfolio_body


def _ci(d: dict | None, fmt: str) -> tuple[str, float | None]:
    if not d or d.get("value") is None:
        return "-", None
    return f"{fmt.format(d['value'])} [{fmt.format(d['lo'])}, {fmt.format(d['hi'])}]", d["value"]


def per_pair(page: Page, pairs: dict[str, dict[str, Any]]) -> None:
    """Each pair scored on its own windows (evaluate/per_pair.py), sortable."""
    ic = any("ic_pearson" in v for v in pairs.values())
    header = ["Pair", "windows", "accuracy [95% CI]", "majority", "direction acc. [95% CI]", "rate-matched", "coverage"]
    header += ["IC Pearson [95% CI]", "IC Spearman [95% CI]"] if ic else []
    rows = []
    for sym, v in pairs.items():
        maj = v["baselines"].get("majority", {}).get("accuracy")
        rate = v["baselines"].get("rate_matched", {}).get("direction_accuracy")
        row = [sym, (str(v["windows"]), v["windows"]), _ci(v.get("accuracy"), "{:.3f}"),
               ("-" if maj is None else f"{maj:.3f}", maj), _ci(v.get("direction_accuracy"), "{:.3f}"),
               ("-" if rate is None else f"{rate:.3f}", rate), (f"{v['coverage']:.3f}", v["coverage"])]
        rows.append(row + ([_ci(v.get("ic_pearson"), "{:+.4f}"), _ci(v.get("ic_spearman"), "{:+.4f}")] if ic else []))
    page.section("Per pair", table(header, rows, sortable=True, table_id="per-pair"),
                 note=f"{len(rows)} pairs, each on its own windows; baselines on the same windows; "
                      "descriptive, not corrected for the number of pairs.")


def rank_ic(page: Page, c: dict[str, Any]) -> None:
    """RankIC_t per timestamp (points) and its cumulative sum (line, right axis)."""
    ric = np.asarray(c["rank_ic"], dtype=np.float64)
    cum = np.cumsum(np.nan_to_num(ric))
    i = thin([ric, cum])
    t = typed(np.asarray(c["time"])[i])
    data = [{"type": "scatter", "mode": "markers", "name": "Rank IC per timestamp", "x": t, "y": typed(ric[i]),
             "marker": {"size": 3, "color": "#9aa", "opacity": 0.6}},
            {"type": "scatter", "mode": "lines", "name": "cumulative Rank IC", "x": t, "y": typed(cum[i]),
             "yaxis": "y2", "line": {"color": COLORS["model"], "width": 1.5, "simplify": False}}]
    layout = {"xaxis": {"type": "date"}, "margin": {"l": 70, "r": 70, "t": 40, "b": 40},
              "yaxis": {"title": {"text": "Rank IC across the pairs"}, "range": [-1.05, 1.05], "zeroline": False},
              "yaxis2": {"title": {"text": "cumulative Rank IC"}, "overlaying": "y", "side": "right", "showgrid": False,
                         "zeroline": True, "zerolinecolor": COLORS["model"]}}
    page.section("Cross-sectional Rank IC over time", page.figure({"data": data, "layout": layout}, height=320, link="time"),
                 note=f"Spearman correlation across the pairs of the score ({c['score']}) with the forward return, at "
                      f"each of {len(ric)} timestamps ({len(i)} drawn); mean {np.nanmean(ric):+.4f} (metrics.json: "
                      f"{c['mean_rank_ic']:+.4f}). A rising cumulative sum: the ranking keeps working.")


def score_groups(page: Page, c: dict[str, Any]) -> None:
    """Each score group's cumulative mean forward return / h (report/cross_section.py), and the spread."""
    g = np.asarray(c["groups"], dtype=np.float64)
    q, h = g.shape[1], c["horizon"]
    cum = cumulative_groups(g, h)
    spread = cumulative_groups(g[:, -1:] - g[:, :1], h)[:, 0]
    i = thin([*cum.T, spread])
    t = typed(np.asarray(c["time"])[i])
    data = []
    for k in range(q):
        name, color = ("bottom", COLORS["short"]) if k == 0 else ("top", COLORS["long"]) if k == q - 1 else \
            (f"group {k + 1}", f"rgb({int(90 + 100 * k / q)},{int(90 + 100 * k / q)},{int(90 + 100 * k / q)})")
        data.append({"type": "scatter", "mode": "lines", "name": f"{name} (score group {k + 1} of {q})", "x": t,
                     "y": typed(cum[i, k]), "line": {"color": color, "width": 1.2, "simplify": False}})
    data.append({"type": "scatter", "mode": "lines", "name": "spread top - bottom", "x": t, "y": typed(spread[i]),
                 "line": {"color": "#000", "width": 1.5, "dash": "dot", "simplify": False}})
    what = "excess return" if c["excess"] else "forward return"
    layout = {"xaxis": {"type": "date"}, "yaxis": {"title": {"text": f"cumulative mean {what} / h [%]"}}}
    page.section("Score groups (quantile spreads)", page.figure({"data": data, "layout": layout}, height=340, link="time"),
                 note=f"At each timestamp the pairs are split into {q} groups by score; each line sums its group's mean "
                      f"{what} over the label horizon h = {h}, divided by h (the labels overlap). Dotted: top minus bottom.")


def universe_report(d: dict[str, Any]) -> str:
    page = Page(f"{d['name']}: universe of {d['n_pairs']} pairs, {d['split']} split")
    run_sections.header(page, d["verdicts"], d["provenance"])
    if d["missing"]:
        page.section("Missing or out of date", bullet_list(d["missing"], cls="note"))
    if d["per_pair"]:
        per_pair(page, d["per_pair"])
    if d["cross"] is not None:
        rank_ic(page, d["cross"])
        score_groups(page, d["cross"])
    if d["portfolio"] is not None:
        add_portfolio_body(page, d["portfolio"])
    eval_sections.training(page, d["training"])
    if d["metrics"]:
        eval_sections.evaluation(page, d["metrics"])
    return page.html()
