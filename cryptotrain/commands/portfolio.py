"""`cryptotrain backtest --weights W.csv --data-dir DIR` and `backtest --run UNIVERSE_RUN`: the commands
around portfolio_backtest.run and universe_backtest.run, printing through report/."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

from cryptotrain.backtest import portfolio_backtest, universe_backtest
from cryptotrain.backtest.stats import span_warning
from cryptotrain.commands.report import print_report_hint
from cryptotrain.data.timestamps import format_utc
from cryptotrain.report.backtest_report import print_message
from cryptotrain.report.portfolio_report import print_portfolio


def portfolio_command(weights: Path | None, data_dir: Path | None, out: Path | None, overrides: dict[str, Any], *,
                      timeframe: str | None, allow_leverage: bool, console: Console) -> dict[str, dict[str, Any]]:
    """Run the portfolio backtest, write its outputs, print the tables; returns {"portfolio"|...: stats}."""
    rep = portfolio_backtest.run(weights, data_dir, out=out, overrides=overrides, timeframe=timeframe,
                                 allow_leverage=allow_leverage)
    return print_portfolio_report(rep, console)


def universe_command(run: Path, split: str, out: Path | None, overrides: dict[str, Any], *, console: Console,
                     on_scored: Callable) -> dict[str, dict[str, Any]]:
    """Backtest a universe run's predictions through its allocation policy; returns {"portfolio"|...: stats}.
    on_scored(result) prints evaluate's report when it ran first for fresh predictions."""
    rep = universe_backtest.run(run, split, out=out, overrides=overrides,
                                on_message=functools.partial(print_message, console), on_scored=on_scored)
    # the run's own report shows its default backtest beside the cross-section; another one has its own
    return print_portfolio_report(rep, console,
                                  (run, split) if Path(rep.out_dir) == Path(run) / "backtest" / split else None)


def print_portfolio_report(rep: portfolio_backtest.PortfolioReport, console: Console,
                           report_of: tuple[Path, str] | None = None) -> dict[str, dict[str, Any]]:
    short = span_warning(rep.stats["portfolio"])
    print_portfolio(console, rep.stats, rep.per_pair, title=rep.title, settings=rep.settings,
                    timeframe=rep.timeframe, out_dir=rep.out_dir,
                    ended={s: format_utc(t) for s, t in rep.results["portfolio"].ended.items()},
                    verdict=rep.verdict, warnings=[short] if short else [])
    print_report_hint(console, *(report_of or (rep.out_dir,)))
    return rep.stats
