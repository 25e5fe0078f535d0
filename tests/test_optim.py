"""Optimizer state, value clipping, dtype and learning-rate schedules (cryptotrain/optim.py)."""

import math

import numpy as np
import pytest

from cryptotrain.config import TrainConfig
from cryptotrain.optim import adam_init, adam_step, clip_gradients, global_norm, learning_rate


def test_state_is_plain_dict_with_param_keys_and_dtypes():
    params = {"a.W": np.ones((2, 3), np.float32), "a.b": np.zeros(3, np.float32)}
    state = adam_init(params)
    assert state["step"] == 0 and set(state["m"]) == set(state["v"]) == set(params)
    grads = {k: np.full_like(v, 0.5) for k, v in params.items()}
    adam_step(params, grads, state, 1e-2, TrainConfig(optimizer="adamw", weight_decay=0.5))
    assert all(v.dtype == np.float32 for d in (params, state["m"], state["v"]) for v in d.values())
    # first Adam step moves every element by lr * sign(g) (bias-corrected); adamw also decays W
    np.testing.assert_allclose(params["a.b"], -1e-2, rtol=1e-4)
    np.testing.assert_allclose(params["a.W"], 1.0 * (1 - 1e-2 * 0.5) - 1e-2, rtol=1e-5)


def test_state_roundtrip_resumes_exactly(tmp_path):
    r = np.random.default_rng(0)
    params = {"W": r.normal(size=(3, 3)), "b": r.normal(size=3)}
    tcfg = TrainConfig()
    state = adam_init(params)
    grads = [{k: r.normal(size=v.shape) for k, v in params.items()} for _ in range(4)]
    for g in grads[:2]:
        adam_step(params, g, state, 1e-3, tcfg)
    flat = {"step": state["step"], **{f"m/{k}": v for k, v in state["m"].items()},
            **{f"v/{k}": v for k, v in state["v"].items()}, **{f"p/{k}": v for k, v in params.items()}}
    np.savez(tmp_path / "s.npz", **flat)
    z = np.load(tmp_path / "s.npz")
    p2 = {k: z[f"p/{k}"] for k in params}
    s2 = {"step": int(z["step"]), "m": {k: z[f"m/{k}"] for k in params}, "v": {k: z[f"v/{k}"] for k in params}}
    for g in grads[2:]:
        adam_step(params, g, state, 1e-3, tcfg)
        adam_step(p2, {k: v.copy() for k, v in g.items()}, s2, 1e-3, tcfg)
    for k in params:
        np.testing.assert_array_equal(params[k], p2[k])


def test_value_clipping_then_norm():
    grads = {"a": np.array([10.0, -10.0, 0.5]), "b": np.array([[3.0]])}
    before = global_norm(grads)
    out, norm = clip_gradients(grads, clip_norm=1.0, clip_value=2.0)
    assert norm == pytest.approx(before)
    np.testing.assert_allclose(global_norm(out), 1.0, rtol=1e-5)
    assert np.abs(out["a"]).max() <= 2.0
    same, _ = clip_gradients({"a": np.array([0.1])}, clip_norm=None, clip_value=None)
    assert same["a"][0] == 0.1


def test_learning_rate_schedules():
    const = TrainConfig(lr=0.1, schedule="constant")
    assert [learning_rate(s, 100, const) for s in (0, 50, 99)] == [0.1, 0.1, 0.1]
    cos = TrainConfig(lr=0.1, schedule="cosine", warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate(0, 110, cos) == pytest.approx(0.01)
    assert learning_rate(9, 110, cos) == pytest.approx(0.1)
    assert learning_rate(10, 110, cos) == pytest.approx(0.1)
    assert learning_rate(109, 110, cos) == pytest.approx(0.01)   # min_lr_ratio * lr at the last step
    mid = 0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * 0.5))
    assert learning_rate(10 + 49.5, 110, cos) == pytest.approx(mid)
    lrs = [learning_rate(s, 110, cos) for s in range(10, 110)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert learning_rate(500, 110, cos) == pytest.approx(0.01)
