"""What the user sees during training: the per-epoch table rows, the summary and the figure."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.fileio import atomic_path

# (header, metrics key, format, width)
COLUMNS = [
    ("epoch", "epoch", "{:d}", 5),
    ("train", "train_loss", "{:.4f}", 8),
    ("act", "train_action", "{:.4f}", 7),
    ("conf", "train_confidence", "{:.4f}", 7),
    ("ret", "train_return", "{:.4f}", 7),
    ("val", "val_loss", "{:.4f}", 8),
    ("val acc", "val_accuracy", "{:.3f}", 7),
    ("lr", "lr", "{:.2e}", 8),
    ("|grad|", "grad_norm", "{:.3f}", 7),
    ("time [s]", "time_s", "{:.1f}", 8),
    ("", "note", "{}", 0),
]


def header_line() -> str:
    return "  ".join(h.rjust(w) if w else h for h, _, _, w in COLUMNS)


def epoch_line(row: dict) -> str:
    cells = []
    for _, key, fmt, width in COLUMNS:
        value = row.get(key)
        text = "" if value is None else fmt.format(value)
        cells.append(text.rjust(width) if width else text)
    return "  ".join(cells).rstrip()


def print_epoch(console: Console, row: dict, first: bool) -> None:
    if first:
        console.print(header_line(), style="bold", highlight=False, soft_wrap=True)
    style = "green" if row.get("note") == "best" else None
    console.print(epoch_line(row), style=style, highlight=False, soft_wrap=True)


def plot_training(rows: list[dict], path: Path) -> None:
    """Loss (train, val) and accuracy (train, val) per epoch, written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        return
    ep = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(ep, [r["train_loss"] for r in rows], "o-", label="train")
    ax1.plot(ep, [r["val_loss"] for r in rows], "o-", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_title("Loss")
    ax1.legend()
    ax2.plot(ep, [r["train_accuracy"] for r in rows], "o-", label="train")
    ax2.plot(ep, [r["val_accuracy"] for r in rows], "o-", label="validation")
    ax2.axhline(1 / 3, color="grey", ls=":", lw=1, label="1/3 (chance, balanced classes)")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("action accuracy")
    ax2.set_title("Accuracy")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
