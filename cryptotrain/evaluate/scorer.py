"""`score`: evaluate a trained run's checkpoint on a split, quietly, and write what it found.

Steps: resolve the run (default runs/latest) and checkpoint (best|last); rebuild the split's
windows (eval_data.py: the checkpoint's stored config, normalizer and label thresholds, and on
the run's own file its stored rows and split start times, so candles prepended or appended
since training never move into the test split); run the model in eval mode in batches of
train.batch_size; compute metrics, baselines on the same windows (naive ones, and the fitted
ones of fitted_baselines.py, learned from the training split of the run's own file), bootstrap
intervals, verdicts, leakage warnings, attention and (with `importance`) permutation importance
on the validation split; write, atomically,

    RUN_DIR/eval/<split>/predictions.csv    one row per window (columns: PREDICTION_COLUMNS, then
                                            the fitted baselines' actions, BASELINE_ACTION_COLUMNS); a
                                            universe run: one row per (pair, decision time), sorted by
                                            time then symbol, a `symbol` column after timestamp
    RUN_DIR/eval/<split>/metrics.json       everything in the report (NaN -> null), and the
                                            provenance of predictions.csv (provenance.py)
    RUN_DIR/eval/<split>/plots/*.png        confusion, reliability, attention by lag, heatmap,
                                            importance, cross_section (a universe run)

With `data` (or `data_dir`, a universe run's pairs in another folder) the output directory is
RUN_DIR/eval/<file or folder name>-<split>/ so the run's own
evaluation is never overwritten; the file's timeframe must equal the run's; data.start / end /
last_rows of the run's config are not applied to it; split "all" (every labelled window of the
file) is allowed only with `data`. Nothing is printed: commands/evaluate.py prints the result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from cryptotrain import blas
from cryptotrain.data.changes import describe_data_change, window_counts
from cryptotrain.data.dataset import iso_utc
from cryptotrain.data.features.basic import feature_groups
from cryptotrain.data.labels import action_to_position
from cryptotrain.data.ohlcv import file_stem
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import UserError
from cryptotrain.evaluate.eval_data import (calls_by_return, load_eval_dataset, model_actions, pinned, run_baselines,
                                            split_rows, trained_heads, training_overlap, untrained_head_notes)
from cryptotrain.evaluate.guards import check_finite_outputs, check_finite_params
from cryptotrain.evaluate.importance import IMPORTANCE_CHOICES, permutation_importance
from cryptotrain.evaluate.per_pair import per_pair_report
from cryptotrain.evaluate.provenance import predictions_provenance
from cryptotrain.evaluate.cross_summary import universe_cross_section
from cryptotrain.evaluate.summary import LABELS, evaluation_report
from cryptotrain.csv_writer import write_csv
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.models.inference import EVAL_COLUMNS, predict_with_loss, predicted_action
from cryptotrain.outdir import output_unit
from cryptotrain.report.cross_section import plot_cross_section
from cryptotrain.report.eval_plots import plot_importance, write_eval_plots
from cryptotrain.train.checkpoint import check_matches_run, load_checkpoint
from cryptotrain.train.metrics_log import logged_val_loss
from cryptotrain.train.rundir import resolve_run

PREDICTION_COLUMNS = ["timestamp", "close", "p_sell", "p_hold", "p_buy", "pred_action", "confidence",
                      "pred_return", "true_action", "forward_return"]
# Actions of the fitted baselines, -1/0/1 like pred_action, so that backtest trades them too.
BASELINE_ACTION_COLUMNS = {"linear": "linear_action", "lightgbm": "lightgbm_action"}
SPLIT_CHOICES = ("test", "val")
CHECKPOINT_CHOICES = ("best", "last")
MAX_IMPORTANCE_REPEATS = 1000   # each repeat re-scores the val split once per feature


@dataclass
class EvalResult:
    metrics: dict              # what metrics.json holds (before NaN -> null); includes the report's keys
    report: dict               # evaluate.summary.evaluation_report (+ warnings), for the tables
    predictions: pd.DataFrame  # predictions.csv
    out_dir: Path
    files: list[Path]          # predictions.csv, metrics.json, then the plots, in writing order


def score(run_dir: Path | None = None, split: str = "test", checkpoint: str = "best",
          data: Path | None = None, importance: str | None = None, importance_repeats: int = 5,
          on_progress: Callable[[str, int, int], None] | None = None, data_dir: Path | None = None) -> EvalResult:
    """Score RUN_DIR's `checkpoint` on `split` (of `data` when given) and write the outputs.

    importance "features" | "groups": also the permutation importance on the validation split
    (importance.py), in metrics.json under "importance" and in plots/importance.png.
    The run directory is locked while this runs (dirlock.py): not during a train or another
    evaluate or backtest of the same run. The output directory is replaced as one unit (outdir.py).
    on_progress(step, done, total): the steps (scoring, fitting baselines, bootstrap intervals,
    permutation importance) as they go, for a progress display (report/progress.py StepProgress).
    """
    _check_choices(split, checkpoint, data or data_dir)
    if importance is not None and importance not in IMPORTANCE_CHOICES:
        raise UserError(f"--importance {importance!r}: use features or groups")
    if not 1 <= importance_repeats <= MAX_IMPORTANCE_REPEATS:
        raise UserError(f"--importance-repeats {importance_repeats}: use 1 or more and at most {MAX_IMPORTANCE_REPEATS} "
                        "(each repeat scores the val split once per feature; 5 to 20 is usual)")
    run_dir = resolve_run(run_dir)
    with dir_lock(run_dir, "evaluate"):
        return _score(run_dir, split, checkpoint, data, importance, importance_repeats,
                      on_progress or (lambda step, done, total: None), data_dir)


def _score(run_dir: Path, split: str, checkpoint: str, data: Path | None, importance: str | None,
           importance_repeats: int, tick: Callable[[str, int, int], None], data_dir: Path | None = None) -> EvalResult:
    ck_path = run_dir / "checkpoints" / f"{checkpoint}.npz"
    ck = load_checkpoint(ck_path)
    check_matches_run(ck, ck_path, run_dir)
    check_finite_params(ck.params, str(ck_path))
    cfg = ck.config
    ds = load_eval_dataset(ck, data, split, data_dir)
    data = data or data_dir   # from here on: "other data than the run's own" (a universe's folder too)
    idx = split_rows(ds, split)
    if len(idx) == 0:
        raise UserError(f"the {split} split of {ds.fingerprint['path']} has no complete window; use a longer file")

    # the model at training's BLAS thread count (OpenBLAS rounds by it): training's numbers, predict's too
    tick(f"scoring the {split} split", 0, 1)
    with np.errstate(over="ignore", invalid="ignore"), blas.limited(ck.train_state.get("blas_threads")):
        pred, (loss, parts, acc) = predict_with_loss(ck.params, ds, idx, cfg.model, cfg.train.batch_size)
    tick(f"scoring the {split} split", 1, 1)
    check_finite_outputs(pred, ds.timestamps[idx], f"{ck_path} on the {split} split of {ds.fingerprint['path']}")
    trained = trained_heads(cfg.model)
    if not trained["return"]:
        pred["pred_return"] = np.full(len(idx), np.nan)   # a random projection: nothing to score or to save
    by_return = calls_by_return(cfg.model)   # a return regression: judged by its forecast's calls, not by probs
    model = {"action": model_actions(pred["probs"], pred["pred_return"], cfg.model, cfg.backtest),
             "probs": None if by_return else pred["probs"],
             "confidence": pred["confidence"] if trained["confidence"] else None,
             "pred_return": pred["pred_return"] if trained["return"] else None}
    baselines, fit_notes = run_baselines(ck, ds, idx, data, on_progress=tick)
    report = evaluation_report(y_true=ds.action[idx], r=ds.ret[idx], conf_target=ds.confidence[idx], model=model,
                               baselines=baselines, attention=pred["attention"], timeframe=ds.timeframe,
                               horizon=ds.horizon, seed=cfg.train.seed, costs=cfg.backtest,
                               notes=untrained_head_notes(trained, cfg.backtest) + fit_notes, on_progress=tick)
    if ds.symbols is not None:   # a universe: each pair's windows on their own, keyed by symbol
        report["per_pair"] = per_pair_report(ds.symbols, ds.symbol_id[idx], y_true=ds.action[idx], r=ds.ret[idx],
                                             model=model, baselines=baselines, horizon=ds.horizon, seed=cfg.train.seed,
                                             on_progress=tick)
    cross = universe_cross_section(ds, idx, model, baselines, cfg, LABELS, tick) if ds.symbols is not None else (None, None)
    if cross[0] is not None:     # ... and across the pairs at each timestamp (cross_summary.py)
        report["cross_section"] = cross[0]
    if importance is not None:
        val = split_rows(ds, "val")
        if len(val) == 0:
            raise UserError(f"--importance: the validation split of {ds.fingerprint['path']} has no complete window")
        with blas.limited(ck.train_state.get("blas_threads")):   # the same model numbers as the pass above
            report["importance"] = permutation_importance(ck.params, ds, val, cfg.model, cfg.train.batch_size,
                                                          by=importance, repeats=importance_repeats,
                                                          seed=cfg.train.seed, groups=feature_groups(cfg.features),
                                                          on_progress=tick)
    changed = data is None and ds.fingerprint.get("sha256") != ck.fingerprint.get("sha256")
    report["warnings"][:0] = _data_warnings(ck, ds, idx, data, changed)
    # an --overfit-batch run logs the loss of its one training batch as val_loss: nothing to compare
    comparable = split == "val" and data is None and not ck.train_state.get("overfit_batch")
    logged = logged_val_loss(run_dir, ck.epoch) if comparable else None
    if logged is not None and ck.train_state.get("eval_columns") != EVAL_COLUMNS:
        logged = None   # trained before eval passes put windows in the column of their time: other last bits
        report["notes"].append("this run's validation loss was logged before evaluation put each window in the "
                               "batch column of its time; it is not compared bit for bit (retrain to compare)")
    metrics = {"run": str(run_dir), "checkpoint": checkpoint, "epoch": ck.epoch, "split": split,
               "data": ds.fingerprint, "data_changed_since_training": changed,
               "data_range": ds.data_range, "splits_pinned_to_training": data is None and pinned(ck),
               "first_ts": int(ds.timestamps[idx[0]]), "last_ts": int(ds.timestamps[idx[-1]]),
               "loss": {"total": loss, "parts": parts, "accuracy": acc, "batch_size": cfg.train.batch_size,
                        "l2_included": False, "training_log_val_loss": logged,
                        "matches_training_log": None if logged is None else loss == logged},
               **report}
    out_dir = run_dir / "eval" / (split if data is None else f"{file_stem(Path(data))}-{split}")
    frame = predictions_frame(ds, idx, pred, baselines)
    with output_unit(out_dir, "evaluate") as tmp:
        files = _write(tmp, frame, metrics, checkpoint, ck_path, ck, ds.fingerprint.get("sha256"))
        files += write_eval_plots(report, pred["attention"], ds.timestamps[idx], tmp / "plots")
        if cross[1] is not None:
            files.append(plot_cross_section(cross[1]["timestamps"], cross[1]["rank_ic"], cross[1]["groups"], ds.horizon,
                                            tmp / "plots" / "cross_section.png", excess=cfg.labels.target == "excess"))
        if importance is not None:
            files.append(plot_importance(report["importance"], tmp / "plots" / "importance.png"))
    files = [out_dir / f.relative_to(tmp) for f in files]
    return EvalResult(metrics=metrics, report=report, predictions=frame, out_dir=out_dir, files=files)


def _check_choices(split: str, checkpoint: str, data: Path | None) -> None:
    allowed = SPLIT_CHOICES + (("all",) if data is not None else ())
    if split not in allowed:
        raise UserError(f"--split {split!r}: use {' or '.join(allowed)}" +
                        ("" if data is not None else " ('all' needs --data)"))
    if checkpoint not in CHECKPOINT_CHOICES:
        raise UserError(f"--checkpoint {checkpoint!r}: use best or last")


def _data_warnings(ck, ds, idx: np.ndarray, data: Path | None, changed: bool) -> list[str]:
    """Warnings that go first in the report: the run's file changed, or --data overlaps training."""
    out = []
    overlap = training_overlap(ck, ds.timestamps[idx]) if data is not None else 0
    if overlap:
        start, stop = ck.data_range["start_ts"], ck.data_range["val_start_ts"]
        out.append(f"{overlap} of the {len(idx)} scored windows end inside the run's training "
                   f"period ({iso_utc(start)} to {iso_utc(stop)}): if {Path(data).name} is the "
                   "market the run trained on, those results are in-sample")
    if changed:
        out.append(describe_data_change(ck.fingerprint, ds.fingerprint, ck.windows, window_counts(ds)) + ": " + (
            "rows and splits are pinned to the training dates, but candles inside them may differ; compare "
            "with care" if pinned(ck) else
            "this old checkpoint has no stored split dates, so the splits may have moved into the training "
            "candles; compare with care"))
    return out


def _write(out_dir: Path, frame: pd.DataFrame, metrics: dict, checkpoint: str, ck_path: Path, ck,
           data_sha256: str | None) -> list[Path]:
    """predictions.csv, then metrics.json with the provenance of that file."""
    write_csv(frame, out_dir / "predictions.csv")
    metrics["provenance"] = predictions_provenance(checkpoint, ck_path, ck, data_sha256, out_dir / "predictions.csv")
    atomic_write_text(out_dir / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    return [out_dir / "predictions.csv", out_dir / "metrics.json"]


def predictions_frame(ds, idx: np.ndarray, pred: dict, baselines: dict | None = None) -> pd.DataFrame:
    """predictions.csv's rows: actions as -1/0/1, pred_return and forward_return in r_t units; then
    the fitted baselines' actions (BASELINE_ACTION_COLUMNS, those that were fitted)."""
    probs = pred["probs"]
    pair = {} if ds.symbols is None else {"symbol": np.asarray(ds.symbols, dtype=object)[ds.symbol_id[idx]]}
    extra = {col: action_to_position((baselines or {})[b]["action"]) for b, col in BASELINE_ACTION_COLUMNS.items() if b in (baselines or {})}
    return pd.DataFrame({
        "timestamp": ds.timestamps[idx], **pair, "close": ds.close[idx],
        "p_sell": probs[:, 0], "p_hold": probs[:, 1], "p_buy": probs[:, 2],
        "pred_action": action_to_position(predicted_action(probs)), "confidence": pred["confidence"],
        "pred_return": pred["pred_return"], "true_action": action_to_position(ds.action[idx]), "forward_return": ds.ret[idx],
        **extra}, columns=PREDICTION_COLUMNS[:1] + list(pair) + PREDICTION_COLUMNS[1:] + list(extra))
