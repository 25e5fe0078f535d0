"""`cryptotrain train`: the command around `fit` (train/trainer.py), printing through report/training.py."""

from __future__ import annotations

import functools
from pathlib import Path

from rich.console import Console

from cryptotrain.config import Config
from cryptotrain.report.training import print_epoch, print_intro, print_summary
from cryptotrain.train.trainer import fit
from cryptotrain.report.progress import epoch_progress


def train_command(cfg: Config | None, *, run_name: str | None = None, resume: Path | None = None,
                  overfit_batch: bool = False, allow_data_change: bool = False,
                  console: Console | None = None) -> Path:
    """Train (or resume) a run; returns its directory."""
    console = console or Console()
    result = fit(cfg, resume=resume, run_name=run_name, overfit_batch=overfit_batch,
                 allow_data_change=allow_data_change,
                 on_start=functools.partial(print_intro, console),
                 on_epoch=functools.partial(print_epoch, console),
                 progress=functools.partial(epoch_progress, console))
    print_summary(console, result)
    return result.run_dir
