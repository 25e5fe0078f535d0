"""Adam / AdamW steps and global-norm clipping against torch (float64), skipped without torch."""

import numpy as np
import pytest

from cryptotrain.config import TrainConfig
from cryptotrain.optim import adam_init, adam_step, clip_gradients

torch = pytest.importorskip("torch")


def _params(seed=0):
    r = np.random.default_rng(seed)
    return {"W": r.normal(size=(4, 3)), "b": r.normal(size=3), "U": r.normal(size=(3, 2, 2))}


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adam_matches_torch(optimizer):
    tcfg = TrainConfig(optimizer=optimizer, lr=0.01, betas=[0.8, 0.95], eps=1e-7, weight_decay=0.1)
    params = _params()
    tp = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    if optimizer == "adam":
        opt = torch.optim.Adam(tp.values(), lr=0.01, betas=(0.8, 0.95), eps=1e-7)
    else:  # decoupled decay on matrices only
        groups = [{"params": [p for p in tp.values() if p.ndim >= 2], "weight_decay": 0.1},
                  {"params": [p for p in tp.values() if p.ndim < 2], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=0.01, betas=(0.8, 0.95), eps=1e-7)
    state = adam_init(params)
    r = np.random.default_rng(1)
    for _ in range(5):
        grads = {k: r.normal(size=v.shape) for k, v in params.items()}
        adam_step(params, grads, state, 0.01, tcfg)
        for k, p in tp.items():
            p.grad = torch.from_numpy(grads[k].copy())
        opt.step()
    assert state["step"] == 5
    for k, p in tp.items():
        np.testing.assert_allclose(params[k], p.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=k)
        np.testing.assert_allclose(state["m"][k], opt.state[p]["exp_avg"].numpy(), rtol=1e-12, err_msg=k)
        np.testing.assert_allclose(state["v"][k], opt.state[p]["exp_avg_sq"].numpy(), rtol=1e-12, err_msg=k)


@pytest.mark.parametrize("clip", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(clip):
    grads = _params(2)
    tp = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads.values()]
    for p, g in zip(tp, grads.values()):
        p.grad = torch.from_numpy(g.copy())
    norm_t = torch.nn.utils.clip_grad_norm_(tp, clip)
    clipped, norm = clip_gradients(grads, clip, None)
    assert norm == pytest.approx(norm_t.item(), rel=1e-12)
    for p, (k, g) in zip(tp, clipped.items()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, err_msg=k)
