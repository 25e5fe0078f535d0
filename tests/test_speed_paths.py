"""The optimized recurrent layers (step-contiguous layout, halved sigmoid rows, reordered LSTM gates,
pooled buffers) against a straightforward batch-major reference on random inputs, in float64 and
float32; pooled buffers never shared between live caches; repeated training steps bit-identical."""

import numpy as np
import pytest

from cryptotrain.nn import buffers
from cryptotrain.nn.gru import gru_backward, gru_forward, gru_init
from cryptotrain.nn.lstm import lstm_backward, lstm_forward, lstm_init
from cryptotrain.nn.recurrent import rnn_stack_backward, rnn_stack_forward, rnn_stack_init


def sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def ref_gru(p, x, h, mask, dy):
    """Batch-major, one plain expression per equation; returns y, dx, dh0, grads."""
    Wx, Wh, b, bhn = p["Wx"], p["Wh"], p["b"], p["bhn"]
    T, B, _ = x.shape
    H = Wh.shape[0]
    hs, steps = [h], []
    for t in range(T):
        a, ah = x[t] @ Wx + b, hs[-1] @ Wh
        r, z = sig(a[:, :H] + ah[:, :H]), sig(a[:, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:] + bhn
        n = np.tanh(a[:, 2 * H:] + r * hn)
        keep = mask[:, t:t + 1]
        hs.append(np.where(keep, (1 - z) * n + z * hs[-1], hs[-1]))
        steps.append((r, z, n, hn, keep))
    y = np.stack([hs[t + 1] * steps[t][4] for t in range(T)])
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx, dh = np.zeros_like(x), np.zeros_like(h)
    for t in reversed(range(T)):
        r, z, n, hn, keep = steps[t]
        dh = dh + dy[t] * keep
        dn, dz = dh * (1 - z) * keep, dh * (hs[t] - n) * keep
        dan = dn * (1 - n * n)
        da = np.concatenate([dan * hn * r * (1 - r), dz * z * (1 - z), dan], axis=1)
        dah = np.concatenate([da[:, :2 * H], dan * r], axis=1)
        g["Wx"] += x[t].T @ da
        g["b"] += da.sum(0)
        g["Wh"] += hs[t].T @ dah
        g["bhn"] += (dan * r).sum(0)
        dx[t] = da @ Wx.T
        dh = dah @ Wh.T + dh * np.where(keep, z, 1.0)
    return y, dx, dh, g


def ref_lstm(p, x, state, mask, dy):
    Wx, Wh, b = p["Wx"], p["Wh"], p["b"]
    T, B, _ = x.shape
    H = Wh.shape[0]
    hs, cs, steps = [state[0]], [state[1]], []
    for t in range(T):
        a = x[t] @ Wx + hs[-1] @ Wh + b
        i, f, gg, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
        c = f * cs[-1] + i * gg
        keep = mask[:, t:t + 1]
        cs.append(np.where(keep, c, cs[-1]))
        hs.append(np.where(keep, o * np.tanh(c), hs[-1]))
        steps.append((i, f, gg, o, np.tanh(c), keep))
    y = np.stack([hs[t + 1] * steps[t][5] for t in range(T)])
    g = {k: np.zeros_like(v) for k, v in p.items()}
    dx, dh, dc = np.zeros_like(x), np.zeros_like(state[0]), np.zeros_like(state[1])
    for t in reversed(range(T)):
        i, f, gg, o, tc, keep = steps[t]
        dh = dh + dy[t] * keep
        dct = (dc + dh * o * (1 - tc * tc)) * keep
        da = np.concatenate([dct * gg * i * (1 - i), dct * cs[t] * f * (1 - f), dct * i * (1 - gg * gg),
                             dh * keep * tc * o * (1 - o)], axis=1)
        g["Wx"] += x[t].T @ da
        g["Wh"] += hs[t].T @ da
        g["b"] += da.sum(0)
        dx[t] = da @ Wx.T
        dh = da @ Wh.T + dh * (1 - keep)
        dc = dct * f + dc * (1 - keep)
    return y, dx, (dh, dc), g


LAYERS = {"gru": (gru_init, gru_forward, gru_backward, ref_gru),
          "lstm": (lstm_init, lstm_forward, lstm_backward, ref_lstm)}


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_layer_matches_reference(kind, dtype, tol):
    init, fwd, bwd, ref = LAYERS[kind]
    T, B, F, H = 9, 12, 7, 16
    rng = np.random.default_rng(3)
    p = {k: (v + 0.3 * rng.normal(size=v.shape)).astype(dtype) for k, v in init(F, H, rng, np.float64).items()}
    x, dy = rng.normal(size=(T, B, F)).astype(dtype), rng.normal(size=(T, B, H)).astype(dtype)
    mask = np.ones((B, T), bool)
    mask[0, :3] = mask[5, :1] = False
    h0 = rng.normal(size=(B, H)).astype(dtype)
    state = h0 if kind == "gru" else (h0, rng.normal(size=(B, H)).astype(dtype))
    y, cache = fwd(p, x, state, mask)
    dx, dstate, g = bwd(p, cache, dy)
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    p64 = {k: f64(v) for k, v in p.items()}
    state64 = f64(state) if kind == "gru" else tuple(map(f64, state))
    ry, rdx, rdstate, rg = ref(p64, f64(x), state64, mask, f64(dy))

    def close(a, b, name):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max(), err_msg=name)

    close(y, ry, "y")
    close(dx, rdx, "dx")
    pairs = [(dstate, rdstate)] if kind == "gru" else zip(dstate, rdstate)
    for name, (a, b) in zip(("dh0", "dc0"), pairs):
        close(a, b, name)
    for k in rg:
        close(g[k], rg[k], k)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_live_caches_never_share_buffers(kind):
    """Two forwards alive at once, then their backwards in either order: each equals a fresh run."""
    rng = np.random.default_rng(1)
    params = rnn_stack_init(kind, 5, 8, 2, rng, np.float64)
    xa, xb = rng.normal(size=(2, 4, 6, 5))
    dh = rng.normal(size=(4, 6, 8))
    ya, ca = rnn_stack_forward(params, xa, kind, 2)
    yb, cb = rnn_stack_forward(params, xb, kind, 2)
    assert not np.shares_memory(ya, yb)
    gb = rnn_stack_backward(params, cb, dh)[1]
    ga = rnn_stack_backward(params, ca, dh)[1]
    for x, y, g in ((xa, ya, ga), (xb, yb, gb)):
        y_ref, c_ref = rnn_stack_forward(params, x, kind, 2)
        g_ref = rnn_stack_backward(params, c_ref, dh)[1]
        np.testing.assert_array_equal(y, y_ref)
        for k in g:
            np.testing.assert_array_equal(g[k], g_ref[k])


def test_buffers_reuse_only_free_arrays():
    a = buffers.empty((3, 5), np.float32)
    b = buffers.empty((3, 5), np.float32)
    assert a is not b
    view = b[1:]
    del a, b
    c = buffers.empty((3, 5), np.float32)      # the first array is free again; the second is held by a view
    assert not np.shares_memory(c, view)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_need_dx_false_skips_only_dx(kind):
    rng = np.random.default_rng(2)
    params = rnn_stack_init(kind, 5, 8, 2, rng, np.float64)
    x, dh = rng.normal(size=(3, 6, 5)), rng.normal(size=(3, 6, 8))
    _, cache = rnn_stack_forward(params, x, kind, 2)
    dx, grads, _ = rnn_stack_backward(params, cache, dh)
    _, cache = rnn_stack_forward(params, x, kind, 2)
    none, grads2, _ = rnn_stack_backward(params, cache, dh, need_dx=False)
    assert none is None and dx.shape == x.shape
    for k in grads:
        np.testing.assert_array_equal(grads[k], grads2[k])


@pytest.mark.parametrize("model", ["gru_attention", "lstm_attention"])
def test_benchmark_torch_twin_is_the_same_model(model):
    """benchmarks/_torch_reference.py, from the same weights, gives our loss and gradients (float64):
    the throughput benchmark compares like with like."""
    torch = pytest.importorskip("torch")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _torch_reference import TorchRecurrentAttention, ours_from_torch, torch_grads_as_ours, torch_loss

    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params, loss_and_grads

    B, T, F, H, L = 4, 7, 3, 5, 2
    mcfg = ModelConfig(type=model, hidden_size=H, num_layers=L, head_sizes=[H], w_confidence=0.1, w_return=0.0,
                       dtype="float64")
    torch.manual_seed(0)
    net = TorchRecurrentAttention("gru" if model == "gru_attention" else "lstm", F, H, L).double()
    params = ours_from_torch(net, init_params(mcfg, F, T, np.random.default_rng(0)))
    rng = np.random.default_rng(1)
    x = rng.normal(size=(B, T, F))
    t = {"action": rng.integers(0, 3, B), "confidence": rng.random(B), "return": np.zeros(B)}
    loss, _, grads, _ = loss_and_grads(params, x, t, mcfg, train=False)
    tl = torch_loss(net, torch.from_numpy(x), torch.from_numpy(t["action"]), torch.from_numpy(t["confidence"]), 0.1)
    tl.backward()
    assert loss == pytest.approx(tl.item(), rel=1e-12)
    tg = torch_grads_as_ours(net)
    for k in grads:
        np.testing.assert_allclose(grads[k], tg[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("model", ["gru_attention", "lstm_attention"])
def test_training_step_is_the_same_call_after_call(model):
    """Repeated training steps on the same inputs give bit-identical numbers. B = 63 makes the
    chunked weight-gradient sums (8 steps: K = 504) and the pooling GEMM (K = B*T = 1512) sizes at
    which OpenBLAS rounds differently with 1 and 2 threads: anything that switched the thread count
    between calls (a choice by timing, as an earlier version did) fails here."""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params, loss_and_grads

    B, T, F, H = 63, 24, 12, 64
    mcfg = ModelConfig(type=model, hidden_size=H, num_layers=2, head_sizes=[H], w_confidence=0.1, w_return=0.5,
                       attention="additive", concat_last=True)
    rng = np.random.default_rng(3)
    params = init_params(mcfg, F, T, rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    targets = {"action": rng.integers(0, 3, B), "confidence": rng.random(B).astype(np.float32),
               "return": (0.01 * rng.normal(size=B)).astype(np.float32)}
    runs = [loss_and_grads(params, x, targets, mcfg, rng=np.random.default_rng(0)) for _ in range(6)]
    for loss, _, grads, _ in runs[1:]:
        assert loss == runs[0][0]
        for k in grads:
            assert np.array_equal(grads[k], runs[0][2][k]), k
