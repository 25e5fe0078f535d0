"""Parity with PyTorch (skipped without torch): one encoder layer (nn/transformer.py) with weights
copied from torch.nn.TransformerEncoderLayer(batch_first=True) gives the same outputs and gradients
(x and every weight) in float64, eval mode (dropout 0), post-norm and pre-norm, ReLU and GELU.

Weight mapping (nn.transformer.encoder_layer_from_torch; torch stores y = x W^T + b, we x W + b):
    self_attn.in_proj_weight (3D, D)  -> attn.Wqkv = in_proj_weight.T   (columns [Q | K | V])
    self_attn.in_proj_bias   (3D,)    -> attn.bq = [0:D], attn.bv = [2D:3D]; the key block [D:2D]
        has no counterpart: it adds q_i . b_k to every score of query i, which the softmax cancels,
        so torch's output does not depend on it and its gradient is 0 (both checked below).
    self_attn.out_proj.weight/bias    -> attn.Wo = weight.T, attn.bo
    linear1 / linear2 weight/bias     -> ff.W1 / ff.W2 = weight.T, ff.b1 / ff.b2
    norm1 / norm2 weight/bias         -> norm1 / norm2 gamma / beta (eps 1e-5 in both)
Our GELU is the tanh approximation, so torch gets activation=lambda x: F.gelu(x, approximate="tanh")
(torch's "gelu" default is the exact erf form).
Masks: our mask (True = valid) is torch's src_key_padding_mask negated; our causal flag is torch's
boolean upper-triangular src_mask (True = not allowed). Outputs at padded positions are not
compared (dy is zero there), as they are meaningless in both.
"""

import numpy as np
import pytest

from cryptotrain.nn.transformer import encoder_layer_backward, encoder_layer_forward, encoder_layer_from_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional

B, T, D, NH, DFF = 3, 5, 8, 2, 12
ATOL = 1e-10
ACT = {"relu": F.relu, "gelu": lambda x: F.gelu(x, approximate="tanh")}


def _numpy(layer, attr):
    return {n: getattr(t, attr).detach().numpy().copy() for n, t in layer.named_parameters()}


@pytest.mark.parametrize("masks", ["none", "padding", "causal"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, masks):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    layer = torch.nn.TransformerEncoderLayer(D, NH, DFF, dropout=0.0, activation=ACT[activation],
                                             batch_first=True, norm_first=norm_first, dtype=torch.float64)
    with torch.no_grad():   # non-trivial biases and norm params (torch initializes them to 0 / 1)
        for n, t in layer.named_parameters():
            if t.ndim == 1:
                t.add_(0.3 * torch.randn_like(t))
    layer.eval()
    params = encoder_layer_from_torch(_numpy(layer, "data"))

    x = rng.normal(size=(B, T, D))
    mask = np.ones((B, T), dtype=bool)
    if masks == "padding":
        mask[1, :2] = False
        mask[2, :4] = False
    causal = masks == "causal"
    dy = rng.normal(size=(B, T, D)) * mask[:, :, None]

    y, cache = encoder_layer_forward(params, x, "enc.0", NH, norm_first=norm_first, activation=activation,
                                     mask=mask if masks == "padding" else None, causal=causal)
    dx, grads = encoder_layer_backward(params, cache, dy)

    xt = torch.tensor(x, requires_grad=True)
    src_mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if causal else None
    pad = torch.tensor(~mask) if masks == "padding" else None
    yt = layer(xt, src_mask=src_mask, src_key_padding_mask=pad)
    (yt * torch.tensor(dy)).sum().backward()

    np.testing.assert_allclose(y[mask], yt.detach().numpy()[mask], rtol=0, atol=ATOL, err_msg="y")
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=ATOL, err_msg="dx")
    tg = encoder_layer_from_torch(_numpy(layer, "grad"))   # the same mapping applies to gradients
    for k in params:
        np.testing.assert_allclose(grads[k], tg[k], rtol=0, atol=ATOL, err_msg=k)
    # torch's key bias (no counterpart here) is nonzero, yet has no effect: its gradient is ~0
    assert np.abs(layer.self_attn.in_proj_bias.detach().numpy()[D:2 * D]).max() > 0.05
    np.testing.assert_allclose(layer.self_attn.in_proj_bias.grad.numpy()[D:2 * D], 0.0, atol=ATOL)
