"""Shared checks for the GRU / LSTM layer tests (tests/test_nn_rnn_layers.py).

Layers are time-major: x (T, B, F) -> y (T, B, H). `h0` is an array (GRU), a tuple (h0, c0)
(LSTM) or None. The loss used everywhere is sum(y * dy) for a fixed random dy.

Central differences use eps = 1e-5: with eps = 1e-6 the rounding noise of f (~1e-15) divided by
2 eps gives absolute errors ~5e-10, which is a relative error above 1e-6 on gradient elements of
size ~1e-4; at 1e-5 both rounding and truncation (~eps^2) errors stay near 1e-10.

Deep stacks (3 layers with layer norm on H = 4) are too curved for that: no single eps keeps
both errors under the 1e-6 relative tolerance on every element, so their tests use
`assert_grads_close_r4`, Richardson-extrapolated central differences (4th order).
"""

EPS = 1e-5

import numpy as np

from cryptotrain.nn.gradcheck import assert_grads_close


def layer_setup(init, T, B, F, H, seed=0):
    """rng, float64 layer params (init + noise, so biases are non-zero) and x (T, B, F)."""
    rng = np.random.default_rng(seed)
    p = init(F, H, rng, np.float64)
    for v in p.values():
        v += 0.3 * rng.normal(size=v.shape)
    return rng, p, rng.normal(size=(T, B, F))


def _state_dict(h0, dh0=None):
    """Name the initial-state tensors (or their gradients) for the failure message."""
    if h0 is None:
        return {}
    src = h0 if dh0 is None else dh0
    return {"h0": src} if isinstance(h0, np.ndarray) else {"h0": src[0], "c0": src[1]}


def layer_gradcheck(fwd, bwd, p, x, h0=None, mask=None, seed=1):
    """Central differences vs the analytic backward for every param, x and the initial state."""
    y, cache = fwd(p, x, h0, mask)
    dy = np.random.default_rng(seed).normal(size=y.shape)
    dx, dh0, grads = bwd(p, cache, dy)
    f = lambda: float((fwd(p, x, h0, mask)[0] * dy).sum())
    tensors = {**p, "x": x, **_state_dict(h0)}
    analytic = {**grads, "x": dx, **_state_dict(h0, dh0)}
    assert_grads_close(f, tensors, analytic, eps=EPS)


def padded_equals_unpadded(fwd, bwd, p, rng, T=6, pad=2, F=3):
    """Batch of 2: row 0 left-padded by `pad` steps, row 1 full. Outputs at valid steps, dx and
    the parameter gradients must equal those of each row run alone without padding, whatever
    the upstream gradient at padded steps (it must be ignored)."""
    x = rng.normal(size=(T, 2, F))
    x[:pad, 0] = 1e3                               # garbage at padded steps must not leak
    mask = np.ones((2, T), bool)
    mask[0, :pad] = False
    y, cache = fwd(p, x, None, mask)
    dy = rng.normal(size=y.shape)
    dx, _, g = bwd(p, cache, dy)
    assert np.all(y[:pad, 0] == 0.0), "padded steps must output zero"
    assert np.all(dx[:pad, 0] == 0.0), "padded steps must get zero input gradient"
    for row, sl in ((0, slice(pad, None)), (1, slice(None))):
        xr = np.ascontiguousarray(x[sl, row:row + 1])
        yr, cr = fwd(p, xr, None, None)
        dxr, _, gr = bwd(p, cr, dy[sl, row:row + 1])
        np.testing.assert_allclose(y[sl, row:row + 1], yr, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dx[sl, row:row + 1], dxr, rtol=0, atol=1e-12)
        for k in g:
            g[k] = g[k] - gr[k]
    for k, v in g.items():
        np.testing.assert_allclose(v, 0.0, atol=1e-12, err_msg=f"gradient of {k}")


def assert_grads_close_r4(f, tensors, grads, eps: float = 1e-3, tol: float = 1e-6) -> None:
    """assert_grads_close with Richardson-extrapolated differences (4th order, steps eps/2 and eps)."""
    assert_grads_close(f, tensors, grads, eps=eps / 2, tol=tol, richardson=True)
