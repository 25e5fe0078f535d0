"""What the user sees after a portfolio backtest (`backtest --weights`): the statistics of the
portfolio beside its benchmarks, the per-pair table, the pairs closed at their data's end, the
files written and the reading lines (report/backtest_report.py's verdict sentences)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from cryptotrain.config import BacktestConfig
from cryptotrain.report.backtest_report import (STRATEGY_NAMES, format_stat, print_message, print_stats_table,
                                               rules_caption, verdict_lines)
from cryptotrain.report.tables import print_fitted_table

_COMMON = ("Start", "End", "Duration")


def portfolio_caption(b: BacktestConfig) -> str:
    vol = f", target vol {b.target_vol:g}" if b.target_vol else ""
    return (f"{b.mode}, fee {b.fee_bps:g} bps, slippage {b.slippage_bps:g} bps, gross {b.gross:g}, "
            f"max exposure {b.max_exposure:g}, rebalance {b.rebalance or 'never'}{vol}{rules_caption(b)}")


def print_portfolio(console: Console, stats: dict[str, dict[str, Any]], per_pair: dict[str, dict[str, Any]], *,
                    title: str, settings: BacktestConfig, timeframe: str, out_dir: Path, ended: dict[str, str],
                    verdict: dict[str, Any], warnings: list[str]) -> None:
    m = stats["portfolio"]
    span = (f"{format_stat('Start', m['Start'])} to {format_stat('End', m['End'])} UTC "
            f"({format_stat('Duration', m['Duration'])})")
    columns = {STRATEGY_NAMES.get(k, k): {key: v for key, v in s.items() if key not in _COMMON}
               for k, s in stats.items()}
    print_stats_table(console, columns,
                      title=f"Portfolio backtest {escape(title)}, {span}: {portfolio_caption(settings)}, "
                            f"{timeframe} candles, {len(per_pair)} pairs. Return [%] is after fees and slippage; "
                            "the benchmarks trade with the same costs.")
    keys = list(next(iter(per_pair.values())))
    print_fitted_table(console, "Per pair (the portfolio's P&L contribution includes its fees and slippage)", "Pair",
                       list(per_pair), {k: [format_stat(k, per_pair[p][k]) for p in per_pair] for k in keys})
    for sym, when in ended.items():
        console.print(f"{escape(sym)}: its data ends at {when} UTC while held; closed at that candle's close.",
                      soft_wrap=True)
    console.print(f"wrote {escape(str(out_dir))}/stats.json, equity.csv, weights.csv, trades.csv, plots/equity.png, "
                  "weights.png, contribution.png", soft_wrap=True)
    for line in verdict_lines(verdict, "Portfolio"):
        console.print(line, soft_wrap=False, highlight=False)
    for text in warnings:
        print_message(console, "warning", text)
