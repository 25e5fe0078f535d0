"""`predict`: what a trained run says about one candle, by default the last closed one of a file.

The window ending at the decision candle t is scored with the checkpoint's stored config,
features, normalizer and thresholds (nothing is refitted), and the run's backtest policy
(backtest/policy.py) turns the prediction into a target position; the order would fill at the
open of t+1. The numbers are the bits `evaluate` writes to predictions.csv for the same candle:

- features: only the tail of the file that the window needs is read and processed (data/tail.py):
  the window, the warm-up, and enough history for the EMAs to forget where they started
  (`ema_memory_rows`). The rolling features depend on their window only (data/rolling.py). Where
  evaluate's features start inside that tail (a gap, the file's first row, or the run's first
  training candle on its own file), the tail starts there too and is exactly evaluate's
  computation. Otherwise the last window is computed from two starts, L and 2L candles back; the
  two must agree to the bit, else L grows (x4) until they do or evaluate's start is reached.
- model: one eval-mode batch of exactly train.batch_size (models/inference.forward_fixed_batch),
  as evaluate runs every batch, the window in the column its candle's time names (`window_slots`),
  where evaluate puts it too, with the BLAS thread count training recorded (OpenBLAS rounds by it).

A universe run (data.universe) predicts for one pair's file (--data, named BTC_USDT-1h.csv.gz as
fetch names it): that pair's normalizer statistics, symbol embedding row and batch column (a
pair the run does not know is refused).

Refused with a UserError: another timeframe than the run's; a last candle older than one
timeframe (a newer candle has closed and is not in the file; `allow_stale` scores it anyway);
--at a candle that is not in the file; a window that spans a gap; less history than the window
and the warm-up need. A file name that names another symbol than the run's is a warning.
Nothing is printed or written: report/predict.py prints the result.
"""

from __future__ import annotations

import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cryptotrain import blas
from cryptotrain.backtest.policy import model_decisions, prediction_actions
from cryptotrain.data.dataset import file_sha256, iso_utc
from cryptotrain.data.features.basic import compute_features, feature_names
from cryptotrain.data.labels import ACTION_NAMES, action_to_position, position_to_action, round_trip_cost
from cryptotrain.data.ohlcv import fill_gaps, file_stem, find_gaps, symbol_slug
from cryptotrain.data.timestamps import format_utc, ms_to_timeframe, parse_utc
from cryptotrain.data.tail import CandleFile, ema_memory_rows, warmup_rows
from cryptotrain.data.universe_dataset import pair_of_file
from cryptotrain.errors import UserError
from cryptotrain.evaluate.eval_data import calls_by_return, pinned, trained_heads
from cryptotrain.evaluate.guards import check_finite_outputs, check_finite_params
from cryptotrain.evaluate.scorer import CHECKPOINT_CHOICES
from cryptotrain.models.inference import forward_fixed_batch, predicted_action, window_slots
from cryptotrain.nn.layers import softmax_forward
from cryptotrain.train.checkpoint import Checkpoint, load_checkpoint
from cryptotrain.orchestration.walkforward.run import last_fold
from cryptotrain.train.rundir import dir_kind, find_run, resolve_run



@dataclass
class Prediction:
    result: dict                                 # the JSON object `cryptotrain predict --json` prints
    timings: dict = field(default_factory=dict)  # seconds: checkpoint, read, features, model


@dataclass
class LoadedRun:
    run_dir: Path
    name: str          # best or last
    path: Path         # the checkpoint file
    ck: Checkpoint
    sha256: str
    walkforward: dict | None = None   # a walk-forward directory asked: its last finished fold (run_dir) and dates


def load_run(run_dir: Path | None = None, checkpoint: str = "best") -> LoadedRun:
    """The run's checkpoint, checked (finite parameters, the features the code builds now): read once, then
    scored on any number of candle files (a universe run's pairs, predict_universe.py). A walk-forward
    directory stands for its newest finished fold (the model trained on the most recent data)."""
    if checkpoint not in CHECKPOINT_CHOICES:
        raise UserError(f"--checkpoint {checkpoint!r}: use best or last")
    found, wf = find_run(run_dir, single=False), None
    if dir_kind(found) == "walkforward":
        run_dir, wf = last_fold(found, checkpoint)
    else:
        run_dir = resolve_run(found)   # a sweep or a directory without config.yaml is refused there
    ck_path = run_dir / "checkpoints" / f"{checkpoint}.npz"
    ck = load_checkpoint(ck_path)
    check_finite_params(ck.params, str(ck_path))
    if ck.config.features.cross:   # its features need every pair's candles at once, not one file's tail
        raise UserError("this run's features.cross reads every pair at each timestamp, and predict scores one file; "
                        "score the run with evaluate --data-dir DIR (a folder of all its pairs)")
    if feature_names(ck.config.features) != list(ck.feature_names):
        raise UserError(f"the features built now differ from the checkpoint's ({len(ck.feature_names)}): the "
                        "feature code changed since training; retrain the run")
    return LoadedRun(run_dir, checkpoint, ck_path, ck, file_sha256(ck_path), wf)


def predict(run_dir: Path | None = None, checkpoint: str = "best", data: Path | None = None, at: str | None = None,
            *, allow_stale: bool = False, now_ms: int | None = None, loaded: LoadedRun | None = None,
            src: CandleFile | None = None) -> Prediction:
    """Score the window ending at the last closed candle of `data` (default: the run's data.path), or at `at`.
    `loaded` / `src`: the run and the file already read (else read here)."""
    timings, t0 = {}, time.perf_counter()
    loaded = loaded or load_run(run_dir, checkpoint)
    run_dir, checkpoint, ck_path, ck = loaded.run_dir, loaded.name, loaded.path, loaded.ck
    cfg = ck.config
    timings["checkpoint"], t0 = time.perf_counter() - t0, time.perf_counter()

    pair, n_pairs = 0, 1
    if cfg.data.universe is not None:   # a universe run: one pair's file, that pair's statistics and batch column
        if data is None:
            raise UserError(f"this run was trained on {len(cfg.data.universe)} pairs: pass --data FILE, the candle file "
                            f"of one of them ({', '.join(cfg.data.universe)})")
        pair, n_pairs = cfg.data.universe.index(pair_of_file(cfg.data.universe, data)), len(cfg.data.universe)
    path = Path(data if data is not None else cfg.data.path)
    src = src or CandleFile(path)
    read_s = time.perf_counter() - t0
    tf = src.timeframe_ms
    if cfg.data.timeframe and ms_to_timeframe(tf) != cfg.data.timeframe:
        raise UserError(f"{path}: the file has {ms_to_timeframe(tf)} candles but the run was trained on "
                        f"{cfg.data.timeframe}; pass a {cfg.data.timeframe} candle file with --data")
    if data is not None and cfg.data.universe is None:
        _warn_symbol(path, cfg.data.symbol)
    if cfg.data.gap_policy == "error" and find_gaps(src.timestamps, tf):
        t, n = find_gaps(src.timestamps, tf)[0]
        raise UserError(f"{path}: the run's data.gap_policy is error and the file has a gap after {format_utc(t)} "
                        f"({n} missing); re-fetch the data")
    symbol = cfg.data.symbol if cfg.data.universe is None else cfg.data.universe[pair]
    fetch = (f"cryptotrain fetch --exchange {cfg.data.exchange} --symbol {symbol} --timeframe "
             f"{ms_to_timeframe(tf)} --out {path}")
    t_row = _decision_row(src, path, at, allow_stale, now_ms, fetch)
    first_row = _first_row(ck, src, data)
    X, close_t, tail_info, tail_read_s = _tail_window_features(ck, src, path, t_row, first_row)
    timings["read"] = read_s + tail_read_s
    timings["features"] = time.perf_counter() - t0 - timings["read"]
    t0 = time.perf_counter()

    dtype = np.float64 if cfg.model.dtype == "float64" else np.float32
    x = np.ascontiguousarray(ck.normalizer.pair(pair).transform(X), dtype=dtype)[None]   # (1, T, F)
    ts = int(src.timestamps[t_row])
    # the batch column evaluate gives this candle, at training's BLAS thread count: evaluate's bits
    with np.errstate(over="ignore", invalid="ignore"), blas.limited(ck.train_state.get("blas_threads")):
        out = forward_fixed_batch(ck.params, x, cfg.model, cfg.train.batch_size,
                                  window_slots(np.array([ts]), tf, cfg.train.batch_size, pair, n_pairs),
                                  np.array([pair]))
    check_finite_outputs({"logits": out["logits"], "confidence": out["confidence"], "pred_return": out["return"]},
                         np.array([ts]), f"{ck_path} on {path}")
    probs = softmax_forward(out["logits"].astype(np.float64))[0][0]
    action = int(action_to_position(predicted_action(probs[None]))[0])
    conf = float(out["confidence"].astype(np.float64)[0])
    trained = trained_heads(cfg.model)
    pred_return = float(out["return"].astype(np.float64)[0] / cfg.model.return_scale) if trained["return"] else None
    timings["model"] = time.perf_counter() - t0

    result = {
        "run": str(run_dir),
        "walkforward": loaded.walkforward,
        "checkpoint": {"name": checkpoint, "epoch": int(ck.epoch), "sha256": loaded.sha256},
        "data": {"path": str(path), "symbol": symbol, "rows": src.rows, "last_ts": int(src.timestamps[-1]),
                 "last_time": iso_utc(int(src.timestamps[-1])), "timeframe": ms_to_timeframe(tf)},
        "decision": {"timestamp": ts, "time": iso_utc(ts), "close_time": iso_utc(ts + tf), "close": close_t},
        "fill": {"timestamp": ts + tf, "time": iso_utc(ts + tf), "price": "open of the next candle"},
        "p_sell": float(probs[0]), "p_hold": float(probs[1]), "p_buy": float(probs[2]),
        "pred_action": action, "action": ACTION_NAMES[int(position_to_action(action))],
        "confidence": conf, "confidence_trained": trained["confidence"],
        "pred_return": pred_return,
        "position": target_position(action, conf, cfg.backtest, pred_return, cfg.model),
        "features": tail_info,
    }
    return Prediction(result=result, timings=timings)


def target_position(action: int, confidence: float, bcfg, pred_return: float | None = None, model_cfg=None) -> dict:
    """The backtest policy's target for one prediction: a fraction of equity, or keep the current one (a
    return regression's: the sign of its forecast beyond a round trip's cost, backtest/policy.py)."""
    by_return = model_cfg is not None and calls_by_return(model_cfg)
    if by_return:
        a, c = model_decisions(np.array([action]), np.array([confidence]), np.array([pred_return]), model_cfg, bcfg)
        action, confidence = int(a[0]), float(c[0])
    target = float(prediction_actions(np.array([action]), np.array([confidence]), bcfg)[0])
    policy = {"mode": bcfg.mode, "threshold": bcfg.threshold, "sizing": bcfg.sizing, "max_exposure": bcfg.max_exposure}
    if by_return:
        policy["signal"] = f"sign of pred_return beyond a round trip's cost ({1e4 * round_trip_cost(bcfg):g} bp)"
    if np.isnan(target):
        why = ("the return forecast does not beat a round trip's cost" if by_return else "the model says hold") \
            if action == 0 else f"confidence {confidence:.4f} is below the threshold {bcfg.threshold}"
        return {"target": None, "rule": f"keep the current position: {why}", "policy": policy}
    side = "long" if target > 0 else "short" if target < 0 else "flat"
    rule = f"go {side}" if side != "flat" else "go flat (sell in long-only mode)"
    return {"target": target, "rule": f"{rule}: target exposure {target:g} of equity", "policy": policy}


def _warn_symbol(path: Path, symbol: str) -> None:
    """Candle files carry no symbol; fetch names them <BASE>_<QUOTE>-<timeframe>, so compare that part."""
    m = re.fullmatch(r"(.+)-\d+(?:ms|s|m|h|d|w)", file_stem(path))
    if m and m.group(1).upper() != symbol_slug(symbol).upper():
        warnings.warn(f"{path.name} looks like {m.group(1)} candles but the run was trained on {symbol}: the "
                      "prediction uses the run's normalizer and thresholds fitted on that market", stacklevel=2)


def _decision_row(src: CandleFile, path: Path, at: str | None, allow_stale: bool, now_ms: int | None,
                  fetch: str) -> int:
    """Row of the decision candle: --at's, else the last closed candle (refused when stale)."""
    ts, tf = src.timestamps, src.timeframe_ms
    if at is not None:
        want = parse_utc(at)
        row = int(np.searchsorted(ts, want))
        if row == len(ts) or ts[row] != want:
            raise UserError(f"--at {at}: no candle opens at {format_utc(want)} in {path} (it covers "
                            f"{format_utc(ts[0])} .. {format_utc(ts[-1])} in {ms_to_timeframe(tf)} candles); give the "
                            "open time of a candle in the file")
        return row
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    row = int(np.searchsorted(ts, now - tf, "right")) - 1          # closed: open time + tf <= now
    if row < 0:
        raise UserError(f"{path}: no candle has closed yet (the first opens at {format_utc(ts[0])}); wait or use "
                        "another file")
    age = now - (int(ts[row]) + tf)
    if age >= tf and not allow_stale:
        raise UserError(f"{path}: the last candle ({format_utc(ts[row])}) closed {_duration(age)} ago and "
                        f"{ms_to_timeframe(tf)} candles close every {ms_to_timeframe(tf)}, so newer ones are missing; "
                        f"bring it up to date with `{fetch}` or pass --allow-stale to score that candle anyway")
    return row


def _duration(ms: int) -> str:
    minutes = ms // 60_000
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    return " ".join(f"{v} {u}" for v, u in ((days, "d"), (hours, "h"), (mins, "min")) if v) or f"{ms // 1000} s"


def _first_row(ck, src: CandleFile, data: Path | None) -> int:
    """First row evaluate computes features from: on the run's own file its first training candle
    (stored, or data.start), with --data the file's first row (as `evaluate --data`)."""
    if data is not None:
        return 0
    start = ck.data_range["start_ts"] if pinned(ck) else (parse_utc(ck.config.data.start) if ck.config.data.start
                                                         else None)
    return 0 if start is None else int(np.searchsorted(src.timestamps, start))


def _tail_window_features(ck, src: CandleFile, path: Path, t_row: int, first_row: int):
    """(T, F) raw features of the window ending at t_row, close[t], facts about the tail, seconds reading."""
    cfg = ck.config
    T, fcfg, tf = cfg.data.window, cfg.features, src.timeframe_ms
    warm = warmup_rows(fcfg, tf)
    need = warm + T
    L, read_s = need + ema_memory_rows(fcfg, tf), 0.0
    t_ms = format_utc(int(src.timestamps[t_row]))
    while True:
        a = max(first_row, t_row - 2 * L + 1)
        if a > t_row:
            raise UserError(f"too little history for {t_ms}: it is before the run's first candle "
                            f"({format_utc(int(src.timestamps[first_row]))}); give a later --at")
        r0 = time.perf_counter()
        df = src.frame(a, t_row + 1)
        read_s += time.perf_counter() - r0
        if cfg.data.gap_policy == "ffill":
            df = fill_gaps(df, tf)[0]
        ts = df["timestamp"].to_numpy(dtype=np.int64)
        gaps = np.flatnonzero(np.diff(ts) != tf)
        seg0 = int(gaps[-1]) + 1 if len(gaps) else 0                 # first row of t's segment in df
        have = len(df) - seg0
        if have < T and seg0 == 0:   # no gap: the tail starts at the file's (or run's) first candle
            raise UserError(f"too little history for {t_ms}: the window needs {T} candles ending there, {path} "
                            f"has {have} from its first usable candle ({format_utc(int(ts[0]))}); give a later --at")
        if have < T:
            gap_after = format_utc(int(ts[seg0 - 1]))
            raise UserError(f"the window of {T} candles ending at {t_ms} spans a gap (after {gap_after}, "
                            f"{(int(ts[seg0]) - int(ts[seg0 - 1])) // tf - 1} missing candles); give another --at "
                            "or fill the gap (`cryptotrain fetch`, or data.gap_policy ffill)")
        exact = seg0 > 0 or a == first_row                            # evaluate's start is inside the tail
        if exact and have < need:
            raise UserError(f"too little history for {t_ms}: the window ({T}) and the features' warm-up ({warm}) "
                            f"need {need} contiguous candles ending there, {path} has {have}; use a longer file "
                            "or a later --at")
        seg = df.iloc[seg0:].reset_index(drop=True)
        # compared in float64: float32 rounding would hide a last-bit difference that can still
        # round the other way on the whole file; the cast below is the one compute_features makes
        X = compute_features(seg, fcfg, tf, dtype=np.float64)[0][-T:]
        if exact:
            break
        X_short = compute_features(seg.iloc[-L:].reset_index(drop=True), fcfg, tf, dtype=np.float64)[0][-T:]
        if np.array_equal(X, X_short, equal_nan=True):
            break
        L *= 4
    if not np.isfinite(X).all():
        raise UserError(f"too little history for {t_ms}: the window ({T}) and the features' warm-up ({warm}) "
                        f"need {need} contiguous candles ending there; use a longer file or a later --at")
    info = {"rows_processed": int(len(seg)), "window": T, "warmup": warm, "from_evaluate_start": bool(exact)}
    X = X.astype(np.float64 if cfg.model.dtype == "float64" else np.float32)
    return X, float(seg["close"].iloc[-1]), info, read_s
