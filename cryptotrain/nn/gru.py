"""One GRU layer over a whole sequence: a one-step cell and a time loop, forward and backward.

Equations (as torch.nn.GRU), gate order r, z, n in every fused matrix:

    r = sig(x Wx_r + h Wh_r + b_r)        z = sig(x Wx_z + h Wh_z + b_z)
    n = tanh(x Wx_n + b_n + r * (h Wh_n + bhn))
    h' = (1 - z) * n + z * h

params (one layer):  Wx (F, 3H)   Wh (H, 3H)   b (3H,)   bhn (H,)
Mapping to torch (weights are transposed there): Wx = weight_ih_l{k}.T, Wh = weight_hh_l{k}.T,
b = bias_ih_l{k} + [bias_hh_l{k}[:2H], 0], bhn = bias_hh_l{k}[2H:].

Layout, chosen for speed: sequences are TIME-MAJOR here, x (T, B, F) -> y (T, B, H), so every
per-step slice is contiguous. The input projections of all steps are one GEMM before the loop,
written straight into the gate buffer G; the backward loop stores the gate pre-activation
gradients per step and sums dWx, dWh with one GEMM each after the loop.

Padding (mask (B, T), False = padded step, left padding in practice): a padded step keeps the
state (h_t = h_{t-1}), outputs ZERO, and gets zero gradient (its gates do not contribute).

Without a mask, y is a view of the cached states: do not modify it in place.

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn.rnn_common import fused_weights, output_grad_into, sigmoid_, time_major_mask


def gru_init(n_in: int, H: int, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    Wx, Wh = fused_weights(rng, n_in, H, 3, dtype)
    return {
        "Wx": Wx,                          # (F, 3H)  input weights, gates r, z, n
        "Wh": Wh,                          # (H, 3H)  recurrent weights, gates r, z, n
        "b": np.zeros(3 * H, dtype),       # (3H,)    input-side biases (r, z also hold torch's b_hh)
        "bhn": np.zeros(H, dtype),         # (H,)     recurrent bias of n, inside r * (...)
    }


# ----------------------------------------------------------------------------- cell
# The cell writes into buffers it is given (no allocation in the time loop).


def gru_cell_forward(g, h_prev, Wh, bhn, gh, hn, h):
    """One step. g (B, 3H): input projection x_t Wx + b on entry, gates [r, z, n] on exit.

    gh (B, 3H) scratch; writes hn (B, H) = h_prev Wh_n + bhn and h (B, H) = the new state.
    """
    H = h.shape[1]
    np.matmul(h_prev, Wh, out=gh)
    rz, n = g[:, :2 * H], g[:, 2 * H:]
    rz += gh[:, :2 * H]
    sigmoid_(rz)
    np.add(gh[:, 2 * H:], bhn, out=hn)
    np.multiply(rz[:, :H], hn, out=h)              # h used as scratch: r * hn
    n += h
    np.tanh(n, out=n)
    np.subtract(h_prev, n, out=h)                  # h' = n + z * (h - n)
    h *= rz[:, H:]
    h += n


def gru_cell_backward(dh, h_prev, g, hn, WhT, dgh, dan, dh_prev, tmp):
    """One step back. dh (B, H) total gradient of the new state; g = [r, z, n], hn as cached.

    Writes dgh (B, 3H) = [da_r, da_z, d(hn)], dan (B, H) = gradient of n's pre-activation (its
    input side), and dh_prev (B, H). tmp (B, H) scratch.
    """
    H = dh.shape[1]
    r, z, n = g[:, :H], g[:, H:2 * H], g[:, 2 * H:]
    dar, daz, dhn = dgh[:, :H], dgh[:, H:2 * H], dgh[:, 2 * H:]
    np.subtract(h_prev, n, out=daz)                # da_z = dh (h - n) z (1 - z)
    daz *= dh
    np.subtract(1.0, z, out=tmp)
    np.multiply(dh, tmp, out=dan)                  # dn = dh (1 - z)
    tmp *= z
    daz *= tmp
    np.multiply(n, n, out=tmp)                     # da_n = dn (1 - n^2)
    np.subtract(1.0, tmp, out=tmp)
    dan *= tmp
    np.multiply(dan, r, out=dhn)                   # d(hn) = da_n r
    np.multiply(dan, hn, out=dar)                  # da_r = da_n hn r (1 - r)
    np.subtract(1.0, r, out=tmp)
    tmp *= r
    dar *= tmp
    np.matmul(dgh, WhT, out=dh_prev)               # dh_prev = dgh Wh^T + dh z
    np.multiply(dh, z, out=tmp)
    dh_prev += tmp


# ------------------------------------------------------------------------- sequence


def gru_forward(p: dict, x: np.ndarray, h0: np.ndarray | None = None, mask: np.ndarray | None = None):
    """x (T, B, F) time-major -> y (T, B, H), cache. h0 (B, H) or None (zeros); mask (B, T) bool."""
    Wx, Wh, b, bhn = p["Wx"], p["Wh"], p["b"], p["bhn"]
    T, B, F = x.shape
    H = Wh.shape[0]
    dt = Wx.dtype
    x = np.asarray(x, dtype=dt)
    m = time_major_mask(mask, T, B, dt)
    G = np.empty((T, B, 3 * H), dt)                # input projections, then gates r, z, n
    np.matmul(x.reshape(T * B, F), Wx, out=G.reshape(T * B, 3 * H))
    G += b
    HN = np.empty((T, B, H), dt)                   # h_{t-1} Wh_n + bhn
    Hs = np.empty((T + 1, B, H), dt)               # states; Hs[0] = h0, Hs[t+1] = h_t
    Hs[0] = 0.0 if h0 is None else h0
    gh = np.empty((B, 3 * H), dt)
    for t in range(T):
        gru_cell_forward(G[t], Hs[t], Wh, bhn, gh, HN[t], Hs[t + 1])
        if m is not None and m["any"][t]:
            np.copyto(Hs[t + 1], Hs[t], where=m["pad"][t])
    y = Hs[1:] if m is None else Hs[1:] * m["keep"]
    return y, {"x": x, "G": G, "HN": HN, "Hs": Hs, "mask": m}


def gru_backward(p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), dh0 (B, H), grads {Wx, Wh, b, bhn}.

    Walks the forward loop in reverse, carrying dh_next.
    """
    Wx, Wh = p["Wx"], p["Wh"]
    x, G, HN, Hs, m = cache["x"], cache["G"], cache["HN"], cache["Hs"], cache["mask"]
    T, B, F = x.shape
    H = Wh.shape[0]
    dt = G.dtype
    WhT = np.ascontiguousarray(Wh.T)
    dG = np.empty((T, B, 3 * H), dt)               # per step [da_r, da_z, d(hn)]
    dAn = np.empty((T, B, H), dt)                  # per step da_n (input side)
    dh, dh_next, tmp = np.empty((B, H), dt), np.zeros((B, H), dt), np.empty((B, H), dt)
    for t in reversed(range(T)):
        padded = output_grad_into(dh, dy[t], dh_next, m, t)
        gru_cell_backward(dh, Hs[t], G[t], HN[t], WhT, dG[t], dAn[t], dh_next, tmp)
        if padded:                                     # h_t = h_{t-1}: pass dh through
            keep = m["keep"][t]
            dG[t] *= keep
            dAn[t] *= keep
            np.copyto(dh_next, dh, where=m["pad"][t])
    # weight gradients: one GEMM each over all steps
    TB = T * B
    dGf = dG.reshape(TB, 3 * H)
    grads = {"Wh": Hs[:-1].reshape(TB, H).T @ dGf, "bhn": dGf[:, 2 * H:].sum(axis=0)}
    dGf[:, 2 * H:] = dAn.reshape(TB, H)            # dG now holds the input-side gradients
    grads["Wx"] = x.reshape(TB, F).T @ dGf
    grads["b"] = dGf.sum(axis=0)
    dx = (dGf @ Wx.T).reshape(T, B, F)
    return dx, dh_next, grads


def gru_from_torch(w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Our layer params from torch.nn.GRU's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (as NumPy arrays): transpose the weights, fold b_hh's r, z parts into b, keep its n part apart."""
    H = w_hh.shape[1]
    b = np.array(b_ih, copy=True)
    b[:2 * H] += b_hh[:2 * H]
    return {"Wx": np.ascontiguousarray(w_ih.T), "Wh": np.ascontiguousarray(w_hh.T), "b": b,
            "bhn": np.array(b_hh[2 * H:], copy=True)}
