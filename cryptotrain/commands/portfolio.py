"""`cryptotrain backtest --weights W.csv --data-dir DIR`: the command around portfolio_backtest.run,
printing through report/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from cryptotrain.backtest import portfolio_backtest
from cryptotrain.backtest.stats import span_warning
from cryptotrain.commands.report import print_report_hint
from cryptotrain.data.timestamps import format_utc
from cryptotrain.report.portfolio_report import print_portfolio


def portfolio_command(weights: Path | None, data_dir: Path | None, out: Path | None, overrides: dict[str, Any], *,
                      timeframe: str | None, allow_leverage: bool, console: Console) -> dict[str, dict[str, Any]]:
    """Run the portfolio backtest, write its outputs, print the tables; returns {"portfolio"|...: stats}."""
    rep = portfolio_backtest.run(weights, data_dir, out=out, overrides=overrides, timeframe=timeframe,
                                 allow_leverage=allow_leverage)
    short = span_warning(rep.stats["portfolio"])
    print_portfolio(console, rep.stats, rep.per_pair, title=rep.title, settings=rep.settings,
                    timeframe=rep.timeframe, out_dir=rep.out_dir,
                    ended={s: format_utc(t) for s, t in rep.results["portfolio"].ended.items()},
                    verdict=rep.verdict, warnings=[short] if short else [])
    print_report_hint(console, rep.out_dir)
    return rep.stats
