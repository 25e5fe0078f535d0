"""What the user sees after a backtest: the statistics table (strategy and baselines side by
side) and the figure plots/equity.png (equity vs buy-and-hold, drawdown, position).

Shapes: N candles. Long series are thinned to about 4,000 points for drawing only.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from cryptotrain.config import BacktestConfig
from cryptotrain.report.figures import pyplot, save_figure

_MAX_POINTS = 4000


def format_stat(key: str, v: Any) -> str:
    if v is None or v is pd.NaT or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
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


def stats_table(columns: dict[str, dict[str, Any]], title: str) -> Table:
    """columns: header -> stats dict (same keys, display order of the first)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    first = next(iter(columns.values()))
    # The labels keep their full width: when the values are too wide for the terminal, rich
    # shrinks the other columns (their numbers end in an ellipsis) instead of the labels.
    table.add_column("Statistic", no_wrap=True, min_width=max(map(len, first), default=9))
    for header in columns:
        table.add_column(header, justify="right", no_wrap=True)
    for key in first:
        table.add_row(key, *(format_stat(key, col.get(key)) for col in columns.values()))
    return table


def print_message(console: Console, level: str, text: str) -> None:
    """A line the backtest wants the user to read first ("info" or "warning")."""
    console.print(f"[bold yellow]warning:[/] {text}" if level == "warning" else text, soft_wrap=True)


def print_backtest(console: Console, stats: dict[str, dict[str, Any]], *, header: str, title: str,
                   settings: BacktestConfig, timeframe: str, out_dir: Path) -> None:
    """The statistics table (strategy, buy & hold, persistence, fitted baselines) and the files written."""
    b = settings
    names = {"model": header, "buy_and_hold": "Buy & Hold", "persistence": "Persistence", "linear": "Logistic",
             "lightgbm": "LightGBM"}
    console.print(stats_table({names.get(k, k): s for k, s in stats.items()},
                              title=f"Backtest {title}: {b.mode}, fee {b.fee_bps:g} bps, "
                                    f"slippage {b.slippage_bps:g} bps, sizing {b.sizing}, "
                                    f"threshold {b.threshold:g}, max exposure {b.max_exposure:g}, "
                                    f"{timeframe} candles"))
    console.print(f"wrote {out_dir}/stats.json, equity.csv, trades.csv, plots/equity.png")


def _thin(n: int) -> np.ndarray:
    step = max(1, -(-n // _MAX_POINTS))
    idx = np.arange(0, n, step)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def plot_equity(path: Path, timestamps: np.ndarray, equity: np.ndarray, buy_hold: np.ndarray,
                drawdown: np.ndarray, position: np.ndarray, others: dict[str, np.ndarray] | None = None,
                title: str = "Backtest") -> Path:
    """Three panels sharing the time axis: equity [$] (and baselines), drawdown [%], position."""
    plt = pyplot()
    i = _thin(len(equity))
    t = np.asarray(timestamps, dtype=np.int64)[i].astype("datetime64[ms]")
    fig, (ax_eq, ax_dd, ax_pos) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 1.2, 1.2]})
    ax_eq.plot(t, np.asarray(buy_hold)[i], lw=1.0, label="buy & hold (frictionless)", color="grey")
    for (name, series), color in zip((others or {}).items(), ("tab:orange", "tab:purple", "tab:brown")):
        ax_eq.plot(t, np.asarray(series)[i], lw=0.9, ls="--", label=name, color=color)
    ax_eq.plot(t, np.asarray(equity)[i], lw=1.2, label="strategy", color="tab:blue", zorder=3)
    ax_eq.set_ylabel("equity [$]")
    ax_eq.set_title(textwrap.fill(title, 110), fontsize=9)
    ax_eq.legend(loc="best", fontsize=8)
    ax_dd.fill_between(t, 100.0 * np.asarray(drawdown)[i], 0.0, color="tab:red", alpha=0.4, lw=0)
    ax_dd.set_ylabel("drawdown [%]")
    ax_pos.step(t, np.asarray(position)[i], where="post", lw=0.8, color="tab:green")
    ax_pos.axhline(0.0, color="grey", lw=0.6)
    ax_pos.set_ylim(-1.1, 1.1)
    ax_pos.set_ylabel("position")
    ax_pos.set_xlabel("time (UTC)")
    for ax in (ax_eq, ax_dd, ax_pos):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)
