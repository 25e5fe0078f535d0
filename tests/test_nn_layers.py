"""Central-difference gradient tests (float64) for the elementary layers in nn/layers.py."""

import numpy as np
import pytest

from cryptotrain.nn import layers as L
from cryptotrain.nn.gradcheck import assert_grads_close


def _rng():
    return np.random.default_rng(0)


def test_linear_grads():
    r = _rng()
    x, W, b = r.normal(size=(3, 4, 5)), r.normal(size=(5, 2)), r.normal(size=2)
    dy = r.normal(size=(3, 4, 2))
    f = lambda: float((L.linear_forward(W, b, x)[0] * dy).sum())
    y, c = L.linear_forward(W, b, x)
    dx, dW, db = L.linear_backward(W, c, dy)
    assert_grads_close(f, {"x": x, "W": W, "b": b}, {"x": dx, "W": dW, "b": db})


def test_layernorm_grads():
    r = _rng()
    x, g, b = r.normal(size=(3, 4, 6)), r.normal(size=6), r.normal(size=6)
    dy = r.normal(size=x.shape)
    f = lambda: float((L.layernorm_forward(g, b, x)[0] * dy).sum())
    _, c = L.layernorm_forward(g, b, x)
    dx, dg, db = L.layernorm_backward(c, dy)
    assert_grads_close(f, {"x": x, "gamma": g, "beta": b}, {"x": dx, "gamma": dg, "beta": db})


@pytest.mark.parametrize("name", sorted(L.ACTIVATIONS))
def test_activation_grads(name):
    fwd, bwd = L.ACTIVATIONS[name]
    r = _rng()
    x = r.normal(size=(4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep away from relu's kink
    dy = r.normal(size=x.shape)
    f = lambda: float((fwd(x)[0] * dy).sum())
    dx = bwd(fwd(x)[1], dy)
    assert_grads_close(f, {"x": x}, {"x": dx})


@pytest.mark.parametrize("kind", ["softmax", "log_softmax"])
def test_softmax_grads(kind):
    fwd = getattr(L, f"{kind}_forward")
    bwd = getattr(L, f"{kind}_backward")
    r = _rng()
    x, dy = r.normal(size=(3, 7)), r.normal(size=(3, 7))
    f = lambda: float((fwd(x)[0] * dy).sum())
    dx = bwd(fwd(x)[1], dy)
    assert_grads_close(f, {"x": x}, {"x": dx})


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, 1001.0, -1000.0]])
    y, _ = L.softmax_forward(x)
    ly, _ = L.log_softmax_forward(x)
    assert np.isfinite(y).all() and np.isfinite(ly).all()
    np.testing.assert_allclose(y.sum(), 1.0)
    np.testing.assert_allclose(np.exp(ly), y)


def test_sigmoid_no_overflow_and_matches_formula():
    x = np.array([-800.0, -2.0, 0.0, 3.0, 800.0])
    with np.errstate(over="raise"):
        y = L.sigmoid(x)
    np.testing.assert_allclose(y[1:4], 1 / (1 + np.exp(-x[1:4])))
    assert y[0] == 0.0 and y[-1] == 1.0


def test_dropout_mask_scaling_grad_and_eval_identity():
    r = _rng()
    x = r.normal(size=(50, 40))
    y, mask = L.dropout_forward(x, 0.25, True, np.random.default_rng(1))
    kept = mask != 0
    np.testing.assert_allclose(y[kept], x[kept] / 0.75)
    assert 0.7 < kept.mean() < 0.8
    dy = r.normal(size=x.shape)
    np.testing.assert_array_equal(L.dropout_backward(mask, dy), dy * mask)
    y_eval, c = L.dropout_forward(x, 0.25, False, None)
    assert y_eval is x and c is None
    # same seed, same mask
    _, mask2 = L.dropout_forward(x, 0.25, True, np.random.default_rng(1))
    np.testing.assert_array_equal(mask, mask2)


def test_activations_of_scaled_inputs_match_numpy_and_saturate_exactly():
    """sigmoid_of_negated and tanh_of_scaled (the hot loops' activations, inputs pre-scaled by -1 and
    -2 in the GEMMs) against float64 np.tanh and the stable sigmoid: absolute error within a few
    float32 ulps of 1, the exact limits 0, 1, -1 where exp overflows or underflows, no NaN."""
    from cryptotrain.nn.layers import sigmoid, sigmoid_of_negated, tanh_of_scaled

    a = np.concatenate([np.linspace(-12, 12, 20001), [-1e4, -100.0, -45.0, 45.0, 100.0, 1e4, 0.0, 1e-30]])
    for dt, tol in ((np.float32, 3e-7), (np.float64, 1e-15)):
        x = a.astype(dt)
        with np.errstate(over="ignore"):
            s = sigmoid_of_negated(-x)
            t = tanh_of_scaled(-2 * x)
        assert s.dtype == dt and t.dtype == dt
        np.testing.assert_allclose(s, sigmoid(x.astype(np.float64)), rtol=0, atol=tol)
        np.testing.assert_allclose(t, np.tanh(x.astype(np.float64)), rtol=0, atol=2 * tol)
        assert s[-8] == 0.0 and s[-3] == 1.0 and t[-8] == -1.0 and t[-3] == 1.0 and t[-2] == 0.0


def test_additive_pooling_saturated_scores_are_silent_and_finite():
    """Scores 500x beyond tanh's range: catches additive_forward losing its errstate around
    tanh_of_scaled (raises here) or a -2 scaling of W and b that no longer gives tanh(h W + b)."""
    from cryptotrain.nn.attention import additive_forward, additive_init

    rng = np.random.default_rng(0)
    params = {k: (500.0 * (v + 0.1)).astype(np.float32) for k, v in additive_init(6, rng).items()}
    h = rng.normal(size=(3, 5, 6)).astype(np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y, cache = additive_forward(params, h, mask=None)
    assert np.isfinite(y).all() and np.abs(cache["u"]).max() == 1.0
    np.testing.assert_allclose(cache["u"], np.tanh(h.reshape(15, 6).astype(np.float64) @ params["pool.W"]
                                                  + params["pool.b"]), atol=1e-4)
