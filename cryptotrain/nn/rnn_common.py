"""Helpers shared by the GRU and LSTM sequence layers (nn/gru.py, nn/lstm.py) and the stack.

The step-contiguous layout and its conversions, the [Wh^T | b] weights with their row of ones
under each state, the chunked weight-gradient sums of the backward loops, the per-step view of a
padding mask, and the time-major wrappers of both layers. Initializers are in nn/init.py.

STEP-CONTIGUOUS layout (the layers' internal one): a sequence is (T, C, B), one step is the
contiguous (C, B) block [t]. Why: one step's gates are computed as Wh^T (K*H, H) @ h (H, B), so
each gate is a block of whole rows of length B, and a step's arrays are contiguous. NumPy runs
an elementwise op on such a block at full speed, while a per-gate column slice of a batch-major
(B, K*H) array costs 4-5x more (one inner loop per batch row), and a step slice [:, t, :] of a
(C, T, B) array, though made of whole rows, costs 3-6x more in the loop (every row on another
page: cache and TLB misses; measured). GEMMs over all steps are batched over T (np.matmul), and
the weight gradients, which sum over (t, b), use (C, n*B) copies of chunks of n steps
(`GradSums`).

Legend: B batch, T time, F input width, H hidden width, C any width, K gates (GRU 3, LSTM 4).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn import buffers


def gate_index(H: int, order) -> np.ndarray:
    """Column indices that put the gate blocks of a (., K*H) matrix in `order` (block numbers)."""
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in order])


def scaled_rows(W: np.ndarray, scales, index: np.ndarray | None = None) -> np.ndarray:
    """A contiguous (K*H, n) copy of W^T (W (n, K*H); its columns W[:, index] first reordered
    when an index is given) with gate block k's rows multiplied by scales[k], one factor per block
    of H rows: 1, -1 or -2, exact in binary floating point. The layers use it so that the gate
    activations come out of the GEMMs already negated (nn/layers.py `sigmoid_of_negated`; the LSTM's
    g as 2 sigmoid(2a) - 1), with no separate scaling op per step."""
    WT = np.array((W if index is None else W[:, index]).T, order="C")
    H = WT.shape[0] // len(scales)
    for k, s in enumerate(scales):
        if s != 1:
            WT[k * H:(k + 1) * H] *= s
    return WT


def recurrent_weights(Wh: np.ndarray, bias: np.ndarray, scales, index: np.ndarray | None = None) -> np.ndarray:
    """[Wh^T | bias] (K*H, H+1), gate rows reordered by `index` and each gate block scaled by its
    factor (scaled_rows). Each state in a `states_buffer` has a row of ones under it, so the step GEMM
    [Wh^T | bias] @ [h; 1] adds the bias with no separate op, and the weight-gradient GEMM over
    [h; 1] gives the bias gradient as its last row."""
    return scaled_rows(np.concatenate([Wh, bias[None, :]], axis=0), scales, index)


def states_buffer(T: int, H: int, B: int, dtype) -> np.ndarray:
    """(T+1, H+1, B) states h_0..h_T, each with a constant row of ones at index H (recurrent_weights)."""
    Hs = buffers.empty((T + 1, H + 1, B), dtype)
    Hs[:, H] = 1.0
    return Hs


def to_step_major(x: np.ndarray) -> np.ndarray:
    """(B, T, C) -> (T, C, B). Whole rows first ((T, B, C), a cheap copy), then one cache-sized
    (B, C) -> (C, B) transpose per step: 3-4x faster than NumPy's direct 3-D transpose copy."""
    B, T, C = x.shape
    tb = buffers.empty((T, B, C), x.dtype)
    np.copyto(tb, x.transpose(1, 0, 2))
    out = buffers.empty((T, C, B), x.dtype)
    for t in range(T):
        np.copyto(out[t], tb[t].T)
    return out


def from_step_major(y: np.ndarray) -> np.ndarray:
    """(T, C, B) -> (B, T, C) contiguous, one (C, B) -> (B, C) transpose per step."""
    T, C, B = y.shape
    out = buffers.empty((B, T, C), y.dtype)
    for t in range(T):
        np.copyto(out[:, t, :], y[t].T)
    return out


def flat_tb(X: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    """X (T, C, B), contiguous or a view whose C axis is the innermost (the stack's input
    x (B, T, C) seen as x.transpose(1, 2, 0)) -> M (C, T*B) with M[:, t*B + b] = X[t, :, b], for
    the weight-gradient GEMMs. One copy of whole rows either way (a view of it for the latter),
    written into the front of the 1-D scratch `buf` when given (size >= X.size)."""
    T, C, B = X.shape
    c_inner = X.strides[1] < X.strides[2]          # C innermost: copy as (T, B, C), view its transpose
    shape = (T, B, C) if c_inner else (C, T, B)
    out = buffers.empty(shape, X.dtype) if buf is None else buf[:X.size].reshape(shape)
    np.copyto(out, X.transpose(0, 2, 1) if c_inner else X.transpose(1, 0, 2))
    return out.reshape(T * B, C).T if c_inner else out.reshape(C, T * B)


def chunk_steps(H: int) -> int:
    """Steps per chunk of the weight-gradient sums in the backward loops (GradSums). Measured with
    2 BLAS threads: 8 is best up to H = 128 (2% ahead of 16: the chunk stays in cache), 16 for
    H = 256 (8% ahead of 8: the (K*H, H+1) GEMMs want a longer sum)."""
    return 16 if H >= 256 else 8


def reversed_chunks(T: int, c: int):
    """The steps of a backward loop, T-1 down to 0, as (t, slot, done): slot = t % c is step t's
    place in a ring buffer of the last c steps' gate gradients, and done > 0 when steps
    t .. t+done-1 are all done (t is a chunk start), so their sums are due (GradSums)."""
    for t in reversed(range(T)):
        slot = t % c
        yield t, slot, (min(c, T - t) if slot == 0 else 0)


class GradSums:
    """Weight gradients summed over the steps of a backward loop, a chunk of at most `steps` steps
    at a time: sums[name] += D @ M^T with D (K*H, n*B) the chunk's gate gradients and M (C, n*B)
    its inputs (`flat`). The loop hands a chunk over right after computing it, while its gradients
    are still in cache, so they never make a round trip through memory as one (T, K*H, B) array.
    The chunk copies and partial sums live in scratch arrays of this object, one per name, reused
    by every chunk (a chunk's copy is dead once its sum is added), so they stay small and in cache.
    One chunk sum is a GEMM with n*B = 512..2048 terms per element."""

    def __init__(self, steps: int):
        self.steps = steps
        self.sums: dict[str, np.ndarray] = {}
        self._scratch: dict[str, np.ndarray] = {}

    def _buffer(self, name: str, shape, dtype) -> np.ndarray:
        if name not in self._scratch:
            self._scratch[name] = buffers.empty(shape, dtype)
        return self._scratch[name]

    def flat(self, name: str, X: np.ndarray) -> np.ndarray:
        """flat_tb(X) of a chunk X (n, C, B), n <= steps, in the scratch copy `name`."""
        _, C, B = X.shape
        return flat_tb(X, self._buffer(name, (self.steps * C * B,), X.dtype))

    def add(self, name: str, D: np.ndarray, M: np.ndarray) -> None:
        shape = (D.shape[0], M.shape[0])
        if name not in self.sums:
            self.sums[name] = np.matmul(D, M.T, out=buffers.empty(shape, D.dtype))
        else:
            self.sums[name] += np.matmul(D, M.T, out=self._buffer(name + ".part", shape, D.dtype))

    def add_rowsum(self, name: str, D: np.ndarray) -> None:
        part = D.sum(axis=1)
        if name in self.sums:
            self.sums[name] += part
        else:
            self.sums[name] = part


def step_mask(mask: np.ndarray | None, T: int, B: int, dtype):
    """(B, T) bool mask (True = valid step) -> None when every step is valid, else a dict:

    pad (T, 1, B) bool, True at padded steps (for `np.copyto(..., where=pad[t])` on a (C, B) step);
    keep (T, 1, B) dtype, 1.0 at valid steps (multiplies a (T, C, B) sequence or a (C, B) step);
    any (T,) bool, whether step t has a padded row at all (steps without one skip the masking).
    """
    if mask is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (B, T):
        raise ValueError(f"mask must have shape (B, T) = {(B, T)}, got {mask.shape}")
    if mask.all():
        return None
    keepT = np.ascontiguousarray(mask.T)[:, None, :]
    return {"pad": ~keepT, "keep": keepT.astype(dtype), "any": ~mask.all(axis=0)}


def output_grad_into(dh: np.ndarray, dy_t: np.ndarray, dh_next: np.ndarray, m: dict | None, t: int) -> bool:
    """Backward step start: dh <- dy_t + dh_next, with dy_t ignored at padded columns (padded
    outputs are the constant zero). Returns whether step t has padded columns."""
    padded = m is not None and bool(m["any"][t])
    if padded:
        np.multiply(dy_t, m["keep"][t], out=dh)
        dh += dh_next
    else:
        np.add(dy_t, dh_next, out=dh)
    return padded


def initial_state(h0: np.ndarray | None, H: int, B: int, dtype) -> np.ndarray:
    """(B, H) initial state or None -> (H, B) (zeros for None)."""
    return np.zeros((H, B), dtype) if h0 is None else np.array(np.asarray(h0, dtype).T, order="C")


def states_in(h0, n_states: int, H: int, B: int, dtype):
    """A layer's public initial state(s) -> (H, B): h0 (B, H) or None for GRU (n_states 1), a tuple
    (h0, c0) or None for LSTM (n_states 2)."""
    if n_states == 1:
        return initial_state(h0, H, B, dtype)
    return tuple(initial_state(s, H, B, dtype) for s in (h0 if h0 is not None else (None,) * n_states))


def states_out(dh0, n_states: int):
    """(H, B) initial-state gradient(s) -> the public form (B, H) (a tuple for LSTM), always a copy
    (the (H, B) arrays may be pooled, nn/buffers.py)."""
    return np.array(dh0.T, order="C") if n_states == 1 else tuple(np.array(d.T, order="C") for d in dh0)


# -------------------------------------------------------------- sequence, time-major
# The layers' public form, x (T, B, F) -> y (T, B, H), around their step-contiguous functions.


def time_major_forward(forward_tcb, n_states: int, p: dict, x: np.ndarray, h0, mask):
    """x (T, B, F) -> y (T, B, H), cache {"tcb": the layer's cache, "Hs": states (T+1, B, H), a
    view with Hs[0] = h0}. h0 as states_in, mask (B, T) bool or None. Unmasked, y is a view of Hs."""
    T, B, F = x.shape
    dt = p["Wx"].dtype
    H = p["Wh"].shape[0]
    m = step_mask(mask, T, B, dt)
    Hs, cache = forward_tcb(p, np.asarray(x, dt).transpose(0, 2, 1), states_in(h0, n_states, H, B, dt), m)
    y = Hs[1:] if m is None else Hs[1:] * m["keep"]
    return y.transpose(0, 2, 1), {"tcb": cache, "Hs": Hs.transpose(0, 2, 1)}


def time_major_backward(backward_tcb, n_states: int, p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), the initial-state gradient(s) as states_out, grads."""
    dY = np.ascontiguousarray(np.asarray(dy, p["Wx"].dtype).transpose(0, 2, 1))
    dX, dh0, grads = backward_tcb(p, cache["tcb"], dY)
    return dX.transpose(0, 2, 1), states_out(dh0, n_states), grads
