"""The backtest figure plots/equity.png: equity [$] of the strategy and its baselines, its drawdown
[%] and its mean exposure, three panels sharing the time axis.

`equity_panels` (NumPy) thins the series to what is drawn; `equity_png` (matplotlib) draws them.
They are apart so that the drawing can run in a report.figure_process child, which imports this
module and matplotlib only (not pandas or rich): the figure's data crosses as a few thousand points.
Shapes: N candles. Long series are thinned for drawing only, keeping every bucket's minimum and maximum (`thin`).
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np

from cryptotrain.report.figures import figure_png, pyplot

_MAX_POINTS = 4000   # drawn as they are up to this length
_BUCKETS = 1000      # else thinned to the extremes of this many buckets (~1 per pixel column)


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


def equity_panels(timestamps: np.ndarray, equity: np.ndarray, drawdown: np.ndarray, position: np.ndarray,
                  others: dict[str, np.ndarray] | None = None, long_only: bool = False) -> dict[str, Any]:
    """What the figure draws, thinned (`thin`): a few thousand points of each series, every extreme
    kept. Equity [$] of the strategy and of `others` (the baselines, by their table names), its
    drawdown (fraction) and its mean position over a moving window. `long_only`: the strategy cannot
    be short, so the exposure panel has no short half."""
    # Hundreds of flips drawn as a step line make a solid barcode; the mean exposure over a window
    # of about 1/200 of the range shows when the strategy was net long, short or flat instead.
    pos = np.asarray(position, dtype=np.float64)
    w = max(1, len(pos) // 200)
    mean_pos = moving_mean(pos, w) if w > 1 else pos
    i = thin([equity, drawdown, mean_pos, *(others or {}).values()])
    return {"time": np.asarray(timestamps, dtype=np.int64)[i].astype("datetime64[ms]"),
            "equity": np.asarray(equity)[i], "drawdown": np.asarray(drawdown)[i], "mean_position": mean_pos[i],
            "window": w, "long_only": long_only,
            "others": {label: np.asarray(series)[i] for label, series in (others or {}).items()}}


def equity_png(panels: dict[str, Any], title: str = "Backtest", name: str = "Model") -> bytes:
    """The figure from `equity_panels`, as PNG: equity of the strategy `name` and the baselines,
    its drawdown [%] and its exposure as an area (long above 0, short below). matplotlib only:
    it may run in a report.figure_process child."""
    plt = pyplot()
    t, mean_pos, w = panels["time"], panels["mean_position"], panels["window"]
    fig, (ax_eq, ax_dd, ax_pos) = plt.subplots(3, 1, figsize=(10, 7.5), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 1.2, 1.2]})
    for (label, series), color in zip(panels["others"].items(), ("grey", "tab:orange", "tab:purple", "tab:brown")):
        ax_eq.plot(t, series, lw=0.9, ls="--", label=label, color=color)
    ax_eq.plot(t, panels["equity"], lw=1.2, label=name, color="tab:blue", zorder=3)
    ax_eq.set_ylabel("equity [$]")
    ax_eq.set_title(textwrap.fill(title, 110), fontsize=9)
    ax_eq.legend(loc="best", fontsize=8)
    ax_dd.fill_between(t, 100.0 * panels["drawdown"], 0.0, color="tab:red", alpha=0.4, lw=0)
    ax_dd.set_ylabel(f"{name} drawdown [%]", fontsize=8)
    ax_pos.fill_between(t, mean_pos, 0.0, where=mean_pos >= 0, color="tab:green", alpha=0.45, lw=0,
                        step="post", label="net long")
    if not panels.get("long_only"):   # long-only: no "net short" in the legend, no -1 on the axis
        ax_pos.fill_between(t, mean_pos, 0.0, where=mean_pos <= 0, color="tab:red", alpha=0.45, lw=0,
                            step="post", label="net short")
    ax_pos.axhline(0.0, color="grey", lw=0.6)
    ax_pos.set_ylim(-0.05 if panels.get("long_only") else -1.1, 1.1)
    ax_pos.set_ylabel(f"{name} exposure\n(mean of {w} candles)" if w > 1 else f"{name} exposure", fontsize=8)
    ax_pos.legend(loc="upper right", fontsize=7, ncol=2)
    ax_pos.set_xlabel("time (UTC)")
    for ax in (ax_eq, ax_dd, ax_pos):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return figure_png(fig)
