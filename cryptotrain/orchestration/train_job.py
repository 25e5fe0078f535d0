"""The generic job "train this config into this directory" for the executor (walk-forward folds,
sweep trials).

Payload: {"config": the config as a dict (config_to_dict)}, and optionally "allow_data_change"
(resume although the whole file's sha256 changed: the caller checked the rows it uses) and
"start_from" (a checkpoint file whose parameters a new run starts from: a warm start).
Idempotent, as the executor asks: a directory with checkpoints/last.npz is resumed by `fit`
(bit-identical to an uninterrupted run; a run that already stopped early does nothing), one
without is started afresh (whatever a run killed before its first epoch left is removed first).
Each epoch is reported through ctx.report (epoch, epochs, val_loss, train_loss, time_s, best);
True from the driver stops the run after that epoch, its checkpoints kept (fit's on_epoch
returning True: the one way a job is stopped, as a pruned sweep trial is). The BLAS thread count in force and the attempt are
recorded in DIR/worker.json.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from cryptotrain.config import config_from_dict
from cryptotrain.fileio import atomic_write_text
from cryptotrain.orchestration.executor.jobs import JobContext
from cryptotrain.train.checkpoint import load_checkpoint
from cryptotrain.train.trainer import TrainCallbacks, TrainResult, fit

WORKER_FILE = "worker.json"


def train_in_directory(ctx: JobContext, on_epoch=None) -> TrainResult:
    """Resume ctx.directory from its checkpoints/last.npz, or train ctx.payload["config"] afresh in
    it (removing what a run killed before its first checkpoint left); record the BLAS thread count
    and the attempt in DIR/worker.json. The one core of every training job (folds, sweep trials)."""
    cfg = config_from_dict(dict(ctx.payload["config"]), f"job {ctx.key}")
    run_dir = Path(ctx.directory)
    resumable = (run_dir / "checkpoints" / "last.npz").is_file()
    if not resumable and run_dir.exists():
        shutil.rmtree(run_dir)           # killed before its first checkpoint: nothing to keep
    run_dir.mkdir(parents=True, exist_ok=True)

    def on_start(plan) -> None:          # fit refuses a non-empty new directory: write once it exists
        atomic_write_text(run_dir / WORKER_FILE, json.dumps({"blas_threads": ctx.blas_threads,
                                                            "attempt": ctx.attempt}) + "\n")

    callbacks = TrainCallbacks(on_start=on_start, on_epoch=on_epoch or (lambda row, first: None))
    if resumable:
        return fit(None, resume=run_dir, allow_data_change=bool(ctx.payload.get("allow_data_change")),
                   callbacks=callbacks)
    start = ctx.payload.get("start_from")
    return fit(cfg, run_dir, callbacks=callbacks,
               start_params=load_checkpoint(Path(start)).params if start else None)


def train_run(ctx: JobContext) -> dict:
    """Train (or resume) ctx.payload["config"] in ctx.directory; -> a summary of the run."""
    t0 = time.perf_counter()
    epochs = dict(ctx.payload["config"]).get("train", {}).get("epochs")

    def on_epoch(row: dict, first: bool) -> bool:   # True: the driver asks the run to stop
        return ctx.report({"epoch": row["epoch"], "epochs": epochs, "val_loss": row["val_loss"],
                           "train_loss": row["train_loss"], "time_s": row["time_s"], "best": row["note"] == "best"})

    res = train_in_directory(ctx, on_epoch)
    if res.stopped_on_request:
        return {"stopped": True, "seconds": time.perf_counter() - t0}
    return {"best_epoch": res.best_epoch, "best_val_loss": res.best_val_loss, "last_epoch": res.last_epoch,
            "epochs_run": res.epochs_run, "stopped_early": res.stopped_early, "stopped": False,
            "seconds": time.perf_counter() - t0}
