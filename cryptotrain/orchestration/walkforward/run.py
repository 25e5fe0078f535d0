"""`walk_forward`: retrain through time and score only what each model could not have seen, quietly.

WF_DIR/
    config.yaml          the base config (with its walkforward section)
    plan.json            the folds (walkforward/plan.py): rows, dates and windows of each part
    walkforward.json     what a rerun checks: the config and each fold's dates and data sha256
    folds/<k>/           a normal run directory per fold (fit), scored on its test part by `score`
                         with its best checkpoint; fold.json marks it finished and scored
    predictions.csv      the folds' test predictions stitched in time, a column fold
    metrics.json         evaluate's report on them plus the per-fold table and missing folds
    backtest/            the stitched signals traded by `backtest.trade` (stats.json, equity.csv, ...)
    plots/               equity with fold boundaries, per-fold accuracy, the folds' timeline

A rerun of the same command resumes: a fold whose fold.json matches its planned config, dates and
data is reused, an unfinished fold resumes from its last checkpoint (train_job.py), and a changed
config or changed candles in a fold are refused (a new run name, or force=True to start over).
Folds are executor jobs (run_jobs: in process, local Ray or a cluster).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cryptotrain.backtest.backtester import BacktestReport
from cryptotrain.backtest.portfolio_backtest import PortfolioReport
from cryptotrain.config import Config, config_to_dict, config_to_yaml
from cryptotrain.dirlock import LOCK_FILE, dir_lock
from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import score
from cryptotrain.fileio import atomic_write_text, read_state
from cryptotrain.orchestration.executor.executor import check_counts, run_jobs
from cryptotrain.orchestration.executor.jobs import Event, Job, JobContext
from cryptotrain.orchestration.train_job import train_run
from cryptotrain.orchestration.walkforward.plan import make_plan
from cryptotrain.orchestration.walkforward.stitch import (PLAN_FILE, STATE_FILE, add_fold_trading, backtest_stitched,
                                                         write_stitched)
from cryptotrain.report.walkforward_plots import plot_fold_accuracy, plot_timeline, plot_wf_equity

FOLD_FN = "cryptotrain.orchestration.walkforward.run:train_fold"
FOLD_FILE = "fold.json"


def train_fold(ctx: JobContext) -> dict:
    """The fold's job: train (or resume) it, score its test part with the best checkpoint, mark it done."""
    out = train_run(ctx)
    score(ctx.directory, split="test", checkpoint="best")
    atomic_write_text(ctx.directory / FOLD_FILE, json.dumps(ctx.payload["marker"], indent=2) + "\n")
    return out


@dataclass
class WalkForwardResult:
    wf_dir: Path
    plan: dict
    metrics: dict | None
    backtest: BacktestReport | PortfolioReport | None   # the stitched backtest (a universe's: the portfolio's)
    failed: dict[int, str]                # fold -> one-line error
    reused: list[int]                     # folds finished by an earlier run
    files: list[Path] = field(default_factory=list)


def fold_key(k: int) -> str:
    return f"fold-{k}"


def _check_state(wf_dir: Path, state: dict, force: bool) -> None:
    path = wf_dir / STATE_FILE
    if not path.is_file():
        if (wf_dir / "folds").exists() and not force:
            raise UserError(f"{wf_dir} holds folds but no {STATE_FILE}; pass --force to start over or another --run-name")
        return
    fix = "use a new --run-name, or --force to start over in this directory"
    old = read_state(path, f"it records what the folds were trained with; restore it, or {fix}", ("config", "folds"))
    if old["config"] != state["config"]:
        keys = sorted(f"{s}.{k}" for s in state["config"] for k in state["config"][s]
                      if old["config"].get(s, {}).get(k) != state["config"][s][k])
        raise UserError(f"{wf_dir} was run with another config (differs at {', '.join(keys) or 'sections'}); {fix}")
    for k, f in state["folds"].items():
        if k in old["folds"] and old["folds"][k] != f:
            raise UserError(f"{wf_dir}: the candles of fold {k} changed since it was trained (data sha256 or dates "
                            "differ: the file was edited, or the fold was cut short by the end of the data and has "
                            f"grown since); restore the data file, or {fix}")


def walk_forward(cfg: Config, wf_dir: Path, *, workers: int = 1, address: str | None = None,
                 blas_threads: int | None = None, force: bool = False,
                 on_plan: Callable[[dict], None] | None = None,
                 on_event: Callable[[Event], Any] | None = None) -> WalkForwardResult:
    """Plan, train every fold (resuming), score, stitch, backtest and draw; see the module docstring.

    Everything is checked before the directory is made; then the command holds its lock (dirlock.py)
    to the end, so a second walk-forward on the same directory is refused and changes nothing."""
    check_counts(workers, blas_threads)
    folds, configs, header = make_plan(cfg)
    wf_dir = Path(wf_dir)
    wf_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(wf_dir, "walkforward"):
        return _walk_forward(cfg, wf_dir, folds, configs, header, workers=workers, address=address,
                             blas_threads=blas_threads, force=force, on_plan=on_plan, on_event=on_event)


def _clear(wf_dir: Path) -> None:
    """--force: remove everything in wf_dir but the lock the command holds."""
    for p in wf_dir.iterdir():
        if p.name != LOCK_FILE:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def _fold_done(d: Path, k: int, marker: dict) -> bool:
    mk = d / FOLD_FILE
    if not mk.is_file():
        return False
    fix = f"delete it and rerun the same command: fold {k} is then checked and scored again from its checkpoints"
    return read_state(mk, fix) == marker and (d / "eval" / "test" / "metrics.json").is_file()


def last_fold(wf_dir: Path, checkpoint: str = "best") -> tuple[Path, dict]:
    """The newest finished fold of a walk-forward directory (fold.json written, the checkpoint there): its
    run directory, and what `predict` says about it (the fold, how many were planned, its dates)."""
    wf_dir = Path(wf_dir)
    plan_path = wf_dir / PLAN_FILE
    plan = read_state(plan_path, "rerun the same `cryptotrain walkforward` command to write it again") \
        if plan_path.is_file() else {}
    folds = plan.get("folds") if isinstance(plan, dict) else None
    if not isinstance(folds, list):
        folds = []
    done = [f for f in folds if (wf_dir / "folds" / str(f["fold"]) / FOLD_FILE).is_file()
            and (wf_dir / "folds" / str(f["fold"]) / "checkpoints" / f"{checkpoint}.npz").is_file()]
    if not done:
        raise UserError(f"{wf_dir} is a walk-forward directory without a finished fold; run the walkforward to the "
                        "end (the same command resumes), or pass one fold's directory: "
                        f"{wf_dir / 'folds'}/N")
    f = max(done, key=lambda f: f["fold"])
    return wf_dir / "folds" / str(f["fold"]), {
        "dir": str(wf_dir), "fold": int(f["fold"]), "folds": len(folds),
        "finished": len(done), "train": f["dates"]["train"], "test": f["dates"]["test"]}


def _walk_forward(cfg: Config, wf_dir: Path, folds, configs, header, *, workers, address, blas_threads, force,
                  on_plan, on_event) -> WalkForwardResult:
    plan = {**header, "folds": [f.as_dict() for f in folds]}
    fold_dicts = {str(f.fold): config_to_dict(c) for f, c in zip(folds, configs)}
    state = {"config": config_to_dict(cfg),
             "folds": {str(f.fold): {"dates": f.dates, "rows": f.rows, "data_sha256": f.data_sha256} for f in folds}}
    if force:
        _clear(wf_dir)
    _check_state(wf_dir, state, force)
    (wf_dir / "folds").mkdir(parents=True, exist_ok=True)
    atomic_write_text(wf_dir / "config.yaml", config_to_yaml(cfg))
    atomic_write_text(wf_dir / PLAN_FILE, json.dumps(plan, indent=2) + "\n")
    atomic_write_text(wf_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")
    if on_plan is not None:
        on_plan(plan)

    def marker(k: int) -> dict:
        return {"config": fold_dicts[str(k)], **state["folds"][str(k)]}

    reused, jobs = [], []
    warm = cfg.walkforward.warm_start
    for f in folds:
        d = wf_dir / "folds" / str(f.fold)
        if _fold_done(d, f.fold, marker(f.fold)):
            reused.append(f.fold)
            continue
        # allow_data_change: the file's sha256 may change (candles appended); the fold's own rows were checked
        payload = {"config": fold_dicts[str(f.fold)], "allow_data_change": True, "marker": marker(f.fold)}
        after: tuple[str, ...] = ()
        if warm and f.fold > 1:   # from the previous fold's best parameters, so after it
            payload["start_from"] = str(wf_dir / "folds" / str(f.fold - 1) / "checkpoints" / "best.npz")
            after = (fold_key(f.fold - 1),) if any(j.key == fold_key(f.fold - 1) for j in jobs) else ()
        jobs.append(Job(fold_key(f.fold), d, payload, after=after))
    results = run_jobs(jobs, FOLD_FN, workers=workers, address=address, blas_threads=blas_threads,
                       on_event=on_event) if jobs else []
    failed: dict[int, str] = {}
    for r in results:
        k = int(r.key.split("-")[1])
        if not r.ok:
            failed[k] = r.error or "failed"
    done = sorted(reused + [int(r.key.split("-")[1]) for r in results if r.ok])
    metrics = write_stitched(wf_dir, cfg, plan, done, failed) if done else None
    traded = backtest_stitched(wf_dir) if done else None
    if done:
        add_fold_trading(wf_dir, metrics, plan, traded)   # each fold's return, ... in the stitched backtest
    files = write_plots(wf_dir, plan, metrics) if done else []
    return WalkForwardResult(wf_dir, plan, metrics, traded, failed, reused, files)


def write_plots(wf_dir: Path, plan: dict, metrics: dict) -> list[Path]:
    """plots/: the stitched equity with the fold boundaries (a universe's: its portfolio against the
    equal-weight basket and BTC), the per-fold accuracy, the folds' timeline."""
    plots = wf_dir / "plots"
    eq = pd.read_csv(wf_dir / "backtest" / "equity.csv")
    traded = [r for r in metrics["folds"] if "return_pct" in r]
    if "universe" in metrics:   # the fold's test start from the plan; the portfolio backtest's benchmarks
        start = {f["fold"]: f["first_ts"]["test"] for f in plan["folds"]}
        folds = [{**r, "start_ts": start[r["fold"]]} for r in traded]
        named = (("equal-weight basket", "equal_weight_equity"), ("BTC buy & hold", "btc_buy_and_hold_equity"))
        bench = {label: eq[col].to_numpy() for label, col in named if col in eq}
        policy = (metrics.get("fold_trading_settings") or {}).get("policy", "the config's")
        equity = plot_wf_equity(plots / "equity_folds.png", eq["timestamp"].to_numpy(), eq["equity"].to_numpy(), bench,
                                folds, model=f"walk-forward portfolio (policy {policy}, after costs)")
    else:
        equity = plot_wf_equity(plots / "equity_folds.png", eq["timestamp"].to_numpy(), eq["equity"].to_numpy(),
                                {"buy & hold (frictionless)": eq["buy_hold_equity"].to_numpy()}, traded)
    return [equity, plot_fold_accuracy(plots / "fold_accuracy.png", metrics["folds"]),
            plot_timeline(plots / "timeline.png", plan["folds"])]
