"""A report kind put together from its sections: `run_report` (one training run), and the kinds
of walkforward_sections.py and sweep_sections.py. Each takes the plain data its command gathered
(commands/report_data.py) and returns the page's HTML text."""

from __future__ import annotations

from typing import Any

from cryptotrain.report.html import eval_sections, run_sections
from cryptotrain.report.html.page import Page, bullet_list


def run_report(d: dict[str, Any]) -> str:
    page = Page(f"{d['name']}: {d['split']} split")
    run_sections.header(page, d["verdicts"], d["provenance"])
    if d["missing"]:
        page.section("Missing or out of date", bullet_list(d["missing"], cls="note"))
    add_run_body(page, d)
    return page.html()


def add_run_body(page: Page, d: dict[str, Any], name: str = "Model") -> None:
    """The market, trading, training and evaluation sections of a run (also used for a walk-forward's
    stitched test parts)."""
    bt = d.get("backtest")
    if bt is not None:
        if bt["candles"] is not None:
            run_sections.market(page, bt["candles"], bt["trades"], d.get("symbol", "price"))
        run_sections.equity(page, bt["equity"], name)
        run_sections.monthly(page, bt["equity"], float(bt["settings"].get("cash", bt["equity"]["equity"][0])))
        run_sections.sharpe(page, bt["equity"], bt["timeframe_ms"], bt["periods_per_year"], name)
        run_sections.statistics(page, bt["stats"])
        run_sections.trades_table(page, bt["trades"])
    eval_sections.training(page, d.get("training") or [])
    if d.get("metrics"):
        eval_sections.evaluation(page, d["metrics"], d.get("attention_png"))
