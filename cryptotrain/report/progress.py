"""Per-epoch progress display for `train`: a rich bar on a terminal, nothing per batch otherwise.
The command hands `epoch_progress` to `fit` as its `progress` callback.

When stdout is not a terminal (CI logs, pipes) the bar is skipped and only the per-epoch rows
are printed, one line each, so logs stay readable.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextmanager
def epoch_progress(console: Console, epoch: int, epochs: int, n_batches: int) -> Iterator[Callable[[int, float, int], None]]:
    """Yields `on_batch(batch_index, loss, n_samples)` for the training loop."""
    if not console.is_terminal:
        yield lambda bi, loss, n: None
        return
    progress = Progress(
        TextColumn(f"epoch {epoch}/{epochs}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[sps]:,.0f} samples/s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("train", total=n_batches, loss=float("nan"), sps=0.0)
    t0 = time.perf_counter()
    seen = [0]

    def on_batch(bi: int, loss: float, n: int) -> None:
        seen[0] += n
        elapsed = time.perf_counter() - t0
        progress.update(task, advance=1, loss=loss, sps=seen[0] / elapsed if elapsed > 0 else 0.0)

    with progress:
        yield on_batch
