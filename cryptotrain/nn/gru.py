"""One GRU layer over a whole sequence: a one-step cell and a time loop, forward and backward.

The same math written plainly, batch-major with one expression per equation, is
nn/reference.py (`reference_gru`); the tests check this fast version against it.

Forward, one step (as torch.nn.GRU), gate order r, z, n in every fused matrix:

    a_r = x Wx_r + h Wh_r + b_r            r = sig(a_r)
    a_z = x Wx_z + h Wh_z + b_z            z = sig(a_z)
    hn  = h Wh_n + bhn                     (the recurrent side of n, gated by r)
    a_n = x Wx_n + b_n + r * hn            n = tanh(a_n)
    h'  = (1 - z) * n + z * h  =  n + z * (h - n)

Backward, one step, in the order gru_cell_backward computes it (dh = total gradient of h'):

    u    = dh z                            (the direct part of dh_prev)
    dn   = dh (1 - z)  =  dh - u
    da_n = dn (1 - n^2)
    dhn  = da_n r
    dr   = da_n hn
    dz   = dh (h - n)
    da_r = dr r (1 - r)                    da_z = dz z (1 - z)
    dh_prev = [da_r, da_z, dhn] Wh^T + u

and after the loop, summed over steps and batch (GradSums, one chunk of steps at a time):

    [dWh; db_r, db_z, dbhn] = sum [h; 1]^T [da_r, da_z, dhn]
    dWx = sum x^T [da_r, da_z, da_n]       db_n = sum da_n       dx = [da_r, da_z, da_n] Wx^T

params (one layer):  Wx (F, 3H)   Wh (H, 3H)   b (3H,)   bhn (H,)
Mapping to torch (weights are transposed there): Wx = weight_ih_l{k}.T, Wh = weight_hh_l{k}.T,
b = bias_ih_l{k} + [bias_hh_l{k}[:2H], 0], bhn = bias_hh_l{k}[2H:].

Layout, chosen for speed (nn/rnn_common.py): STEP-CONTIGUOUS inside, X (T, F, B) -> states
(T+1, H, B); one step is a contiguous (C, B) block, so the equations above hold with every
array transposed: a (3H, B) = Wx^T x + ... . `gru_forward_tcb` / `gru_backward_tcb` are what the
stack (nn/recurrent.py) runs; `gru_forward` / `gru_backward` wrap them time-major,
x (T, B, F) -> y (T, B, H). Every `chunk_steps` steps, one batched GEMM writes the input
projections of the next chunk into the gate buffer A (T, 4H, B), so they are still in cache when
the steps read them; a step adds Wh^T h and leaves [r, z, n, hn] in place. In eval mode
(keep_cache=False) A is a ring of one chunk, [r, z, n] only. The backward stores the gate gradients per step and sums dWx, dWh with one GEMM each
per chunk of steps. The r and z rows of Wx^T, Wh^T and b are negated and the n rows (with b_n
and bhn) multiplied by -2, exactly, so that sig(a) = 1 / (1 + exp(-a)) is exp, +1 and a
reciprocal and tanh(a) = 2 sig(2a) - 1 two ops more (nn/layers.py sigmoid_of_negated,
tanh_of_scaled); a_n comes out as -2 a_n to the bit, since scaling by -2 commutes with rounding.

Padding (mask (B, T), False = padded step, left padding in practice): a padded step keeps the
state (h_t = h_{t-1}), outputs ZERO, and gets zero gradient (its gates do not contribute).

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn import buffers
from cryptotrain.nn.init import fused_weights
from cryptotrain.nn.layers import sigmoid_of_negated, tanh_of_scaled
from cryptotrain.nn.rnn_common import (GradSums, chunk_steps, output_grad_into, recurrent_weights, reversed_chunks,
                                       scaled_rows, states_buffer, time_major_backward,
                                       time_major_forward)

SCALES = (-1, -1, -2)   # r, z rows negated (sigmoid_of_negated), n rows times -2 (tanh_of_scaled)


def gru_init(n_in: int, H: int, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    Wx, Wh = fused_weights(rng, n_in, H, 3, dtype)
    return {
        "Wx": Wx,                          # (F, 3H)  input weights, gates r, z, n
        "Wh": Wh,                          # (H, 3H)  recurrent weights, gates r, z, n
        "b": np.zeros(3 * H, dtype),       # (3H,)    input-side biases (r, z also hold torch's b_hh)
        "bhn": np.zeros(H, dtype),         # (H,)     recurrent bias of n, inside r * (...)
    }


# ----------------------------------------------------------------------------- cell
# Every array is a (rows, B) block; the cell writes into buffers it is given (no allocation).


def gru_cell_forward(a, h_prev, WhT, ah, tmp, h):
    """One step. a: rows [0, 3H) hold Wx^T x_t + [0, 0, b_n] on entry, scaled by SCALES (r, z rows
    negated, n rows times -2), and the gates [r, z, n] on exit; a (4H, B) (training) also gets hn
    in rows [3H, 4H) for the backward, a (3H, B) (no cache kept) does not. WhT (3H, H+1) =
    [Wh^T | b_r, b_z, bhn] scaled likewise, and h_prev (H+1, B) = [h; 1]
    (rnn_common.recurrent_weights). Writes h (H, B), the new state. ah (3H, B) holds the recurrent
    side [-(Wh_rz^T h + b_rz), -2 hn]; tmp (H, B) scratch."""
    H = h.shape[0]
    np.matmul(WhT, h_prev, out=ah)
    rz, n, hn2 = a[:2 * H], a[2 * H:3 * H], ah[2 * H:]   # hn2 = -2 hn, hn = h Wh_n + bhn
    rz += ah[:2 * H]                               # -[a_r, a_z]
    sigmoid_of_negated(rz)                         # [r, z] = sig(a) = 1 / (1 + exp(-a))
    if len(a) > 3 * H:                             # training: keep hn beside the gates
        np.multiply(hn2, -0.5, out=a[3 * H:])
    np.multiply(rz[:H], hn2, out=tmp)              # tmp = -2 r hn
    n += tmp                                       # -2 a_n = -2 (x Wx_n + b_n + r hn)
    tanh_of_scaled(n)                              # n = tanh(a_n)
    np.subtract(h_prev[:H], n, out=tmp)            # tmp = h - n
    tmp *= rz[H:]
    np.add(tmp, n, out=h)                          # h' = n + z (h - n)


def gru_cell_backward(dh, h_prev, a, Wh, da, dan, dh_prev, scratch):
    """One step back, the module docstring's backward equations in order. dh (H, B) total gradient
    of h_t; h_prev (H, B); a = [r, z, n, hn] as the forward left them; Wh (H, 3H).

    Writes da (3H, B) = [da_r, da_z, dhn] (the gradients of the GEMM [Wh^T | b] [h; 1]),
    dan (H, B) = da_n (the input side of n's pre-activation) and dh_prev (H, B).
    scratch = (d_rz (2H, B) = [dr, dz], slope (2H, B) = [r (1 - r), z (1 - z)], dn (H, B), u (H, B)).
    """
    H = dh.shape[0]
    rz, z, n, hn = a[:2 * H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    d_rz, slope, dn, u = scratch
    np.multiply(dh, z, out=u)                      # u = dh z
    np.subtract(dh, u, out=dn)                     # dn = dh (1 - z)
    np.multiply(n, n, out=dan)
    np.subtract(1.0, dan, out=dan)
    dan *= dn                                      # da_n = dn (1 - n^2)
    np.multiply(dan, rz[:H], out=da[2 * H:])       # dhn = da_n r
    np.multiply(dan, hn, out=d_rz[:H])             # dr = da_n hn
    np.subtract(h_prev, n, out=d_rz[H:])           # dz = dh (h - n)
    d_rz[H:] *= dh
    np.subtract(1.0, rz, out=slope)                # [da_r, da_z] = [dr, dz] s (1 - s), s = [r, z]
    slope *= rz
    np.multiply(d_rz, slope, out=da[:2 * H])
    np.matmul(Wh, da, out=dh_prev)                 # dh_prev = Wh [da_r, da_z, dhn] + u
    dh_prev += u


# ------------------------------------------------------------ sequence, step-contiguous


def gru_forward_tcb(p: dict, X: np.ndarray, h0: np.ndarray, m: dict | None = None, keep_cache: bool = True):
    """X (T, F, B) -> Hs (T+1, H, B) with Hs[0] = h0 (H, B) and Hs[t+1] = h_t (a view), and the cache
    (None unless keep_cache). X may be any view whose (F, B) items BLAS reads (the stack passes x (B, T, F)
    as a view). m: rnn_common.step_mask or None. Padded steps carry the state (the caller zeroes
    outputs). keep_cache=False (eval mode, nothing to differentiate): the same arithmetic, bit for bit,
    with the gate buffer a ring of a few steps instead of all T, and hn not stored."""
    Wx, Wh, b, bhn = p["Wx"], p["Wh"], p["b"], p["bhn"]
    T, F, B = X.shape
    H = Wh.shape[0]
    dt = Wx.dtype
    WhT = recurrent_weights(Wh, np.concatenate([b[:2 * H], bhn]), SCALES)   # (3H, H+1), adds b_rz, bhn
    WxT = scaled_rows(Wx, SCALES)
    bn2 = (-2.0 * b[2 * H:])[:, None]              # b_n scaled as the n rows (exact)
    steps = min(chunk_steps(H), T)
    A = buffers.empty((T, 4 * H, B) if keep_cache else (steps, 3 * H, B), dt)   # per step [r, z, n, hn] / [r, z, n]
    Hs = states_buffer(T, H, B, dt)                # Hs[t+1] = [h_t; 1]
    Hs[0, :H] = h0
    ah, tmp = buffers.empty((3 * H, B), dt), buffers.empty((H, B), dt)
    with np.errstate(over="ignore"):                  # exp(-a) = inf for a < -88: sigmoid 0, exact
        for t in range(T):
            s = t % len(A)                         # step t's slot in A
            if t % steps == 0:                     # input projections of the next n steps (in cache for them;
                n = min(steps, T - t)              # one GEMM per step however they are chunked)
                np.matmul(WxT, X[t:t + n], out=A[s:s + n, :3 * H])
                A[s:s + n, 2 * H:3 * H] += bn2             # -2 b_n, the input-side bias of n (outside r * ...)
            gru_cell_forward(A[s], Hs[t], WhT, ah, tmp, Hs[t + 1, :H])
            if m is not None and m["any"][t]:
                np.copyto(Hs[t + 1], Hs[t], where=m["pad"][t])
    return Hs[:, :H], ({"X": X, "A": A, "Hs": Hs, "mask": m} if keep_cache else None)


def gru_backward_tcb(p: dict, cache: dict, dY: np.ndarray, need_dx: bool = True):
    """dY (T, H, B) gradient of h_1..h_T -> dX (T, F, B) (None unless need_dx), dh0 (H, B),
    grads {Wx, Wh, b, bhn}.

    Walks the forward loop in reverse, carrying dh_next. The gate gradients of the last `steps`
    steps (rnn_common.chunk_steps) live in a ring buffer; at each chunk start their weight
    gradients are summed (rnn_common.GradSums, as (3H, .) = D @ M^T: 5-45% faster GEMMs than
    M @ D^T for these shapes) and their input gradients dX computed.
    """
    Wx, Wh = p["Wx"], p["Wh"]
    X, A, Hs, m = cache["X"], cache["A"], cache["Hs"], cache["mask"]
    T, F, B = X.shape
    H = Wh.shape[0]
    dt = A.dtype
    steps = min(chunk_steps(H), T)
    dA = buffers.empty((steps, 3 * H, B), dt)      # ring buffer: per step [da_r, da_z, dhn]
    dAn = buffers.empty((steps, H, B), dt)         # ring buffer: per step da_n (input side of n)
    dh, dh_next = buffers.empty((H, B), dt), buffers.zeros((H, B), dt)
    scratch = tuple(buffers.empty((k * H, B), dt) for k in (2, 2, 1, 1))
    dX = buffers.empty((T, F, B), dt) if need_dx else None
    sums = GradSums(steps)
    for t, slot, done in reversed_chunks(T, steps):
        padded = output_grad_into(dh, dY[t], dh_next, m, t)
        gru_cell_backward(dh, Hs[t, :H], A[t], Wh, dA[slot], dAn[slot], dh_next, scratch)
        if padded:                                 # h_t = h_{t-1}: pass dh through
            keep = m["keep"][t]
            dA[slot] *= keep
            dAn[slot] *= keep
            np.copyto(dh_next, dh, where=m["pad"][t])
        if done:                                   # steps t .. t+done-1 are done: sum them
            D = sums.flat("d", dA[:done])          # (3H, done*B) [da_r, da_z, dhn]
            sums.add("h", D, sums.flat("h", Hs[t:t + done]))   # [dWh^T | db_r, db_z, dbhn] (row of ones)
            # D's last H rows now take da_n in place of dhn: the input side [da_r, da_z, da_n]
            np.copyto(D[2 * H:].reshape(H, done, B), dAn[:done].transpose(1, 0, 2))
            sums.add("x", D, sums.flat("x", X[t:t + done]))
            sums.add_rowsum("b_n", D[2 * H:])
            if need_dx:                            # the ring buffer likewise: dA[:done] = [da_r, da_z, da_n]
                np.copyto(dA[:done, 2 * H:], dAn[:done])
                np.matmul(Wx, dA[:done], out=dX[t:t + done])
    dWhT = sums.sums["h"]                          # (3H, H+1)
    grads = {"Wx": sums.sums["x"].T.copy(), "Wh": dWhT[:, :H].T.copy(),
             "b": np.concatenate([dWhT[:2 * H, H], sums.sums["b_n"]]), "bhn": dWhT[2 * H:, H].copy()}
    return dX, dh_next, grads


# -------------------------------------------------------------- sequence, time-major


def gru_forward(p: dict, x: np.ndarray, h0: np.ndarray | None = None, mask: np.ndarray | None = None):
    """x (T, B, F) -> y (T, B, H), cache. h0 (B, H) or None (zeros); mask (B, T) bool.
    cache["Hs"] is the states (T+1, B, H) (a view; Hs[0] = h0). Unmasked, y is a view of it."""
    return time_major_forward(gru_forward_tcb, 1, p, x, h0, mask)


def gru_backward(p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), dh0 (B, H), grads {Wx, Wh, b, bhn}."""
    return time_major_backward(gru_backward_tcb, 1, p, cache, dy)


def gru_from_torch(w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Our layer params from torch.nn.GRU's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (as NumPy arrays): transpose the weights, fold b_hh's r, z parts into b, keep its n part apart.
    For the torch parity tests (tests/test_torch_parity_rnn.py) and the benchmark's torch reference."""
    H = w_hh.shape[1]
    b = np.array(b_ih, copy=True)
    b[:2 * H] += b_hh[:2 * H]
    return {"Wx": np.ascontiguousarray(w_ih.T), "Wh": np.ascontiguousarray(w_hh.T), "b": b,
            "bhn": np.array(b_hh[2 * H:], copy=True)}
