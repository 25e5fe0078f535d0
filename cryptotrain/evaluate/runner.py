"""`cryptotrain evaluate`: score a trained run's checkpoint on a split and write what it found.

Steps: resolve the run (default runs/latest) and checkpoint (best|last); rebuild the split's
windows from the candle file with the checkpoint's stored config, normalizer and label
thresholds (nothing is refitted) and, on the run's own file, its stored rows and split start
times (so candles prepended or appended since training never move into the test split);
run the model in eval mode in batches of train.batch_size; compute metrics, baselines on the
same windows, bootstrap intervals, verdicts, leakage warnings and attention; write, atomically,

    RUN_DIR/eval/<split>/predictions.csv    one row per window (columns: PREDICTION_COLUMNS)
    RUN_DIR/eval/<split>/metrics.json       everything in the report (NaN -> null), and the
                                            provenance of predictions.csv (provenance.py)
    RUN_DIR/eval/<split>/plots/*.png        confusion, reliability, attention by lag, heatmap

and print rich tables (or the JSON with --json). With --data FILE the output directory is
RUN_DIR/eval/<file stem>-<split>/ so the run's own evaluation is never overwritten; the
file's timeframe must equal the run's; data.start / end / last_rows of the run's config are
not applied to it; split "all" (every labelled window of the file) is allowed only with --data.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

from cryptotrain.data.dataset import iso_utc
from cryptotrain.errors import UserError
from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.guards import check_finite_outputs, check_finite_params
from cryptotrain.evaluate.metrics import predicted_action
from cryptotrain.evaluate.predict import predict_with_loss
from cryptotrain.evaluate.provenance import predictions_provenance
from cryptotrain.evaluate.summary import evaluation_report
from cryptotrain.fileio import atomic_path, atomic_write_text

PREDICTION_COLUMNS = ["timestamp", "close", "p_sell", "p_hold", "p_buy", "pred_action", "confidence",
                      "pred_return", "true_action", "forward_return"]
SPLIT_CHOICES = ("test", "val")
CHECKPOINT_CHOICES = ("best", "last")


def evaluate_command(run: Path | None, split: str, checkpoint: str, data: Path | None, as_json: bool,
                     console: Console | None) -> dict:
    """Evaluate; returns the metrics dict that was written to metrics.json."""
    from cryptotrain.train.checkpoint import load_checkpoint
    from cryptotrain.train.rundir import resolve_run

    console = console or Console()
    allowed = SPLIT_CHOICES + (("all",) if data is not None else ())
    if split not in allowed:
        raise UserError(f"--split {split!r}: use {' or '.join(allowed)}" +
                        ("" if data is not None else " ('all' needs --data)"))
    if checkpoint not in CHECKPOINT_CHOICES:
        raise UserError(f"--checkpoint {checkpoint!r}: use best or last")
    run_dir = resolve_run(run)
    ck_path = run_dir / "checkpoints" / f"{checkpoint}.npz"
    ck = load_checkpoint(ck_path)
    check_finite_params(ck.params, str(ck_path))
    cfg = ck.config
    ds = load_eval_dataset(ck, data, split)
    idx = split_rows(ds, split)
    if len(idx) == 0:
        raise UserError(f"the {split} split of {ds.fingerprint['path']} has no complete window; use a longer file")

    with np.errstate(over="ignore", invalid="ignore"):   # non-finite outputs get one clear line below
        pred, (loss, parts, acc) = predict_with_loss(ck.params, ds, idx, cfg.model, cfg.train.batch_size)
    check_finite_outputs(pred, ds.timestamps[idx], f"{ck_path} on the {split} split of {ds.fingerprint['path']}")
    y, r = ds.action[idx], ds.ret[idx]
    trained = trained_heads(cfg.model)
    if not trained["return"]:
        pred["pred_return"] = np.full(len(idx), np.nan)   # a random projection: nothing to score or to save
    model = {"action": predicted_action(pred["probs"]), "probs": pred["probs"],
             "confidence": pred["confidence"] if trained["confidence"] else None,
             "pred_return": pred["pred_return"] if trained["return"] else None}
    baselines = all_baselines(training_actions(ck, ds, data), ds.close, idx, seed=cfg.train.seed)
    report = evaluation_report(y_true=y, r=r, conf_target=ds.confidence[idx], model=model, baselines=baselines,
                               attention=pred["attention"], timeframe=ds.timeframe, horizon=ds.horizon,
                               seed=cfg.train.seed, notes=untrained_head_notes(trained))
    out_dir = run_dir / "eval" / (split if data is None else f"{_stem(Path(data))}-{split}")
    # an --overfit-batch run logs the loss of its one training batch as val_loss: nothing to compare
    comparable = split == "val" and data is None and not ck.train_state.get("overfit_batch")
    logged = logged_val_loss(run_dir, ck.epoch) if comparable else None
    changed = data is None and ds.fingerprint.get("sha256") != ck.fingerprint.get("sha256")
    if changed:
        report["warnings"].insert(0, f"the data file {ds.fingerprint['path']} changed since training "
                                     "(different sha256): " + (
                                         "rows and splits are pinned to the training dates, but candles inside "
                                         "them may differ; compare with care" if pinned(ck) else
                                         "this old checkpoint has no stored split dates, so the splits may have "
                                         "moved into the training candles; compare with care"))
    overlap = training_overlap(ck, ds.timestamps[idx]) if data is not None else 0
    if overlap:
        start, stop = ck.data_range["start_ts"], ck.data_range["val_start_ts"]
        report["warnings"].insert(0, f"{overlap} of the {len(idx)} scored windows end inside the run's training "
                                     f"period ({iso_utc(start)} to {iso_utc(stop)}): if {Path(data).name} is the "
                                     "market the run trained on, those results are in-sample")
    metrics = {"run": str(run_dir), "checkpoint": checkpoint, "epoch": ck.epoch, "split": split,
               "data": ds.fingerprint, "data_changed_since_training": changed,
               "data_range": ds.data_range, "splits_pinned_to_training": data is None and pinned(ck),
               "first_ts": int(ds.timestamps[idx[0]]), "last_ts": int(ds.timestamps[idx[-1]]),
               "loss": {"total": loss, "parts": parts, "accuracy": acc, "batch_size": cfg.train.batch_size,
                        "l2_included": False, "training_log_val_loss": logged,
                        "matches_training_log": None if logged is None else loss == logged},
               **report}

    write_predictions(out_dir / "predictions.csv", ds, idx, pred)
    metrics["provenance"] = predictions_provenance(checkpoint, ck_path, ck, ds.fingerprint.get("sha256"),
                                                   out_dir / "predictions.csv")
    atomic_write_text(out_dir / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    from cryptotrain.report.eval_plots import write_eval_plots

    plots = write_eval_plots(report, pred["attention"], ds.timestamps[idx], out_dir / "plots")
    if as_json:
        console.print_json(json.dumps(to_jsonable(metrics)))
    else:
        from cryptotrain.report.eval_tables import print_evaluation

        title = (f"{run_dir.name}: {checkpoint} checkpoint (epoch {ck.epoch}), {split} split of "
                 f"{ds.fingerprint['path']}, loss {loss:.5f}"
                 + ("" if logged is None else f" (training log: {logged:.5f})"))
        files = [str(out_dir / "predictions.csv"), str(out_dir / "metrics.json"), *map(str, plots)]
        print_evaluation(report, console, title=title, files=files)
    return metrics


def load_eval_dataset(ck, data: Path | None, split: str = "train"):
    """The run's dataset (or `data`'s) built with the checkpoint's normalizer and thresholds.

    Only `split` must have windows ("all": any split), so a --data file that lies entirely
    after the run's date splits has test windows and no training ones, and that is fine.
    """
    from cryptotrain.data.dataset import build_dataset, pin_data_range
    from cryptotrain.data.ohlcv import load_ohlcv

    cfg = ck.config
    if data is None and pinned(ck):
        cfg = pin_data_range(cfg, ck.data_range)
    if data is not None:
        expected = cfg.data.timeframe or load_ohlcv(cfg.data.path, None, cfg.data.gap_policy)[1].timeframe
        found = load_ohlcv(data, None, cfg.data.gap_policy)[1].timeframe  # also checks columns and values
        if found != expected:
            raise UserError(f"--data {data}: the file has {found} candles but the run was trained on {expected}; "
                            f"pass a {expected} candle file")
        cfg = cfg.model_copy(deep=True)
        cfg.data.timeframe = expected
        cfg.data.start = cfg.data.end = cfg.data.last_rows = None
    ds = build_dataset(cfg, path=None if data is None else str(data), normalizer=ck.normalizer,
                       thresholds=ck.thresholds, require=() if split == "all" else (split,))
    if list(ds.feature_names) != list(ck.feature_names):
        raise UserError(f"the features built now ({len(ds.feature_names)}) differ from the checkpoint's "
                        f"({len(ck.feature_names)}): the feature code changed since training; retrain the run")
    return ds


def trained_heads(mcfg) -> dict[str, bool]:
    """Which output heads the loss trained: a head with loss weight 0 only ever saw its initialization."""
    return {"return": mcfg.w_return > 0, "confidence": mcfg.w_confidence > 0}


def untrained_head_notes(trained: dict[str, bool]) -> list[str]:
    notes = []
    if not trained["return"]:
        notes.append("return head not trained (model.w_return = 0): its RMSE, MAE and IC, their intervals and "
                     "verdicts are left out, and pred_return in predictions.csv is empty")
    if not trained["confidence"]:
        notes.append("confidence head not trained (model.w_confidence = 0): its MSE and reliability are left out "
                     "(predictions.csv keeps its output, which a backtest threshold or confidence sizing would use)")
    return notes


def training_overlap(ck, timestamps: np.ndarray) -> int:
    """How many decision times fall in the run's training period [start_ts, val_start_ts)."""
    if not pinned(ck):
        return 0
    start, stop = ck.data_range["start_ts"], ck.data_range["val_start_ts"]
    return int(((timestamps >= start) & (timestamps < stop)).sum())


def pinned(ck) -> bool:
    """True when the checkpoint stores the training rows and split starts (written since they were added)."""
    return bool(ck.data_range) and all(v is not None for v in ck.data_range.values())


def training_actions(ck, ds, data: Path | None) -> np.ndarray:
    """Labels of the run's training windows (for the majority and stratified baselines).

    With --data they come from the run's own candle file when it is still there, else from the
    training split of the --data file (same thresholds either way; none there: uniform frequencies).
    """
    if data is not None and Path(ck.config.data.path).is_file():
        ds = load_eval_dataset(ck, None)
    return ds.action[ds.splits["train"]]


def split_rows(ds, split: str) -> np.ndarray:
    """Window-end rows of `split`; "all" = every split's windows, in time order."""
    if split == "all":
        return np.sort(np.concatenate([ds.splits[s] for s in ("train", "val", "test")]))
    return np.asarray(ds.splits[split], dtype=np.int64)


def logged_val_loss(run_dir: Path, epoch: int) -> float | None:
    """The val_loss training logged in metrics.jsonl for `epoch` (None if absent)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("epoch") == epoch and row.get("val_loss") is not None:
                return float(row["val_loss"])
    return None


def write_predictions(path: Path, ds, idx: np.ndarray, pred: dict) -> None:
    """predictions.csv: actions as -1/0/1, pred_return and forward_return in r_t units."""
    probs = pred["probs"]
    frame = pd.DataFrame({
        "timestamp": ds.timestamps[idx], "close": ds.close[idx],
        "p_sell": probs[:, 0], "p_hold": probs[:, 1], "p_buy": probs[:, 2],
        "pred_action": predicted_action(probs) - 1, "confidence": pred["confidence"],
        "pred_return": pred["pred_return"], "true_action": ds.action[idx] - 1, "forward_return": ds.ret[idx]},
        columns=PREDICTION_COLUMNS)
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)


def to_jsonable(obj):
    """Plain JSON types; NaN and infinities become None (null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".csv", ".parquet", ".pq"):
        name = name.removesuffix(ext)
    return name or "data"
