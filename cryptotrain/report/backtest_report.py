"""What the user sees after a backtest: the statistics table (strategy and baselines side by
side), the files written and the verdict. The figure plots/equity.png is report/equity_figure.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.markup import escape

from cryptotrain.config import BacktestConfig
from cryptotrain.report.tables import print_fitted_table


def format_stat(key: str, v: Any) -> str:
    if v is None or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dict):   # Exits by Reason
        return ", ".join(f"{k} {n:,}" for k, n in v.items()) or "none"
    if isinstance(v, pd.Timedelta):
        c = v.round("s").components
        return f"{c.days}d {c.hours:02d}:{c.minutes:02d}" + (f":{c.seconds:02d}" if c.seconds else "")
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if abs(v) >= 1e9:
        return f"{v:.3e}"   # e.g. the annualized return of a short lucky 1m run: digits nobody reads
    if key.endswith("[$]"):
        return f"{v:,.2f}"
    return f"{v:,.2f}" if key.endswith("[%]") else f"{v:.3f}"


# Strategy keys of stats.json -> the names used in the table headers, the figure legend and the verdict.
STRATEGY_NAMES = {"model": "Model", "buy_and_hold": "Buy & Hold", "persistence": "Persistence",
                  "linear": "Logistic", "lightgbm": "LightGBM",   # these two: evaluate's fitted baselines
                  "portfolio": "Portfolio", "equal_weight": "Equal weight", "btc_buy_and_hold": "BTC Buy & Hold",
                  "momentum": "Momentum"}


def settings_caption(b: BacktestConfig) -> str:
    return (f"{b.mode}, fee {b.fee_bps:g} bps, slippage {b.slippage_bps:g} bps, sizing {b.sizing}, "
            f"threshold {b.threshold:g}, max exposure {b.max_exposure:g}, min hold {b.min_hold}{rules_caption(b)}")


def rules_caption(b: BacktestConfig) -> str:
    """", stop 5%, take-profit 2 ATR, ..." for the risk rules that are on ("" when none is)."""
    parts = [(b.stop_loss, f"stop {100 * b.stop_loss:g}%"), (b.stop_loss_atr, f"stop {b.stop_loss_atr:g} ATR"),
             (b.take_profit, f"take-profit {100 * b.take_profit:g}%"),
             (b.take_profit_atr, f"take-profit {b.take_profit_atr:g} ATR"),
             (b.trailing_stop, f"trailing stop {100 * b.trailing_stop:g}%"), (b.max_hold, f"max hold {b.max_hold}")]
    atr = f" (ATR {b.atr_period})" if b.stop_loss_atr or b.take_profit_atr else ""
    return "".join(f", {text}" for on, text in parts if on) + atr


def print_stats_table(console: Console, columns: dict[str, dict[str, Any]], title: str) -> None:
    """columns: header -> stats dict (same keys, display order of the first); labels are never cut."""
    first = next(iter(columns.values()))
    print_fitted_table(console, title, "Statistic", list(first),
                       {h: [format_stat(k, col.get(k)) for k in first] for h, col in columns.items()})


def print_message(console: Console, level: str, text: str) -> None:
    """A line the backtest wants the user to read first ("info" or "warning")."""
    console.print(f"[bold yellow]warning:[/] {escape(text)}" if level == "warning" else escape(text), soft_wrap=True)


def _trades(n: int) -> str:
    return f"{n:,} trade" + ("" if n == 1 else "s")


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.2f}%"


def verdict_lines(v: dict[str, Any], name: str = "Model") -> list[str]:
    """A few sentences from backtest.verdict.backtest_verdict: costs, trading frequency, baselines."""
    after, before = v["return_pct"], v["return_no_costs_pct"]
    lines = [f"{name}: {_pct(after)} after costs, {_pct(before)} before; fees cost "
             f"{v['fees_pct_of_cash']:.2f}% and slippage {v['slippage_pct_of_cash'] or 0:.2f}% of the starting cash."]
    hold = v["avg_hold_candles"]
    if v["trades"] == 0 or hold is None:
        lines.append(f"{name} never traded.")
    else:
        trade = f"{_trades(v['trades'])}, held {hold:.1f} candles on average"
        if v["horizon"] is not None:
            rel = "shorter than" if hold < v["horizon"] else "at least"
            trade += f" ({rel} the label horizon of {v['horizon']} candles the model was trained to predict)"
        lines.append(trade + (f"; min hold {v['min_hold']} candles." if v["min_hold"] else "."))
    for key, b in v["baselines"].items():
        label = STRATEGY_NAMES.get(key, key)
        if after is not None and b["return_pct"] is not None:
            diff = after - b["return_pct"]
            lines.append(f"Against {label} ({_pct(b['return_pct'])} after its costs, {_trades(b['trades'])}): "
                         f"{abs(diff):.2f} points {'ahead' if diff > 0 else 'behind'}.")
    if before is not None and after is not None:
        if v["trades"] == 0:
            lines.append("Reading: no position was ever taken, so there is nothing to read about the signal; the "
                         "model's calls never cleared the policy (hold, threshold or cost).")
        elif before <= 0:
            lines.append("Reading: the positions lose even before costs, so the signal's sign does not pay here.")
        elif after <= 0:
            lines.append("Reading: the positions earn before costs, but not enough to pay for trading this often.")
        else:
            lines.append(_earning_reading(v))
    return lines


def _earning_reading(v: dict[str, Any]) -> str:
    """The reading of a strategy that earns after costs, against its null (no return): does the 95%
    block-bootstrap interval of its annualized return exclude 0? One comparison, not corrected."""
    lo, hi = v.get("ann_return_ci_pct") or (None, None)
    if lo is None or hi is None:
        return "Reading: the positions earn after costs on this split; check another period before trusting it."
    psr = "" if v.get("psr0_pct") is None else f"; PSR(0) {v['psr0_pct']:.1f}%"
    ci = f"the 95% interval of the annualized return [{lo:+.1f}%, {hi:+.1f}%]"
    if lo <= 0:
        return (f"Reading: the positions earn after costs on this split, but not beyond luck: {ci} includes 0 "
                f"(null: no return; block bootstrap, 1 comparison{psr}), so this span cannot tell it from noise.")
    return (f"Reading: the positions earn after costs on this split beyond the null of no return ({ci} excludes 0; "
            f"block bootstrap, 1 comparison{psr}); check another period before trusting it.")


# The same for every strategy (one range of candles): said once in the title, not in three columns.
_COMMON = ("Start", "End", "Duration")


def print_backtest(console: Console, stats: dict[str, dict[str, Any]], *, header: str, title: str,
                   settings: BacktestConfig, timeframe: str, out_dir: Path,
                   verdict: dict[str, Any] | None = None) -> None:
    """The statistics table (strategy, buy & hold, persistence, fitted baselines), the files written and
    the verdict."""
    m = stats["model"]
    span = (f"{format_stat('Start', m['Start'])} to {format_stat('End', m['End'])} UTC "
            f"({format_stat('Duration', m['Duration'])})")
    columns = {(header if k == "model" else STRATEGY_NAMES.get(k, k)): {key: v for key, v in s.items() if key not in _COMMON}
               for k, s in stats.items()}
    print_stats_table(console, columns,
                      title=f"Backtest {title}, {span}: {settings_caption(settings)}, {timeframe} candles. "
                            "Return [%] is after fees and slippage; the \"no costs\" rows trade the same "
                            "positions without them.")
    console.print(f"wrote {out_dir}/stats.json, equity.csv, benchmarks.csv, trades.csv, plots/equity.png", soft_wrap=True, markup=False)
    for line in verdict_lines(verdict, header) if verdict else []:
        console.print(line, soft_wrap=False, highlight=False, markup=False)
