"""Full-model behaviour: padded == unpadded windows, loss parts and weights, dtypes, attention
weights, and the contract API (cryptotrain.models)."""

import numpy as np
import pytest

from cryptotrain.config import ModelConfig
from cryptotrain.models import init_params, loss_and_grads, model_backward, model_forward, model_loss

BASE = dict(hidden_size=4, num_heads=2, head_sizes=[4], dtype="float64", w_confidence=0.5, w_return=0.3, l2=1e-3)


def _batch(B=3, T=4, F=3, seed=0):
    r = np.random.default_rng(seed)
    x = r.normal(size=(B, T, F))
    targets = {"action": np.array([0, 1, 2] * B)[:B], "confidence": r.random(B), "return": 0.01 * r.normal(size=B)}
    return x, targets


@pytest.mark.parametrize("cfg", [
    dict(type="gru_attention", num_layers=3, attention="both", layer_norm=True, residual=True),
    dict(type="lstm_attention", attention="multihead", pooling="mean", causal=True),
    dict(type="lstm_attention", num_layers=2, attention="multihead", pooling="last", layer_norm=True),
    dict(type="gru_attention", attention="additive", concat_last=True),
], ids=["gru3-both-ln-res", "lstm-mh-mean-causal", "lstm2-mh-last-ln", "gru-additive"])
def test_padded_window_equals_unpadded(cfg):
    mcfg = ModelConfig(**{**BASE, **cfg})
    params = init_params(mcfg, 3, 4, np.random.default_rng(1))
    x, targets = _batch()
    pad = 2
    xp = np.concatenate([np.random.default_rng(9).normal(size=(3, pad, 3)) * 5, x], axis=1)
    mask = np.ones((3, 4 + pad), dtype=bool)
    mask[:, :pad] = False
    loss, parts, grads, out = loss_and_grads(params, x, targets, mcfg, train=False)
    loss_p, parts_p, grads_p, out_p = loss_and_grads(params, xp, targets, mcfg, mask=mask, train=False)
    assert loss_p == pytest.approx(loss, rel=1e-12)
    for k in ("logits", "confidence", "return"):
        np.testing.assert_allclose(out_p[k], out[k], rtol=1e-10, atol=1e-13, err_msg=k)
    np.testing.assert_allclose(out_p["attention"][:, pad:], out["attention"], rtol=1e-10, atol=1e-13)
    assert np.all(out_p["attention"][:, :pad] == 0)
    for k in params:
        np.testing.assert_allclose(grads_p[k], grads[k], rtol=1e-9, atol=1e-13, err_msg=k)


def test_parts_are_unweighted_and_total_is_weighted():
    mcfg = ModelConfig(**BASE, return_loss="mse", class_weights=[1.0, 2.0, 3.0])
    params = init_params(mcfg, 3, 4, np.random.default_rng(0))
    x, t = _batch()
    out, _ = model_forward(params, x, mcfg)
    loss, parts, dout = model_loss(out, t, mcfg, params)
    assert set(parts) == {"action", "confidence", "return", "l2"}
    expect = parts["action"] + 0.5 * parts["confidence"] + 0.3 * parts["return"] + 1e-3 * parts["l2"]
    assert loss == pytest.approx(expect, rel=1e-12)
    r = out["return"] - mcfg.return_scale * t["return"]
    assert parts["return"] == pytest.approx(np.mean(r ** 2), rel=1e-12)
    w = np.array([1.0, 2.0, 3.0])[t["action"]]
    logp = out["logits"] - np.log(np.exp(out["logits"]).sum(1, keepdims=True))
    assert parts["action"] == pytest.approx(-(w * logp[np.arange(3), t["action"]]).sum() / w.sum(), rel=1e-12)


def test_zero_weight_gives_zero_head_gradient():
    mcfg = ModelConfig(**{**BASE, "w_action": 0.0, "w_return": 0.0, "l2": 0.0})
    params = init_params(mcfg, 3, 4, np.random.default_rng(0))
    x, t = _batch()
    loss, parts, grads, out = loss_and_grads(params, x, t, mcfg, train=False)
    assert loss == pytest.approx(0.5 * parts["confidence"])
    assert np.all(grads["head.out.W"][:, [0, 1, 2, 4]] == 0) and np.all(grads["head.out.b"][[0, 1, 2, 4]] == 0)
    assert np.any(grads["head.out.W"][:, 3] != 0)


def test_float32_default_and_shapes():
    mcfg = ModelConfig(hidden_size=8, num_heads=2, head_sizes=[8, 4], attention="both", dropout=0.2,
                       head_dropout=0.1, num_layers=2)
    params = init_params(mcfg, 5, 6, np.random.default_rng(0))
    assert all(v.dtype == np.float32 for v in params.values())
    x = np.random.default_rng(1).normal(size=(4, 6, 5))
    t = {"action": np.array([0, 1, 2, 1]), "confidence": np.full(4, 0.5), "return": np.zeros(4)}
    loss, parts, grads, out = loss_and_grads(params, x, t, mcfg, train=True, rng=np.random.default_rng(2))
    assert set(grads) == set(params)
    assert all(grads[k].dtype == np.float32 and grads[k].shape == params[k].shape for k in params)
    assert out["logits"].shape == (4, 3) and out["confidence"].shape == (4,) and out["return"].shape == (4,)
    np.testing.assert_allclose(out["attention"].sum(axis=1), 1.0, rtol=1e-5)
    # evaluation is deterministic (dropout off) and needs no rng
    a, _ = model_forward(params, x, mcfg)
    b, _ = model_forward(params, x, mcfg)
    np.testing.assert_array_equal(a["logits"], b["logits"])


def test_multihead_last_pooling_reports_last_query_attention():
    mcfg = ModelConfig(**{**BASE, "attention": "multihead", "pooling": "last", "causal": True})
    params = init_params(mcfg, 3, 4, np.random.default_rng(0))
    x, _ = _batch()
    out, cache = model_forward(params, x, mcfg)
    np.testing.assert_allclose(out["attention"], cache["mha"]["attn"][:, :, -1, :].mean(axis=1))
    np.testing.assert_allclose(out["attention"].sum(axis=1), 1.0)


def test_backward_returns_params_keys_and_input_grad():
    mcfg = ModelConfig(**BASE)
    params = init_params(mcfg, 3, 4, np.random.default_rng(0))
    x, t = _batch()
    out, cache = model_forward(params, x, mcfg)
    _, _, dout = model_loss(out, t, mcfg, params)
    dx, grads = model_backward(params, cache, dout, mcfg, need_dx=True)
    assert set(grads) == set(params) and dx.shape == x.shape



def test_l2_false_leaves_the_penalty_out_of_loss_and_grads():
    """model_loss / model_backward with l2=False give what a config with l2 = 0 gives (the
    validation loss), and l2=True differs from it by l2 * sum(W^2) and its gradient 2 l2 W."""
    mcfg = ModelConfig(**BASE)
    no_l2 = mcfg.model_copy(update={"l2": 0.0})
    params = init_params(mcfg, 3, 4, np.random.default_rng(0))
    x, t = _batch()
    out, cache = model_forward(params, x, mcfg)
    loss_off, _, dout = model_loss(out, t, mcfg, params, l2=False)
    loss_zero, _, _ = model_loss(out, t, no_l2, params)
    loss_on, parts, _ = model_loss(out, t, mcfg, params)
    assert loss_off == loss_zero and loss_on == pytest.approx(loss_off + 1e-3 * parts["l2"], rel=1e-12)
    _, g_off = model_backward(params, cache, dout, mcfg, l2=False)
    _, g_zero = model_backward(params, cache, dout, no_l2)
    _, g_on = model_backward(params, cache, dout, mcfg)
    for k, W in params.items():
        np.testing.assert_array_equal(g_off[k], g_zero[k], err_msg=k)
        np.testing.assert_allclose(g_on[k] - g_off[k], 2e-3 * W if W.ndim >= 2 else 0.0, atol=1e-15, err_msg=k)
