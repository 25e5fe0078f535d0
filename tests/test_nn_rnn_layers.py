"""The GRU and LSTM layers (nn/gru.py, nn/lstm.py), each test run for both: float64
central-difference gradients, masks, padded steps, initialisation."""

import numpy as np
import pytest

from cryptotrain.nn.gru import gru_backward, gru_forward, gru_init
from cryptotrain.nn.lstm import lstm_backward, lstm_forward, lstm_init
from nn_rnn_helpers import layer_gradcheck, layer_setup, padded_equals_unpadded

T, B, F, H = 5, 3, 3, 4
LAYERS = {"gru": (gru_init, gru_forward, gru_backward), "lstm": (lstm_init, lstm_forward, lstm_backward)}
KINDS = pytest.mark.parametrize("kind", list(LAYERS))


def _setup(kind, seed=0):
    return layer_setup(LAYERS[kind][0], T, B, F, H, seed)


def _h0(kind, rng):
    """The initial state: h0 (B, H) for the GRU, (h0, c0) for the LSTM."""
    if kind == "gru":
        return rng.normal(size=(B, H))
    return rng.normal(size=(B, H)), rng.normal(size=(B, H))


@KINDS
def test_layer_grads(kind):
    rng, p, x = _setup(kind)
    layer_gradcheck(*LAYERS[kind][1:], p, x)


@KINDS
def test_layer_grads_initial_state(kind):
    rng, p, x = _setup(kind, 1)
    layer_gradcheck(*LAYERS[kind][1:], p, x, h0=_h0(kind, rng))


@KINDS
def test_layer_grads_mask(kind):
    rng, p, x = _setup(kind, 2)
    mask = np.ones((B, T), bool)
    mask[0, :2] = False
    mask[2, :4] = False
    layer_gradcheck(*LAYERS[kind][1:], p, x, h0=_h0(kind, rng), mask=mask)


@KINDS
def test_padded_equals_unpadded(kind):
    rng, p, _ = _setup(kind, 3)
    padded_equals_unpadded(*LAYERS[kind][1:], p, rng, F=F)


@KINDS
def test_padded_steps_carry_state(kind):
    rng, p, x = _setup(kind, 4)
    h0 = _h0(kind, rng)
    mask = np.ones((B, T), bool)
    mask[1, :3] = False
    _, cache = LAYERS[kind][1](p, x, h0, mask)
    states = [("Hs", h0)] if kind == "gru" else [("Hs", h0[0]), ("Cs", h0[1])]
    for t in range(1, 4):
        for name, start in states:
            np.testing.assert_array_equal(cache[name][t, 1], start[1])


def test_gru_init():
    p = gru_init(F, H, np.random.default_rng(0), np.float32)
    assert {k: v.shape for k, v in p.items()} == {"Wx": (F, 3 * H), "Wh": (H, 3 * H), "b": (3 * H,), "bhn": (H,)}
    assert all(v.dtype == np.float32 for v in p.values())
    for k in range(3):
        blk = p["Wh"][:, k * H:(k + 1) * H].astype(np.float64)
        np.testing.assert_allclose(blk.T @ blk, np.eye(H), atol=1e-5)
    assert not p["b"].any() and not p["bhn"].any()
    assert np.abs(p["Wx"]).max() <= np.sqrt(6.0 / (F + H))


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
