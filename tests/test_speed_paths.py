"""The optimized recurrent layers (step-contiguous layout, negated sigmoid rows, reordered LSTM gates,
pooled buffers) against the plain batch-major reference (nn/reference.py) on random inputs, in float64 and
float32; pooled buffers never shared between live caches and never returned by a training step;
repeated training steps bit-identical."""

import numpy as np
import pytest

from cryptotrain.nn import buffers
from cryptotrain.nn.gru import gru_backward, gru_forward, gru_init
from cryptotrain.nn.lstm import lstm_backward, lstm_forward, lstm_init
from cryptotrain.nn.recurrent import StackSpec, rnn_stack_backward, rnn_stack_forward, rnn_stack_init
from cryptotrain.nn.reference import reference_gru, reference_lstm


LAYERS = {"gru": (gru_init, gru_forward, gru_backward, reference_gru),
          "lstm": (lstm_init, lstm_forward, lstm_backward, reference_lstm)}


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


def _check_live_caches(kind):
    """Inside one buffers.step(): two stack forwards alive at once, then their backwards in either
    order; each must equal a run outside any step (plain np.empty, nothing pooled)."""
    rng = np.random.default_rng(1)
    params = rnn_stack_init(kind, 5, 8, 2, rng, np.float64)
    xa, xb = rng.normal(size=(2, 4, 6, 5))
    dh = rng.normal(size=(4, 6, 8))
    with buffers.step():
        ya, ca = rnn_stack_forward(params, xa, StackSpec(kind, 2))
        yb, cb = rnn_stack_forward(params, xb, StackSpec(kind, 2))
        assert not np.shares_memory(ya, yb)
        gb = rnn_stack_backward(params, cb, dh)[1]
        ga = rnn_stack_backward(params, ca, dh)[1]
        ya, yb = ya.copy(), yb.copy()
    for x, y, g in ((xa, ya, ga), (xb, yb, gb)):
        y_ref, c_ref = rnn_stack_forward(params, x, StackSpec(kind, 2))
        g_ref = rnn_stack_backward(params, c_ref, dh)[1]
        np.testing.assert_array_equal(y, y_ref)
        for k in g:
            np.testing.assert_array_equal(g[k], g_ref[k])


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_live_caches_never_share_buffers(kind):
    _check_live_caches(kind)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_live_cache_check_catches_a_pool_that_hands_out_live_buffers(kind, monkeypatch):
    """The check above fails for a pool that gives an array again while it is still in use (what a
    pool trusting a miscounted reference count would do): here one array per shape and dtype."""
    shared = {}

    def one_per_shape(shape, dtype):
        return shared.setdefault((tuple(shape), np.dtype(dtype).char), np.empty(shape, dtype))

    monkeypatch.setattr(buffers, "empty", one_per_shape)
    with pytest.raises(AssertionError):
        _check_live_caches(kind)


def test_buffers_step_owns_its_arrays():
    """Inside a step no two arrays share memory; the next step reuses them; outside a step nothing
    is pooled."""
    outside = buffers.empty((3, 5), np.float32)
    assert not buffers.pooled(outside)
    with buffers.step():
        a = buffers.empty((3, 5), np.float32)
        with buffers.step():                       # a nested step's arrays are its own
            b = buffers.empty((3, 5), np.float32)
        c = buffers.empty((3, 5), np.float32)      # b was given back by the inner step: reused
        assert not np.shares_memory(a, c) and c is b
    with buffers.step():
        again = [buffers.empty((3, 5), np.float32) for _ in range(3)]
    assert any(x is a for x in again) and len({id(x) for x in again}) == 3


@pytest.mark.parametrize("model", ["gru_attention", "lstm_attention", "transformer"])
def test_training_step_returns_no_pooled_array(model):
    """loss_and_grads owns the step's pooled buffers: nothing it returns may live in them, or the
    next step would overwrite a caller's gradients."""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params, loss_and_grads

    mcfg = ModelConfig(type=model, hidden_size=8, num_heads=2, num_layers=2, head_sizes=[8], attention="both",
                       pooling="additive", concat_last=True)
    rng = np.random.default_rng(0)
    params = init_params(mcfg, 3, 6, rng)
    x = rng.normal(size=(1, 6, 3)).astype(np.float32)          # B = 1: transposes that need no copy
    targets = {"action": np.array([1]), "confidence": np.array([0.5], np.float32),
               "return": np.array([0.01], np.float32)}
    _, _, grads, out = loss_and_grads(params, x, targets, mcfg, rng=np.random.default_rng(1))
    returned = {**{f"grad {k}": v for k, v in grads.items()}, **{f"out {k}": v for k, v in out.items()}}
    assert [k for k, v in returned.items() if v is not None and buffers.pooled(v)] == []


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_need_dx_false_skips_only_dx(kind):
    rng = np.random.default_rng(2)
    params = rnn_stack_init(kind, 5, 8, 2, rng, np.float64)
    x, dh = rng.normal(size=(3, 6, 5)), rng.normal(size=(3, 6, 8))
    _, cache = rnn_stack_forward(params, x, StackSpec(kind, 2))
    dx, grads, _ = rnn_stack_backward(params, cache, dh)
    _, cache = rnn_stack_forward(params, x, StackSpec(kind, 2))
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


@pytest.mark.parametrize("model", ["gru_attention", "lstm_attention"])
def test_eval_pass_in_pooled_batches_is_the_plain_forward_bit_for_bit(model):
    """predict_with_loss runs each batch inside a buffers.step(): its predictions and loss must be
    those of the plain eval forward (fresh memory per batch), bit for bit. Three full batches
    (same shapes, so each reuses the previous one's arrays) and a short last one (padded to B by
    forward_fixed_batch in both passes). (No model output
    is pooled memory today; predict_with_loss copies what it keeps so that none ever can be.)"""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params, model_loss
    from cryptotrain.models.inference import forward_fixed_batch, predict_with_loss

    B, T, F, H = 8, 6, 3, 8
    mcfg = ModelConfig(type=model, hidden_size=H, num_layers=2, head_sizes=[H], w_confidence=0.1, w_return=0.5,
                       attention="additive", concat_last=True)
    rng = np.random.default_rng(5)
    params = init_params(mcfg, F, T, rng)
    n = 3 * B + 5
    xs = rng.normal(size=(n, T, F)).astype(np.float32)
    tg = {"action": rng.integers(0, 3, n), "confidence": rng.random(n).astype(np.float32),
          "return": (0.01 * rng.normal(size=n)).astype(np.float32)}

    class Data:
        timestamps, timeframe = np.arange(n) * 3_600_000, "1h"   # window i in batch column i mod B
        symbol_id = None                                          # one pair: no (pair, time) columns

        def batch(self, idx):
            return xs[idx], {k: v[idx] for k, v in tg.items()}

    pred, (loss, parts, acc) = predict_with_loss(params, Data(), np.arange(n), mcfg, B)
    # the plain pass: the same fixed-size (padded) batches, fresh memory, no buffers.step()
    plain = [forward_fixed_batch(params, xs[s:s + B], mcfg, B) for s in range(0, n, B)]
    for k, key in (("logits", "logits"), ("confidence", "confidence"), ("attention", "attention")):
        assert np.array_equal(pred[k], np.concatenate([o[key] for o in plain]).astype(np.float64)), k
    mc = mcfg.model_copy(update={"l2": 0.0})
    want = sum(model_loss(o, {k: v[s:s + B] for k, v in tg.items()}, mc, params)[0] * len(o["logits"])
               for o, s in zip(plain, range(0, n, B))) / n
    assert loss == want


@pytest.mark.parametrize("model", ["gru_attention", "lstm_attention", "transformer"])
def test_a_window_in_a_fixed_batch_depends_on_its_column_only(model):
    """What evaluate / predict bit-equality rests on (models/inference.window_slots): in a batch of
    fixed size, a window's outputs are the same whatever the other columns hold, when it sits in
    the same column. (Which columns round alike is the BLAS kernel's business: with OpenBLAS's
    Haswell kernels some do not, e.g. 6-11 and 18-31 of 32 at 1 thread; with its SkylakeX kernels
    all do.)"""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params
    from cryptotrain.models.inference import forward_fixed_batch

    B, T, F, H = 32, 10, 6, 16
    extra = {"num_heads": 2, "d_ff": 32} if model == "transformer" else {}
    mcfg = ModelConfig(type=model, hidden_size=H, num_layers=2, head_sizes=[H], attention="additive",
                       concat_last=True, **extra)
    rng = np.random.default_rng(3)
    params = init_params(mcfg, F, T, rng)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    full = forward_fixed_batch(params, x, mcfg, B)
    for c in range(B):
        alone = forward_fixed_batch(params, x[c:c + 1], mcfg, B, slots=np.array([c]))   # copies around it
        for k in ("logits", "confidence", "return"):
            assert np.array_equal(alone[k][0], full[k][c]), (k, c)


def test_eval_batches_put_each_window_in_the_column_of_its_time():
    """predict_with_loss: window -> column (open time // timeframe) mod B, batches end where a column
    would repeat (a gap), and the outputs are forward_fixed_batch's at those columns."""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import init_params
    from cryptotrain.models.inference import forward_fixed_batch, predict_with_loss, slot_batches, window_slots

    hour = 3_600_000
    ts = np.concatenate([np.arange(5, 15), np.arange(19, 30)]) * hour      # a gap of 4 candles
    assert window_slots(ts, hour, 8).tolist() == [5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5]
    assert [(s.start, s.stop) for s in slot_batches(window_slots(ts, hour, 8))] == [(0, 8), (8, 12), (12, 20),
                                                                                     (20, 21)]
    B, T, F, H = 8, 5, 3, 8
    mcfg = ModelConfig(type="gru_attention", hidden_size=H, num_layers=1, head_sizes=[H], attention="additive")
    rng = np.random.default_rng(4)
    params = init_params(mcfg, F, T, rng)
    n = len(ts)
    xs = rng.normal(size=(n, T, F)).astype(np.float32)
    tg = {"action": rng.integers(0, 3, n), "confidence": rng.random(n).astype(np.float32),
          "return": (0.01 * rng.normal(size=n)).astype(np.float32)}

    class Data:
        timestamps, timeframe = ts, "1h"
        symbol_id = None

        def batch(self, idx):
            return xs[idx], {k: v[idx] for k, v in tg.items()}

    pred, _ = predict_with_loss(params, Data(), np.arange(n), mcfg, B)
    for i in range(n):
        one = forward_fixed_batch(params, xs[i:i + 1], mcfg, B, slots=window_slots(ts[i:i + 1], hour, B))
        assert np.array_equal(pred["logits"][i], one["logits"][0].astype(np.float64)), i


def test_eval_batches_place_every_window_by_its_time_whatever_the_kernel(monkeypatch):
    """The placement itself, seen through a stand-in forward whose outputs name each column and the
    window in it (so this fails on a regression even where the BLAS rounds every column alike)."""
    from cryptotrain.config import ModelConfig
    from cryptotrain.models import inference

    B, hour = 8, 3_600_000
    ts = np.concatenate([np.arange(5, 15), np.arange(19, 30), [41]]) * hour     # two gaps
    n = len(ts)
    xs = np.arange(n, dtype=np.float32)[:, None, None] * np.ones((1, 2, 1), np.float32)   # window id in x

    def fake_forward(params, x, mcfg, **kw):
        assert len(x) == B
        col = np.arange(B, dtype=np.float32)
        return {"logits": np.stack([col, x[:, 0, 0], col], 1), "confidence": col, "return": col,
                "attention": None}, None

    monkeypatch.setattr(inference, "model_forward", fake_forward)
    monkeypatch.setattr(inference, "model_loss", lambda out, t, m, p, l2: (0.0, {}, None))

    class Data:
        timestamps, timeframe = ts, "1h"
        symbol_id = None

        def batch(self, idx):
            return xs[idx], {"action": np.zeros(len(idx), np.int64)}

    pred, _ = inference.predict_with_loss({}, Data(), np.arange(n), ModelConfig(), B)
    assert pred["logits"][:, 0].tolist() == ((ts // hour) % B).tolist()   # the column of its time
    assert pred["logits"][:, 1].tolist() == list(range(n))                 # holding its own window
    with pytest.raises(ValueError, match="distinct batch columns"):
        inference.forward_fixed_batch({}, xs[:2], ModelConfig(), B, slots=np.array([3, 3]))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_saturated_gates_are_exact_and_silent(kind):
    """Gate pre-activations far beyond float32's exp range (|a| up to ~1e3): the sigmoids through
    exp (nn/layers.py sigmoid_of_negated, tanh_of_scaled) reach exactly 0 and 1 and tanh exactly -1
    and 1 without an overflow warning or a NaN, and the layer still equals the float64 reference.
    Catches: a layer loop that lost its np.errstate(over="ignore") (raises here), or an activation
    that turns exp's inf into NaN."""
    init, fwd, bwd, ref = LAYERS[kind]
    T, B, F, H = 5, 6, 4, 8
    rng = np.random.default_rng(5)
    p = {k: (40.0 * (v + rng.normal(size=v.shape))).astype(np.float32) for k, v in init(F, H, rng, np.float64).items()}
    x = rng.normal(size=(T, B, F)).astype(np.float32)
    dy = rng.normal(size=(T, B, H)).astype(np.float32)
    with np.errstate(over="raise", invalid="raise", divide="raise"):   # (underflow is ignored by default)
        y, cache = fwd(p, x, None, None)
        dx, _, _ = bwd(p, cache, dy)
    gates = cache["tcb"]["A"][:, :(3 if kind == "gru" else 4) * H]   # the GRU's cache also holds hn
    assert np.abs(gates).max() == 1.0 and {0.0, 1.0} <= set(np.unique(gates[:, :H]))   # saturated, exactly
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    state = np.zeros((B, H)) if kind == "gru" else (np.zeros((B, H)), np.zeros((B, H)))
    with np.errstate(over="ignore"):
        ry, rdx, _, _ = ref({k: f64(v) for k, v in p.items()}, f64(x), state, np.ones((B, T), bool), f64(dy))
    assert np.isfinite(y).all() and np.isfinite(dx).all()
    np.testing.assert_allclose(y, ry, rtol=0, atol=1e-4)       # float32 rounding of |a| ~ 300 is 3e-5
    np.testing.assert_allclose(dx, rdx, rtol=0, atol=1e-3 * np.abs(rdx).max())
