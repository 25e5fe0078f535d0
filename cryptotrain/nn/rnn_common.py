"""Helpers shared by the GRU and LSTM sequence layers (nn/gru.py, nn/lstm.py).

Initialisation (Glorot uniform input weights, orthogonal recurrent weights, one gate block at a
time), an in-place logistic function for the time loops, and the time-major view of a padding
mask.

Legend: B batch, T time, F input width, H hidden width, K number of gates (GRU 3, LSTM 4).
"""

from __future__ import annotations

import numpy as np


def glorot_uniform(rng: np.random.Generator, n_in: int, n_out: int, dtype) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / (n_in + n_out)), shape (n_in, n_out)."""
    a = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-a, a, size=(n_in, n_out)).astype(dtype)


def orthogonal(rng: np.random.Generator, n: int, dtype) -> np.ndarray:
    """A random (n, n) orthogonal matrix (QR of a Gaussian, signs fixed so it is uniform)."""
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    q *= np.sign(np.diag(r))
    return q.astype(dtype)


def fused_weights(rng: np.random.Generator, n_in: int, H: int, K: int, dtype):
    """Wx (n_in, K*H) Glorot per gate block, Wh (H, K*H) orthogonal per gate block."""
    Wx = np.concatenate([glorot_uniform(rng, n_in, H, dtype) for _ in range(K)], axis=1)
    Wh = np.concatenate([orthogonal(rng, H, dtype) for _ in range(K)], axis=1)
    return Wx, Wh


def sigmoid_(x: np.ndarray) -> np.ndarray:
    """In place: x <- 1 / (1 + exp(-x)), computed as 0.5 * tanh(x / 2) + 0.5 (no overflow)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def time_major_mask(mask: np.ndarray | None, T: int, B: int, dtype):
    """(B, T) bool mask (True = valid step) -> None when every step is valid, else a dict:

    pad (T, B, 1) bool, True at padded steps (for `np.copyto(..., where=pad[t])`);
    keep (T, B, 1) dtype, 1.0 at valid steps (for multiplying);
    any (T,) bool, whether step t has a padded row at all (steps without one skip the masking).
    """
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (B, T):
        raise ValueError(f"mask must have shape (B, T) = {(B, T)}, got {mask.shape}")
    if mask.all():
        return None
    keepT = np.ascontiguousarray(mask.T)[:, :, None]
    return {"pad": ~keepT, "keep": keepT.astype(dtype), "any": ~mask.all(axis=0)}


def output_grad_into(dh: np.ndarray, dy_t: np.ndarray, dh_next: np.ndarray, m: dict | None, t: int) -> bool:
    """Backward step start: dh <- dy_t + dh_next, with dy_t ignored at padded rows (padded outputs
    are the constant zero). Returns whether step t has padded rows."""
    padded = m is not None and bool(m["any"][t])
    if padded:
        np.multiply(dy_t, m["keep"][t], out=dh)
    else:
        np.copyto(dh, dy_t)
    dh += dh_next
    return padded
