"""One GRU layer over a whole sequence: a one-step cell and a time loop, forward and backward.

Equations (as torch.nn.GRU), gate order r, z, n in every fused matrix:

    r = sig(x Wx_r + h Wh_r + b_r)        z = sig(x Wx_z + h Wh_z + b_z)
    n = tanh(x Wx_n + b_n + r * (h Wh_n + bhn))
    h' = (1 - z) * n + z * h

params (one layer):  Wx (F, 3H)   Wh (H, 3H)   b (3H,)   bhn (H,)
Mapping to torch (weights are transposed there): Wx = weight_ih_l{k}.T, Wh = weight_hh_l{k}.T,
b = bias_ih_l{k} + [bias_hh_l{k}[:2H], 0], bhn = bias_hh_l{k}[2H:].

Layout, chosen for speed (nn/rnn_common.py): STEP-CONTIGUOUS inside, X (T, F, B) -> states
(T+1, H, B); one step is a contiguous (C, B) block. `gru_forward_tcb` / `gru_backward_tcb` are
what the stack (nn/recurrent.py) runs; `gru_forward` / `gru_backward` wrap them time-major,
x (T, B, F) -> y (T, B, H). Before the loop, one batched GEMM writes the input projections of
all steps into the gate buffer G (T, 4H, B); a step adds Wh^T h_{t-1} and leaves [r, z, n, hn]
in place. The backward stores the gate gradients per step and sums dWx, dWh with one GEMM each
after the loop. The r and z rows of Wx^T, Wh^T and b are halved (exactly) so that
sigmoid(a) = 0.5 tanh(a/2) + 0.5 needs no separate halving.

Padding (mask (B, T), False = padded step, left padding in practice): a padded step keeps the
state (h_t = h_{t-1}), outputs ZERO, and gets zero gradient (its gates do not contribute).

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn import buffers
from cryptotrain.nn.rnn_common import (GradSums, chunk_steps, flat_tb, fused_weights, half_rows, output_grad_into,
                                       recurrent_weights, states_buffer, states_in, states_out, step_mask)


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


def gru_cell_forward(g, h_prev, WhT, gh, tmp, h):
    """One step. g (4H, B): rows [0, 3H) hold x_t Wx + [0, 0, b_n] on entry (r, z rows halved), and
    the gates [r, z, n, hn] on exit. WhT (3H, H+1) = [Wh^T | b_r, b_z, bhn], r and z rows halved,
    and h_prev (H+1, B) = [h; 1] (rnn_common.recurrent_weights). Writes h (H, B), the new state.
    gh (3H, B), tmp (H, B) scratch."""
    H = h.shape[0]
    np.matmul(WhT, h_prev, out=gh)                 # [(h Wh_rz + b_rz) / 2, hn = h Wh_n + bhn]
    rz, n, hn = g[:2 * H], g[2 * H:3 * H], g[3 * H:]
    rz += gh[:2 * H]                               # a_rz / 2
    np.tanh(rz, out=rz)                            # sigmoid(a) = 0.5 tanh(a / 2) + 0.5
    rz *= 0.5
    rz += 0.5
    np.copyto(hn, gh[2 * H:])
    np.multiply(rz[:H], hn, out=tmp)
    n += tmp
    np.tanh(n, out=n)                              # n = tanh(x Wx_n + b_n + r hn)
    np.subtract(h_prev[:H], n, out=tmp)            # h' = n + z (h - n)
    tmp *= rz[H:]
    np.add(tmp, n, out=h)


def gru_cell_backward(dh, h_prev, g, Wh, dg, dan, dh_prev, scratch):
    """One step back. dh (H, B) total gradient of h_t; g = [r, z, n, hn] as cached.

    Writes dg (3H, B) = [da_r, da_z, d(hn)], dan (H, B) = da_n (the input side of n's
    pre-activation) and dh_prev (H, B). scratch = (P (2H, B), Q (2H, B), dn (H, B), u (H, B)).
    """
    H = dh.shape[0]
    rz, z, n, hn = g[:2 * H], g[H:2 * H], g[2 * H:3 * H], g[3 * H:]
    P, Q, dn, u = scratch
    np.multiply(dh, z, out=u)                      # dh z, the direct part of dh_prev
    np.subtract(dh, u, out=dn)                     # dn = dh (1 - z)
    np.multiply(n, n, out=P[:H])
    np.subtract(1.0, P[:H], out=P[:H])
    np.multiply(dn, P[:H], out=dan)                # da_n = dn (1 - n^2)
    np.multiply(dan, rz[:H], out=dg[2 * H:])       # d(hn) = da_n r
    np.multiply(dan, hn, out=P[:H])                # dr = da_n hn
    np.subtract(h_prev, n, out=P[H:])              # dz = dh (h - n)
    P[H:] *= dh
    np.subtract(1.0, rz, out=Q)                    # [da_r, da_z] = [dr, dz] s (1 - s)
    Q *= rz
    np.multiply(P, Q, out=dg[:2 * H])
    np.matmul(Wh, dg, out=dh_prev)                 # dh_prev = Wh dg + dh z
    dh_prev += u


# ------------------------------------------------------------ sequence, step-contiguous


def gru_forward_tcb(p: dict, X: np.ndarray, h0: np.ndarray, m: dict | None = None):
    """X (T, F, B) -> Hs (T+1, H, B) with Hs[0] = h0 (H, B) and Hs[t+1] = h_t (a view), and the cache.
    X may be any view whose (F, B) items BLAS reads (the stack passes x (B, T, F) as a view).
    m: rnn_common.step_mask or None. Padded steps carry the state (the caller zeroes outputs)."""
    Wx, Wh, b, bhn = p["Wx"], p["Wh"], p["b"], p["bhn"]
    T, F, B = X.shape
    H = Wh.shape[0]
    dt = Wx.dtype
    WhT = recurrent_weights(Wh, np.concatenate([b[:2 * H], bhn]), 2 * H)   # (3H, H+1), adds b_rz, bhn
    G = buffers.empty((T, 4 * H, B), dt)           # input projections, then per step [r, z, n, hn]
    np.matmul(half_rows(Wx, 2 * H), X, out=G[:, :3 * H])
    G[:, 2 * H:3 * H] += b[2 * H:, None]           # b_n, the input-side bias of n (outside r * ...)
    Hs = states_buffer(T, H, B, dt)                # Hs[t+1] = [h_t; 1]
    Hs[0, :H] = h0
    gh, tmp = buffers.empty((3 * H, B), dt), buffers.empty((H, B), dt)
    for t in range(T):
        gru_cell_forward(G[t], Hs[t], WhT, gh, tmp, Hs[t + 1, :H])
        if m is not None and m["any"][t]:
            np.copyto(Hs[t + 1], Hs[t], where=m["pad"][t])
    return Hs[:, :H], {"X": X, "G": G, "Hs": Hs, "mask": m}


def gru_backward_tcb(p: dict, cache: dict, dY: np.ndarray, need_dx: bool = True):
    """dY (T, H, B) gradient of h_1..h_T -> dX (T, F, B) (None unless need_dx), dh0 (H, B),
    grads {Wx, Wh, b, bhn}.

    Walks the forward loop in reverse, carrying dh_next. The gate gradients of the last c steps
    (rnn_common.chunk_steps) live in a ring buffer; at each chunk start their weight gradients
    are summed (rnn_common.GradSums, as (3H, .) = D @ M^T: 5-45% faster GEMMs than M @ D^T for
    these shapes) and their input gradients dX computed.
    """
    Wx, Wh = p["Wx"], p["Wh"]
    X, G, Hs, m = cache["X"], cache["G"], cache["Hs"], cache["mask"]
    T, F, B = X.shape
    H = Wh.shape[0]
    dt = G.dtype
    c = min(chunk_steps(H), T)
    dG = buffers.empty((c, 3 * H, B), dt)          # per step [da_r, da_z, d(hn)], last c steps
    dAn = buffers.empty((c, H, B), dt)             # per step da_n (input side)
    dh, dh_next = buffers.empty((H, B), dt), buffers.zeros((H, B), dt)
    scratch = tuple(buffers.empty((n * H, B), dt) for n in (2, 2, 1, 1))
    dX = buffers.empty((T, F, B), dt) if need_dx else None
    sums = GradSums()
    for t in reversed(range(T)):
        s = t % c
        padded = output_grad_into(dh, dY[t], dh_next, m, t)
        gru_cell_backward(dh, Hs[t, :H], G[t], Wh, dG[s], dAn[s], dh_next, scratch)
        if padded:                             # h_t = h_{t-1}: pass dh through
            keep = m["keep"][t]
            dG[s] *= keep
            dAn[s] *= keep
            np.copyto(dh_next, dh, where=m["pad"][t])
        if s == 0:                             # steps t .. t+n-1 done
            n = min(c, T - t)
            D = flat_tb(dG[:n])                # (3H, n*B) [da_r, da_z, d(hn)]
            sums.add("h", D, flat_tb(Hs[t:t + n]))    # [dWh^T | db_r, db_z, dbhn] (row of ones)
            np.copyto(D[2 * H:].reshape(H, n, B), dAn[:n].transpose(1, 0, 2))   # input side: da_n
            sums.add("x", D, flat_tb(X[t:t + n]))
            sums.add_rowsum("b_n", D[2 * H:])
            if need_dx:
                np.copyto(dG[:n, 2 * H:], dAn[:n])
                np.matmul(Wx, dG[:n], out=dX[t:t + n])
    dWhT = sums.sums["h"]                          # (3H, H+1)
    grads = {"Wx": np.ascontiguousarray(sums.sums["x"].T), "Wh": np.ascontiguousarray(dWhT[:, :H].T),
             "b": np.concatenate([dWhT[:2 * H, H], sums.sums["b_n"]]), "bhn": dWhT[2 * H:, H].copy()}
    return dX, dh_next, grads


# -------------------------------------------------------------- sequence, time-major


def gru_forward(p: dict, x: np.ndarray, h0: np.ndarray | None = None, mask: np.ndarray | None = None):
    """x (T, B, F) -> y (T, B, H), cache. h0 (B, H) or None (zeros); mask (B, T) bool.
    cache["Hs"] is the states (T+1, B, H) (a view; Hs[0] = h0). Unmasked, y is a view of it."""
    T, B, F = x.shape
    dt = p["Wx"].dtype
    H = p["Wh"].shape[0]
    m = step_mask(mask, T, B, dt)
    Hs, cache = gru_forward_tcb(p, np.asarray(x, dt).transpose(0, 2, 1), states_in(h0, 1, H, B, dt), m)
    y = Hs[1:] if m is None else Hs[1:] * m["keep"]
    return y.transpose(0, 2, 1), {"tcb": cache, "Hs": Hs.transpose(0, 2, 1)}


def gru_backward(p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), dh0 (B, H), grads {Wx, Wh, b, bhn}."""
    dY = np.ascontiguousarray(np.asarray(dy, p["Wx"].dtype).transpose(0, 2, 1))
    dX, dh0, grads = gru_backward_tcb(p, cache["tcb"], dY)
    return dX.transpose(0, 2, 1), states_out(dh0, 1), grads


def gru_from_torch(w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Our layer params from torch.nn.GRU's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (as NumPy arrays): transpose the weights, fold b_hh's r, z parts into b, keep its n part apart."""
    H = w_hh.shape[1]
    b = np.array(b_ih, copy=True)
    b[:2 * H] += b_hh[:2 * H]
    return {"Wx": np.ascontiguousarray(w_ih.T), "Wh": np.ascontiguousarray(w_hh.T), "b": b,
            "bhn": np.array(b_hh[2 * H:], copy=True)}
