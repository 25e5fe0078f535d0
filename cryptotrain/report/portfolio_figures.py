"""The portfolio backtest's own figures: the weights held over time (stacked areas, longs above 0 and
shorts below) and each pair's P&L contribution (bars). matplotlib only, from plain arrays; the
equity figure is report/equity_figure.py's. Shapes: T rows, N pairs."""

from __future__ import annotations

import textwrap

import numpy as np

from cryptotrain.report.equity_figure import thin
from cryptotrain.report.figures import figure_png, pyplot


def weights_png(timestamps: np.ndarray, value: np.ndarray, equity: np.ndarray, symbols: list[str],
                title: str) -> bytes:
    """Weight of each pair at every close, value (T, N) / equity (T,), stacked: longs up, shorts down."""
    plt = pyplot()
    w = np.divide(value, equity[:, None], out=np.zeros_like(value), where=equity[:, None] > 0)
    i = thin([np.abs(w).sum(axis=1)] + [w[:, k] for k in range(w.shape[1])])
    t = np.asarray(timestamps, dtype=np.int64)[i].astype("datetime64[ms]")
    w = w[i]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    colors = plt.get_cmap("tab10" if len(symbols) <= 10 else "tab20").colors
    ax.stackplot(t, np.maximum(w, 0.0).T, labels=symbols, colors=colors[: len(symbols)], alpha=0.8, step="post")
    if (w < 0).any():
        ax.stackplot(t, np.minimum(w, 0.0).T, colors=colors[: len(symbols)], alpha=0.8, step="post")
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_ylabel("weight (position value / equity)")
    ax.set_title(textwrap.fill(f"Weights held: {title}", 110), fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncol=min(len(symbols), 5))
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return figure_png(fig)


def contribution_png(contribution: dict[str, float], title: str) -> bytes:
    """One bar per pair: its P&L contribution [$] (fees and slippage included)."""
    plt = pyplot()
    names, vals = list(contribution), np.array(list(contribution.values()), dtype=float)
    fig, ax = plt.subplots(figsize=(max(5, 0.8 * len(names) + 2), 4))
    ax.bar(names, vals, color=np.where(vals >= 0, "tab:green", "tab:red"))
    ax.axhline(0.0, color="grey", lw=0.6)
    ax.set_ylabel("P&L contribution [$]")
    ax.set_title(textwrap.fill(f"Per-pair contribution: {title}", 90), fontsize=9)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return figure_png(fig)
