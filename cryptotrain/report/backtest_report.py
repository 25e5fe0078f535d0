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
from rich.console import Console

from cryptotrain.config import BacktestConfig
from cryptotrain.report.figures import pyplot, save_figure
from cryptotrain.report.tables import print_fitted_table

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


# Strategy keys of stats.json -> the names used in the table headers, the figure legend and the verdict.
STRATEGY_NAMES = {"model": "Model", "buy_and_hold": "Buy & Hold", "persistence": "Persistence",
                  "linear": "Logistic", "lightgbm": "LightGBM"}   # the last two: evaluate's fitted baselines


def settings_caption(b: BacktestConfig) -> str:
    return (f"{b.mode}, fee {b.fee_bps:g} bps, slippage {b.slippage_bps:g} bps, sizing {b.sizing}, "
            f"threshold {b.threshold:g}, max exposure {b.max_exposure:g}, min hold {b.min_hold}")


def print_stats_table(console: Console, columns: dict[str, dict[str, Any]], title: str) -> None:
    """columns: header -> stats dict (same keys, display order of the first); labels are never cut."""
    first = next(iter(columns.values()))
    print_fitted_table(console, title, "Statistic", list(first),
                       {h: [format_stat(k, col.get(k)) for k in first] for h, col in columns.items()})


def print_message(console: Console, level: str, text: str) -> None:
    """A line the backtest wants the user to read first ("info" or "warning")."""
    console.print(f"[bold yellow]warning:[/] {text}" if level == "warning" else text, soft_wrap=True)


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
        if before <= 0:
            lines.append("Reading: the positions lose even before costs, so the signal's sign does not pay here.")
        elif after <= 0:
            lines.append("Reading: the positions earn before costs, but not enough to pay for trading this often.")
        else:
            lines.append("Reading: the positions earn after costs on this split; check another period before trusting it.")
    return lines


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
    console.print(f"wrote {out_dir}/stats.json, equity.csv, trades.csv, plots/equity.png", soft_wrap=True)
    for line in verdict_lines(verdict, header) if verdict else []:
        console.print(line, soft_wrap=False, highlight=False)


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


def moving_mean(x: np.ndarray, w: int) -> np.ndarray:
    """np.convolve(x, np.ones(w) / w, mode="same") from a cumulative sum: O(n), not O(n w) (a 1M-candle
    equity figure has w = 5000, where the convolution alone took 0.9 s). Output i averages
    x[i + (w - 1) // 2 - w + 1 .. i + (w - 1) // 2], cut at the ends, divided by w as the convolution does."""
    n = len(x)
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(n)
    hi = np.minimum(i + (w - 1) // 2, n - 1) + 1
    lo = np.maximum(i + (w - 1) // 2 - w + 1, 0)
    return (c[hi] - c[lo]) / w


def plot_equity(path: Path, timestamps: np.ndarray, equity: np.ndarray, drawdown: np.ndarray, position: np.ndarray,
                others: dict[str, np.ndarray] | None = None, title: str = "Backtest", name: str = "Model") -> Path:
    """Three panels sharing the time axis: equity [$] of the strategy `name` and of `others` (the
    baselines, by their table names), the strategy's drawdown [%] and its exposure as an area
    (mean position over a moving window: long above 0, short below)."""
    plt = pyplot()
    # Hundreds of flips drawn as a step line make a solid barcode; the mean exposure over a window
    # of about 1/200 of the range shows when the strategy was net long, short or flat instead.
    pos = np.asarray(position, dtype=np.float64)
    w = max(1, len(pos) // 200)
    mean_pos = moving_mean(pos, w) if w > 1 else pos
    i = thin([equity, drawdown, mean_pos, *(others or {}).values()])
    t = np.asarray(timestamps, dtype=np.int64)[i].astype("datetime64[ms]")
    fig, (ax_eq, ax_dd, ax_pos) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 1.2, 1.2]})
    for (label, series), color in zip((others or {}).items(), ("grey", "tab:orange", "tab:purple", "tab:brown")):
        ax_eq.plot(t, np.asarray(series)[i], lw=0.9, ls="--", label=label, color=color)
    ax_eq.plot(t, np.asarray(equity)[i], lw=1.2, label=name, color="tab:blue", zorder=3)
    ax_eq.set_ylabel("equity [$]")
    ax_eq.set_title(textwrap.fill(title, 110), fontsize=9)
    ax_eq.legend(loc="best", fontsize=8)
    ax_dd.fill_between(t, 100.0 * np.asarray(drawdown)[i], 0.0, color="tab:red", alpha=0.4, lw=0)
    ax_dd.set_ylabel(f"{name} drawdown [%]", fontsize=8)
    ax_pos.fill_between(t, mean_pos[i], 0.0, where=mean_pos[i] >= 0, color="tab:green", alpha=0.45, lw=0,
                        step="post", label="net long")
    ax_pos.fill_between(t, mean_pos[i], 0.0, where=mean_pos[i] <= 0, color="tab:red", alpha=0.45, lw=0,
                        step="post", label="net short")
    ax_pos.axhline(0.0, color="grey", lw=0.6)
    ax_pos.set_ylim(-1.1, 1.1)
    ax_pos.set_ylabel(f"{name} exposure\n(mean of {w} candles)" if w > 1 else f"{name} exposure", fontsize=8)
    ax_pos.legend(loc="upper right", fontsize=7, ncol=2)
    ax_pos.set_xlabel("time (UTC)")
    for ax in (ax_eq, ax_dd, ax_pos):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)
