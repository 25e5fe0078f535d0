"""Target exposures for the engine: from model predictions, external signals and two baselines.

Policy for model predictions (decided at the close of candle t, filled at the open of t+1):
- The model acts only when its predicted action is buy or sell AND its confidence >= threshold.
  buy -> long, sell -> short (long-short) or flat (long-only).
- Otherwise (hold, or confidence below the threshold) the current target is kept.
- Size: |target| = max_exposure (sizing "fixed") or max_exposure * confidence ("confidence").
- Before the first action the account is flat.
"Keep the current target" is a forward fill over the candles: an action is a value, "keep" is
NaN, and `hold_forward` fills every NaN with the last value (0 before the first one).

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


def hold_forward(raw: np.ndarray, initial: float = 0.0) -> np.ndarray:
    """Forward fill: each NaN takes the last non-NaN value before it (`initial` if none). (N,) -> (N,)"""
    raw = np.asarray(raw, dtype=np.float64)
    valid = ~np.isnan(raw)
    last = np.maximum.accumulate(np.where(valid, np.arange(len(raw)), -1))
    return np.where(last >= 0, raw[np.maximum(last, 0)], initial)


def _side_rules(side: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    return np.maximum(side, 0.0) if bcfg.mode == "long-only" else side


def prediction_actions(pred_action: np.ndarray, confidence: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """pred_action (N,) in {-1, 0, 1}, confidence (N,) -> target where the model acts, NaN = keep."""
    act = np.asarray(pred_action, dtype=np.float64)
    conf = np.asarray(confidence, dtype=np.float64)
    acts = (act != 0) & (conf >= bcfg.threshold)          # NaN confidence never acts
    size = bcfg.max_exposure * (np.clip(conf, 0.0, 1.0) if bcfg.sizing == "confidence" else 1.0)
    return np.where(acts, _side_rules(np.sign(act), bcfg) * size, np.nan)


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
