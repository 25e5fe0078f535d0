"""95% confidence intervals by a circular block bootstrap over time.

Windows of a split are consecutive in time and their labels overlap (r_t and r_{t+1} share
h - 1 candles for horizon h), so resampling single windows would understate the variance.
We resample blocks of consecutive windows instead (circular: a block may wrap from the end
to the start), with block length

    L = max(horizon, ceil(N ** (1/3)))

(N^(1/3) is the rate that minimizes the error of block-bootstrap variance estimates; L >= h
keeps every overlapping label group inside one block). Each resample glues ceil(N / L)
blocks with uniform random starts and keeps the first N indices. Percentile intervals.
Model and baseline statistics are computed on the SAME resampled indices, so the interval
of their difference accounts for their correlation.

Shapes: N windows, R resamples, C resamples in one chunk (bounded memory).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from cryptotrain.evaluate.metrics import K, LOG_EPS, pearson

CHUNK_ELEMENTS = 2_000_000  # C * N per chunk: bounds memory for long splits


def block_length(n: int, horizon: int = 1) -> int:
    return max(int(horizon), math.ceil(n ** (1.0 / 3.0)), 1)


def circular_block_indices(n: int, n_resamples: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(R, N) int64 resampled window indices."""
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(n_resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)) % n
    return idx.reshape(n_resamples, n_blocks * block)[:, :n]


def accuracy_stat(y_true: np.ndarray, y_pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return (y_true == y_pred)[idx].mean(axis=-1)


def balanced_accuracy_stat(y_true: np.ndarray, y_pred: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(C,) mean recall over the classes present in each resample."""
    yt = y_true[idx]
    hit = (y_true == y_pred)[idx]
    total = np.zeros(idx.shape[0])
    present = np.zeros(idx.shape[0])
    for k in range(K):
        mk = yt == k
        support = mk.sum(axis=-1)
        ok = support > 0
        total += np.where(ok, (mk & hit).sum(axis=-1) / np.maximum(support, 1), 0.0)
        present += ok
    return np.where(present > 0, total / np.maximum(present, 1), np.nan)


def direction_accuracy_stat(y_pred: np.ndarray, r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(C,) share of sign hits among the windows acted on (buy or sell) in each resample; NaN
    where a resample has none (a predictor that never acts has no direction accuracy)."""
    acted = y_pred != 1
    hit = acted & (np.sign(y_pred - 1) == np.sign(r))          # r_t = 0 is a miss, as in metrics.py
    n = acted[idx].sum(axis=-1)
    return np.where(n > 0, hit[idx].sum(axis=-1) / np.maximum(n, 1), np.nan)


def ic_pearson_stat(pred: np.ndarray, r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return pearson(pred[idx], r[idx])


def resampled_ranks(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(C, N) average ranks of x within each resample (duplicated windows become ties).

    Counting instead of sorting: with u the distinct values of x and c_j the count of u_j in
    a resample, a value u_j ranks (sum_{i<j} c_i) + (c_j + 1) / 2.
    """
    _, codes = np.unique(x, return_inverse=True)
    m = int(codes.max()) + 1 if len(codes) else 1
    rc = codes[idx]                                             # (C, N)
    rows = np.arange(idx.shape[0])[:, None] * m
    counts = np.bincount((rc + rows).ravel(), minlength=idx.shape[0] * m).reshape(idx.shape[0], m)
    below = np.cumsum(counts, axis=1) - counts
    rank = below + (counts + 1) / 2.0                           # (C, m)
    return np.take_along_axis(rank, rc, axis=1)


def ic_spearman_stat(pred: np.ndarray, r: np.ndarray, idx: np.ndarray, r_ranks: np.ndarray | None = None) -> np.ndarray:
    """r_ranks: resampled_ranks(r, idx) when already at hand (the same for every predictor of a resample)."""
    return pearson(resampled_ranks(pred, idx), resampled_ranks(r, idx) if r_ranks is None else r_ranks)


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """(lo, hi) of the finite samples; NaNs when fewer than half are finite (e.g. constant input)."""
    s = samples[np.isfinite(samples)]
    if len(s) < max(1, len(samples) // 2):
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(s, [a, 1.0 - a])
    return float(lo), float(hi)


def corrected_intervals(samples: np.ndarray, levels: list[float]) -> dict:
    """{"p_value", "levels": [{"level", "lo", "hi"}]} of resampled differences (see bootstrap_intervals)."""
    s = samples[np.isfinite(samples)]
    p = float(np.mean(s <= 0)) if len(s) >= max(1, len(samples) // 2) else float("nan")
    return {"p_value": p,
            "levels": [dict(zip(("level", "lo", "hi"), (float(q), *percentile_interval(samples, q)))) for q in levels]}


def log_loss_stat(y_true: np.ndarray, probs: np.ndarray, idx: np.ndarray) -> np.ndarray:
    nll = -np.log(np.clip(probs[np.arange(len(y_true)), y_true], LOG_EPS, 1.0))
    return nll[idx].mean(axis=-1)


def rmse_stat(pred: np.ndarray, r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.sqrt(((pred - r) ** 2)[idx].mean(axis=-1))


def _stats(y_true, r, pred: dict, idx, r_ranks: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Resampled statistics of one predictor: log loss needs probabilities, IC and RMSE a return forecast."""
    out = {"accuracy": accuracy_stat(y_true, pred["action"], idx),
           "balanced_accuracy": balanced_accuracy_stat(y_true, pred["action"], idx),
           "direction_accuracy": direction_accuracy_stat(np.asarray(pred["action"]), r, idx)}
    if pred.get("probs") is not None:
        out["log_loss"] = log_loss_stat(y_true, pred["probs"], idx)
    if pred.get("pred_return") is not None:
        out["ic_pearson"] = ic_pearson_stat(pred["pred_return"], r, idx)
        out["ic_spearman"] = ic_spearman_stat(pred["pred_return"], r, idx, r_ranks)
        out["rmse"] = rmse_stat(pred["pred_return"], r, idx)
    return out


def bootstrap_intervals(y_true: np.ndarray, r: np.ndarray, model: dict, baselines: dict[str, dict], *,
                        horizon: int = 1, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
                        corrected: dict[str, list[float]] | None = None,
                        on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Intervals for the model's accuracy, balanced accuracy, direction accuracy, log loss, IC and
    RMSE, and for model - baseline.

    `model` and each baseline: {"action": (N,) int, "probs": (N, K) or None, "pred_return": (N,) or None}. The point
    value reported with each interval is the statistic on the original sample.
    `corrected`: metric -> more levels (e.g. 1 - 0.1 / j, j = 1..m, whose lower ends are one-sided
    95% / j bounds, for a Holm correction over m comparisons); the difference model - baseline of that
    metric also gets "levels": [{"level", "lo", "hi"}, ...] at them and "p_value": the one-sided
    bootstrap p-value of "the model is not better" on a metric where higher is better, the share of
    resampled differences <= 0 (the lower end at level 1 - 2a is above 0 when p_value < a, up to the
    interpolation of the quantiles).
    on_progress("bootstrap intervals", resamples done, n_resamples) after each chunk of resamples.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    r = np.asarray(r, dtype=np.float64)
    n = len(y_true)
    L = block_length(n, horizon)
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_ELEMENTS // max(n, 1))
    full = np.arange(n)[None, :]
    point = {"model": _stats(y_true, r, model, full)}
    point.update({b: _stats(y_true, r, p, full) for b, p in baselines.items()})
    draws: dict[str, dict[str, list]] = {k: {m: [] for m in v} for k, v in point.items()}
    done = 0
    tick = on_progress or (lambda step, done, total: None)
    tick("bootstrap intervals", 0, n_resamples)
    while done < n_resamples and n > 0:
        c = min(chunk, n_resamples - done)
        idx = circular_block_indices(n, c, L, rng)
        predictors = [("model", model), *baselines.items()]
        # the ranks of the resampled returns, once for all the predictors' Spearman ICs
        r_ranks = resampled_ranks(r, idx) if any(p.get("pred_return") is not None for _, p in predictors) else None
        for name, p in predictors:
            for m, v in _stats(y_true, r, p, idx, r_ranks).items():
                draws[name][m].append(v)
        done += c
        tick("bootstrap intervals", done, n_resamples)
    samples = {k: {m: np.concatenate(v) if v else np.array([]) for m, v in d.items()} for k, d in draws.items()}

    def interval(value, s):
        lo, hi = percentile_interval(s, level)
        return {"value": float(value), "lo": lo, "hi": hi}

    out = {"method": "circular block bootstrap over time, percentile intervals",
           "block_length": L, "n_resamples": int(n_resamples), "seed": int(seed), "level": level,
           "model": {m: interval(point["model"][m][0], s) for m, s in samples["model"].items()},
           "baselines": {}}
    for b in baselines:
        diff = {}
        for m, s in samples[b].items():
            if m in samples["model"]:
                diff[m] = interval(point["model"][m][0] - point[b][m][0], samples["model"][m] - s)
                if m in (corrected or {}):
                    diff[m].update(corrected_intervals(samples["model"][m] - s, corrected[m]))
        out["baselines"][b] = {"metrics": {m: interval(point[b][m][0], s) for m, s in samples[b].items()},
                               "diff": diff}
    return out
