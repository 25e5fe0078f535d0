"""The job of one sweep trial: train its config into its run directory, report each epoch's
validation loss to the pruner, and backtest the validation split of a complete trial.

Idempotent, as the executor wants: `trial.json` (written last, atomically) is the trial's result
and a rerun returns it as it is; a run directory with a checkpoint is resumed by `fit` (a lost
worker, a killed driver); anything else (killed before its first epoch) is started afresh. The
test split is never touched here.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptotrain.backtest import run as run_backtest
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.orchestration.executor.jobs import JobContext
from cryptotrain.backtest.deflated_sharpe import backtest_candle_stats
from cryptotrain.orchestration.train_job import train_in_directory

RESULT = "trial.json"


def train_trial(ctx: JobContext) -> dict:
    """payload: {"config": resolved config dict}. -> the trial's result (also in trial.json)."""
    d = Path(ctx.directory)
    done = d / RESULT
    if done.is_file():
        return json.loads(done.read_text())

    def on_epoch(row: dict, first: bool) -> bool:
        return ctx.report({"epoch": row["epoch"], "val_loss": row["val_loss"]})

    trained = train_in_directory(ctx, on_epoch)   # resumes a trial a lost worker or a killed driver left
    pruned = trained.stopped_on_request
    result = {"state": "pruned" if pruned else "complete", "best_val_loss": trained.best_val_loss,
              "best_epoch": trained.best_epoch, "epochs": trained.last_epoch, "blas_threads": ctx.blas_threads,
              "val_losses": [r["val_loss"] for r in trained.rows]}
    if not pruned:
        result.update(_validation_backtest(d))
    atomic_write_text(done, json.dumps(to_jsonable(result), indent=2))
    return result


def _validation_backtest(run_dir: Path) -> dict:
    """The best checkpoint's validation-split backtest, with the config's backtest settings."""
    report = run_backtest(run_dir, split="val")
    st = backtest_candle_stats(report.results["model"])
    return {"val_sharpe": float(report.stats["model"]["Sharpe Ratio"]), "val_sharpe_candle": st["sharpe"],
            "val_skew": st["skew"], "val_kurtosis": st["kurtosis"], "val_candles": st["n"]}
