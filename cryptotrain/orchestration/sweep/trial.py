"""The job of one sweep trial: train its config into its run directory, report each epoch's
validation loss to the pruner, and backtest the validation split of a complete trial.

Idempotent, as the executor wants: `trial.json` (written last, atomically) is the trial's result
and a rerun returns it as it is; a run directory with a checkpoint is resumed by `fit` (a lost
worker, a killed driver); anything else (killed before its first epoch) is started afresh. The
test split is never touched here. A complete trial keeps its validation backtest's per-candle
returns in `val_returns.npz` (timestamp, r): the sweep's PBO (results.py) compares the trials on them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from cryptotrain.backtest import run as run_backtest
from cryptotrain.fileio import atomic_write_bytes, atomic_write_text, to_jsonable
from cryptotrain.orchestration.executor.jobs import JobContext
from cryptotrain.backtest.deflated_sharpe import backtest_candle_stats, candle_returns
from cryptotrain.orchestration.train_job import train_in_directory

RESULT = "trial.json"
RETURNS = "val_returns.npz"


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
    """The best checkpoint's validation-split backtest, with the config's backtest settings; its
    per-candle returns r_t = E_t / E_(t-1) - 1 (as backtest_candle_stats) saved in RETURNS."""
    report = run_backtest(run_dir, split="val")
    model = report.results["model"]
    st = backtest_candle_stats(model)
    buf = io.BytesIO()
    np.savez(buf, timestamp=np.asarray(model.timestamps, dtype=np.int64), r=candle_returns(model))
    atomic_write_bytes(run_dir / RETURNS, buf.getvalue())
    return {"val_sharpe": float(report.stats["model"]["Sharpe Ratio"]), "val_sharpe_candle": st["sharpe"],
            "val_skew": st["skew"], "val_kurtosis": st["kurtosis"], "val_candles": st["n"]}
