"""Prediction metrics on plain arrays: the action classifier, its direction, the confidence
head and the return head. Pure functions, no I/O; results are plain dicts (JSON-ready apart
from NaN, which the writer turns into null).

Shapes: N windows, K = 3 classes (0 = sell, 1 = hold, 2 = buy).
  y_true, y_pred (N,) int in [0, K); probs (N, K) rows summing to 1; r (N,) forward returns.

Definitions where the usual ones leave a choice:
- precision of a class that is never predicted is 0 (not NaN), recall of a class absent from
  y_true is 0; both cases add a line to `notes`.
- balanced accuracy = mean recall over the classes present in y_true.
- macro F1 = mean F1 over the classes present in y_true or y_pred.
- log loss = mean_i -log p_i[y_i], p clipped to [1e-15, 1].
- Brier = mean_i sum_k (p_ik - [y_i = k])^2 (multi-class; 0 is perfect, 2 is worst).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.data.features.cross import average_ranks  # noqa: F401  (the one rank rule, also for the cross group)
from cryptotrain.data.labels import ACTION_NAMES

CLASS_NAMES = ACTION_NAMES
K = len(CLASS_NAMES)
LOG_EPS = 1e-15


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = K) -> np.ndarray:
    """(K, K) int64 counts: rows = true class, columns = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_from_confusion(cm: np.ndarray) -> tuple[dict, list[str]]:
    """Precision, recall, F1 and support per class from a confusion matrix, plus notes."""
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    notes: list[str] = []
    out = {}
    for k, name in enumerate(CLASS_NAMES[: cm.shape[0]]):
        if predicted[k] == 0:
            precision = 0.0
            notes.append(f"class {name} never predicted: its precision is set to 0")
        else:
            precision = tp[k] / predicted[k]
        if support[k] == 0:
            recall = 0.0
            notes.append(f"class {name} absent from the true labels: its recall is set to 0")
        else:
            recall = tp[k] / support[k]
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        out[name] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                     "support": int(support[k]), "predicted": int(predicted[k])}
    return out, notes


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = K) -> float:
    """Mean recall over the classes present in y_true (NaN when y_true is empty)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    present = support > 0
    if not present.any():
        return float("nan")
    return float(np.mean(np.diag(cm)[present] / support[present]))


def log_loss(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class, probabilities clipped to [1e-15, 1]."""
    p = np.clip(probs[np.arange(len(y_true)), y_true], LOG_EPS, 1.0)
    return float(-np.mean(np.log(p))) if len(p) else float("nan")


def brier_score(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean over samples of the summed squared error against the one-hot truth."""
    if len(y_true) == 0:
        return float("nan")
    onehot = np.eye(probs.shape[1])[y_true]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, probs: np.ndarray | None = None) -> dict:
    """Accuracy, balanced accuracy, macro F1, per-class table, confusion matrix, log loss, Brier.

    `probs` is optional (hard-label baselines have none): log loss and Brier are then NaN.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    cm = confusion_matrix(y_true, y_pred)
    per_class, notes = per_class_from_confusion(cm)
    n = len(y_true)
    in_use = (cm.sum(axis=0) > 0) | (cm.sum(axis=1) > 0)
    f1 = np.array([per_class[c]["f1"] for c in CLASS_NAMES])
    return {
        "n": int(n),
        "accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
        "macro_f1": float(f1[in_use].mean()) if in_use.any() else float("nan"),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "log_loss": log_loss(y_true, probs) if probs is not None else float("nan"),
        "brier": brier_score(y_true, probs) if probs is not None else float("nan"),
        "notes": notes,
    }


def direction_metrics(y_pred: np.ndarray, r: np.ndarray) -> dict:
    """Sign accuracy where the prediction is buy or sell, and the fraction of such windows.

    A window counts as a hit when sign(action) == sign(r_t), with action sell = -1, buy = +1;
    r_t == 0 is a miss for both (no move to profit from).
    """
    y_pred = np.asarray(y_pred, dtype=np.int64)
    r = np.asarray(r, dtype=np.float64)
    acted = y_pred != 1
    n_acted = int(acted.sum())
    hits = np.sign(y_pred[acted] - 1) == np.sign(r[acted])
    return {
        "accuracy": float(hits.mean()) if n_acted else float("nan"),
        "coverage": float(n_acted / len(y_pred)) if len(y_pred) else float("nan"),
        "n_acted": n_acted,
    }


def reliability_table(pred_conf: np.ndarray, target_conf: np.ndarray, hit: np.ndarray, n_bins: int = 10) -> list[dict]:
    """Equal-width bins of predicted confidence on [0, 1] (empty bins omitted).

    Per bin: count, mean predicted confidence, mean realized confidence target (what the head
    is trained to predict; a calibrated head sits on the diagonal) and realized hit rate (the
    fraction of windows whose predicted action equals the true action).
    """
    pred_conf = np.asarray(pred_conf, dtype=np.float64)
    b = np.clip((pred_conf * n_bins).astype(np.int64), 0, n_bins - 1)
    rows = []
    for i in range(n_bins):
        m = b == i
        if not m.any():
            continue
        rows.append({"lo": i / n_bins, "hi": (i + 1) / n_bins, "count": int(m.sum()),
                     "mean_predicted": float(pred_conf[m].mean()),
                     "mean_target": float(np.mean(target_conf[m])),
                     "hit_rate": float(np.mean(hit[m]))})
    return rows


def confidence_metrics(pred_conf: np.ndarray, target_conf: np.ndarray, hit: np.ndarray, n_bins: int = 10) -> dict:
    """MSE of the confidence head against its target and the reliability table."""
    err = np.asarray(pred_conf, dtype=np.float64) - np.asarray(target_conf, dtype=np.float64)
    return {"mse": float(np.mean(err ** 2)) if len(err) else float("nan"),
            "reliability": reliability_table(pred_conf, target_conf, hit, n_bins)}


def pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """Pearson correlation along the last axis; NaN where either input is constant."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    sxx = np.sum(xc * xc, axis=-1)
    syy = np.sum(yc * yc, axis=-1)
    sxy = np.sum(xc * yc, axis=-1)
    # Constant input: zero variance (up to rounding of the mean) -> NaN, not a division warning.
    tiny = 1e-12 * np.maximum(np.sum(x * x, axis=-1), np.sum(y * y, axis=-1)) + 1e-300
    ok = (sxx > tiny) & (syy > tiny)
    out = np.where(ok, sxy / np.sqrt(np.where(ok, sxx * syy, 1.0)), np.nan)
    return float(out) if out.ndim == 0 else out


def spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """Spearman rank correlation (average ranks for ties) along the last axis; NaN if constant."""
    return pearson(average_ranks(x), average_ranks(y))


def return_metrics(pred: np.ndarray, r: np.ndarray) -> dict:
    """RMSE, MAE (in r_t units) and the information coefficient, Pearson and Spearman."""
    pred = np.asarray(pred, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    err = pred - r
    n = len(r)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))) if n else float("nan"),
            "mae": float(np.mean(np.abs(err))) if n else float("nan"),
            "ic_pearson": pearson(pred, r) if n > 1 else float("nan"),
            "ic_spearman": spearman(pred, r) if n > 1 else float("nan")}
