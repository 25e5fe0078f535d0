"""Weight initializers shared by every layer: Glorot uniform (linear, attention, heads,
transformer) and orthogonal (recurrent matrices), and the fused per-gate blocks of the GRU/LSTM.

Legend: H hidden width, K gates per fused matrix (GRU 3, LSTM 4).
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
