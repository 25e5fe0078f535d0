"""`cryptotrain train`: the command around `fit` (train/trainer.py), printing through report/training.py."""

from __future__ import annotations

import functools
from pathlib import Path

from rich.console import Console

from cryptotrain.commands.report import print_report_hint
from cryptotrain.config import Config
from cryptotrain.errors import Interrupted
from cryptotrain.report.training import print_epoch, print_intro, print_summary
from cryptotrain.train.trainer import TrainCallbacks, fit
from cryptotrain.report.progress import EpochEstimate, epoch_progress


def train_command(cfg: Config | None, *, run_name: str | None = None, resume: Path | None = None,
                  overfit_batch: bool = False, allow_data_change: bool = False,
                  console: Console | None = None) -> Path:
    """Train (or resume) a run; returns its directory. Ctrl-C -> Interrupted naming the --resume command."""
    console = console or Console()
    started: list[Path] = []

    def on_start(plan) -> None:
        started.append(plan.run_dir)
        print_intro(console, plan)

    try:
        result = fit(cfg, resume=resume, run_name=run_name, overfit_batch=overfit_batch,
                     allow_data_change=allow_data_change,
                     callbacks=TrainCallbacks(on_start=on_start, on_epoch=functools.partial(print_epoch, console),
                                              progress=functools.partial(epoch_progress, console,
                                                                        estimate=EpochEstimate(console))))
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(started[0] if started else resume)) from None
    print_summary(console, result)
    print_report_hint(console, result.run_dir)
    return result.run_dir


def interrupted_message(run_dir: Path | None) -> str:
    if run_dir is not None and (Path(run_dir) / "checkpoints" / "last.npz").is_file():
        return f"interrupted; the last finished epoch is kept: continue with `cryptotrain train --resume {run_dir}`"
    if run_dir is not None and Path(run_dir).is_dir():
        return f"interrupted before the first epoch finished; nothing to resume in {run_dir}"
    return "interrupted before the first epoch finished; nothing was kept: run the same command again"
