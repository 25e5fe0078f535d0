"""Attention layers as forward/backward pairs: additive pooling over time and multi-head
self-attention (reused by the transformer encoder).

Legend: B batch, T time, D model width (= hidden size H of the recurrent outputs),
A additive-attention width (= D), NH heads, Dh = D / NH head width.

Masks: `mask` (B, T) bool, True = valid step (windows are left-padded). Masked steps get
exactly zero attention weight and therefore zero gradient. Every `*_forward` returns
`(y, cache)`; attention weights for analysis are in the cache ("alpha" / "attn").
"""

from __future__ import annotations

import math

import numpy as np

from cryptotrain.nn import buffers
from cryptotrain.nn.layers import (dropout_backward, dropout_forward, linear_backward, linear_forward,
                                   softmax_backward, softmax_forward, tanh_of_scaled)
from cryptotrain.nn.init import glorot_uniform

_NEG = -1e30  # finite "minus infinity": exp underflows to 0 in float32 and float64, no inf - inf


# ------------------------------------------------------------------ masked softmax
# p = softmax(where(allowed, s, -inf)) * allowed. The final `* allowed` makes rows with no
# allowed entry (a padded query under a causal mask) all-zero instead of uniform.


def masked_softmax_forward(s: np.ndarray, allowed: np.ndarray | None):
    """Softmax over the last axis; `allowed` broadcasts against `s` (None = all allowed)."""
    if allowed is None:
        p, c = softmax_forward(s)
        return p, (c, None)
    p, c = softmax_forward(np.where(allowed, s, s.dtype.type(_NEG)))
    p *= allowed
    return p, (c, allowed)


def masked_softmax_backward(cache, dp: np.ndarray) -> np.ndarray:
    c, allowed = cache
    return softmax_backward(c, dp if allowed is None else dp * allowed)


# ----------------------------------------------------------------- additive pooling
# params ("{prefix}." + key):  W (D, A),  b (A,),  v (A,)
#   u_t = tanh(W^T h_t + b),  s_t = v . u_t,  alpha = softmax_t(s),  ctx = sum_t alpha_t h_t
#   y = ctx, or [ctx, h_{T-1}] (B, 2D) with concat_last (h_{T-1} is valid under left padding).


def additive_init(d: int, rng: np.random.Generator, dtype=np.float32, prefix: str = "pool") -> dict:
    return {
        f"{prefix}.W": glorot_uniform(rng, d, d, dtype),           # (D, A)
        f"{prefix}.b": np.zeros(d, dtype=dtype),             # (A,)
        f"{prefix}.v": glorot_uniform(rng, d, 1, dtype)[:, 0].copy(),  # (A,)
    }


def additive_forward(params: dict, h: np.ndarray, prefix: str = "pool", *, mask=None, concat_last=False):
    """h (B, T, D) -> y (B, D) or (B, 2D); cache["alpha"] (B, T) are the pooling weights.
    The (B*T, A) arrays come from the buffer pool and are computed in place (nn/buffers.py)."""
    W, b, v = params[f"{prefix}.W"], params[f"{prefix}.b"], params[f"{prefix}.v"]
    B, T, D = h.shape
    h2 = h.reshape(B * T, D)
    W2 = np.multiply(W, -2.0, out=buffers.empty(W.shape, W.dtype))   # -2 W, -2 b: exact, so u holds
    u = np.matmul(h2, W2, out=buffers.empty((B * T, W.shape[1]), W.dtype))   # -2 (h W + b) to the bit
    u += -2.0 * b                                           # (B*T, A)
    with np.errstate(over="ignore"):
        tanh_of_scaled(u)                                   # u = tanh(h W + b)
    s = (u @ v).reshape(B, T)
    alpha, c_sm = masked_softmax_forward(s, mask)           # (B, T)
    ctx = (alpha[:, None, :] @ h)[:, 0, :]                  # (B, D)
    y = np.concatenate([ctx, h[:, -1, :]], axis=-1) if concat_last else ctx
    cache = {"prefix": prefix, "h": h, "u": u, "c_sm": c_sm, "alpha": alpha, "concat_last": concat_last}
    return y, cache


def additive_backward(params: dict, cache: dict, dy: np.ndarray):
    """Returns dh (B, T, D) and the grads {prefix.W, prefix.b, prefix.v}; reverse of the forward."""
    p = cache["prefix"]
    W, v = params[f"{p}.W"], params[f"{p}.v"]
    h, alpha, u = cache["h"], cache["alpha"], cache["u"]    # u (B*T, A)
    B, T, D = h.shape
    dctx = dy[:, :D]
    dalpha = (h @ dctx[:, :, None])[:, :, 0]                # (B, T); ctx = sum_t alpha_t h_t
    ds = masked_softmax_backward(cache["c_sm"], dalpha)     # zero on masked steps
    dv = u.T @ ds.reshape(-1)                               # s = u . v
    du = np.multiply(u, u, out=buffers.empty(u.shape, u.dtype))
    np.subtract(1.0, du, out=du)                            # du = ds v (1 - u^2)
    du *= ds.reshape(-1, 1)
    du *= v
    h2 = h.reshape(B * T, D)
    dW, db = h2.T @ du, du.sum(axis=0)
    dh = np.matmul(du, W.T, out=buffers.empty((B * T, D), h.dtype)).reshape(B, T, D)
    dh += np.multiply(alpha[:, :, None], dctx[:, None, :], out=buffers.empty((B, T, D), h.dtype))
    if cache["concat_last"]:
        dh[:, -1, :] += dy[:, D:]
    return dh, {f"{p}.W": dW, f"{p}.b": db, f"{p}.v": dv}


# ---------------------------------------------------------- multi-head self-attention
# params ("{prefix}." + key):  Wqkv (D, 3D) fused [Q | K | V],  bq (D,),  bv (D,),  Wo (D, D),  bo (D,)
#   [Q | K | V] = x Wqkv + [bq | 0 | bv];  per head: P = softmax(Q K^T / sqrt(Dh) + masks),
#   O = dropout(P) V;  y = concat_h(O) Wo + bo
# There is no key bias: it adds q_i . b_k to every score of query i, which the softmax cancels, so
# it would be a parameter with an identically zero gradient (torch's in_proj_bias K block = 0).


def mha_init(d: int, rng: np.random.Generator, dtype=np.float32, prefix: str = "mha") -> dict:
    return {
        f"{prefix}.Wqkv": np.concatenate([glorot_uniform(rng, d, d, dtype) for _ in range(3)], axis=1),  # (D, 3D)
        f"{prefix}.bq": np.zeros(d, dtype=dtype),            # (D,)
        f"{prefix}.bv": np.zeros(d, dtype=dtype),            # (D,)
        f"{prefix}.Wo": glorot_uniform(rng, d, d, dtype),          # (D, D)
        f"{prefix}.bo": np.zeros(d, dtype=dtype),            # (D,)
    }


def attention_allowed(mask: np.ndarray | None, causal: bool, T: int) -> np.ndarray | None:
    """(B|1, 1, T, T) bool: query i may attend key j (key valid, and j <= i when causal)."""
    allowed = None
    if mask is not None:
        allowed = mask[:, None, None, :]
    if causal:
        tri = np.tril(np.ones((T, T), dtype=bool))[None, None]
        allowed = tri if allowed is None else allowed & tri
    return allowed


def mha_forward(params: dict, x: np.ndarray, prefix: str, num_heads: int, *, mask=None, causal=False,
                attn_dropout: float = 0.0, train: bool = False, rng=None, dropout_mask=None):
    """x (B, T, D) -> y (B, T, D). `mask` masks keys only; outputs at padded query positions are
    computed but meaningless (callers pool over valid steps). cache["attn"] is P (B, NH, T, T).
    `dropout_mask` (B, NH, T, T), pre-scaled, fixes the attention dropout draw (tests)."""
    B, T, D = x.shape
    Dh = D // num_heads
    qkv, c_qkv = linear_forward(params[f"{prefix}.Wqkv"], None, x)                      # (B, T, 3D)
    qkv[..., :D] += params[f"{prefix}.bq"]
    qkv[..., 2 * D:] += params[f"{prefix}.bv"]
    q, k, v = qkv.reshape(B, T, 3, num_heads, Dh).transpose(2, 0, 3, 1, 4)              # 3 x (B, NH, T, Dh)
    scale = 1.0 / math.sqrt(Dh)
    s = (q @ k.swapaxes(-1, -2)) * scale                                                 # (B, NH, T, T)
    P, c_sm = masked_softmax_forward(s, attention_allowed(mask, causal, T))
    Pd, c_do = dropout_forward(P, attn_dropout, train, rng, dropout_mask)
    o = (Pd @ v).transpose(0, 2, 1, 3).reshape(B, T, D)                                 # heads concatenated
    y, c_o = linear_forward(params[f"{prefix}.Wo"], params[f"{prefix}.bo"], o)
    cache = {"prefix": prefix, "num_heads": num_heads, "scale": scale, "q": q, "k": k, "v": v,
             "attn": P, "Pd": Pd, "c_qkv": c_qkv, "c_sm": c_sm, "c_do": c_do, "c_o": c_o}
    return y, cache


def mha_backward(params: dict, cache: dict, dy: np.ndarray):
    """Returns dx (B, T, D) and grads {prefix.Wqkv, prefix.bq, prefix.bv, prefix.Wo, prefix.bo};
    walks mha_forward in reverse."""
    p, q, k, v, Pd = cache["prefix"], cache["q"], cache["k"], cache["v"], cache["Pd"]
    B, NH, T, Dh = q.shape
    do, dWo, dbo = linear_backward(params[f"{p}.Wo"], cache["c_o"], dy)
    do = do.reshape(B, T, NH, Dh).transpose(0, 2, 1, 3)                                  # (B, NH, T, Dh)
    dPd = do @ v.swapaxes(-1, -2)                                                        # O = Pd V
    dv = Pd.swapaxes(-1, -2) @ do
    dP = dropout_backward(cache["c_do"], dPd)
    ds = masked_softmax_backward(cache["c_sm"], dP) * cache["scale"]
    dq = ds @ k                                                                          # s = Q K^T * scale
    dk = ds.swapaxes(-1, -2) @ q
    dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(B, T, 3 * NH * Dh)
    dx, dWqkv, dbqkv = linear_backward(params[f"{p}.Wqkv"], cache["c_qkv"], dqkv)
    D = NH * Dh
    return dx, {f"{p}.Wqkv": dWqkv, f"{p}.bq": dbqkv[:D], f"{p}.bv": dbqkv[2 * D:], f"{p}.Wo": dWo,
                f"{p}.bo": dbo}


# ------------------------------------------------------------------ pooling over time
# kind "last": y = h_{T-1} (always a valid step under left padding);
# kind "mean": y = sum_t m_t h_t / sum_t m_t over valid steps;
# kind "additive": additive_forward above (params "{prefix}.W/b/v"), optionally with concat_last.


def pool_forward(params: dict, h: np.ndarray, kind: str, *, mask=None, concat_last=False, prefix="pool"):
    """h (B, T, D) -> y (B, D) (or (B, 2D) for additive with concat_last), cache."""
    if kind == "additive":
        y, c = additive_forward(params, h, prefix, mask=mask, concat_last=concat_last)
        return y, {"kind": kind, "c": c}
    if kind == "last":
        return h[:, -1, :], {"kind": kind, "shape": h.shape, "dtype": h.dtype}
    if kind == "mean":
        m = np.ones(h.shape[:2], dtype=h.dtype) if mask is None else mask.astype(h.dtype)
        w = m / m.sum(axis=1, keepdims=True)                 # (B, T) weights 1 / n_valid
        return (w[:, None, :] @ h)[:, 0, :], {"kind": kind, "w": w, "shape": h.shape}
    raise ValueError(f"unknown pooling {kind!r}")


def pool_backward(params: dict, cache: dict, dy: np.ndarray):
    """Returns dh (B, T, D) and grads (empty unless additive)."""
    kind = cache["kind"]
    if kind == "additive":
        return additive_backward(params, cache["c"], dy)
    if kind == "last":
        dh = np.zeros(cache["shape"], dtype=dy.dtype)
        dh[:, -1, :] = dy
        return dh, {}
    return cache["w"][:, :, None] * dy[:, None, :], {}
