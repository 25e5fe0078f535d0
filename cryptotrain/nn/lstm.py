"""One LSTM layer over a whole sequence: a one-step cell and a time loop, forward and backward.

The same math written plainly, batch-major with one expression per equation, is
nn/reference.py (`reference_lstm`); the tests check this fast version against it.

Forward, one step (as torch.nn.LSTM), gate order i, f, g, o in the params' fused matrices:

    a = x Wx + h Wh + b                    (a_i, a_f, a_g, a_o)
    i = sig(a_i)   f = sig(a_f)   g = tanh(a_g)   o = sig(a_o)      (g: the candidate cell)
    c' = f * c + i * g
    h' = o * tanh(c')

Backward, one step, in the order lstm_cell_backward computes it (dh = total gradient of h',
dc = gradient of c' from step t+1):

    dc  = dc + dh o (1 - tanh(c')^2)       (now the total gradient of c')
    di  = dc g      df = dc c      do = dh tanh(c')      dg = dc i
    da_i = di i (1 - i)   da_f = df f (1 - f)   da_o = do o (1 - o)   da_g = dg (1 - g^2)
    dc_prev = dc f
    dh_prev = da Wh^T

and after the loop, summed over steps and batch (GradSums, one chunk of steps at a time):

    [dWh; db] = sum [h; 1]^T da            dWx = sum x^T da            dx = da Wx^T

params (one layer):  Wx (F, 4H)   Wh (H, 4H)   b (4H,)   (forget-gate bias initialised to 1)
Mapping to torch (weights are transposed there): Wx = weight_ih_l{k}.T, Wh = weight_hh_l{k}.T,
b = bias_ih_l{k} + bias_hh_l{k}.

Layout as in nn/gru.py: STEP-CONTIGUOUS inside (`lstm_forward_tcb` / `lstm_backward_tcb`, used by
the stack; every array transposed, (rows, B)), time-major wrappers `lstm_forward` /
`lstm_backward`. Inside, the gate blocks are reordered to [i, f, o, g], the i, f, o rows
negated and the g rows multiplied by -2 (exact), so one sigmoid over the whole (4H, B) block,
sig(a) = 1 / (1 + exp(-a)) (nn/layers.py sigmoid_of_negated), and two ops on its last H rows give
all four gates (g = tanh(a_g) = 2 sig(2 a_g) - 1). The gradients are put back in the params' order
[i, f, g, o] after the loop.

Padding (mask (B, T), False = padded step): a padded step keeps h and c unchanged, outputs ZERO
and gets zero gradient.

Legend: B batch, T time, F input width, H hidden width.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn import buffers
from cryptotrain.nn.init import fused_weights
from cryptotrain.nn.layers import sigmoid_of_negated, tanh_of_scaled
from cryptotrain.nn.rnn_common import (GradSums, chunk_steps, gate_index, output_grad_into, recurrent_weights,
                                       reversed_chunks, scaled_rows, states_buffer,
                                       time_major_backward, time_major_forward)

ORDER = (0, 1, 3, 2)   # internal gate blocks [i, f, o, g] from the params' [i, f, g, o]
SCALES = (-1, -1, -1, -2)   # internal blocks' factors: -a for sig(a), -2a for tanh(a) = 2 sig(2a) - 1


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
# Every array is a (rows, B) block, gates in the internal order [i, f, o, g].


def lstm_cell_forward(a, h_prev, c_prev, WhT, ah, c, tc, h):
    """One step. a (4H, B): Wx^T x_t on entry, rows [i, f, o, g] scaled by SCALES, the gates on
    exit; WhT (4H, H+1) = [Wh^T | b] likewise and h_prev (H+1, B) = [h; 1]
    (rnn_common.recurrent_weights). Writes c (H, B), tc = tanh(c) (H, B) and h (H, B).
    ah (4H, B) holds the recurrent side Wh^T h + b."""
    H = h.shape[0]
    np.matmul(WhT, h_prev, out=ah)
    a += ah                                        # -[a_i, a_f, a_o], -2 a_g  (a = x Wx + h Wh + b)
    sigmoid_of_negated(a)                          # i, f, o = sig(a); the g rows hold sig(2 a_g)
    i, f, o, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    g *= 2.0                                       # g = tanh(a_g) = 2 sig(2 a_g) - 1
    g -= 1.0
    np.multiply(f, c_prev, out=c)                  # c' = f c + i g
    np.multiply(i, g, out=tc)                      # (tc holds i g until it takes tanh(c'))
    c += tc
    np.multiply(c, -2.0, out=tc)                   # tc = tanh(c') = 2 sig(2 c') - 1
    tanh_of_scaled(tc)
    np.multiply(o, tc, out=h)                      # h' = o tanh(c')


def lstm_cell_backward(dh, dc, c_prev, a, tc, Wh, da, dh_prev, dc_prev, scratch, slope_b):
    """One step back, the module docstring's backward equations in order. dh (H, B) total gradient
    of h_t; dc (H, B) gradient of c_t from step t+1, overwritten with the total. a = gates
    [i, f, o, g], tc = tanh(c_t) as cached; Wh (H, 4H) in the internal order. Writes da (4H, B)
    = [da_i, da_f, da_o, da_g], dh_prev, dc_prev (H, B). scratch = (d_gates (4H, B) =
    [di, df, do, dg], slope (4H, B) = the activations' slopes); slope_b (4H, 1) = 1 on the i, f, o
    rows, 0 on the g rows."""
    H = dh.shape[0]
    i, f, o, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
    d_gates, slope = scratch
    u = slope[3 * H:]                              # (slope's g rows hold the dc increment until the slopes)
    np.multiply(tc, tc, out=u)                     # dc += dh o (1 - tanh(c)^2)
    np.subtract(1.0, u, out=u)
    u *= o
    u *= dh
    dc += u
    np.multiply(dc, g, out=d_gates[:H])            # di = dc g
    np.multiply(dc, c_prev, out=d_gates[H:2 * H])  # df = dc c_prev
    np.multiply(dh, tc, out=d_gates[2 * H:3 * H])  # do = dh tanh(c)
    np.multiply(dc, i, out=d_gates[3 * H:])        # dg = dc i
    np.subtract(slope_b, a, out=slope)             # slopes s (1 - s) and 1 - g^2,
    slope *= a                                     # as (beta - a) a + [0, 0, 0, 1], beta = [1, 1, 1, 0]
    slope[3 * H:] += 1.0
    np.multiply(d_gates, slope, out=da)            # da = d_gates * slope
    np.multiply(dc, f, out=dc_prev)                # dc_prev = dc f
    np.matmul(Wh, da, out=dh_prev)                 # dh_prev = Wh da


# ------------------------------------------------------------ sequence, step-contiguous


def lstm_forward_tcb(p: dict, X: np.ndarray, h0: tuple, m: dict | None = None, keep_cache: bool = True):
    """X (T, F, B) -> Hs (T+1, H, B) with Hs[0] = h0 and Hs[t+1] = h_t (a view), and the cache (None
    unless keep_cache). h0 = (h0, c0), each (H, B). X as in gru_forward_tcb. m: rnn_common.step_mask or
    None. keep_cache=False (eval mode): the same arithmetic, bit for bit, with the gates in a ring of a
    few steps, and only the current c and tanh(c) instead of every step's."""
    Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
    T, F, B = X.shape
    H = Wh.shape[0]
    dt = Wx.dtype
    idx = gate_index(H, ORDER)
    WhT = recurrent_weights(Wh, b, SCALES, idx)    # (4H, H+1) [Wh^T | b]: the step GEMM adds b
    WxT = scaled_rows(Wx, SCALES, idx)
    steps = min(chunk_steps(H), T)
    A = buffers.empty((T if keep_cache else steps, 4 * H, B), dt)   # input projections, then the gates
    Hs = states_buffer(T, H, B, dt)                # Hs[t+1] = [h_t; 1]
    Cs = buffers.empty((T + 1 if keep_cache else 2, H, B), dt)      # Cs[t+1] = c_t (keep=False: a ring of 2)
    TC = buffers.empty((T if keep_cache else 1, H, B), dt)          # tanh(c_t)
    Hs[0, :H], Cs[0] = h0
    ah = buffers.empty((4 * H, B), dt)
    with np.errstate(over="ignore"):                  # exp(-a) = inf for a < -88: sigmoid 0, exact
        for t in range(T):
            s, c_prev, c = t % len(A), Cs[t % len(Cs)], Cs[(t + 1) % len(Cs)]
            if t % steps == 0:                     # input projections of the next n steps (as in nn/gru.py)
                n = min(steps, T - t)
                np.matmul(WxT, X[t:t + n], out=A[s:s + n])
            lstm_cell_forward(A[s], Hs[t], c_prev, WhT, ah, c, TC[t % len(TC)], Hs[t + 1, :H])
            if m is not None and m["any"][t]:
                np.copyto(Hs[t + 1], Hs[t], where=m["pad"][t])
                np.copyto(c, c_prev, where=m["pad"][t])
    return Hs[:, :H], ({"X": X, "A": A, "Hs": Hs, "Cs": Cs, "TC": TC, "mask": m} if keep_cache else None)


def lstm_backward_tcb(p: dict, cache: dict, dY: np.ndarray, need_dx: bool = True):
    """dY (T, H, B) gradient of h_1..h_T -> dX (T, F, B) (None unless need_dx), (dh0, dc0) each
    (H, B), grads {Wx, Wh, b}.

    Walks the forward loop in reverse, carrying dh_next and dc; the gate gradients of the last
    `steps` steps live in a ring buffer, summed into the weight gradients and turned into dX at
    each chunk start, as in nn/gru.py.
    """
    X, A, Hs, Cs, TC, m = (cache[k] for k in ("X", "A", "Hs", "Cs", "TC", "mask"))
    T, F, B = X.shape
    H = p["Wh"].shape[0]
    dt = A.dtype
    idx = gate_index(H, ORDER)
    Wh, Wx = p["Wh"][:, idx], p["Wx"][:, idx]      # internal gate order
    steps = min(chunk_steps(H), T)
    dA = buffers.empty((steps, 4 * H, B), dt)      # ring buffer: per step gate pre-activation gradients
    dh, dh_next = buffers.empty((H, B), dt), buffers.zeros((H, B), dt)
    dc, dc_prev, dc_in = buffers.zeros((H, B), dt), buffers.empty((H, B), dt), buffers.empty((H, B), dt)
    scratch = (buffers.empty((4 * H, B), dt), buffers.empty((4 * H, B), dt))
    slope_b = np.zeros((4 * H, 1), dt)
    slope_b[:3 * H] = 1.0
    dX = buffers.empty((T, F, B), dt) if need_dx else None
    sums = GradSums(steps)
    for t, slot, done in reversed_chunks(T, steps):
        padded = output_grad_into(dh, dY[t], dh_next, m, t)
        if padded:
            np.copyto(dc_in, dc)                   # the incoming dc, passed through at padded columns
        lstm_cell_backward(dh, dc, Cs[t], A[t], TC[t], Wh, dA[slot], dh_next, dc_prev, scratch, slope_b)
        if padded:                                 # (h, c)_t = (h, c)_{t-1}: pass through
            pad = m["pad"][t]
            dA[slot] *= m["keep"][t]
            np.copyto(dh_next, dh, where=pad)
            np.copyto(dc_prev, dc_in, where=pad)
        dc, dc_prev = dc_prev, dc                  # dc is now the gradient of c_{t-1}
        if done:                                   # steps t .. t+done-1 are done: sum them
            D = sums.flat("d", dA[:done])          # (4H, done*B)
            sums.add("h", D, sums.flat("h", Hs[t:t + done]))   # [dWh^T | db] (the row of ones gives db)
            sums.add("x", D, sums.flat("x", X[t:t + done]))
            if need_dx:
                np.matmul(Wx, dA[:done], out=dX[t:t + done])
    back = np.argsort(idx)                         # internal -> params' gate order
    dWhT = sums.sums["h"][back]                    # (4H, H+1)
    grads = {"Wx": sums.sums["x"][back].T.copy(), "Wh": dWhT[:, :H].T.copy(), "b": dWhT[:, H].copy()}
    return dX, (dh_next, dc), grads


# -------------------------------------------------------------- sequence, time-major


def lstm_forward(p: dict, x: np.ndarray, h0=None, mask: np.ndarray | None = None):
    """x (T, B, F) -> y (T, B, H), cache. h0 = (h0, c0) each (B, H), or None (zeros).
    cache["Hs"], cache["Cs"] are the states (T+1, B, H) (views). Unmasked, y is a view."""
    y, cache = time_major_forward(lstm_forward_tcb, 2, p, x, h0, mask)
    cache["Cs"] = cache["tcb"]["Cs"].transpose(0, 2, 1)
    return y, cache


def lstm_backward(p: dict, cache: dict, dy: np.ndarray):
    """dy (T, B, H) -> dx (T, B, F), (dh0, dc0) each (B, H), grads {Wx, Wh, b}."""
    return time_major_backward(lstm_backward_tcb, 2, p, cache, dy)


def lstm_from_torch(w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Our layer params from torch.nn.LSTM's weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}
    (as NumPy arrays): transpose the weights and add the two biases. For the torch parity tests
    (tests/test_torch_parity_rnn.py) and the throughput benchmark's torch reference."""
    return {"Wx": np.ascontiguousarray(w_ih.T), "Wh": np.ascontiguousarray(w_hh.T), "b": b_ih + b_hh}
