"""Naive baselines scored on exactly the model's windows: what a rule with no model knows.

Shapes: N windows (the evaluated split's decision candles t), K = 3 classes.
Each baseline is a dict: "action" (N,) int64 class index, "probs" (N, K) or None,
"pred_return" (N,) or None (only baselines with a return forecast get an IC).

- majority: the most frequent class of the training split (ties -> the lowest class index);
  its probability forecast is the training class frequencies, so its log loss is the
  "know nothing" reference.
- persistence: the sign of the last return close[t] / close[t-1] - 1: up -> buy, down -> sell,
  0 -> hold; its return forecast is that last return. Known at the close of t, so causal.
- stratified: a seeded random draw from the training class frequencies, which are also its
  probability forecast.
- zero_return: always hold, and the return forecast r = 0: the RMSE a return head must beat
  (its IC is undefined: a constant forecast).
- rate_matched: the model's own calls in a seeded random order (a permutation): the same share of
  buy, hold and sell as the model, placed at random. The null for direction accuracy: in a trending
  test period a model that mostly says buy is right more often than a coin without knowing
  anything, and so is this caller. Built from the model's actions by `evaluation_report`.
The fitted baselines (logistic/ridge regression, LightGBM) are in fitted_baselines.py.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.data.labels import position_to_action
from cryptotrain.evaluate.metrics import K

BASELINE_LABELS = {"majority": "majority class", "persistence": "persistence", "stratified": "stratified random",
                   "zero_return": "zero return (hold)", "rate_matched": "random at the model's call rates"}


def class_frequencies(train_actions: np.ndarray) -> np.ndarray:
    """(K,) class frequencies of the training labels (labels < 0, i.e. undefined, are ignored)."""
    a = np.asarray(train_actions, dtype=np.int64)
    a = a[a >= 0]
    if len(a) == 0:
        return np.full(K, 1.0 / K)
    return np.bincount(a, minlength=K) / len(a)


def majority_baseline(freq: np.ndarray, n: int) -> dict:
    k = int(np.argmax(freq))
    return {"action": np.full(n, k, dtype=np.int64), "probs": np.tile(freq, (n, 1)), "pred_return": None}


def persistence_baseline(close: np.ndarray, idx: np.ndarray) -> dict:
    """Sign of close[t] / close[t-1] - 1 at each window end t (t = 0 has no last return: hold)."""
    idx = np.asarray(idx, dtype=np.int64)
    prev = close[np.maximum(idx - 1, 0)]
    last = np.where(idx > 0, close[idx] / prev - 1.0, 0.0)
    return {"action": position_to_action(np.sign(last)).astype(np.int64), "probs": None, "pred_return": last}


def stratified_baseline(freq: np.ndarray, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    action = rng.choice(K, size=n, p=freq).astype(np.int64)
    return {"action": action, "probs": np.tile(freq, (n, 1)), "pred_return": None}


def rate_matched_baseline(model_action: np.ndarray, seed: int) -> dict:
    """The model's actions permuted at random (its own class mix, no information). A caller, not a
    forecaster: no probabilities (the mix has zeros where the model never calls a class, and a log
    loss of ~34 nats would compare nothing). Seeded apart from `stratified`: a seed sequence (seed, 1)."""
    a = np.asarray(model_action, dtype=np.int64)
    return {"action": np.random.default_rng([int(seed), 1]).permutation(a), "probs": None, "pred_return": None}


def zero_return_baseline(n: int) -> dict:
    return {"action": np.ones(n, dtype=np.int64), "probs": None, "pred_return": np.zeros(n)}


def all_baselines(train_actions: np.ndarray, close: np.ndarray, idx: np.ndarray, seed: int = 0) -> dict[str, dict]:
    """The four naive baselines on the windows ending at rows `idx` of the candle arrays."""
    freq = class_frequencies(train_actions)
    n = len(idx)
    return {"majority": majority_baseline(freq, n),
            "persistence": persistence_baseline(np.asarray(close, dtype=np.float64), idx),
            "stratified": stratified_baseline(freq, n, seed),
            "zero_return": zero_return_baseline(n)}
