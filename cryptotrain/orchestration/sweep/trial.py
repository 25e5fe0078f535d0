"""The job of one sweep trial: train its config into its run directory, report each epoch's
validation loss to the pruner, and backtest the validation split of a complete trial.

Idempotent, as the executor wants: `trial.json` (written last, atomically) is the trial's result
and a rerun returns it as it is; a run directory with a checkpoint is resumed by `fit` (a lost
worker, a killed driver); anything else (killed before its first epoch) is started afresh. The
test split is never touched here. A complete trial keeps its validation backtest's per-candle
returns in `val_returns.npz` (timestamp, r): the sweep's PBO (results.py) compares the trials on them.
A universe trial's validation backtest is its portfolio under the config's policy (val_portfolio_sharpe,
its returns saved the same way), beside val_ic: the mean over the validation timestamps of the
cross-sectional Rank IC of the score (evaluate/cross_section.py) against the realized forward returns,
on the cells with both and at timestamps with >= features.cross_min_pairs pairs.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.backtest import run as run_backtest
from cryptotrain.backtest.universe_backtest import run as run_universe_backtest, score_column
from cryptotrain.config import load_config
from cryptotrain.evaluate.cross_section import common_cells, cross_ic, score_panel
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
        universe = load_config(d / "config.yaml").data.universe is not None
        result.update(_universe_validation(d) if universe else _validation_backtest(d))
    atomic_write_text(done, json.dumps(to_jsonable(result), indent=2))
    return result


def _validation_backtest(run_dir: Path) -> dict:
    """The best checkpoint's validation-split backtest, with the config's backtest settings; its
    per-candle returns r_t = E_t / E_(t-1) - 1 (as backtest_candle_stats) saved in RETURNS."""
    report = run_backtest(run_dir, split="val")
    return {"val_sharpe": float(report.stats["model"]["Sharpe Ratio"]), **_save_returns(run_dir, report.results["model"])}


def _universe_validation(run_dir: Path) -> dict:
    """A universe trial: its portfolio on the validation split (the config's policy, costs and settings,
    as `backtest --run`), returns saved in RETURNS, and val_ic from the predictions evaluate wrote."""
    report = run_universe_backtest(run_dir, split="val")
    cfg = load_config(run_dir / "config.yaml")
    frame = pd.read_csv(run_dir / "eval" / "val" / "predictions.csv")
    return {"val_portfolio_sharpe": float(report.stats["portfolio"]["Sharpe Ratio"]),
            "val_ic": val_rank_ic(frame, cfg.features.cross_min_pairs),
            **_save_returns(run_dir, report.results["portfolio"])}


def val_rank_ic(frame: pd.DataFrame, min_pairs: int) -> float:
    """Mean RankIC_t of a universe predictions frame (module docstring); the score is pred_return when
    the frame has a finite one, else p_buy - p_sell (as the portfolio policy ranks). NaN: no cross-section."""
    score = score_column(frame, "eval/val/predictions.csv")[0]
    _, _, panel = score_panel(frame.assign(score=score), ["score"])
    cells = common_cells(panel["forward_return"], {"score": panel["score"]}, min_pairs)
    rank_ic = cross_ic(panel["score"], panel["forward_return"], cells)[1]
    rank_ic = rank_ic[np.isfinite(rank_ic)]
    return float(rank_ic.mean()) if len(rank_ic) else float("nan")


def _save_returns(run_dir: Path, result) -> dict:
    """r_t = E_t / E_(t-1) - 1 of a backtest result (as backtest_candle_stats) into RETURNS; its candle stats."""
    st = backtest_candle_stats(result)
    buf = io.BytesIO()
    np.savez(buf, timestamp=np.asarray(result.timestamps, dtype=np.int64), r=candle_returns(result))
    atomic_write_bytes(run_dir / RETURNS, buf.getvalue())
    return {"val_sharpe_candle": st["sharpe"], "val_skew": st["skew"], "val_kurtosis": st["kurtosis"],
            "val_candles": st["n"]}
