"""gru_attention and lstm_attention: a recurrent stack, optional self-attention, pooling, MLP heads.

Legend: B batch, T time, F features, H hidden size, C context width (H, or 2H with concat_last).

    h   = rnn_stack(x)                                   (B, T, H)  GRU or LSTM, num_layers deep
    h   = LayerNorm(h + dropout(MHA(h)))                 (B, T, H)  attention: multihead | both
    ctx = pool(h)                                        (B, C)
    out = heads(ctx)                                     logits (B, 3), confidence (B,), return (B,)

attention: "additive" pools the recurrent outputs with additive attention; "multihead" runs the
self-attention block then pools with mcfg.pooling (last | mean | additive); "both" runs the
self-attention block then additive pooling (mcfg.pooling is ignored). concat_last applies to
additive pooling only ([ctx, h_{T-1}]). The self-attention block's dropout (mcfg.dropout) is on
its output before the residual sum; attention probabilities are not dropped here.

Attention weights returned for analysis (out["attention"], (B, T)): the additive pooling weights
when the pooling is additive; otherwise (multihead with last/mean pooling) the attention of the
last query step over all keys, averaged over heads.

Parameter keys: "rnn.*" (nn/recurrent.py), "mha.Wqkv/bq/bv/Wo/bo", "mha_norm.gamma/beta",
"pool.W/b/v", "head.{i}.W/b", "head.out.W/b" (shapes where each is initialized).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.models.heads import head_backward, head_forward, head_init
from cryptotrain.nn import recurrent
from cryptotrain.nn.attention import additive_init, mha_backward, mha_forward, mha_init, pool_backward, pool_forward
from cryptotrain.nn.layers import dropout_backward, dropout_forward, layernorm_backward, layernorm_forward
from cryptotrain.nn.losses import l2_backward

KINDS = {"gru_attention": "gru", "lstm_attention": "lstm"}


def uses_mha(mcfg: ModelConfig) -> bool:
    return mcfg.attention in ("multihead", "both")


def pooling_kind(mcfg: ModelConfig) -> str:
    return "additive" if mcfg.attention in ("additive", "both") else mcfg.pooling


def context_width(mcfg: ModelConfig) -> int:
    concat = pooling_kind(mcfg) == "additive" and mcfg.concat_last
    return mcfg.hidden_size * (2 if concat else 1)


def init(mcfg: ModelConfig, n_features: int, rng: np.random.Generator, window: int | None = None) -> dict:
    """Parameters (keys in the module docstring); `window` is unused (no positional table)."""
    dtype = np.dtype(mcfg.dtype)
    H = mcfg.hidden_size
    params = recurrent.rnn_stack_init(KINDS[mcfg.type], n_features, H, mcfg.num_layers, rng, dtype=dtype,
                                      layer_norm=mcfg.layer_norm, prefix="rnn")
    if uses_mha(mcfg):
        params.update(mha_init(H, rng, dtype, prefix="mha"))
        params["mha_norm.gamma"] = np.ones(H, dtype=dtype)    # (H,)
        params["mha_norm.beta"] = np.zeros(H, dtype=dtype)    # (H,)
    if pooling_kind(mcfg) == "additive":
        params.update(additive_init(H, rng, dtype, prefix="pool"))
    params.update(head_init(context_width(mcfg), mcfg.head_sizes, rng, dtype, prefix="head"))
    return params


def forward(params: dict, x: np.ndarray, mcfg: ModelConfig, *, mask=None, train=False, rng=None):
    """x (B, T, F) -> (out, cache); out = logits, confidence, return, attention (see module doc)."""
    x = np.asarray(x, dtype=params["head.out.W"].dtype)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        mask = None if mask.all() else mask   # no padding: skip the masking work
    cache = {}
    # 1. recurrent stack
    h, cache["rnn"] = recurrent.rnn_stack_forward(
        params, x, KINDS[mcfg.type], mcfg.num_layers, dropout=mcfg.dropout, layer_norm=mcfg.layer_norm,
        residual=mcfg.residual, mask=mask, train=train, rng=rng, prefix="rnn")
    # 2. self-attention block: h = LayerNorm(h + dropout(MHA(h)))
    if uses_mha(mcfg):
        a, cache["mha"] = mha_forward(params, h, "mha", mcfg.num_heads, mask=mask, causal=mcfg.causal,
                                      train=train, rng=rng)
        a, cache["mha_drop"] = dropout_forward(a, mcfg.dropout, train, rng)
        h, cache["mha_norm"] = layernorm_forward(params["mha_norm.gamma"], params["mha_norm.beta"], h + a)
    # 3. pooling over time
    ctx, cache["pool"] = pool_forward(params, h, pooling_kind(mcfg), mask=mask, concat_last=mcfg.concat_last,
                                      prefix="pool")
    # 4. MLP heads
    out, cache["head"] = head_forward(params, ctx, len(mcfg.head_sizes), mcfg.head_activation,
                                      mcfg.head_dropout, train=train, rng=rng, prefix="head")
    if pooling_kind(mcfg) == "additive":
        out["attention"] = cache["pool"]["c"]["alpha"]
    else:
        out["attention"] = cache["mha"]["attn"][:, :, -1, :].mean(axis=1)
    return out, cache


def backward(params: dict, cache: dict, dout: dict, mcfg: ModelConfig, need_dx: bool = True):
    """Returns (dx (B, T, F), or None unless need_dx, grads with the keys of params, l2 gradient
    included). Training passes need_dx=False: the first layer then skips its input gradient.

    Walks `forward` line by line in reverse: heads, pooling, self-attention block, recurrent stack.
    """
    # 4. MLP heads
    dctx, grads = head_backward(params, cache["head"], dout)
    # 3. pooling over time
    dh, g = pool_backward(params, cache["pool"], dctx)
    grads.update(g)
    # 2. self-attention block (the residual sum sends dsum to both h and MHA(h))
    if uses_mha(mcfg):
        dsum, grads["mha_norm.gamma"], grads["mha_norm.beta"] = layernorm_backward(cache["mha_norm"], dh)
        da = dropout_backward(cache["mha_drop"], dsum)
        dh_att, g = mha_backward(params, cache["mha"], da)
        grads.update(g)
        dh = dsum + dh_att
    # 1. recurrent stack
    dx, g, _ = recurrent.rnn_stack_backward(params, cache["rnn"], dh, need_dx=need_dx)
    grads.update(g)
    # the l2 term of the loss: + l2 * sum(W^2) over weight matrices
    l2_backward(params, mcfg.l2, grads)
    return dx, grads
