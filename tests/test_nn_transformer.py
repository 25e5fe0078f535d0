"""Float64 central-difference gradient tests for the transformer pieces (nn/transformer.py): the
feed-forward block and the encoder layer in both norm placements, with and without padding /
causal masks, with dropout under fixed masks; plus the sinusoidal table and mask isolation."""

import numpy as np
import pytest

from cryptotrain.nn import transformer as TR
from cryptotrain.nn.gradcheck import assert_grads_close

B, T, D, NH, DFF = 2, 5, 4, 2, 6
P = "enc.0"


def _mask():
    mask = np.ones((B, T), dtype=bool)
    mask[1, :2] = False   # left padding
    return mask


def _params(seed=0):
    r = np.random.default_rng(seed)
    params = TR.encoder_layer_init(D, DFF, r, np.float64, prefix=P)
    for v in params.values():   # non-trivial biases and norm gains, so every path is exercised
        if v.ndim == 1:
            v += 0.3 * r.normal(size=v.shape)
    return r, params


def test_sinusoidal_table():
    pe = TR.sinusoidal_encoding(6, 5, np.float64)
    assert pe.shape == (6, 5)
    t, i = 3, 1
    w = 10000.0 ** (-2 * i / 5)
    assert pe[t, 2 * i] == pytest.approx(np.sin(t * w)) and pe[t, 2 * i + 1] == pytest.approx(np.cos(t * w))
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)
    assert TR.sinusoidal_encoding(4, 8).dtype == np.float32


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_ffn_grads(activation):
    r = np.random.default_rng(1)
    params = TR.ffn_init(D, DFF, r, np.float64, prefix="ff")
    params["ff.b1"][:] = r.normal(size=DFF)
    params["ff.b2"][:] = r.normal(size=D)
    x = r.normal(size=(B, T, D))
    dy = r.normal(size=(B, T, D))
    f = lambda: float((TR.ffn_forward(params, x, "ff", activation)[0] * dy).sum())
    _, c = TR.ffn_forward(params, x, "ff", activation)
    dx, g = TR.ffn_backward(params, c, dy)
    assert set(g) == {"ff.W1", "ff.b1", "ff.W2", "ff.b2"}
    assert_grads_close(f, {"x": x, **params}, {"x": dx, **g})


def _fixed_masks(r, p):
    keep = lambda shape: (r.random(shape) >= p) / (1.0 - p)
    return {"attn": keep((B, NH, T, T)), "attn_out": keep((B, T, D)), "ff_out": keep((B, T, D))}


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "padding+causal"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_grads(norm_first, masks, dropout):
    r, params = _params(2)
    x = r.normal(size=(B, T, D))
    dy = r.normal(size=(B, T, D))
    mask = _mask() if "padding" in masks else None
    kw = dict(norm_first=norm_first, activation="gelu", mask=mask, causal="causal" in masks, dropout=dropout,
              train=dropout > 0, dropout_masks=_fixed_masks(r, dropout) if dropout > 0 else None)
    f = lambda: float((TR.encoder_layer_forward(params, x, P, NH, **kw)[0] * dy).sum())
    _, c = TR.encoder_layer_forward(params, x, P, NH, **kw)
    dx, g = TR.encoder_layer_backward(params, c, dy)
    assert set(g) == set(params)
    assert_grads_close(f, {"x": x, **params}, {"x": dx, **g})


@pytest.mark.parametrize("norm_first", [False, True])
def test_padded_steps_do_not_reach_valid_outputs(norm_first):
    r, params = _params(3)
    x = r.normal(size=(B, T, D))
    mask = _mask()
    y, _ = TR.encoder_layer_forward(params, x, P, NH, norm_first=norm_first, mask=mask, causal=True)
    x2 = x.copy()
    x2[~mask] = 1e3 * r.normal(size=x2[~mask].shape)
    y2, _ = TR.encoder_layer_forward(params, x2, P, NH, norm_first=norm_first, mask=mask, causal=True)
    np.testing.assert_allclose(y2[mask], y[mask], rtol=0, atol=1e-12)
    assert np.all(np.isfinite(y2))


def test_drawn_dropout_masks_are_returned_and_replayable():
    r, params = _params(4)
    x = r.normal(size=(B, T, D))
    kw = dict(norm_first=False, dropout=0.5, train=True)
    y, c = TR.encoder_layer_forward(params, x, P, NH, rng=np.random.default_rng(7), **kw)
    m = c["dropout_masks"]
    assert m["attn"].shape == (B, NH, T, T) and m["attn_out"].shape == m["ff_out"].shape == (B, T, D)
    y2, _ = TR.encoder_layer_forward(params, x, P, NH, dropout_masks=m, **kw)
    np.testing.assert_array_equal(y, y2)
    y_eval, c_eval = TR.encoder_layer_forward(params, x, P, NH, norm_first=False, dropout=0.5, train=False)
    assert all(v is None for v in c_eval["dropout_masks"].values())
    assert not np.allclose(y, y_eval)
