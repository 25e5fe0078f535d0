"""A walk-forward run's results from its folds' files: the stitched predictions, their metrics and
baselines (the same `evaluation_report` as `evaluate`), the per-fold table, and the backtest of the
stitched signals (the same `backtest.trade` engine, policy and costs).

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

from cryptotrain.backtest import policy
from cryptotrain.backtest.backtester import backtest_settings, trade, write_outputs
from cryptotrain.config import load_config
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.timestamps import candle_rows
from cryptotrain.errors import UserError
from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.eval_data import load_eval_dataset, split_rows, trained_heads, training_actions
from cryptotrain.evaluate.scorer import PREDICTION_COLUMNS
from cryptotrain.evaluate.summary import evaluation_report
from cryptotrain.fileio import atomic_path, atomic_write_text, to_jsonable
from cryptotrain.train.checkpoint import load_checkpoint
from cryptotrain.train import metrics_log

PLAN_FILE = "plan.json"
STATE_FILE = "walkforward.json"


@dataclass
class FoldScored:
    fold: int
    predictions: pd.DataFrame        # the fold's eval/test/predictions.csv
    baselines: dict[str, dict]       # all_baselines on the same windows
    conf_target: np.ndarray          # (n,) confidence target of those windows


def is_walkforward_dir(path: Path | None) -> bool:
    return path is not None and (Path(path) / PLAN_FILE).is_file() and (Path(path) / "folds").is_dir()


def read_plan(wf_dir: Path) -> dict:
    return json.loads((Path(wf_dir) / PLAN_FILE).read_text())


def fold_scored(fold_dir: Path, fold: int) -> FoldScored:
    """The fold's scored test windows and the baselines on them (from its best checkpoint)."""
    ck = load_checkpoint(fold_dir / "checkpoints" / "best.npz")
    ds = load_eval_dataset(ck, None, "test")
    idx = split_rows(ds, "test")
    preds = pd.read_csv(fold_dir / "eval" / "test" / "predictions.csv")
    if len(preds) != len(idx) or (preds["timestamp"].to_numpy() != ds.timestamps[idx]).any():
        raise UserError(f"{fold_dir}/eval/test/predictions.csv does not match the fold's test windows; "
                        "rerun the walkforward command to score it again")
    base = all_baselines(training_actions(ck, ds, None), ds.close, idx, seed=ck.config.train.seed)
    return FoldScored(fold, preds, base, ds.confidence[idx])


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
    model = {"action": frame["pred_action"].to_numpy() + 1, "probs": probs,
             "confidence": frame["confidence"].to_numpy() if trained["confidence"] else None,
             "pred_return": frame["pred_return"].to_numpy() if trained["return"] else None}
    baselines = {b: {k: _concat([s.baselines[b][k] for s in scored]) for k in ("action", "probs", "pred_return")}
                 for b in scored[0].baselines}
    report = evaluation_report(y_true=frame["true_action"].to_numpy() + 1, r=frame["forward_return"].to_numpy(),
                               conf_target=np.concatenate([s.conf_target for s in scored]), model=model,
                               baselines=baselines, timeframe=cfg.data.timeframe or "?", horizon=cfg.labels.horizon,
                               seed=cfg.train.seed)
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
    scored = [fold_scored(wf_dir / "folds" / str(k), k) for k in sorted(done)]
    frame, report = stitched_report(scored, cfg)
    with atomic_path(wf_dir / "predictions.csv", suffix=".csv") as tmp:
        frame[[*PREDICTION_COLUMNS, "fold"]].to_csv(tmp, index=False)
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


def backtest_stitched(wf_dir: Path, overrides: dict | None = None) -> tuple[dict, Any, list[Path]]:
    """Trade the stitched predictions (policy, engine, costs of `backtest`) -> (stats, settings, files)."""
    wf_dir = Path(wf_dir)
    cfg = load_config(wf_dir / "config.yaml")
    path = wf_dir / "predictions.csv"
    if not path.is_file():
        raise UserError(f"{path} not found; run `cryptotrain walkforward` to finish this walk-forward run")
    preds = pd.read_csv(path)
    bcfg = backtest_settings(cfg.backtest, overrides or {})
    candles, rep = load_ohlcv(cfg.data.path, timeframe=cfg.data.timeframe, gap_policy=cfg.data.gap_policy)
    candle_ts = candles["timestamp"].to_numpy()
    ts = preds["timestamp"].to_numpy(dtype=np.int64)
    rows, absent = candle_rows(ts, candle_ts)
    if absent.any():
        raise UserError(f"{path}: timestamps not in {cfg.data.path}; the data file changed since the walk-forward run")
    actions = policy.prediction_actions(preds["pred_action"].to_numpy(), preds["confidence"].to_numpy(), bcfg)
    # a missing fold's test period is traded flat, not with the last target of the fold before it
    present = set(preds["fold"])
    gaps = [f["first_ts"]["test"] for f in read_plan(wf_dir)["folds"]
            if f["fold"] not in present and ts[0] < f["first_ts"]["test"] < ts[-1]]
    if gaps:
        at = np.searchsorted(candle_ts, gaps)
        order = np.argsort(np.r_[rows, at], kind="stable")
        rows, actions = np.r_[rows, at][order], np.r_[actions, np.zeros(len(at))][order]
    results, stats = trade(candles, rep.timeframe_ms, rows, actions, bcfg)
    files = write_outputs(wf_dir / "backtest", results, stats, bcfg, f"{wf_dir.name} (stitched walk-forward test parts)")
    return stats, bcfg, files
