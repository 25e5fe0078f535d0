"""Elementary layers as forward/backward pairs of pure functions.

Every `*_forward` returns `(y, cache)`; the matching `*_backward` takes the cache and the
upstream gradient and returns the input gradient (and parameter gradients where there are
parameters). Nothing is stored on objects. Inputs may have any leading shape `(..., D)`.

Legend: N = product of leading dims (B, or B*T), D = input width, M = output width.
"""

from __future__ import annotations

import math

import numpy as np

# ------------------------------------------------------------------------- linear
# params: W (D, M), b (M,)


def linear_forward(W: np.ndarray, b: np.ndarray | None, x: np.ndarray):
    """y = x @ W + b, x (..., D) -> y (..., M). The leading dims are flattened into one GEMM: NumPy's
    matmul of a 3-D x by a 2-D W runs 2-5x slower (measured, NumPy 2.4, B*T = 3072..6144)."""
    y = (x.reshape(-1, x.shape[-1]) @ W).reshape(*x.shape[:-1], W.shape[1])
    if b is not None:
        y += b
    return y, x


def linear_backward(W: np.ndarray, cache: np.ndarray, dy: np.ndarray):
    """Returns dx (..., D), dW (D, M), db (M,)."""
    x = cache
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dW = x2.T @ dy2
    db = dy2.sum(axis=0)
    dx = (dy2 @ W.T).reshape(*dy.shape[:-1], W.shape[0])
    return dx, dW, db


# ---------------------------------------------------------------------- layernorm
# params: gamma (D,), beta (D,);  y = gamma * (x - mean) / sqrt(var + eps) + beta


def layernorm_forward(gamma: np.ndarray, beta: np.ndarray, x: np.ndarray, eps: float = 1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    y = xhat * gamma + beta
    return y, (xhat, rstd, gamma)


def layernorm_backward(cache, dy: np.ndarray):
    """Returns dx, dgamma, dbeta.

    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), with g = dy * gamma.
    """
    xhat, rstd, gamma = cache
    lead = tuple(range(dy.ndim - 1))
    dgamma = (dy * xhat).sum(axis=lead)
    dbeta = dy.sum(axis=lead)
    g = dy * gamma
    dx = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, dgamma, dbeta


# ------------------------------------------------------------------------ dropout
# Inverted dropout: y = x * mask / (1 - p) in training, identity in evaluation.


def dropout_forward(x: np.ndarray, p: float, train: bool, rng: np.random.Generator | None, mask=None):
    """`mask` (same shape as x, already scaled by 1/(1-p)) may be given to fix the draw (tests)."""
    if not train or p <= 0.0:
        return x, None
    if mask is None:
        if rng is None:
            raise ValueError("dropout in training mode needs an explicit rng")
        mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    return x * mask, mask


def dropout_backward(cache, dy: np.ndarray):
    mask = cache
    return dy if mask is None else dy * mask


# -------------------------------------------------------------------- activations
# Each forward caches what its derivative needs; backward returns dx.


def tanh_forward(x):
    y = np.tanh(x)
    return y, y


def tanh_backward(cache, dy):
    y = cache
    return dy * (1.0 - y * y)


# In-place activations of pre-scaled inputs, for the hot loops (nn/gru.py, nn/lstm.py, the additive
# pooling): the callers fold the factor (-1 or -2, exact in binary floating point) into the weights
# of the GEMM that makes the input, so the activation is exp and three cheap ops. NumPy's float32
# tanh costs 7.4 ns per element on an AVX2 machine with slow gathers (AMD EPYC Zen 1: its SIMD tanh
# looks up tables) against 3.9 ns for exp; with AVX-512 the two cost about the same. exp overflows
# to inf where the activation saturates, which gives the exact limit: callers run them inside
# np.errstate(over="ignore").


def sigmoid_of_negated(v: np.ndarray) -> np.ndarray:
    """In place: v = -a on entry, sigmoid(a) = 1 / (1 + exp(-a)) on exit (0 exactly for a < -88 in float32)."""
    np.exp(v, out=v)
    v += 1.0
    return np.reciprocal(v, out=v)


def tanh_of_scaled(v: np.ndarray) -> np.ndarray:
    """In place: v = -2a on entry, tanh(a) = 2 / (1 + exp(-2a)) - 1 on exit (-1 exactly for a < -44 in
    float32; near 0 its absolute error is about one float32 ulp of 1, 6e-8, where np.tanh's is relative)."""
    np.exp(v, out=v)
    v += 1.0
    np.divide(2.0, v, out=v)
    v -= 1.0
    return v


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for large |x|)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_forward(x):
    y = sigmoid(x)
    return y, y


def sigmoid_backward(cache, dy):
    y = cache
    return dy * y * (1.0 - y)


def relu_forward(x):
    return np.maximum(x, 0), x > 0


def relu_backward(cache, dy):
    return dy * cache


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu_forward(x):
    """tanh approximation: 0.5 x (1 + tanh(c (x + 0.044715 x^3))), as torch's approximate='tanh'."""
    u = _GELU_C * (x + 0.044715 * (x * x * x))   # not x ** 3: powf of negative floats is ~300x slower
    t = np.tanh(u)
    return 0.5 * x * (1.0 + t), (x, t)


def gelu_backward(cache, dy):
    x, t = cache
    du = _GELU_C * (1.0 + 3 * 0.044715 * x * x)
    return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)


ACTIVATIONS = {
    "tanh": (tanh_forward, tanh_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "relu": (relu_forward, relu_backward),
    "gelu": (gelu_forward, gelu_backward),
}


# ------------------------------------------------------------------------ softmax
# Over the last axis unless `axis` says otherwise; max-subtracted for stability.


def softmax_forward(x: np.ndarray, axis: int = -1):
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    y = e / e.sum(axis=axis, keepdims=True)
    return y, (y, axis)


def softmax_backward(cache, dy):
    """dx = y * (dy - sum(dy * y))."""
    y, axis = cache
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax_forward(x: np.ndarray, axis: int = -1):
    z = x - x.max(axis=axis, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=axis, keepdims=True))
    y = z - lse
    return y, (y, axis)


def log_softmax_backward(cache, dy):
    """dx = dy - softmax(x) * sum(dy)."""
    y, axis = cache
    return dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)
