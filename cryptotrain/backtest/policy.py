"""Target exposures for the engine: from model predictions, external signals and two baselines.

Policy for model predictions (decided at the close of candle t, filled at the open of t+1):
- The model acts only when its predicted action is buy or sell AND its confidence >= threshold.
  buy -> long, sell -> short (long-short) or flat (long-only).
- Otherwise (hold, or confidence below the threshold) the current target is kept.
- Size: |target| = max_exposure (sizing "fixed") or max_exposure * confidence ("confidence").
- Before the first action the account is flat.
"Keep the current target" is a forward fill over the candles: an action is a value, "keep" is
NaN, and `hold_forward` fills every NaN with the last value (0 before the first one).
- Minimum hold (`min_hold` = m candles, 0 = off): a target that changed at the close of candle
  j (filled at the open of j+1) is kept through the close of j+m-1, so the position is held at
  least m candles; the earliest next change is decided at the close of j+m and filled at the
  open of j+m+1. With m = labels.horizon a position lives at least as long as the move its label
  described (r_t = open[t+1+h] / open[t+1] - 1). Applied to the traded strategy (model or
  signals), not to the baselines.

A return regression (model.w_action = 0, w_return > 0: the action head never trained, its class is
its initialization): the action is the sign of pred_return where |pred_return| exceeds a round
trip's cost, 2 (fee_bps + slippage_bps) / 1e4 (the forecast move pays for entering and leaving),
else hold; the confidence is 1 unless the confidence head was trained (`model_decisions`).

External signals: position * max_exposure; negative positions become 0 in long-only mode; the
threshold and sizing do not apply. Between signal timestamps the last target is kept.

Baselines, traded with the same engine, costs, mode and max_exposure:
- buy and hold: target = max_exposure on every candle (one entry at the open of candle 1);
- persistence: target = sign(close[t] / close[t-1] - 1) * max_exposure (0 on the first candle
  of the file; in long-only mode negative targets become 0).
- fitted baselines (evaluate's logistic regression and LightGBM, their predicted actions at the
  model's decision candles): the model's policy with confidence 1: buy/sell -> max_exposure long
  or short (flat in long-only), hold keeps the target. They have no confidence head, so the
  threshold always passes and confidence sizing is full size.
Shapes: N candles.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import BacktestConfig
from cryptotrain.data.labels import return_calls
from cryptotrain.evaluate.eval_data import calls_by_return


def hold_forward(raw: np.ndarray, initial: float = 0.0) -> np.ndarray:
    """Forward fill: each NaN takes the last non-NaN value before it (`initial` if none). (N,) -> (N,)"""
    raw = np.asarray(raw, dtype=np.float64)
    valid = ~np.isnan(raw)
    last = np.maximum.accumulate(np.where(valid, np.arange(len(raw)), -1))
    return np.where(last >= 0, raw[np.maximum(last, 0)], initial)


def apply_min_hold(target: np.ndarray, min_hold: int) -> np.ndarray:
    """Target (N,) per candle -> the same with every change kept at least `min_hold` candles.

    The loop runs over changes only: after a change at j, the next one is the first candle
    k >= j + min_hold whose target differs from the one held, which is k = j + min_hold itself or
    the next change point of `target` after it (target is constant in between)."""
    target = np.asarray(target, dtype=np.float64)
    if min_hold <= 1 or len(target) == 0:
        return target.copy()      # a change can never come sooner than one candle later anyway
    change_points = np.flatnonzero(np.diff(target) != 0) + 1
    out = np.empty_like(target)
    held, start, n = 0.0, 0, len(target)        # flat before the first candle
    last_change = -min_hold                     # the first change is free
    while start < n:
        k = max(start, last_change + min_hold)
        if k < n and target[k] == held:
            nxt = np.searchsorted(change_points, k, side="right")
            k = int(change_points[nxt]) if nxt < len(change_points) else n
        out[start:k] = held
        if k >= n:
            break
        held, last_change, start = float(target[k]), k, k
    return out


def _side_rules(side: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    return np.maximum(side, 0.0) if bcfg.mode == "long-only" else side


def prediction_actions(pred_action: np.ndarray, confidence: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """pred_action (N,) in {-1, 0, 1}, confidence (N,) -> target where the model acts, NaN = keep."""
    act = np.asarray(pred_action, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    acts = (act != 0) & (conf >= bcfg.threshold)          # NaN confidence never acts
    size = bcfg.max_exposure * (np.clip(conf, 0.0, 1.0) if bcfg.sizing == "confidence" else 1.0)
    return np.where(acts, _side_rules(np.sign(act), bcfg) * size, np.nan)


def model_decisions(pred_action: np.ndarray, confidence: np.ndarray, pred_return: np.ndarray | None, model_cfg,
                    bcfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray]:
    """(pred_action, confidence) (N,) or (T, N) the policy trades: the action head's own when it was trained, else (a
    return regression) the return head's calls beyond a round trip's cost (module docstring)."""
    if not calls_by_return(model_cfg):
        return np.asarray(pred_action), np.asarray(confidence, dtype=np.float64)
    act = return_calls(pred_return, bcfg)
    return act, (np.asarray(confidence, dtype=np.float64) if model_cfg.w_confidence > 0 else np.ones(act.shape))


def decisions_of(preds, model_cfg, bcfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray]:
    """`model_decisions` of a predictions.csv frame."""
    return model_decisions(preds["pred_action"].to_numpy(), preds["confidence"].to_numpy(),
                           preds["pred_return"].to_numpy() if "pred_return" in preds else None, model_cfg, bcfg)


def baseline_actions(pred_action: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """A fitted baseline's actions (N,) in {-1, 0, 1} -> targets by the model's policy at confidence 1."""
    return prediction_actions(pred_action, np.ones(len(pred_action)), bcfg)


def signal_actions(position: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """External target positions (N,) in [-1, 1] -> engine targets (mode and max_exposure applied)."""
    return _side_rules(np.asarray(position, dtype=np.float64), bcfg) * bcfg.max_exposure


def buy_and_hold_targets(n: int, bcfg: BacktestConfig) -> np.ndarray:
    return np.full(n, bcfg.max_exposure)


def persistence_targets(close: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """sign of the last candle return close[t] / close[t-1] - 1, for every row of `close`. (N,) -> (N,)"""
    close = np.asarray(close, dtype=np.float64)
    side = np.zeros(len(close))
    side[1:] = np.sign(close[1:] / close[:-1] - 1.0)
    return _side_rules(side, bcfg) * bcfg.max_exposure
