"""Progress displays: per epoch for `train` (a rich bar on a terminal, nothing per batch otherwise;
the command hands `epoch_progress` to `fit` as its `progress` callback), and per step for library
calls that report `on_progress(step, done, total)` (`StepProgress`: evaluate's long steps).

When stdout is not a terminal (CI logs, pipes) the bar is skipped and only the per-epoch rows
are printed, one line each, so logs stay readable.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class EpochEstimate:
    """Says once, after the first `after` batches that follow the first batch of the first epoch
    this command trains (the first one pays for warm-up), about how long an epoch and the epochs
    left will take, when an epoch takes `least` seconds or more (a short run needs no forecast).
    Pass one to every `epoch_progress` of a command."""

    def __init__(self, console: Console, after: int = 5, least: float = 2.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.console, self.after, self.least, self.clock = console, after, least, clock
        self.t0: float | None = None
        self.done = False

    def batch(self, seen: int, n_batches: int, epochs_left: int) -> None:
        if self.done:
            return
        if self.t0 is None:
            self.t0 = self.clock()   # the end of the first batch
            return
        if seen - 1 < min(self.after, n_batches - 1):
            return
        self.done = True
        per = (self.clock() - self.t0) / (seen - 1)
        if seen >= n_batches or per * n_batches < self.least:
            return
        self.console.print(f"about {per * n_batches:.0f} s per epoch ({n_batches} batches at {per * 1e3:.0f} ms, "
                           f"timed on batches 2 to {seen}; the validation pass comes on top), about "
                           f"{per * n_batches * epochs_left / 60:.1f} min for the {epochs_left} epoch(s) left",
                           markup=False, highlight=False, soft_wrap=True)


@contextmanager
def epoch_progress(console: Console, epoch: int, epochs: int, n_batches: int,
                   estimate: EpochEstimate | None = None) -> Iterator[Callable[[int, float, int], None]]:
    """Yields `on_batch(batch_index, loss, n_samples)` for the training loop."""
    if not console.is_terminal:
        count = [0]

        def on_plain_batch(bi: int, loss: float, n: int) -> None:
            count[0] += 1
            if estimate is not None:
                estimate.batch(count[0], n_batches, epochs - epoch + 1)

        yield on_plain_batch
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
        if estimate is not None:
            estimate.batch(int(progress.tasks[0].completed), n_batches, epochs - epoch + 1)

    with progress:
        yield on_batch


class StepProgress:
    """`on_progress(step, done, total)` for library steps (evaluate's scoring, fitted baselines,
    bootstrap intervals, permutation importance): on a terminal a rich bar per step with its ETA;
    otherwise plain lines for a step once it has run `plain_after` seconds (then at most every
    `every` seconds: done/total, elapsed, about how long is left) and when such a step ends, so a
    log shows what a long evaluate is doing and short steps add nothing. Use as a context manager."""

    def __init__(self, console: Console, plain_after: float = 2.0, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.console, self.plain_after, self.every, self.clock = console, plain_after, every, clock
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                            transient=True) if console.is_terminal else None
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}
        self.said: dict[str, float] = {}

    def __enter__(self) -> "StepProgress":
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.bar is not None:
            if step not in self.tasks:
                self.tasks[step] = self.bar.add_task(step, total=total)
            self.bar.update(self.tasks[step], completed=done, total=total)
            return
        now = self.clock()
        t0 = self.started.setdefault(step, now)
        elapsed = now - t0
        if elapsed < self.plain_after:
            return
        if done >= total:
            self.console.print(f"{step}: done in {elapsed:.1f} s", markup=False, highlight=False)
            self.started.pop(step)   # (the same step name again later starts afresh)
            self.said.pop(step, None)
        elif now - self.said.get(step, -float("inf")) >= self.every:
            self.said[step] = now
            left = f", about {elapsed / done * (total - done):.0f} s left" if done else ""
            self.console.print(f"{step}: {done}/{total} after {elapsed:.0f} s{left}", markup=False, highlight=False)
