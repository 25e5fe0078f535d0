"""GRU layer (nn/gru.py): float64 central-difference gradients, masks, initialisation."""

import numpy as np

from cryptotrain.nn.gru import gru_backward, gru_forward, gru_init
from nn_rnn_helpers import layer_gradcheck, layer_setup, padded_equals_unpadded

T, B, F, H = 5, 3, 3, 4


def _setup(seed=0):
    return layer_setup(gru_init, T, B, F, H, seed)


def test_gru_layer_grads():
    rng, p, x = _setup()
    layer_gradcheck(gru_forward, gru_backward, p, x)


def test_gru_layer_grads_h0():
    rng, p, x = _setup(1)
    layer_gradcheck(gru_forward, gru_backward, p, x, h0=rng.normal(size=(B, H)))


def test_gru_layer_grads_mask():
    rng, p, x = _setup(2)
    mask = np.ones((B, T), bool)
    mask[0, :2] = False
    mask[2, :4] = False
    layer_gradcheck(gru_forward, gru_backward, p, x, h0=rng.normal(size=(B, H)), mask=mask)


def test_gru_padded_equals_unpadded():
    rng, p, _ = _setup(3)
    padded_equals_unpadded(gru_forward, gru_backward, p, rng, F=F)


def test_gru_padded_steps_carry_state():
    rng, p, x = _setup(4)
    h0 = rng.normal(size=(B, H))
    mask = np.ones((B, T), bool)
    mask[1, :3] = False
    _, cache = gru_forward(p, x, h0, mask)
    for t in range(1, 4):
        np.testing.assert_array_equal(cache["Hs"][t, 1], h0[1])


def test_gru_init():
    p = gru_init(F, H, np.random.default_rng(0), np.float32)
    assert {k: v.shape for k, v in p.items()} == {"Wx": (F, 3 * H), "Wh": (H, 3 * H), "b": (3 * H,), "bhn": (H,)}
    assert all(v.dtype == np.float32 for v in p.values())
    for k in range(3):
        blk = p["Wh"][:, k * H:(k + 1) * H].astype(np.float64)
        np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-5)
    assert not p["b"].any() and not p["bhn"].any()
    assert np.abs(p["Wx"]).max() <= np.sqrt(6.0 / (F + H))
