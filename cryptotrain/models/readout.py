"""The end of every model: pooling over time, then the MLP heads, and the attention weights that
the model reports for analysis. Shared by gru_attention / lstm_attention
(models/recurrent_attention.py) and transformer (models/transformer.py).

Legend: B batch, T time, H width of the sequence h (hidden size / d_model), C context width
(H, or 2H with additive pooling and concat_last), NH heads.

    ctx = pool(h)                 (B, C)   pooling: last | mean | additive (nn/attention.py)
    out = heads(ctx)              logits (B, 3), confidence (B,), return (B,)   (models/heads.py)
    out["attention"] (B, T):      the additive pooling weights when the pooling is additive,
                                  else the given attention of the last query over all keys,
                                  averaged over heads

Parameter keys: "pool.W/b/v" if additive, "head.{i}.W/b", "head.out.W/b".
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.models.heads import head_backward, head_forward, head_init
from cryptotrain.nn.attention import additive_init, pool_backward, pool_forward


def context_width(mcfg: ModelConfig, pooling: str) -> int:
    return mcfg.hidden_size * (2 if pooling == "additive" and mcfg.concat_last else 1)


def readout_init(mcfg: ModelConfig, pooling: str, rng: np.random.Generator, dtype) -> dict:
    """Pooling params (additive only), then the heads' (drawn from rng in this order)."""
    params = {}
    if pooling == "additive":
        params.update(additive_init(mcfg.hidden_size, rng, dtype, prefix="pool"))
    params.update(head_init(context_width(mcfg, pooling), mcfg.head_sizes, rng, dtype, prefix="head"))
    return params


def readout_forward(params: dict, h: np.ndarray, mcfg: ModelConfig, pooling: str, attn, *, mask=None,
                    train=False, rng=None):
    """h (B, T, H) -> (out, cache). attn (B, NH, T, T) or None: the self-attention whose last query
    row is reported when the pooling is not additive."""
    ctx, c_pool = pool_forward(params, h, pooling, mask=mask, concat_last=mcfg.concat_last, prefix="pool")
    out, c_head = head_forward(params, ctx, len(mcfg.head_sizes), mcfg.head_activation, mcfg.head_dropout,
                               train=train, rng=rng, prefix="head")
    if pooling == "additive":
        out["attention"] = c_pool["c"]["alpha"]
    else:
        out["attention"] = None if attn is None else attn[:, :, -1, :].mean(axis=1)
    return out, {"pool": c_pool, "head": c_head}


def readout_backward(params: dict, cache: dict, dout: dict):
    """-> dh (B, T, H), grads (pool and head keys); heads first, then pooling (forward reversed)."""
    dctx, grads = head_backward(params, cache["head"], dout)
    dh, g = pool_backward(params, cache["pool"], dctx)
    grads.update(g)
    return dh, grads
