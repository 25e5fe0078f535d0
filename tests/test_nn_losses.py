"""Losses (nn/losses.py): float64 central-difference gradients and values against torch."""

import numpy as np
import pytest

from cryptotrain.nn import losses as Ls
from cryptotrain.nn.gradcheck import assert_grads_close

B = 6


def _data(seed=0):
    r = np.random.default_rng(seed)
    return r, r.normal(size=(B, 3)), r.integers(0, 3, size=B), r.normal(size=B), r.normal(size=B) * 2


@pytest.mark.parametrize("weights", [None, [2.0, 0.5, 1.5]])
def test_cross_entropy_grads(weights):
    _, z, y, _, _ = _data()
    f = lambda: Ls.cross_entropy_forward(z, y, weights)[0] * 0.7
    dz = Ls.cross_entropy_backward(Ls.cross_entropy_forward(z, y, weights)[1], 0.7)
    assert_grads_close(f, {"logits": z}, {"logits": dz})


def test_mse_grads():
    _, _, _, p, t = _data(1)
    f = lambda: Ls.mse_forward(p, t)[0] * 1.3
    assert_grads_close(f, {"pred": p}, {"pred": Ls.mse_backward(Ls.mse_forward(p, t)[1], 1.3)})


def test_huber_grads_both_regimes():
    _, _, _, p, t = _data(2)
    d = p - t
    assert (np.abs(d) < 1.0).any() and (np.abs(d) > 1.0).any()
    f = lambda: Ls.huber_forward(p, t, 1.0)[0]
    assert_grads_close(f, {"pred": p}, {"pred": Ls.huber_backward(Ls.huber_forward(p, t, 1.0)[1])})


def test_l2_grads_only_matrices():
    r = np.random.default_rng(3)
    params = {"W": r.normal(size=(3, 2)), "b": r.normal(size=2), "gamma": r.normal(size=3)}
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    Ls.l2_backward(params, 0.1, grads)
    assert_grads_close(lambda: 0.1 * Ls.l2_forward(params), params, grads)
    assert np.all(grads["b"] == 0) and np.all(grads["gamma"] == 0)


def test_losses_match_torch():
    torch = pytest.importorskip("torch")
    _, z, y, p, t = _data(4)
    w = [2.0, 0.5, 1.5]
    ce = torch.nn.CrossEntropyLoss(weight=torch.tensor(w, dtype=torch.float64))(torch.from_numpy(z), torch.from_numpy(y))
    assert Ls.cross_entropy_forward(z, y, w)[0] == pytest.approx(ce.item(), rel=1e-12)
    hub = torch.nn.HuberLoss(delta=0.8)(torch.from_numpy(p), torch.from_numpy(t))
    assert Ls.huber_forward(p, t, 0.8)[0] == pytest.approx(hub.item(), rel=1e-12)
    mse = torch.nn.MSELoss()(torch.from_numpy(p), torch.from_numpy(t))
    assert Ls.mse_forward(p, t)[0] == pytest.approx(mse.item(), rel=1e-12)


def test_float32_stays_float32():
    _, z, y, p, t = _data(5)
    z32, p32 = z.astype(np.float32), p.astype(np.float32)
    assert Ls.cross_entropy_backward(Ls.cross_entropy_forward(z32, y, [1.0, 2.0, 3.0])[1], 0.5).dtype == np.float32
    assert Ls.huber_backward(Ls.huber_forward(p32, t, 1.0)[1], 0.5).dtype == np.float32
    assert Ls.mse_backward(Ls.mse_forward(p32, t)[1], 0.5).dtype == np.float32
