"""One LSTM layer over a whole sequence: a one-step cell and a time loop, forward and backward.

Equations (as torch.nn.LSTM), gate order i, f, g, o in every fused matrix:

    a = x Wx + h Wh + b                     (B, 4H)
    i = sig(a_i)  f = sig(a_f)  g = tanh(a_g)  o = sig(a_o)
    c' = f * c + i * g          h' = o * tanh(c')

params (one layer):  Wx (F, 4H)   Wh (H, 4H)   b (4H,)   (forget-gate bias initialised to 1)
Mapping to torch (weights are transposed there): Wx = weight_ih_l{k}.T, Wh = weight_hh_l{k}.T,
b = bias_ih_l{k} + bias_hh_l{k}.

Layout as in nn/gru.py: TIME-MAJOR x (T, B, F) -> y (T, B, H); input projections of all steps in
one GEMM before the loop; gate pre-activation gradients stored per step, dWx and dWh summed with
one GEMM each after the loop.

Padding (mask (B, T), False = padded step): a padded step keeps h and c unchanged, outputs ZERO
and gets zero gradient.

Without a mask, y is a view of the cached states: do not modify it in place.

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn.rnn_common import fused_weights, output_grad_into, sigmoid_, time_major_mask


def lstm_init(n_in: int, H: int, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    Wx, Wh = fused_weights(rng, n_in, H, 4, dtype)
    b = np.zeros(4 * H, dtype)
    b[H:2 * H] = 1.0                               # forget gate open at the start
    return {
        "Wx": Wx,                          # (F, 4H)  input weights, gates i, f, g, o
        "Wh": Wh,                          # (H, 4H)  recurrent weights, gates i, f, g, o
        "b": b,                            # (4H,)    torch's bias_ih + bias_hh
    }


# ----------------------------------------------------------------------------- cell
# The cell writes into buffers it is given (no allocation in the time loop).


def lstm_cell_forward(g, h_prev, c_prev, Wh, gh, c, tc, h):
    """One step. g (B, 4H): input projection x_t Wx + b on entry, gates [i, f, g, o] on exit.

    gh (B, 4H) scratch; writes c (B, H), tc = tanh(c) (B, H) and h (B, H).
    """
    H = h.shape[1]
    np.matmul(h_prev, Wh, out=gh)
    g += gh
    sigmoid_(g[:, :2 * H])
    np.tanh(g[:, 2 * H:3 * H], out=g[:, 2 * H:3 * H])
    sigmoid_(g[:, 3 * H:])
    np.multiply(g[:, H:2 * H], c_prev, out=c)      # c' = f c + i g
    np.multiply(g[:, :H], g[:, 2 * H:3 * H], out=h)  # h used as scratch
    c += h
    np.tanh(c, out=tc)
    np.multiply(g[:, 3 * H:], tc, out=h)           # h' = o tanh(c')


def lstm_cell_backward(dh, dc, c_prev, g, tc, WhT, da, dh_prev, dc_prev, tmp):
    """One step back. dh, dc (B, H): total gradients of the new h and c; g = [i, f, g, o].

    Writes da (B, 4H) gate pre-activation gradients, dh_prev, dc_prev (B, H). tmp (B, H) scratch.
    dc is overwritten (it becomes the full gradient of c').
    """
    H = dh.shape[1]
    i, f, gg, o = g[:, :H], g[:, H:2 * H], g[:, 2 * H:3 * H], g[:, 3 * H:]
    dai, daf, dag, dao = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
    np.multiply(dh, tc, out=dao)                   # da_o = dh tanh(c') o (1 - o)
    np.subtract(1.0, o, out=tmp)
    tmp *= o
    dao *= tmp
    np.multiply(tc, tc, out=tmp)                   # dc += dh o (1 - tanh(c')^2)
    np.subtract(1.0, tmp, out=tmp)
    tmp *= o
    tmp *= dh
    dc += tmp
    np.multiply(dc, f, out=dc_prev)                # dc_prev = dc f
    np.multiply(dc, gg, out=dai)                   # da_i = dc g i (1 - i)
    np.subtract(1.0, i, out=tmp)
    tmp *= i
    dai *= tmp
    np.multiply(dc, c_prev, out=daf)               # da_f = dc c f (1 - f)
    np.subtract(1.0, f, out=tmp)
    tmp *= f
    daf *= tmp
    np.multiply(dc, i, out=dag)                    # da_g = dc i (1 - g^2)
    np.multiply(gg, gg, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    dag *= tmp
    np.matmul(da, WhT, out=dh_prev)                # dh_prev = da Wh^T


# ------------------------------------------------------------------------- sequence


def lstm_forward(p: dict, x: np.ndarray, h0=None, mask: np.ndarray | None = None):
    """x (T, B, F) time-major -> y (T, B, H), cache. h0 = (h0, c0) each (B, H), or None (zeros)."""
    Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
    T, B, F = x.shape
    H = Wh.shape[0]
    dt = Wx.dtype
    x = np.asarray(x, dtype=dt)
    m = time_major_mask(mask, T, B, dt)
    G = np.empty((T, B, 4 * H), dt)                # input projections, then gates i, f, g, o
    np.matmul(x.reshape(T * B, F), Wx, out=G.reshape(T * B, 4 * H))
    G += b
    Hs = np.empty((T + 1, B, H), dt)               # Hs[t+1] = h_t, Hs[0] = h0
    Cs = np.empty((T + 1, B, H), dt)               # Cs[t+1] = c_t, Cs[0] = c0
    TC = np.empty((T, B, H), dt)                   # tanh(c_t)
    Hs[0], Cs[0] = (0.0, 0.0) if h0 is None else h0
    gh = np.empty((B, 4 * H), dt)
    for t in range(T):
        lstm_cell_forward(G[t], Hs[t], Cs[t], Wh, gh, Cs[t + 1], TC[t], Hs[t + 1])
        if m is not None and m["any"][t]:
            np.copyto(Hs[t + 1], Hs[t], where=m["pad"][t])
            np.copyto(Cs[t + 1], Cs[t], where=m["pad"][t])
    y = Hs[1:] if m is None else Hs[1:] * m["keep"]
    return y, {"x": x, "G": G, "Hs": Hs, "Cs": Cs, "TC": TC, "mask": m}


def lstm_backward(p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), (dh0, dc0), grads {Wx, Wh, b}.

    Walks the forward loop in reverse, carrying dh_next and dc_next.
    """
    Wx, Wh = p["Wx"], p["Wh"]
    x, G, Hs, Cs, TC, m = (cache[k] for k in ("x", "G", "Hs", "Cs", "TC", "mask"))
    T, B, F = x.shape
    H = Wh.shape[0]
    dt = G.dtype
    WhT = np.ascontiguousarray(Wh.T)
    dA = np.empty((T, B, 4 * H), dt)               # per step gate pre-activation gradients
    dh, dc, tmp = np.empty((B, H), dt), np.empty((B, H), dt), np.empty((B, H), dt)
    dh_next, dc_next = np.zeros((B, H), dt), np.zeros((B, H), dt)
    dc_in = np.empty((B, H), dt)                   # incoming dc at padded steps
    for t in reversed(range(T)):
        padded = output_grad_into(dh, dy[t], dh_next, m, t)
        np.copyto(dc, dc_next)
        if padded:
            np.copyto(dc_in, dc_next)
        lstm_cell_backward(dh, dc, Cs[t], G[t], TC[t], WhT, dA[t], dh_next, dc_next, tmp)
        if padded:                                     # (h, c)_t = (h, c)_{t-1}: pass through
            pad = m["pad"][t]
            dA[t] *= m["keep"][t]
            np.copyto(dh_next, dh, where=pad)
            np.copyto(dc_next, dc_in, where=pad)
    TB = T * B
    dAf = dA.reshape(TB, 4 * H)
    grads = {"Wx": x.reshape(TB, F).T @ dAf, "Wh": Hs[:-1].reshape(TB, H).T @ dAf, "b": dAf.sum(axis=0)}
    dx = (dAf @ Wx.T).reshape(T, B, F)
    return dx, (dh_next, dc_next), grads


def lstm_from_torch(w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Our layer params from torch.nn.LSTM's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (as NumPy arrays): transpose the weights and add the two biases."""
    return {"Wx": np.ascontiguousarray(w_ih.T), "Wh": np.ascontiguousarray(w_hh.T), "b": b_ih + b_hh}
