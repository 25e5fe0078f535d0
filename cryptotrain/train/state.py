"""What `fit` exchanges with its caller: the plan it announces, the callbacks it calls (each a
no-op unless given), the result it returns, and the state a run carries from epoch to epoch
(stored in every checkpoint)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, ContextManager

from cryptotrain.config import Config


@dataclass
class TrainPlan:
    """What a run is about to do; given to `on_start` before the first epoch."""
    run_dir: Path
    cfg: Config
    n_features: int
    timeframe: str
    split_sizes: dict[str, int]      # windows per split
    n_batches: int                   # optimizer steps per epoch
    overfit: bool
    resumed_after: int | None        # the checkpoint's epoch when resuming, else None


@dataclass
class TrainResult:
    run_dir: Path
    best_epoch: int | None
    best_val_loss: float | None
    epochs_run: int                  # epochs trained by this call
    last_epoch: int                  # epochs the run has completed in all
    stopped_early: bool              # patience ran out during this call
    already_stopped: bool            # a resume of a run that had already stopped early: nothing done
    overfit: bool
    config: Config                   # the run's resolved config (the stored one when resuming)
    rows: list[dict] = field(default_factory=list)  # every epoch row of metrics.jsonl
    stopped_on_request: bool = False # on_epoch returned True (a pruned sweep trial): checkpoints kept


@dataclass
class TrainState:
    """Where a run stands; every checkpoint stores it (epoch and global_step as their own fields,
    the rest as train_state) and a resume starts from it."""
    epoch: int = 0                       # epochs completed
    global_step: int = 0                 # optimizer steps taken (the learning-rate schedule's clock)
    best_val_loss: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0                  # epochs since the best one (early stopping's patience)
    overfit_batch: bool = False          # a --overfit-batch sanity run

    def saved(self) -> dict:
        """The checkpoint's train_state: every field but the two the checkpoint keeps on their own."""
        return {k: v for k, v in asdict(self).items() if k not in ("epoch", "global_step")}


def _no_progress(epoch: int, epochs: int, n_batches: int) -> ContextManager:
    return nullcontext(None)


def _nothing(*args) -> None:
    return None


@dataclass(frozen=True)
class TrainCallbacks:
    """What `fit` tells its caller, each a no-op unless given:
    on_start(plan) before the first epoch; on_epoch(row, first) after each epoch's metrics line
    (returning True stops the run after that epoch's checkpoints, e.g. a pruned sweep trial);
    progress(epoch, epochs, n_batches) -> a context manager yielding on_batch(i, loss, n) or None."""
    on_start: Callable[[TrainPlan], None] = _nothing
    on_epoch: Callable[[dict, bool], bool | None] = _nothing
    progress: Callable[[int, int, int], ContextManager] = _no_progress
