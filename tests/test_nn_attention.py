"""Float64 central-difference gradient tests for additive pooling, multi-head self-attention and
pooling over time (nn/attention.py), with padding and causal masks."""

import numpy as np
import pytest

from cryptotrain.nn import attention as A
from cryptotrain.nn.gradcheck import assert_grads_close

B, T, D = 3, 5, 4


def _setup(seed=0):
    r = np.random.default_rng(seed)
    h = r.normal(size=(B, T, D))
    mask = np.ones((B, T), dtype=bool)
    mask[1, :2] = False   # left padding
    mask[2, :4] = False   # a single valid step
    return r, h, mask


@pytest.mark.parametrize("concat_last", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_additive_pooling_grads(concat_last, masked):
    r, h, mask = _setup()
    mask = mask if masked else None
    params = A.additive_init(D, r, np.float64)
    params["pool.b"][:] = r.normal(size=D)
    dy = r.normal(size=(B, 2 * D if concat_last else D))
    f = lambda: float((A.additive_forward(params, h, mask=mask, concat_last=concat_last)[0] * dy).sum())
    y, c = A.additive_forward(params, h, mask=mask, concat_last=concat_last)
    dh, g = A.additive_backward(params, c, dy)
    assert_grads_close(f, {"h": h, **params}, {"h": dh, **g})
    if masked:
        assert np.all(c["alpha"][~mask] == 0) and np.all(dh[~mask] == 0)
    np.testing.assert_allclose(c["alpha"].sum(axis=1), 1.0)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_mha_grads(causal, masked):
    r, x, mask = _setup(1)
    mask = mask if masked else None
    params = A.mha_init(D, r, np.float64, prefix="mha")
    for k in ("mha.bq", "mha.bv", "mha.bo"):
        params[k][:] = r.normal(size=params[k].shape)
    dy = r.normal(size=(B, T, D))
    if masked:
        dy[~mask] = 0.0   # outputs at padded queries are ignored downstream
    f = lambda: float((A.mha_forward(params, x, "mha", 2, mask=mask, causal=causal)[0] * dy).sum())
    y, c = A.mha_forward(params, x, "mha", 2, mask=mask, causal=causal)
    dx, g = A.mha_backward(params, c, dy)
    assert_grads_close(f, {"x": x, **params}, {"x": dx, **g})
    if masked:
        keys_padded = ~mask[:, None, None, :]
        assert np.all(np.where(keys_padded, c["attn"], 0.0) == 0)
        assert np.all(dx[~mask] == 0)   # padded steps: neither keys nor (used) queries
    if causal:
        assert np.all(np.triu(c["attn"][0, 0], k=1) == 0)


def test_mha_attention_dropout_fixed_mask():
    r, x, mask = _setup(2)
    params = A.mha_init(D, r, np.float64, prefix="enc")
    drop = (r.random((B, 2, T, T)) >= 0.3) / 0.7
    dy = r.normal(size=(B, T, D))
    run = lambda: A.mha_forward(params, x, "enc", 2, attn_dropout=0.3, train=True, dropout_mask=drop)
    f = lambda: float((run()[0] * dy).sum())
    dx, g = A.mha_backward(params, run()[1], dy)
    assert_grads_close(f, {"x": x, **params}, {"x": dx, **g})


def test_mha_matches_torch():
    torch = pytest.importorskip("torch")
    r, x, mask = _setup(3)
    params = A.mha_init(D, r, np.float64, prefix="mha")
    params["mha.bq"][:], params["mha.bv"][:] = r.normal(size=D), r.normal(size=D)
    y, _ = A.mha_forward(params, x, "mha", 2, mask=mask, causal=False)
    m = torch.nn.MultiheadAttention(D, 2, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        m.in_proj_weight.copy_(torch.from_numpy(params["mha.Wqkv"].T))
        m.in_proj_bias.copy_(torch.from_numpy(np.concatenate([params["mha.bq"], np.zeros(D), params["mha.bv"]])))
        m.out_proj.weight.copy_(torch.from_numpy(params["mha.Wo"].T))
        m.out_proj.bias.copy_(torch.from_numpy(params["mha.bo"]))
    xt = torch.from_numpy(x)
    yt, _ = m(xt, xt, xt, key_padding_mask=torch.from_numpy(~mask), need_weights=False)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["last", "mean", "additive"])
def test_pooling_grads_and_padding(kind):
    r, h, mask = _setup(4)
    params = A.additive_init(D, r, np.float64) if kind == "additive" else {}
    dy = r.normal(size=(B, D))
    f = lambda: float((A.pool_forward(params, h, kind, mask=mask)[0] * dy).sum())
    y, c = A.pool_forward(params, h, kind, mask=mask)
    dh, g = A.pool_backward(params, c, dy)
    assert_grads_close(f, {"h": h, **params}, {"h": dh, **g})
    assert np.all(dh[~mask] == 0)
    # the pooled value of a left-padded row equals the pooled value of its valid part alone
    y1, _ = A.pool_forward(params, h[1:2, 2:], kind)
    np.testing.assert_allclose(y[1], y1[0], rtol=1e-12)
