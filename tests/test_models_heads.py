"""MLP head stack (models/heads.py): float64 gradients of all three outputs, with dropout masks
fixed by re-seeding, for each activation and depth."""

import numpy as np
import pytest

from cryptotrain.models.heads import head_backward, head_forward, head_init
from cryptotrain.nn.gradcheck import assert_grads_close


@pytest.mark.parametrize("activation,sizes,dropout", [("relu", [5, 4], 0.3), ("gelu", [4], 0.0),
                                                      ("tanh", [], 0.0)])
def test_head_grads(activation, sizes, dropout):
    r = np.random.default_rng(0)
    params = head_init(6, sizes, r, np.float64)
    for k, v in params.items():
        if v.ndim == 1:
            v += 0.1 * r.normal(size=v.shape)
    x = r.normal(size=(3, 6))
    dout = {"logits": r.normal(size=(3, 3)), "confidence": r.normal(size=3), "return": r.normal(size=3)}

    def run():
        return head_forward(params, x, len(sizes), activation, dropout, train=True, rng=np.random.default_rng(7))

    f = lambda: float(sum((run()[0][k] * dout[k]).sum() for k in dout))
    out, cache = run()
    assert out["logits"].shape == (3, 3) and out["confidence"].shape == out["return"].shape == (3,)
    assert np.all((out["confidence"] > 0) & (out["confidence"] < 1))
    dx, grads = head_backward(params, cache, dout)
    assert set(grads) == set(params)
    assert_grads_close(f, {"x": x, **params}, {"x": dx, **grads})


def test_head_eval_has_no_dropout_and_missing_dout_is_zero():
    r = np.random.default_rng(1)
    params = head_init(4, [4], r, np.float32)
    x = r.normal(size=(2, 4)).astype(np.float32)
    a, _ = head_forward(params, x, 1, "relu", 0.5, train=False)
    b, _ = head_forward(params, x, 1, "relu", 0.5, train=False)
    np.testing.assert_array_equal(a["logits"], b["logits"])
    _, cache = head_forward(params, x, 1, "relu", 0.0)
    dx, grads = head_backward(params, cache, {"logits": np.ones((2, 3), np.float32)})
    assert dx.dtype == np.float32 and np.all(grads["head.out.W"][:, 3:] == 0)
