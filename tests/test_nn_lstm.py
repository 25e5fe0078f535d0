"""LSTM layer (nn/lstm.py): float64 central-difference gradients, masks, initialisation."""

import numpy as np

from cryptotrain.nn.lstm import lstm_backward, lstm_forward, lstm_init
from nn_rnn_helpers import layer_gradcheck, layer_setup, padded_equals_unpadded

T, B, F, H = 5, 3, 3, 4


def _setup(seed=0):
    return layer_setup(lstm_init, T, B, F, H, seed)


def test_lstm_layer_grads():
    rng, p, x = _setup()
    layer_gradcheck(lstm_forward, lstm_backward, p, x)


def test_lstm_layer_grads_h0_c0():
    rng, p, x = _setup(1)
    layer_gradcheck(lstm_forward, lstm_backward, p, x, h0=(rng.normal(size=(B, H)), rng.normal(size=(B, H))))


def test_lstm_layer_grads_mask():
    rng, p, x = _setup(2)
    mask = np.ones((B, T), bool)
    mask[0, :2] = False
    mask[2, :4] = False
    h0 = (rng.normal(size=(B, H)), rng.normal(size=(B, H)))
    layer_gradcheck(lstm_forward, lstm_backward, p, x, h0=h0, mask=mask)


def test_lstm_padded_equals_unpadded():
    rng, p, _ = _setup(3)
    padded_equals_unpadded(lstm_forward, lstm_backward, p, rng, F=F)


def test_lstm_padded_steps_carry_state():
    rng, p, x = _setup(4)
    h0 = (rng.normal(size=(B, H)), rng.normal(size=(B, H)))
    mask = np.ones((B, T), bool)
    mask[1, :3] = False
    _, cache = lstm_forward(p, x, h0, mask)
    for t in range(1, 4):
        np.testing.assert_array_equal(cache["Hs"][t, 1], h0[0][1])
        np.testing.assert_array_equal(cache["Cs"][t, 1], h0[1][1])


def test_lstm_init():
    p = lstm_init(F, H, np.random.default_rng(0), np.float32)
    assert {k: v.shape for k, v in p.items()} == {"Wx": (F, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
    assert all(v.dtype == np.float32 for v in p.values())
    for k in range(4):
        blk = p["Wh"][:, k * H:(k + 1) * H].astype(np.float64)
        np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-5)
    expect_b = np.zeros(4 * H)
    expect_b[H:2 * H] = 1.0
    np.testing.assert_array_equal(p["b"], expect_b)
