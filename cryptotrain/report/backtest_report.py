"""What the user sees after a backtest: the statistics table (strategy and baselines side by
side) and the figure plots/equity.png (equity vs buy-and-hold, drawdown, position).

Shapes: N candles. Long series are thinned for drawing only, keeping every bucket's minimum and maximum (`thin`).
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

_MAX_POINTS = 4000   # drawn as they are up to this length
_BUCKETS = 1000      # else thinned to the extremes of this many buckets (~1 per pixel column)


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
    """The statistics table (strategy, buy & hold, persistence) and the files written."""
    b = settings
    console.print(stats_table({header: stats["model"], "Buy & Hold": stats["buy_and_hold"],
                               "Persistence": stats["persistence"]},
                              title=f"Backtest {title}: {b.mode}, fee {b.fee_bps:g} bps, "
                                    f"slippage {b.slippage_bps:g} bps, sizing {b.sizing}, "
                                    f"threshold {b.threshold:g}, max exposure {b.max_exposure:g}, "
                                    f"{timeframe} candles"))
    console.print(f"wrote {out_dir}/stats.json, equity.csv, trades.csv, plots/equity.png")


def thin(series: list[np.ndarray], buckets: int = _BUCKETS) -> np.ndarray:
    """Sorted indices of the points to draw: all of a short series; of a long one, per bucket of
    n / buckets candles (about one pixel column) its first point and the minimum and maximum of
    every series, so that no peak or trough is lost. The last point is always kept."""
    n = len(series[0])
    if n <= _MAX_POINTS:
        return np.arange(n)
    step = -(-n // buckets)
    nb = -(-n // step)
    start = np.arange(nb) * step
    keep = [start, np.array([n - 1])]
    for s in series:
        a = np.asarray(s, dtype=np.float64)
        # pad the last bucket with its final value: a tie picks the first index, a real one
        grid = np.concatenate([a, np.full(nb * step - n, a[-1])]).reshape(nb, step)
        keep += [start + grid.argmin(axis=1), start + grid.argmax(axis=1)]
    return np.unique(np.minimum(np.concatenate(keep), n - 1))


def plot_equity(path: Path, timestamps: np.ndarray, equity: np.ndarray, buy_hold: np.ndarray,
                drawdown: np.ndarray, position: np.ndarray, others: dict[str, np.ndarray] | None = None,
                title: str = "Backtest") -> Path:
    """Three panels sharing the time axis: equity [$] (and baselines), drawdown [%], position."""
    plt = pyplot()
    i = thin([equity, buy_hold, drawdown, position, *(others or {}).values()])
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
