"""A walk-forward run's results from its folds' files: the stitched predictions, their metrics and
baselines (the same `evaluation_report` and `run_baselines` as `evaluate`: naive and fitted), the
per-fold table, and the backtest of the stitched signals (the ordinary run-mode backtest's
`predictions_decisions` and `trade_and_write`: policy, engine, costs, fitted baselines, verdict).

Everything is computed from the folds' directories (FOLD/eval/test/predictions.csv, the best
checkpoint's stored normalizer and thresholds for the baselines), so `evaluate --run WF_DIR` and
`backtest --run WF_DIR` redo it from disk and a resumed walk-forward gives the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.backtest.backtester import BacktestReport, predictions_decisions, trade_and_write
from cryptotrain.backtest.portfolio_backtest import PortfolioReport
from cryptotrain.backtest.settings import backtest_settings, settings_dir_name
from cryptotrain.backtest.stats import periods_per_year
from cryptotrain.config import load_config
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.errors import UserError
from cryptotrain.evaluate.eval_data import (calls_by_return, load_eval_dataset, model_actions, run_baselines,
                                            split_rows, trained_heads, untrained_head_notes)
from cryptotrain.evaluate.scorer import BASELINE_ACTION_COLUMNS, PREDICTION_COLUMNS
from cryptotrain.evaluate.summary import evaluation_report
from cryptotrain.fileio import atomic_path, atomic_write_text, read_state, to_jsonable
from cryptotrain.orchestration.walkforward.stitch_universe import (add_fold_portfolio, backtest_stitched_universe,
                                                                  write_stitched_universe)
from cryptotrain.train.checkpoint import load_checkpoint
from cryptotrain.train import metrics_log
from cryptotrain.train.rundir import dir_kind

PLAN_FILE = "plan.json"
STATE_FILE = "walkforward.json"


@dataclass
class FoldScored:
    fold: int
    predictions: pd.DataFrame        # the fold's eval/test/predictions.csv
    baselines: dict[str, dict]       # run_baselines on the same windows: naive and fitted
    conf_target: np.ndarray          # (n,) confidence target of those windows
    notes: list[str]                 # a fitted baseline skipped


def is_walkforward_dir(path: Path | None) -> bool:
    """A walk-forward directory by the one rule that names directories under runs/ (rundir.dir_kind)."""
    return path is not None and dir_kind(Path(path)) == "walkforward"


def read_plan(wf_dir: Path) -> dict:
    return read_state(Path(wf_dir) / PLAN_FILE, "rerun the walkforward command that made this directory: it "
                                                "writes the plan again and reuses the finished folds")


def fold_scored(fold_dir: Path, fold: int) -> FoldScored:
    """The fold's scored test windows and the baselines on them (from its best checkpoint)."""
    ck = load_checkpoint(fold_dir / "checkpoints" / "best.npz")
    ds = load_eval_dataset(ck, None, "test")
    idx = split_rows(ds, "test")
    preds = pd.read_csv(fold_dir / "eval" / "test" / "predictions.csv")
    if len(preds) != len(idx) or (preds["timestamp"].to_numpy() != ds.timestamps[idx]).any():
        raise UserError(f"{fold_dir}/eval/test/predictions.csv does not match the fold's test windows; "
                        "rerun the walkforward command to score it again")
    base, notes = run_baselines(ck, ds, idx, None)
    return FoldScored(fold, preds, base, ds.confidence[idx], notes)


def _concat(parts: list[Any]) -> Any:
    return None if any(p is None for p in parts) else np.concatenate(parts)


def stitched_report(scored: list[FoldScored], cfg) -> tuple[pd.DataFrame, dict]:
    """The stitched predictions (with a column fold) and the evaluation report on them."""
    frame = pd.concat([s.predictions.assign(fold=s.fold) for s in scored], ignore_index=True)
    ts = frame["timestamp"].to_numpy()
    if (np.diff(ts) <= 0).any():
        raise AssertionError("stitched test candles are not unique and increasing: the plan is wrong")
    trained = trained_heads(cfg.model)
    probs = frame[["p_sell", "p_hold", "p_buy"]].to_numpy()
    by_return = calls_by_return(cfg.model)   # a return regression: judged by its forecast's calls, as evaluate
    model = {"action": model_actions(probs, frame["pred_return"].to_numpy(), cfg.model, cfg.backtest),
             "probs": None if by_return else probs,
             "confidence": frame["confidence"].to_numpy() if trained["confidence"] else None,
             "pred_return": frame["pred_return"].to_numpy() if trained["return"] else None}
    # a baseline every fold has (LightGBM is skipped in all of them when it is not installed)
    names = [b for b in scored[0].baselines if all(b in s.baselines for s in scored)]
    baselines = {b: {k: _concat([s.baselines[b][k] for s in scored]) for k in ("action", "probs", "pred_return")}
                 for b in names}
    report = evaluation_report(y_true=frame["true_action"].to_numpy() + 1, r=frame["forward_return"].to_numpy(),
                               conf_target=np.concatenate([s.conf_target for s in scored]), model=model,
                               baselines=baselines, timeframe=cfg.data.timeframe or "?", horizon=cfg.labels.horizon,
                               seed=cfg.train.seed, costs=cfg.backtest,
                               notes=untrained_head_notes(trained, cfg.backtest) + sorted({n for s in scored
                                                                                           for n in s.notes}))
    return frame, report


def _interval(boot: dict, base: str, metric: str) -> dict | None:
    return boot["baselines"].get(base, {}).get("diff", {}).get(metric)


def fold_row(fold: dict, fold_dir: Path) -> dict:
    """One line of the per-fold table, from the fold's eval/test/metrics.json and metrics.jsonl."""
    m = json.loads((fold_dir / "eval" / "test" / "metrics.json").read_text())
    rows = metrics_log.read_rows(fold_dir / metrics_log.FILE)
    boot = m["bootstrap"]
    return {"fold": fold["fold"], "test_start": fold["dates"]["test"][0], "test_end": fold["dates"]["test"][1],
            "windows": m["n_windows"], "accuracy": m["model"]["classification"]["accuracy"],
            "balanced_accuracy": m["model"]["classification"]["balanced_accuracy"],
            "ic": m["model"].get("return", {}).get("ic_pearson"),
            "accuracy_ci": boot["model"].get("accuracy"),
            "minus_majority": _interval(boot, "majority", "accuracy"),
            "minus_persistence": _interval(boot, "persistence", "accuracy"),
            "best_epoch": m["epoch"], "train_seconds": float(sum(r.get("time_s") or 0.0 for r in rows))}


def write_stitched(wf_dir: Path, cfg, plan: dict, done: list[int], failed: dict[int, str]) -> dict:
    """predictions.csv and metrics.json of the walk-forward run; -> the metrics dict."""
    folds = {f["fold"]: f for f in plan["folds"]}
    if not done:
        raise UserError(f"{wf_dir}: no fold finished, nothing to stitch")
    if cfg.data.universe is not None:
        return write_stitched_universe(wf_dir, cfg, plan, done, failed, fold_row)
    scored = [fold_scored(wf_dir / "folds" / str(k), k) for k in sorted(done)]
    frame, report = stitched_report(scored, cfg)
    # the fitted baselines' actions too, where every fold has them, so that the backtest trades them
    extra = [c for c in BASELINE_ACTION_COLUMNS.values() if c in frame.columns and frame[c].notna().all()]
    with atomic_path(wf_dir / "predictions.csv", suffix=".csv") as tmp:
        frame[[*PREDICTION_COLUMNS, *extra, "fold"]].to_csv(tmp, index=False)
    missing = [{"fold": k, "test_start": folds[k]["dates"]["test"][0], "test_end": folds[k]["dates"]["test"][1],
                "error": failed.get(k, "not run")} for k in sorted(set(folds) - set(done))]
    metrics = {"run": str(wf_dir), "kind": "walkforward", "folds": [fold_row(folds[k], wf_dir / "folds" / str(k))
                                                                  for k in sorted(done)],
               "missing": missing, "first_ts": int(frame["timestamp"].iloc[0]),
               "last_ts": int(frame["timestamp"].iloc[-1]), **report}
    if missing:
        metrics["warnings"] = [f"fold {m['fold']} failed: test period {m['test_start']} .. {m['test_end']} is "
                               f"missing from the stitched results ({m['error']})" for m in missing] + metrics["warnings"]
    atomic_write_text(wf_dir / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    return metrics


def fold_trading(eq: pd.DataFrame, trades: pd.DataFrame, plan: dict, done: list[int], timeframe_ms: int) -> dict:
    """fold -> its test period in the stitched backtest (equity.csv, trades.csv of WF_DIR/backtest/):
    "start_ts"; "return_pct" = E_b / E_a - 1 with a its first test candle and b the candle after its
    last (a decision at t fills at the open of t + 1 and earns over that candle: so the folds' parts
    chain, and their returns compound to the stitched one when no fold is missing); "sharpe" =
    mean(r) / std(r, ddof 1) * sqrt(P) of the candle returns r_t = E_t / E_(t-1) - 1 over a + 1..b
    (stats.py's annualized Sharpe ratio, P periods per year); "trades": entries after a, up to b."""
    ts, equity = eq["timestamp"].to_numpy(), eq["equity"].to_numpy(dtype=np.float64)
    entry = trades["entry_time"].to_numpy(dtype=np.int64) if len(trades) else np.array([], dtype=np.int64)
    out = {}
    for f in plan["folds"]:
        if f["fold"] not in done:
            continue
        first, last = f["first_ts"]["test"], f["last_ts"]["test"]
        a = int(np.searchsorted(ts, first))
        b = min(int(np.searchsorted(ts, last, side="right")), len(ts) - 1)
        part = equity[a:b + 1]
        r = part[1:] / part[:-1] - 1.0 if len(part) > 1 else np.array([])
        sd = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
        out[f["fold"]] = {"start_ts": int(first), "return_pct": 100.0 * (equity[b] / part[0] - 1.0),
                          "sharpe": float(np.mean(r) / sd * np.sqrt(periods_per_year(timeframe_ms))) if sd > 0 else None,
                          "trades": int(((entry > first) & (entry <= last + timeframe_ms)).sum())}
    return out


def add_fold_trading(wf_dir: Path, metrics: dict, plan: dict, traded=None) -> dict:
    """Each fold row of `metrics` gets its return [%], Sharpe and trades in the stitched backtest of
    WF_DIR/backtest/ (when there is one; its settings under "fold_trading_settings"); metrics.json is
    rewritten. -> metrics. A universe's: from its portfolio backtest `traded` (stitch_universe.py; None:
    the stitched predictions are traded again with the config's settings, rewriting backtest/)."""
    if "universe" in metrics:
        return add_fold_portfolio(wf_dir, metrics, plan, traded or backtest_stitched_universe(wf_dir))
    bt = Path(wf_dir) / "backtest"
    if not (bt / "equity.csv").is_file() or not (bt / "trades.csv").is_file():
        return metrics
    timeframe_ms = timeframe_to_ms(load_config(Path(wf_dir) / "config.yaml").data.timeframe)
    rows = fold_trading(pd.read_csv(bt / "equity.csv"), pd.read_csv(bt / "trades.csv"), plan,
                        [r["fold"] for r in metrics["folds"]], timeframe_ms)
    for r in metrics["folds"]:
        r.update(rows.get(r["fold"], {}))
    if (bt / "stats.json").is_file():   # which settings traded them (a `backtest --run WF_DIR --fee-bps ...` may have)
        metrics["fold_trading_settings"] = json.loads((bt / "stats.json").read_text()).get("settings")
    atomic_write_text(Path(wf_dir) / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    return metrics


def backtest_stitched(wf_dir: Path, overrides: dict | None = None) -> BacktestReport | PortfolioReport:
    """Trade the stitched predictions through the ordinary run-mode path (backtester.predictions_decisions
    and trade_and_write: policy, engine, costs, the fitted baselines, the verdict) into WF_DIR/backtest/;
    a missing fold's test period is traded flat, not with the last target of the fold before it.
    A universe's: its policy's portfolio backtest (stitch_universe.py)."""
    wf_dir = Path(wf_dir)
    cfg = load_config(wf_dir / "config.yaml")
    if cfg.data.universe is not None:
        return backtest_stitched_universe(wf_dir, overrides)
    path = wf_dir / "predictions.csv"
    if not path.is_file():
        raise UserError(f"{path} not found; run `cryptotrain walkforward` to finish this walk-forward run")
    preds = pd.read_csv(path)
    ts = preds["timestamp"].to_numpy(dtype=np.int64)
    present = set(preds["fold"])
    gaps = [f["first_ts"]["test"] for f in read_plan(wf_dir)["folds"]
            if f["fold"] not in present and ts[0] < f["first_ts"]["test"] < ts[-1]]
    bcfg = backtest_settings(cfg.backtest, overrides or {})
    # the config's settings own backtest/ (the per-fold trading reads it); others get backtest-<settings>/
    d = predictions_decisions(preds, cfg, bcfg, src=str(path),
                              out_dir=wf_dir / settings_dir_name("backtest", cfg.backtest, bcfg), title=f"{wf_dir.name} (stitched walk-forward test parts)",
                              header="Walk-forward", provenance=None, flat_at=np.asarray(gaps, dtype=np.int64))
    return trade_and_write(d)
