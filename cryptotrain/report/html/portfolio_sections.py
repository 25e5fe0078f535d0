"""The portfolio report (`backtest --weights` outputs): the weights over time, each pair's
contribution to the P&L and its statistics, beside the sections every backtest has (equity against
the benchmarks with drawdown, monthly returns, rolling Sharpe, statistics, trades).

A universe run's report (universe_sections.py) adds these sections after its own.
Shapes: N candles, P pairs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptotrain.report.backtest_report import format_stat
from cryptotrain.report.html import run_sections
from cryptotrain.report.html.arrays import thin, typed
from cryptotrain.report.html.page import COLORS, Page, bullet_list, table

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def weights(page: Page, time: np.ndarray, w: dict[str, np.ndarray], sleeves: bool = False) -> None:
    """Each pair's target weight (fraction of equity; `sleeves`: of the pair's own sleeve) at every candle,
    stacked: long above 0, short below."""
    i = thin(list(w.values()))
    t = typed(np.asarray(time)[i])
    data = []
    for k, (sym, v) in enumerate(w.items()):   # a pair's long part stacks above 0, its short part below
        v = np.asarray(v)[i]
        parts = [(sym, "long", np.maximum(v, 0.0))] + ([(f"{sym} (short)", "short", np.minimum(v, 0.0))]
                                                       if np.nanmin(v) < 0 else [])
        data += [{"type": "scatter", "mode": "lines", "name": name, "x": t, "y": typed(y), "stackgroup": group,
                  "legendgroup": sym, "showlegend": group == "long", "line": {"width": 0.5, "shape": "hv",
                  "simplify": False, "color": PALETTE[k % len(PALETTE)]}} for name, group, y in parts]
    layout = {"xaxis": {"type": "date"}, "yaxis": {"title": {"text": "target weight"}}}
    page.section("Weights over time", page.figure({"data": data, "layout": layout}, height=320, link="time"),
                 note=f"{len(w)} pairs; the weights the portfolio engine was given after its constraints (weights.csv)."
                      + (" Policy independent: each pair trades its own sleeve (1/{} of the cash), a weight is the "
                         "fraction of that sleeve, so the stack reaches {} when every sleeve is fully in.".format(len(w), len(w))
                         if sleeves else ""))


def contribution(page: Page, per_pair: dict[str, dict[str, Any]]) -> None:
    pairs = list(per_pair)
    pnl = [per_pair[p]["P&L Contribution [$]"] for p in pairs]
    data = [{"type": "bar", "name": "P&L contribution", "x": pairs, "y": pnl,
             "marker": {"color": [COLORS["long"] if v >= 0 else COLORS["short"] for v in pnl]},
             "hovertemplate": "%{x}: %{y:,.2f} $<extra></extra>"}]
    layout = {"yaxis": {"title": {"text": "P&L contribution [$]"}}, "xaxis": {"type": "category"}, "showlegend": False}
    keys = list(next(iter(per_pair.values()))) if per_pair else []
    rows = [[p, *[(format_stat(k, v), v) for k, v in per_pair[p].items()]] for p in pairs]
    page.section("Per-pair contribution", page.figure({"data": data, "layout": layout}, height=300),
                 table(["Pair", *keys], rows, sortable=True))


def portfolio_report(d: dict[str, Any]) -> str:
    page = Page(f"{d['name']}: portfolio of {len(d['weights'])} pairs")
    run_sections.header(page, d["verdicts"], d["provenance"])
    add_portfolio_body(page, d)
    return page.html()


def add_portfolio_body(page: Page, d: dict[str, Any]) -> None:
    """Equity against the benchmarks, weights, contribution, monthly returns, rolling Sharpe, statistics,
    trades of a portfolio (also a universe run's backtest)."""
    if d.get("ended"):
        page.section("Pairs that ended", bullet_list([f"{s}: last candle {t} UTC" for s, t in d["ended"].items()]))
    bt = d["backtest"]
    run_sections.equity(page, bt["equity"], "Portfolio")
    weights(page, bt["equity"]["time"], d["weights"], sleeves=d.get("sleeves", False))
    contribution(page, d["per_pair"])
    run_sections.monthly(page, bt["equity"], float(bt["settings"].get("cash", bt["equity"]["equity"][0])))
    run_sections.sharpe(page, bt["equity"], bt["timeframe_ms"], bt["periods_per_year"], "Portfolio")
    run_sections.statistics(page, bt["stats"])
    run_sections.trades_table(page, bt["trades"])
