"""Transformer encoder pieces as forward/backward pairs: sinusoidal positions, the position-wise
feed-forward block and one encoder layer (post-norm or pre-norm). Reuses nn/layers.py (linear,
layer norm, dropout, activations) and nn/attention.py (multi-head self-attention); nothing here
re-implements them.

Legend: B batch, T time, D model width (d_model), Dff feed-forward width, NH heads, Dh = D / NH.

Encoder layer, with MHA = nn.attention.mha_forward (self-attention: Q, K, V all from its input),
drop = inverted dropout on the sub-layer output, FF = ffn_forward:

    post-norm (norm_first=False, the original Transformer):
        h = LN1(x + drop(MHA(x)));          y = LN2(h + drop(FF(h)))
    pre-norm (norm_first=True):
        h = x + drop(MHA(LN1(x)));          y = h + drop(FF(LN2(h)))

MHA also drops its attention weights (same rate). This is torch.nn.TransformerEncoderLayer except
that torch also drops the FF hidden activation (dropout inside FF); we do not.

params of a layer (prefix p):  p.attn.Wqkv (D, 3D), p.attn.bq/bv/bo (D,), p.attn.Wo (D, D)
    (no key bias, see nn/attention.py),  p.norm1.gamma/beta (D,),  p.norm2.gamma/beta (D,),
    p.ff.W1 (D, Dff), p.ff.b1 (Dff,), p.ff.W2 (Dff, D), p.ff.b2 (D,)

Dropout masks may be fixed (gradient tests) with `dropout_masks` = {"attn": (B, NH, T, T),
"attn_out": (B, T, D), "ff_out": (B, T, D)}, each pre-scaled by 1 / (1 - p) like
nn.layers.dropout_forward; the masks drawn are returned in cache["dropout_masks"].
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn.attention import mha_backward, mha_forward, mha_init
from cryptotrain.nn.layers import (ACTIVATIONS, dropout_backward, dropout_forward, layernorm_backward,
                                   layernorm_forward, linear_backward, linear_forward)
from cryptotrain.nn.init import glorot_uniform

# ------------------------------------------------------------- sinusoidal positions
#   PE[t, 2i] = sin(t / 10000^(2i / D)),   PE[t, 2i + 1] = cos(t / 10000^(2i / D)),   t = 0..T-1


def sinusoidal_encoding(T: int, d: int, dtype=np.float32) -> np.ndarray:
    """(T, D) table of the original Transformer (no parameters, no gradient)."""
    t = np.arange(T, dtype=np.float64)[:, None]
    freq = np.exp(-np.log(10000.0) * np.arange(0, d, 2, dtype=np.float64) / d)   # (ceil(D/2),)
    pe = np.zeros((T, d), dtype=np.float64)
    pe[:, 0::2] = np.sin(t * freq)
    pe[:, 1::2] = np.cos(t * freq[: d // 2])
    return pe.astype(dtype)


# ---------------------------------------------------------------- feed-forward block
#   FF(x) = act(x W1 + b1) W2 + b2, applied to every position independently


def ffn_init(d: int, d_ff: int, rng: np.random.Generator, dtype=np.float32, prefix: str = "ff") -> dict:
    return {
        f"{prefix}.W1": glorot_uniform(rng, d, d_ff, dtype),   # (D, Dff)
        f"{prefix}.b1": np.zeros(d_ff, dtype=dtype),           # (Dff,)
        f"{prefix}.W2": glorot_uniform(rng, d_ff, d, dtype),   # (Dff, D)
        f"{prefix}.b2": np.zeros(d, dtype=dtype),              # (D,)
    }


def ffn_forward(params: dict, x: np.ndarray, prefix: str = "ff", activation: str = "gelu"):
    """x (B, T, D) -> y (B, T, D), cache."""
    z, c1 = linear_forward(params[f"{prefix}.W1"], params[f"{prefix}.b1"], x)    # (B, T, Dff)
    a, c_act = ACTIVATIONS[activation][0](z)
    y, c2 = linear_forward(params[f"{prefix}.W2"], params[f"{prefix}.b2"], a)    # (B, T, D)
    return y, (prefix, activation, c1, c_act, c2)


def ffn_backward(params: dict, cache, dy: np.ndarray):
    """Returns dx (B, T, D) and grads {prefix.W1, b1, W2, b2}; reverse of ffn_forward."""
    p, activation, c1, c_act, c2 = cache
    g = {}
    da, g[f"{p}.W2"], g[f"{p}.b2"] = linear_backward(params[f"{p}.W2"], c2, dy)
    dz = ACTIVATIONS[activation][1](c_act, da)
    dx, g[f"{p}.W1"], g[f"{p}.b1"] = linear_backward(params[f"{p}.W1"], c1, dz)
    return dx, g


# ------------------------------------------------------------------- encoder layer


def encoder_layer_init(d: int, d_ff: int, rng: np.random.Generator, dtype=np.float32, prefix: str = "enc.0") -> dict:
    params = mha_init(d, rng, dtype, prefix=f"{prefix}.attn")
    for n in ("norm1", "norm2"):
        params[f"{prefix}.{n}.gamma"] = np.ones(d, dtype=dtype)    # (D,)
        params[f"{prefix}.{n}.beta"] = np.zeros(d, dtype=dtype)    # (D,)
    params.update(ffn_init(d, d_ff, rng, dtype, prefix=f"{prefix}.ff"))
    return params


def _norm(params, p, n, x):
    return layernorm_forward(params[f"{p}.{n}.gamma"], params[f"{p}.{n}.beta"], x)


def encoder_layer_forward(params: dict, x: np.ndarray, prefix: str, num_heads: int, *, norm_first: bool = False,
                          activation: str = "gelu", mask=None, causal: bool = False, dropout: float = 0.0,
                          train: bool = False, rng=None, dropout_masks: dict | None = None):
    """x (B, T, D) -> y (B, T, D), cache. mask (B, T) bool, True = valid step (masks keys; outputs at
    padded positions are computed but never reach a valid position)."""
    fixed = dropout_masks or {}
    c = {"prefix": prefix, "norm_first": norm_first}
    # self-attention sub-layer
    a_in = x
    if norm_first:
        a_in, c["norm1"] = _norm(params, prefix, "norm1", x)
    a, c["attn"] = mha_forward(params, a_in, f"{prefix}.attn", num_heads, mask=mask, causal=causal,
                               attn_dropout=dropout, train=train, rng=rng, dropout_mask=fixed.get("attn"))
    a, c["attn_drop"] = dropout_forward(a, dropout, train, rng, fixed.get("attn_out"))
    h = x + a
    if not norm_first:
        h, c["norm1"] = _norm(params, prefix, "norm1", h)
    # feed-forward sub-layer
    f_in = h
    if norm_first:
        f_in, c["norm2"] = _norm(params, prefix, "norm2", h)
    f, c["ff"] = ffn_forward(params, f_in, f"{prefix}.ff", activation)
    f, c["ff_drop"] = dropout_forward(f, dropout, train, rng, fixed.get("ff_out"))
    y = h + f
    if not norm_first:
        y, c["norm2"] = _norm(params, prefix, "norm2", y)
    c["dropout_masks"] = {"attn": c["attn"]["c_do"], "attn_out": c["attn_drop"], "ff_out": c["ff_drop"]}
    return y, c


def encoder_layer_backward(params: dict, cache: dict, dy: np.ndarray):
    """Returns dx (B, T, D) and grads (this layer's keys).

    Walks encoder_layer_forward in reverse. Post-norm: norm2, residual split (dy goes to h and to
    the FF branch), feed-forward, norm1, residual split, attention. Pre-norm: residual split,
    feed-forward, norm2, residual split, attention, norm1. The attention input feeds Q, K and V
    (self-attention), so mha_backward returns the sum of their three input gradients (one GEMM
    through the fused Wqkv).
    """
    p, norm_first = cache["prefix"], cache["norm_first"]
    g = {}

    def norm_back(n, d):
        dx, g[f"{p}.{n}.gamma"], g[f"{p}.{n}.beta"] = layernorm_backward(cache[n], d)
        return dx

    # feed-forward sub-layer: y = h + drop(FF(f_in))
    if not norm_first:
        dy = norm_back("norm2", dy)
    dh = dy                                                   # residual split: the h branch...
    df = dropout_backward(cache["ff_drop"], dy)               # ...and the FF branch
    df_in, gf = ffn_backward(params, cache["ff"], df)
    g.update(gf)
    dh = dh + (norm_back("norm2", df_in) if norm_first else df_in)
    # self-attention sub-layer: h = x + drop(MHA(a_in))
    if not norm_first:
        dh = norm_back("norm1", dh)
    dx = dh                                                   # residual split
    da = dropout_backward(cache["attn_drop"], dh)
    da_in, ga = mha_backward(params, cache["attn"], da)       # dQ + dK + dV w.r.t. a_in
    g.update(ga)
    dx = dx + (norm_back("norm1", da_in) if norm_first else da_in)
    return dx, g


def encoder_layer_from_torch(w: dict, prefix: str = "enc.0") -> dict:
    """Our layer params from torch.nn.TransformerEncoderLayer's named_parameters() as NumPy arrays
    (also maps its .grad the same way). torch stores y = x W^T + b, we store y = x W + b: weights
    are transposed. in_proj_bias [Q | K | V] gives bq and bv; its key block has no counterpart (it
    adds q_i . b_k to every score of query i, which the softmax cancels: no effect, zero gradient).
    For the torch parity tests (tests/test_torch_parity_transformer.py) and the benchmark's reference."""
    t = lambda a: np.ascontiguousarray(a.T)   # noqa: E731
    D = w["self_attn.out_proj.weight"].shape[0]
    b_in = w["self_attn.in_proj_bias"]
    out = {"attn.Wqkv": t(w["self_attn.in_proj_weight"]), "attn.bq": b_in[:D].copy(), "attn.bv": b_in[2 * D:].copy(),
           "attn.Wo": t(w["self_attn.out_proj.weight"]), "attn.bo": w["self_attn.out_proj.bias"].copy(),
           "ff.W1": t(w["linear1.weight"]), "ff.b1": w["linear1.bias"].copy(),
           "ff.W2": t(w["linear2.weight"]), "ff.b2": w["linear2.bias"].copy()}
    for n in ("norm1", "norm2"):
        out[f"{n}.gamma"], out[f"{n}.beta"] = w[f"{n}.weight"].copy(), w[f"{n}.bias"].copy()
    return {f"{prefix}.{k}": v for k, v in out.items()}
