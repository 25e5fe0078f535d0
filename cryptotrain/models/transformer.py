"""transformer: input projection, positions, an encoder stack, pooling over time, MLP heads.

Legend: B batch, T time, F features, D d_model (mcfg.hidden_size), Dff mcfg.d_ff, L num_layers,
P rows of the learned position table (= the data window), C context width (D, or 2D with additive
pooling and concat_last).

    e   = x W_in + b_in + pos[:T]                    (B, T, D)  pos: sinusoidal table or learned (P, D)
    h   = enc_{L-1}(... enc_0(e))                    (B, T, D)  nn/transformer.py, post- or pre-norm
    h   = LN_f(h)                                    pre-norm only: the residual stream is unnormalized
    ctx = pool(h)                                    (B, C)     mcfg.pooling: last | mean | additive
    out = heads(ctx)                                 logits (B, 3), confidence (B,), return (B,)

Position t counts from the first step of the window (t = 0..T-1), as in the original Transformer.
Masks: `mask` (B, T) bool, True = valid step (left padding). Padded steps are masked as keys in
every layer and excluded by mean / additive pooling ("last" is always valid), so they never reach
the outputs. mcfg.causal adds a causal mask. mcfg.dropout drops attention weights and each
sub-layer's output (nn/transformer.py). The recurrent-only fields (attention, layer_norm, residual)
are ignored.

Attention for analysis (out["attention"], (B, T)): the additive pooling weights when pooling is
additive, otherwise the last layer's attention of the last query over all keys, averaged over heads.

Parameter keys: "in_proj.W" (F, D), "in_proj.b" (D,), "pos" (P, D) if learned, "enc.{l}.*"
(nn/transformer.py), "enc_norm.gamma/beta" (D,) if pre-norm, "pool.W/b/v" if additive,
"head.{i}.W/b", "head.out.W/b" (pooling, heads and reported attention: models/readout.py).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.models.readout import readout_backward, readout_forward, readout_init
from cryptotrain.nn.init import glorot_uniform
from cryptotrain.nn.layers import layernorm_backward, layernorm_forward, linear_backward, linear_forward
from cryptotrain.nn.transformer import (encoder_layer_backward, encoder_layer_forward, encoder_layer_init,
                                        sinusoidal_encoding)


def init(mcfg: ModelConfig, n_features: int, window: int, rng: np.random.Generator) -> dict:
    """`window` sizes the learned position table (P = window)."""
    dtype = np.dtype(mcfg.dtype)
    D = mcfg.hidden_size
    params = {"in_proj.W": glorot_uniform(rng, n_features, D, dtype),   # (F, D)
              "in_proj.b": np.zeros(D, dtype=dtype)}                    # (D,)
    if mcfg.positional == "learned":
        params["pos"] = (0.02 * rng.standard_normal((window, D))).astype(dtype)   # (P, D)
    for l in range(mcfg.num_layers):
        params.update(encoder_layer_init(D, mcfg.d_ff, rng, dtype, prefix=f"enc.{l}"))
    if mcfg.norm_first:
        params["enc_norm.gamma"] = np.ones(D, dtype=dtype)    # (D,)
        params["enc_norm.beta"] = np.zeros(D, dtype=dtype)    # (D,)
    params.update(readout_init(mcfg, mcfg.pooling, rng, dtype))
    return params


def _positions(params: dict, mcfg: ModelConfig, T: int, dtype) -> np.ndarray:
    """(T, D) positional term added to the projected input."""
    if mcfg.positional == "sinusoidal":
        return sinusoidal_encoding(T, mcfg.hidden_size, dtype)
    P = params["pos"].shape[0]
    if T > P:
        raise ValueError(f"window of {T} steps is longer than the learned position table ({P} rows)")
    return params["pos"][:T]


def forward(params: dict, x: np.ndarray, mcfg: ModelConfig, *, mask=None, train=False, rng=None, keep_cache=True):
    """x (B, T, F) -> (out, cache); out = logits, confidence, return, attention (see module doc).
    keep_cache is accepted for the common signature (models.model_forward); the cache is always kept."""
    x = np.asarray(x, dtype=params["head.out.W"].dtype)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
    T = x.shape[1]
    cache = {"T": T}
    # 1. input projection and positions
    h, cache["in_proj"] = linear_forward(params["in_proj.W"], params["in_proj.b"], x)
    h += _positions(params, mcfg, T, h.dtype)
    # 2. encoder stack
    cache["enc"] = []
    for l in range(mcfg.num_layers):
        h, c = encoder_layer_forward(params, h, f"enc.{l}", mcfg.num_heads, norm_first=mcfg.norm_first,
                                     activation=mcfg.ff_activation, mask=mask, causal=mcfg.causal,
                                     dropout=mcfg.dropout, train=train, rng=rng)
        cache["enc"].append(c)
    if mcfg.norm_first:
        h, cache["enc_norm"] = layernorm_forward(params["enc_norm.gamma"], params["enc_norm.beta"], h)
    # 3. pooling over time and MLP heads
    out, cache["readout"] = readout_forward(params, h, mcfg, mcfg.pooling, cache["enc"][-1]["attn"]["attn"],
                                            mask=mask, train=train, rng=rng)
    return out, cache


def backward(params: dict, cache: dict, dout: dict, mcfg: ModelConfig, need_dx: bool = True):
    """Returns (dx (B, T, F), grads with the keys of params). dx is always
    computed (one small GEMM of the input projection); need_dx is accepted for the common signature.

    Walks `forward` in reverse: heads and pooling, final norm, encoder layers last to first,
    positions, input projection.
    """
    # 3. MLP heads and pooling over time
    dh, grads = readout_backward(params, cache["readout"], dout)
    # 2. encoder stack
    if mcfg.norm_first:
        dh, grads["enc_norm.gamma"], grads["enc_norm.beta"] = layernorm_backward(cache["enc_norm"], dh)
    for c in reversed(cache["enc"]):
        dh, g = encoder_layer_backward(params, c, dh)
        grads.update(g)
    # 1. positions (learned: the batch sum lands on rows 0..T-1) and input projection
    if mcfg.positional == "learned":
        grads["pos"] = np.zeros_like(params["pos"])
        grads["pos"][: cache["T"]] = dh.sum(axis=0)
    dx, grads["in_proj.W"], grads["in_proj.b"] = linear_backward(params["in_proj.W"], cache["in_proj"], dh)
    return dx, grads
