"""Recurrent stack (nn/recurrent.py): gradients of every parameter, x and h0 through 1 and 3
layers with layer norm, residual, fixed dropout masks and padding masks; padded == unpadded."""

import numpy as np
import pytest

from cryptotrain.nn.recurrent import StackSpec, rnn_stack_backward, rnn_stack_forward, rnn_stack_init
from nn_rnn_helpers import assert_grads_close_r4

B, T, F, H = 3, 5, 3, 4

CONFIGS = {  # name: (num_layers, layer_norm, residual, dropout, padding mask, h0)
    "1layer": (1, False, False, 0.0, False, False),
    "1layer_ln_mask_h0": (1, True, False, 0.0, True, True),
    "3layers": (3, False, False, 0.0, False, False),
    "3layers_ln_res_drop": (3, True, True, 0.3, False, False),
    "3layers_all_mask_h0": (3, True, True, 0.3, True, True),
    "2layers_res_drop_mask": (2, False, True, 0.5, True, False),
}


def _h0(kind, L, rng):
    if kind == "gru":
        return [rng.normal(size=(B, H)) for _ in range(L)]
    return [(rng.normal(size=(B, H)), rng.normal(size=(B, H))) for _ in range(L)]


def _h0_tensors(h0):
    out = {}
    for l, s in enumerate(h0 or []):
        if isinstance(s, tuple):
            out[f"h0[{l}]"], out[f"c0[{l}]"] = s
        else:
            out[f"h0[{l}]"] = s
    return out


def _setup(kind, L, ln, seed=0):
    rng = np.random.default_rng(seed)
    params = rnn_stack_init(kind, F, H, L, rng, np.float64, layer_norm=ln)
    for v in params.values():
        v += 0.2 * rng.normal(size=v.shape)
    return rng, params, rng.normal(size=(B, T, F))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_stack_grads(kind, name):
    L, ln, res, p, use_mask, use_h0 = CONFIGS[name]
    rng, params, x = _setup(kind, L, ln)
    mask = None
    if use_mask:
        mask = np.ones((B, T), bool)
        mask[0, :2] = False
        mask[2, :1] = False
    h0 = _h0(kind, L, rng) if use_h0 else None
    spec = StackSpec(kind, L, dropout=p, layer_norm=ln, residual=res)
    kw = dict(mask=mask, train=True, h0=h0)
    y, cache = rnn_stack_forward(params, x, spec, rng=rng, **kw)
    assert len(cache["dropout_masks"]) == (L - 1 if p > 0 else 0)
    kw["dropout_masks"] = cache["dropout_masks"]
    dy = rng.normal(size=y.shape)
    dx, grads, dh0 = rnn_stack_backward(params, cache, dy)
    assert set(grads) == set(params)
    assert (dh0 is None) == (h0 is None)
    if mask is not None:
        assert np.all(y[~mask] == 0.0) and np.all(dx[~mask] == 0.0)
    f = lambda: float((rnn_stack_forward(params, x, spec, **kw)[0] * dy).sum())
    tensors = {**params, "x": x, **_h0_tensors(h0)}
    analytic = {**grads, "x": dx, **_h0_tensors(dh0)}
    assert_grads_close_r4(f, tensors, analytic)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_stack_padded_equals_unpadded(kind):
    L, pad = 3, 2
    rng, params, x = _setup(kind, L, True, seed=5)
    spec = StackSpec(kind, L, layer_norm=True, residual=True)
    x[0, :pad] = 1e3                               # garbage at padded steps must not leak
    mask = np.ones((B, T), bool)
    mask[0, :pad] = False
    y, cache = rnn_stack_forward(params, x, spec, mask=mask)
    dy = rng.normal(size=y.shape)                  # non-zero at padded steps: must be ignored
    dx, grads, _ = rnn_stack_backward(params, cache, dy)
    y0, c0 = rnn_stack_forward(params, x[:1, pad:], spec)
    y1, c1 = rnn_stack_forward(params, x[1:], spec)
    dx0, g0, _ = rnn_stack_backward(params, c0, dy[:1, pad:])
    dx1, g1, _ = rnn_stack_backward(params, c1, dy[1:])
    np.testing.assert_allclose(y[:1, pad:], y0, atol=1e-12, rtol=0)
    np.testing.assert_allclose(y[1:], y1, atol=1e-12, rtol=0)
    np.testing.assert_allclose(dx[:1, pad:], dx0, atol=1e-12, rtol=0)
    np.testing.assert_allclose(dx[1:], dx1, atol=1e-12, rtol=0)
    assert np.all(y[0, :pad] == 0.0) and np.all(dx[0, :pad] == 0.0)
    for k in params:
        np.testing.assert_allclose(grads[k], g0[k] + g1[k], atol=1e-12, rtol=0, err_msg=k)


def test_stack_init_keys_and_dtype():
    params = rnn_stack_init("gru", F, H, 2, np.random.default_rng(0), layer_norm=True, prefix="enc")
    assert {k: v.shape for k, v in params.items()} == {
        "enc.0.Wx": (F, 3 * H), "enc.0.Wh": (H, 3 * H), "enc.0.b": (3 * H,), "enc.0.bhn": (H,),
        "enc.0.ln_g": (H,), "enc.0.ln_b": (H,),
        "enc.1.Wx": (H, 3 * H), "enc.1.Wh": (H, 3 * H), "enc.1.b": (3 * H,), "enc.1.bhn": (H,),
        "enc.1.ln_g": (H,), "enc.1.ln_b": (H,)}
    assert all(v.dtype == np.float32 for v in params.values())
    lstm = rnn_stack_init("lstm", F, H, 1, np.random.default_rng(0), np.float64)
    assert sorted(lstm) == ["rnn.0.Wh", "rnn.0.Wx", "rnn.0.b"]
    with pytest.raises(ValueError, match="unknown recurrent kind"):
        rnn_stack_init("rnn", F, H, 1, np.random.default_rng(0))


def test_stack_dropout_rng_and_eval():
    rng, params, x = _setup("gru", 2, False)
    spec = StackSpec("gru", 2, dropout=0.5, residual=True)
    ya, ca = rnn_stack_forward(params, x, spec, train=True, rng=np.random.default_rng(7))
    yb, _ = rnn_stack_forward(params, x, spec, train=True, rng=np.random.default_rng(7))
    yc, _ = rnn_stack_forward(params, x, spec, train=True, dropout_masks=ca["dropout_masks"])
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ya, yc)
    assert ca["dropout_masks"][0].shape == (B, T, H)
    ye, ce = rnn_stack_forward(params, x, spec, train=False)  # evaluation: no dropout, no rng
    assert ce["dropout_masks"] == [] and not np.array_equal(ya, ye)
    with pytest.raises(ValueError, match="rng"):
        rnn_stack_forward(params, x, spec, train=True)


def test_stack_float32_runs():
    rng = np.random.default_rng(0)
    params = rnn_stack_init("lstm", F, H, 2, rng)
    y, cache = rnn_stack_forward(params, rng.normal(size=(B, T, F)).astype(np.float32), StackSpec("lstm", 2))
    dx, grads, _ = rnn_stack_backward(params, cache, np.ones_like(y))
    assert y.dtype == dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads.values())
    assert y.flags.c_contiguous and dx.flags.c_contiguous
