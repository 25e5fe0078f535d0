"""The plain version of the GRU and LSTM math: batch-major, one NumPy expression per equation, no
buffers, no fused or scaled rows, no reordered gates. It is what nn/gru.py and nn/lstm.py compute
(their docstrings carry the same equations, forward and backward), written for reading and used
by the tests as an oracle for the fast step-contiguous layers (tests/test_speed_paths.py). It is
slow; nothing in training calls it.

Both functions take the layer params (gru_init / lstm_init), x (T, B, F), the initial state,
mask (B, T) bool (False = padded step: the state is carried, the output is zero, the step gets no
gradient) and dy (T, B, H), the gradient of the outputs, and return
y (T, B, H), dx (T, B, F), the initial-state gradient and the param grads.

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def reference_gru(p: dict, x: np.ndarray, h0: np.ndarray, mask: np.ndarray, dy: np.ndarray):
    """GRU (gate order r, z, n; nn/gru.py). h0 (B, H); returns y, dx, dh0 (B, H), grads."""
    Wx, Wh, b, bhn = p["Wx"], p["Wh"], p["b"], p["bhn"]
    T = x.shape[0]
    H = Wh.shape[0]
    hs, steps = [h0], []
    for t in range(T):
        ax, ah = x[t] @ Wx + b, hs[-1] @ Wh                   # input and recurrent sides
        r = _sig(ax[:, :H] + ah[:, :H])
        z = _sig(ax[:, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:] + bhn
        n = np.tanh(ax[:, 2 * H:] + r * hn)
        keep = mask[:, t:t + 1]
        hs.append(np.where(keep, (1 - z) * n + z * hs[-1], hs[-1]))
        steps.append((r, z, n, hn, keep))
    y = np.stack([hs[t + 1] * steps[t][4] for t in range(T)])
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dx, dh = np.zeros_like(x), np.zeros_like(h0)
    for t in reversed(range(T)):
        r, z, n, hn, keep = steps[t]
        dh = dh + dy[t] * keep                                # total gradient of h_t
        dn, dz = dh * (1 - z) * keep, dh * (hs[t] - n) * keep
        dan = dn * (1 - n * n)
        dr = dan * hn
        dax = np.concatenate([dr * r * (1 - r), dz * z * (1 - z), dan], axis=1)    # [da_r, da_z, da_n]
        dah = np.concatenate([dax[:, :2 * H], dan * r], axis=1)                   # [da_r, da_z, dhn]
        grads["Wx"] += x[t].T @ dax
        grads["b"] += dax.sum(0)
        grads["Wh"] += hs[t].T @ dah
        grads["bhn"] += (dan * r).sum(0)
        dx[t] = dax @ Wx.T
        dh = dah @ Wh.T + dh * np.where(keep, z, 1.0)
    return y, dx, dh, grads


def reference_lstm(p: dict, x: np.ndarray, state: tuple, mask: np.ndarray, dy: np.ndarray):
    """LSTM (gate order i, f, g, o; nn/lstm.py). state = (h0, c0) each (B, H); returns y, dx,
    (dh0, dc0), grads."""
    Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
    T = x.shape[0]
    H = Wh.shape[0]
    hs, cs, steps = [state[0]], [state[1]], []
    for t in range(T):
        a = x[t] @ Wx + hs[-1] @ Wh + b
        i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
        c = f * cs[-1] + i * g
        keep = mask[:, t:t + 1]
        cs.append(np.where(keep, c, cs[-1]))
        hs.append(np.where(keep, o * np.tanh(c), hs[-1]))
        steps.append((i, f, g, o, np.tanh(c), keep))
    y = np.stack([hs[t + 1] * steps[t][5] for t in range(T)])
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dx, dh, dc = np.zeros_like(x), np.zeros_like(state[0]), np.zeros_like(state[1])
    for t in reversed(range(T)):
        i, f, g, o, tc, keep = steps[t]
        dh = dh + dy[t] * keep                                # total gradient of h_t
        dct = (dc + dh * o * (1 - tc * tc)) * keep            # total gradient of c_t
        da = np.concatenate([dct * g * i * (1 - i), dct * cs[t] * f * (1 - f), dct * i * (1 - g * g),
                             dh * keep * tc * o * (1 - o)], axis=1)   # [da_i, da_f, da_g, da_o]
        grads["Wx"] += x[t].T @ da
        grads["Wh"] += hs[t].T @ da
        grads["b"] += da.sum(0)
        dx[t] = da @ Wx.T
        dh = da @ Wh.T + dh * (1 - keep)
        dc = dct * f + dc * (1 - keep)
    return y, dx, (dh, dc), grads
