"""What the user sees during training: the plan, the per-epoch table rows, the summary and the figure."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from cryptotrain.report.figures import pyplot, save_figure

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
        console.print(header_line(), style="bold", highlight=False, soft_wrap=True, markup=False)
    style = "green" if row.get("note") == "best" else None
    console.print(epoch_line(row), style=style, highlight=False, soft_wrap=True, markup=False)


def print_intro(console: Console, plan) -> None:
    """What the run is about to do (`plan`: train.trainer.TrainPlan)."""
    cfg, n, n_batches = plan.cfg, plan.split_sizes, plan.n_batches
    if plan.resumed_after is not None:
        console.print(f"resuming {plan.run_dir} after epoch {plan.resumed_after}", markup=False)
    console.print(f"[bold]{cfg.model.type}[/] on {escape(f'{cfg.data.market()} {plan.timeframe} from {cfg.data.source()}')}: "
                  f"{plan.n_features} features, window {cfg.data.window}, "
                  f"windows train/val/test {n['train']}/{n['val']}/{n['test']}")
    mode = (f"overfit-batch sanity mode: one batch of {cfg.train.batch_size} windows, {n_batches} steps per epoch, "
            f"constant lr {cfg.train.lr:g}, no dropout; the val columns score that same batch in eval mode"
            if plan.overfit else f"{n_batches} batches of {cfg.train.batch_size} per epoch")
    console.print(f"{mode}, up to {cfg.train.epochs} epochs; run directory {plan.run_dir}", markup=False)


def print_summary(console: Console, result) -> None:
    """How the run ended (`result`: train.trainer.TrainResult)."""
    if result.already_stopped:
        console.print(f"{result.run_dir} already stopped early after epoch {result.last_epoch} "
                      f"(patience {result.config.train.patience}); nothing to resume", markup=False)
        return
    if result.stopped_early:
        console.print(f"early stopping: no validation improvement above {result.config.train.min_delta} "
                      f"for {result.config.train.patience} epochs", markup=False)
    rows = result.rows
    if result.overfit and rows:
        first, last = rows[0]["train_loss"], rows[-1]["train_loss"]
        console.print(f"overfit-batch: training loss {first:.4f} -> {last:.4f} "
                      f"({'OK, it goes to ~0' if last < 0.1 * first else 'did NOT go to ~0: check the model'})",
                      markup=False)
    if result.best_epoch is not None:
        console.print(f"best epoch {result.best_epoch}: validation loss {result.best_val_loss:.5f}", markup=False)
    console.print(f"run written to [bold]{escape(str(result.run_dir))}[/] "
                  "(checkpoints/best.npz, metrics.jsonl, plots/training.png)")
    if Path(result.config.train.runs_dir) != Path("runs") and not result.overfit:
        # a plain `evaluate` reads runs/latest, which this run did not move
        console.print(f"evaluate it with: cryptotrain evaluate --run {result.run_dir}", soft_wrap=True, markup=False)


def plot_training(rows: list[dict], path: Path, val_majority: float | None = None,
                  action_trained: bool = True) -> None:
    """Loss (train, val) and accuracy (train, val) per epoch, written atomically as PNG.

    `val_majority`: the share of the validation split's most common class, the accuracy of always
    saying it, drawn as the line to beat (1/3 only when the classes are balanced, which cost-threshold
    labels are not). `action_trained` False (model.w_action = 0): the action head's accuracy is its
    initialization's, so the right panel is the validation loss alone, on its own scale, best epoch marked."""
    if not rows:
        return
    plt = pyplot()
    ep = [r["epoch"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(ep, [r["train_loss"] for r in rows], "o-", label="train")
    ax1.plot(ep, [r["val_loss"] for r in rows], "o-", label="validation")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_title("Loss")
    ax1.legend()
    if action_trained:
        ax2.plot(ep, [r["train_accuracy"] for r in rows], "o-", label="train")
        ax2.plot(ep, [r["val_accuracy"] for r in rows], "o-", label="validation")
        if val_majority is not None:
            ax2.axhline(val_majority, color="grey", ls=":", lw=1,
                        label=f"{val_majority:.3f} (validation majority class)")
        ax2.set_ylabel("action accuracy")
        ax2.set_title("Accuracy")
    else:
        val = [r["val_loss"] for r in rows]
        best = min(range(len(val)), key=val.__getitem__)
        ax2.plot(ep, val, "o-", color="tab:orange", label="validation")
        ax2.plot([ep[best]], [val[best]], "k*", ms=12, label=f"best: epoch {ep[best]}, {val[best]:.5f}")
        ax2.set_ylabel("loss")
        ax2.set_title("Validation loss, zoomed (action head untrained)")
    ax2.set_xlabel("epoch")
    ax2.legend()
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole: no 1.5 tick in short runs
    fig.tight_layout()
    save_figure(fig, path)
