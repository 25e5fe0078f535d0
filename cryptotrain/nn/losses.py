"""Losses as forward/backward pairs: weighted cross-entropy, MSE, Huber, and the L2 penalty.

Legend: B batch, C classes (3: sell, hold, buy).

Each `*_forward` returns `(loss: float, cache)`; each `*_backward(cache, dloss=1.0)` returns the
gradient of `dloss * loss` w.r.t. the prediction, in the prediction's dtype. All losses are
means over the batch (cross-entropy: a weighted mean, see below).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn.layers import log_softmax_backward, log_softmax_forward

# ----------------------------------------------------------------- cross-entropy
# With per-class weights w_c (as torch.nn.CrossEntropyLoss(weight=w)):
#   L = sum_i w_{y_i} * (-log softmax(z_i)[y_i]) / sum_i w_{y_i}
# Without weights w_c = 1, the plain mean.


def cross_entropy_forward(logits: np.ndarray, y: np.ndarray, class_weights=None):
    """logits (B, C), y (B,) int in [0, C) -> weighted-mean negative log-likelihood."""
    logp, c_ls = log_softmax_forward(logits)
    B = logits.shape[0]
    w = np.ones(B, dtype=logits.dtype) if class_weights is None else \
        np.asarray(class_weights, dtype=logits.dtype)[y]
    wn = w / w.sum()                                      # normalized weights (B,)
    nll = -logp[np.arange(B), y]
    return float((wn * nll).sum()), (c_ls, y, wn)


def cross_entropy_backward(cache, dloss: float = 1.0) -> np.ndarray:
    c_ls, y, wn = cache
    dlogp = np.zeros_like(c_ls[0])
    dlogp[np.arange(y.shape[0]), y] = -wn * float(dloss)
    return log_softmax_backward(c_ls, dlogp)


# ------------------------------------------------------------------------- MSE
# L = mean_i (p_i - t_i)^2


def mse_forward(pred: np.ndarray, target: np.ndarray):
    d = pred - np.asarray(target, dtype=pred.dtype)
    return float(np.mean(d * d)), d


def mse_backward(cache, dloss: float = 1.0) -> np.ndarray:
    d = cache
    return d * (2.0 * float(dloss) / d.size)


# ----------------------------------------------------------------------- Huber
# With d = p - t (as torch.nn.HuberLoss(delta)):
#   l(d) = 0.5 d^2                  if |d| <= delta
#        = delta (|d| - 0.5 delta)  otherwise;          L = mean_i l(d_i)


def huber_forward(pred: np.ndarray, target: np.ndarray, delta: float = 1.0):
    d = pred - np.asarray(target, dtype=pred.dtype)
    ad = np.abs(d)
    quad = ad <= delta
    loss = np.where(quad, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return float(np.mean(loss)), (d, quad, float(delta))


def huber_backward(cache, dloss: float = 1.0) -> np.ndarray:
    d, quad, delta = cache
    g = np.where(quad, d, delta * np.sign(d))
    return g * (float(dloss) / d.size)


# -------------------------------------------------------------------------- L2
# penalty = sum over weight matrices of sum(W^2). "Weight matrices" are the parameters with
# ndim >= 2 (linear, gate and projection matrices); biases, layer-norm gains/shifts and the
# additive-attention vector v are 1-D and neither penalized nor decayed (AdamW uses the same rule).


def is_weight_matrix(arr: np.ndarray) -> bool:
    return arr.ndim >= 2


def l2_forward(params: dict) -> float:
    return float(sum(float(np.vdot(p, p)) for p in params.values() if is_weight_matrix(p)))


def l2_backward(params: dict, coeff: float, grads: dict) -> None:
    """grads[k] += 2 * coeff * W_k for every weight matrix (in place)."""
    if coeff == 0.0:
        return
    for k, p in params.items():
        if is_weight_matrix(p):
            grads[k] += (2.0 * float(coeff)) * p
