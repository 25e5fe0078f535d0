"""The windows an evaluation scores: the run's dataset rebuilt from its checkpoint (stored config,
normalizer and label thresholds; nothing is refitted), pinned to its training rows and split
start times, or a --data file's; and the facts about them that the report states (which heads
were trained, how many windows fall in the training period) and the baselines on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryptotrain.data.dataset import build_dataset, pin_data_range
from cryptotrain.data.labels import return_calls, round_trip_cost
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.universe_dataset import pair_of_file, universe_files
from cryptotrain.errors import UserError
from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.fitted_baselines import decision_rows, fitted_baselines
from cryptotrain.models.inference import predicted_action


def load_eval_dataset(ck, data: Path | None, split: str = "train", data_dir: Path | None = None):
    """The run's dataset (or `data`'s) built with the checkpoint's normalizer and thresholds.

    Only `split` must have windows ("all": any split), so a --data file that lies entirely
    after the run's date splits has test windows and no training ones, and that is fine.
    A universe run: `data` is one pair's file (named BTC_USDT-1h.csv.gz; a pair the run does not
    know is refused), `data_dir` a folder holding every pair's file.
    """
    cfg = ck.config
    if data is None and data_dir is None and pinned(ck):
        cfg = pin_data_range(cfg, ck.data_range)
    if cfg.data.universe is not None and (data is not None or data_dir is not None):
        return _other_universe_data(ck, cfg, data, data_dir, split)
    if data_dir is not None:
        raise UserError("--data-dir is for a run trained on data.universe; this run has one file: pass --data FILE")
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
    _check_features(ds, ck)
    return ds


def _other_universe_data(ck, cfg, data: Path | None, data_dir: Path | None, split: str):
    """A universe run scored on another folder of its pairs (`data_dir`) or on one pair's file (`data`)."""
    if data is not None and data_dir is not None:
        raise UserError("pass --data FILE (one pair) or --data-dir DIR (every pair), not both")
    cfg = cfg.model_copy(deep=True)
    cfg.data.start = cfg.data.end = cfg.data.last_rows = None
    if data_dir is not None:
        cfg.data = cfg.data.model_copy(update={"paths": None, "dir": str(data_dir)})
        files = universe_files(cfg.data)
    else:
        files = {pair_of_file(cfg.data.universe, data): str(data)}
    ds = build_dataset(cfg, normalizer=ck.normalizer, thresholds=ck.thresholds, files=files,
                       require=() if split == "all" else (split,))
    _check_features(ds, ck)
    return ds


def _check_features(ds, ck) -> None:
    if list(ds.feature_names) != list(ck.feature_names):
        raise UserError(f"the features built now ({len(ds.feature_names)}) differ from the checkpoint's "
                        f"({len(ck.feature_names)}): the feature code changed since training; retrain the run")


def trained_heads(mcfg) -> dict[str, bool]:
    """Which output heads the loss trained: a head with loss weight 0 only ever saw its initialization."""
    return {"action": mcfg.w_action > 0, "return": mcfg.w_return > 0, "confidence": mcfg.w_confidence > 0}


def calls_by_return(mcfg) -> bool:
    """A return regression: its actions are the return head's calls (data/labels.return_calls), because the
    action head was never trained."""
    return mcfg.w_action == 0 and mcfg.w_return > 0


def model_actions(probs: np.ndarray, pred_return: np.ndarray | None, mcfg, bcfg) -> np.ndarray:
    """(N,) class index 0/1/2 (sell/hold/buy) of the model's calls: the action head's argmax, or a return
    regression's calls on its forecast beyond a round trip's cost (`bcfg`)."""
    if calls_by_return(mcfg):
        return return_calls(pred_return, bcfg) + 1
    return predicted_action(probs)


def untrained_head_notes(trained: dict[str, bool], bcfg=None) -> list[str]:
    notes = []
    if not trained["action"] and trained["return"]:
        cost = f" ({1e4 * round_trip_cost(bcfg):g} bp)" if bcfg is not None else ""
        notes.append("action head not trained (model.w_action = 0): the model's calls are the return head's, the "
                     f"sign of pred_return where it exceeds a round trip's cost{cost}, else hold; accuracy, direction "
                     "accuracy and the verdicts judge those calls; log loss and Brier are left out (the action head's "
                     "probabilities are its initialization)")
    elif not trained["action"]:
        notes.append("action head not trained (model.w_action = 0): accuracy, log loss, direction accuracy, the "
                     "per-class table and the classification verdicts describe its initialization, not skill")
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


def fitting_dataset(ck, ds, data: Path | None):
    """The dataset whose training split the baselines learn from (and whose validation split tunes
    the fitted ones): the run's own. With --data it is rebuilt from the run's own candle file when
    that is still there, else the --data file's splits are used (same normalizer and thresholds
    either way; no training windows there: uniform frequencies, no fitted baselines)."""
    if data is not None and own_data_exists(ck.config.data):
        return load_eval_dataset(ck, None)
    return ds


def own_data_exists(dcfg) -> bool:
    """Whether the run's own candle file (every pair's, for a universe) is still there."""
    if dcfg.universe is None:
        return Path(dcfg.path).is_file()
    try:
        return all(Path(f).is_file() for f in universe_files(dcfg).values())
    except UserError:
        return False


def run_baselines(ck, ds, idx: np.ndarray, data: Path | None,
                  on_progress=None) -> tuple[dict[str, dict], list[str]]:
    """Every baseline of an evaluation on the windows `idx` of `ds`: the naive ones (class frequencies
    of the run's training labels) and the fitted ones (learned on the run's training split, tuned on
    its validation split); and notes (a fitted baseline skipped). One function for `evaluate` and the
    stitched walk-forward, so both compare with the same baselines. `on_progress`: as fitted_baselines'."""
    src = fitting_dataset(ck, ds, data)
    baselines = all_baselines(src.action[src.splits["train"]], ds.close, idx, seed=ck.config.train.seed)
    fitted, notes = fitted_baselines(src, decision_rows(ds.features, idx), seed=ck.config.train.seed,
                                     on_progress=on_progress)
    return {**baselines, **fitted}, notes


def split_rows(ds, split: str) -> np.ndarray:
    """Window-end rows of `split`; "all" = every split's windows, in time order."""
    if split == "all":
        return np.sort(np.concatenate([ds.splits[s] for s in ("train", "val", "test")]))
    return np.asarray(ds.splits[split], dtype=np.int64)
