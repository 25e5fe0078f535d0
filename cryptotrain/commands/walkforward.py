"""`cryptotrain walkforward` and the walk-forward branches of `evaluate` / `backtest --run WF_DIR`:
the commands around orchestration/walkforward/ (run.py, stitch.py), printing through report/."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from cryptotrain.commands.portfolio import print_portfolio_report
from cryptotrain.commands.report import print_report_hint
from cryptotrain.config import Config, load_config
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import RunFailure, UserError
from cryptotrain.fileio import to_jsonable
from cryptotrain.orchestration.walkforward.run import walk_forward
from cryptotrain.orchestration.walkforward.stitch import add_fold_trading, backtest_stitched, read_plan, write_stitched
from cryptotrain.report.backtest_report import print_backtest
from cryptotrain.report.eval_tables import print_evaluation
from cryptotrain.report.walkforward_report import FoldProgress, print_cross_line, print_fold_table, print_plan


def walkforward_dir(cfg: Config, config_path: Path, run_name: str | None) -> Path:
    """runs_dir/walkforward-<run name, default the config file's stem>: the same command, the same directory."""
    name = run_name or config_path.stem
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise UserError(f"--run-name {name!r}: use only letters, digits, '.', '_' and '-'")
    return Path(cfg.train.runs_dir) / f"walkforward-{name}"


def print_stitched(console: Console, wf_dir: Path, metrics: dict) -> None:
    print_fold_table(console, metrics["folds"], metrics["missing"])
    if "universe" in metrics:   # a universe: the stitched cross-section; its portfolio is printed by the backtest
        print_cross_line(console, metrics)
        return
    print_evaluation(metrics, console, title=f"{wf_dir.name}: stitched test parts of {len(metrics['folds'])} folds, "
                                             f"{metrics['n_windows']} windows")


def walkforward_command(cfg: Config, wf_dir: Path, *, workers: int, address: str | None, blas_threads: int | None,
                        force: bool, console: Console) -> Path:
    progress: dict[str, Any] = {}

    def on_plan(plan: dict) -> None:
        print_plan(console, plan)
        console.print(f"writing {wf_dir}", style="dim", markup=False)

    def on_event(event) -> None:
        if "p" not in progress:
            plan = read_plan(wf_dir)
            progress["p"] = FoldProgress(console, [f["fold"] for f in plan["folds"]]).__enter__()
        progress["p"].update(event)

    try:
        res = walk_forward(cfg, wf_dir, workers=workers, address=address, blas_threads=blas_threads, force=force,
                           on_plan=on_plan, on_event=on_event)
    finally:
        if "p" in progress:
            progress["p"].__exit__(None, None, None)
    if res.reused:
        console.print(f"reused finished folds {', '.join(map(str, res.reused))}", style="dim", markup=False)
    if res.metrics is not None and "universe" in res.metrics:
        print_stitched(console, wf_dir, res.metrics)
        print_portfolio_report(res.backtest, console)
    elif res.metrics is not None:
        print_stitched(console, wf_dir, res.metrics)
        cfg_b = load_config(wf_dir / "config.yaml").backtest
        print_backtest(console, res.backtest.stats, header="Walk-forward", title=f"{wf_dir.name} (stitched test parts)",
                       settings=cfg_b, timeframe=cfg.data.timeframe or "?", out_dir=wf_dir / "backtest",
                       verdict=res.backtest.verdict)
        for f in res.files:
            console.print(f"wrote {f}", style="dim", markup=False)
        print_report_hint(console, wf_dir)
    if res.failed:
        raise RunFailure("; ".join(f"fold {k} failed: {e}" for k, e in sorted(res.failed.items())))
    return wf_dir


def evaluate_walkforward(wf_dir: Path, as_json: bool, console: Console) -> dict:
    """Redo the stitched metrics from the folds on disk and print them."""
    wf_dir = Path(wf_dir)
    cfg = load_config(wf_dir / "config.yaml")
    with dir_lock(wf_dir, "evaluate"):   # it rewrites the stitched files a running walkforward writes
        plan = read_plan(wf_dir)
        done = [f["fold"] for f in plan["folds"] if (wf_dir / "folds" / str(f["fold"]) / "fold.json").is_file()]
        metrics = add_fold_trading(wf_dir, write_stitched(wf_dir, cfg, plan, done, {}), plan)
    if as_json:
        console.print_json(json.dumps(to_jsonable(metrics)))
    else:
        print_stitched(console, wf_dir, metrics)
    return metrics


def backtest_walkforward(wf_dir: Path, overrides: dict, console: Console) -> dict:
    with dir_lock(wf_dir, "backtest"):
        rep = backtest_stitched(Path(wf_dir), overrides)
    if hasattr(rep, "per_pair"):   # a universe's portfolio backtest
        return print_portfolio_report(rep, console)
    print_backtest(console, rep.stats, header="Walk-forward", title=f"{Path(wf_dir).name} (stitched test parts)",
                   settings=rep.settings, timeframe=rep.timeframe, out_dir=rep.out_dir, verdict=rep.verdict)
    return rep.stats
