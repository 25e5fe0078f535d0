"""Evaluation figures (matplotlib, Agg backend), each written atomically as PNG:
attention by lag, attention heatmap over a sample of windows, confusion matrix and
reliability diagram of the confidence head.

Shapes: N windows, T window length; attention (N, T) with column T - 1 the decision candle t.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryptotrain.report.figures import pyplot, save_figure


def heatmap_rows(n: int, max_rows: int = 64) -> np.ndarray:
    """Indices of up to `max_rows` windows evenly spread over the split (for the heatmap)."""
    if n <= max_rows:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_rows).round().astype(np.int64))


def plot_attention_by_lag(by_lag: list[float], path: Path, about_uniform: bool | None = None) -> Path:
    """Bars of the mean attention weight per lag (0 = candle t) as a deviation from uniform,
    w_j T - 1 in %: near-uniform weights (all ~1/T) would otherwise be bars of one height."""
    plt = pyplot()
    w = np.asarray(by_lag, dtype=np.float64)
    T = len(w)
    dev = 100.0 * (w * T - 1.0)
    fig, ax = plt.subplots(figsize=(max(6, 0.15 * T + 2), 3.6))
    ax.bar(np.arange(T), dev, color=np.where(dev >= 0, "tab:blue", "tab:orange"))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("lag [candles before t]")
    ax.set_ylabel(f"mean weight vs uniform 1/{T} [%]")
    peak = float(np.max(np.abs(dev))) if T else 0.0
    if about_uniform is None:
        about_uniform = peak <= 25.0
    verdict = f"about uniform (every lag within {peak:.0f}% of 1/{T})" if about_uniform else \
        f"not uniform (up to {peak:.0f}% from 1/{T})"
    ax.set_title(f"Attention by lag: {verdict}", fontsize=10)
    lim = max(peak * 1.15, 1.0)
    ax.set_ylim(-lim, lim)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_attention_heatmap(att: np.ndarray, timestamps: np.ndarray, path: Path, max_rows: int = 64) -> Path:
    """Attention weights (lag 0 on the left) for up to `max_rows` windows spread over the split."""
    plt = pyplot()
    rows = heatmap_rows(len(att), max_rows)
    sample = np.asarray(att)[rows, ::-1]
    fig, ax = plt.subplots(figsize=(8, 5))
    im = ax.imshow(sample, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="attention weight")
    ticks = np.linspace(0, len(rows) - 1, min(6, len(rows))).round().astype(int)
    labels = np.asarray(timestamps)[rows][ticks].astype("datetime64[ms]").astype("datetime64[m]").astype(str)
    ax.set_yticks(ticks, [s.replace("T", " ") for s in labels], fontsize=7)
    ax.set_xlabel("lag [candles before t]")
    ax.set_title(f"Attention over {len(rows)} windows (UTC decision time)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion_matrix(cm: list[list[int]], class_names: list[str], path: Path) -> Path:
    """Counts with the row share (recall of each true class) written in each cell."""
    plt = pyplot()
    cm = np.asarray(cm)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{cm[i, j]}\n{share[i, j]:.0%}", ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (row share)")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_reliability(rows: list[dict], path: Path) -> Path:
    """Mean realized confidence target and hit rate against mean predicted confidence per bin,
    with the number of windows per bin below (a bin of 35 windows is not one of 3,876)."""
    plt = pyplot()
    fig, (ax, ax_n) = plt.subplots(2, 1, figsize=(5.2, 5.4), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfect calibration")
    if rows:
        x = np.array([r["mean_predicted"] for r in rows])
        n = np.array([r["count"] for r in rows])
        size = 12 + 80 * np.sqrt(n / n.max())            # marker area grows with the bin's windows
        ax.plot(x, [r["mean_target"] for r in rows], "-", color="tab:blue", lw=1)
        ax.scatter(x, [r["mean_target"] for r in rows], s=size, color="tab:blue", zorder=3,
                   label="mean confidence target (what the head predicts)")
        ax.plot(x, [r["hit_rate"] for r in rows], "--", color="tab:orange", lw=1)
        ax.scatter(x, [r["hit_rate"] for r in rows], s=size, marker="s", color="tab:orange", zorder=3,
                   label="hit rate (predicted action right)")
        ax_n.bar([(r["lo"] + r["hi"]) / 2 for r in rows], n, width=0.08, color="tab:grey")
        for r, c in zip(rows, n):
            ax_n.text((r["lo"] + r["hi"]) / 2, c, f"{c:,}", ha="center", va="bottom", fontsize=7)
        ax_n.set_ylim(0, n.max() * 1.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("realized, per bin")
    ax.set_title("Reliability of the confidence head", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    ax_n.set_ylabel("windows")
    ax_n.set_xlabel("predicted confidence (bins of 0.1; points at the bin mean)")
    fig.tight_layout()
    return save_figure(fig, path)


def write_eval_plots(report: dict, attention: np.ndarray | None, timestamps: np.ndarray, plots_dir: Path) -> list[Path]:
    """All evaluation figures for one report; attention plots only when the model has attention."""
    cls = report["model"]["classification"]
    out = [plot_confusion_matrix(cls["confusion_matrix"], list(cls["per_class"]), plots_dir / "confusion_matrix.png")]
    if "confidence" in report["model"]:
        out.append(plot_reliability(report["model"]["confidence"]["reliability"], plots_dir / "reliability.png"))
    if attention is not None and report.get("attention"):
        out.append(plot_attention_by_lag(report["attention"]["by_lag"], plots_dir / "attention_by_lag.png",
                                         report["attention"].get("about_uniform")))
        out.append(plot_attention_heatmap(attention, timestamps, plots_dir / "attention_heatmap.png"))
    return out
