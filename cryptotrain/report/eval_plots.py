"""Evaluation figures (matplotlib, Agg backend), each written atomically as PNG:
attention by lag, attention heatmap over a sample of windows, confusion matrix,
reliability diagram of the confidence head, and permutation importance.

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


def plot_attention_by_lag(by_lag: list[float], path: Path) -> Path:
    """Bar chart of the mean attention weight per lag (0 = candle t), with the uniform level."""
    plt = pyplot()
    w = np.asarray(by_lag)
    fig, ax = plt.subplots(figsize=(max(6, 0.15 * len(w) + 2), 3.6))
    ax.bar(np.arange(len(w)), w, color="tab:blue")
    ax.axhline(1.0 / len(w), color="grey", ls=":", lw=1, label=f"uniform (1/{len(w)})")
    ax.set_xlabel("lag [candles before t]")
    ax.set_ylabel("mean attention weight")
    ax.set_title("Attention by lag")
    ax.legend()
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
    """Mean realized confidence target and hit rate against mean predicted confidence per bin."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfect calibration")
    if rows:
        x = [r["mean_predicted"] for r in rows]
        ax.plot(x, [r["mean_target"] for r in rows], "o-", label="realized confidence target")
        ax.plot(x, [r["hit_rate"] for r in rows], "s--", label="realized hit rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted confidence (bin mean)")
    ax.set_ylabel("realized")
    ax.set_title("Reliability of the confidence head")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_importance(imp: dict, path: Path) -> Path:
    """Horizontal bars of the drop in log loss and in balanced accuracy per feature (or group),
    with their 95% intervals; rows in the order of imp["rows"] (largest log-loss drop on top)."""
    plt = pyplot()
    rows = imp["rows"][::-1]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, max(3.0, 0.28 * len(rows) + 1.5)), sharey=True)
    for ax, key, title in ((axes[0], "log_loss", "drop in log loss [nats]"),
                           (axes[1], "balanced_accuracy", "drop in balanced accuracy")):
        v = np.array([r[key]["value"] for r in rows])
        err = np.array([[r[key]["value"] - r[key]["lo"], r[key]["hi"] - r[key]["value"]] for r in rows]).T
        ax.barh(y, v, xerr=np.nan_to_num(np.abs(err)) if len(rows) else None, color="tab:blue", alpha=0.8)
        ax.axvline(0.0, color="grey", lw=1)
        ax.set_xlabel(title)
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(y, [r["name"] for r in rows])
    fig.suptitle(f"Permutation importance by {imp['by'][:-1]} ({imp['split']} split, {imp['n_windows']} windows, "
                 f"{imp['repeats']} repeats, blocks of {imp['block_length']})")
    fig.tight_layout()
    return save_figure(fig, path)


def write_eval_plots(report: dict, attention: np.ndarray | None, timestamps: np.ndarray, plots_dir: Path) -> list[Path]:
    """All evaluation figures for one report; attention plots only when the model has attention."""
    cls = report["model"]["classification"]
    out = [plot_confusion_matrix(cls["confusion_matrix"], list(cls["per_class"]), plots_dir / "confusion_matrix.png")]
    if "confidence" in report["model"]:
        out.append(plot_reliability(report["model"]["confidence"]["reliability"], plots_dir / "reliability.png"))
    if attention is not None and report.get("attention"):
        out.append(plot_attention_by_lag(report["attention"]["by_lag"], plots_dir / "attention_by_lag.png"))
        out.append(plot_attention_heatmap(attention, timestamps, plots_dir / "attention_heatmap.png"))
    return out
