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

Pooling, heads and the reported attention are models/readout.py, shared with the transformer.

Parameter keys: "rnn.*" (nn/recurrent.py), "mha.Wqkv/bq/bv/Wo/bo", "mha_norm.gamma/beta",
"pool.W/b/v", "head.{i}.W/b", "head.out.W/b" (shapes where each is initialized).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.models.readout import readout_backward, readout_forward, readout_init
from cryptotrain.nn import recurrent
from cryptotrain.nn.attention import mha_backward, mha_forward, mha_init
from cryptotrain.nn.layers import dropout_backward, dropout_forward, layernorm_backward, layernorm_forward

KINDS = {"gru_attention": "gru", "lstm_attention": "lstm"}


def uses_mha(mcfg: ModelConfig) -> bool:
    return mcfg.attention in ("multihead", "both")


def pooling_kind(mcfg: ModelConfig) -> str:
    return "additive" if mcfg.attention in ("additive", "both") else mcfg.pooling


def init(mcfg: ModelConfig, n_features: int, window: int, rng: np.random.Generator) -> dict:
    """Parameters (keys in the module docstring); `window` is unused (no positional table)."""
    dtype = np.dtype(mcfg.dtype)
    H = mcfg.hidden_size
    params = recurrent.rnn_stack_init(KINDS[mcfg.type], n_features, H, mcfg.num_layers, rng, dtype=dtype,
                                      layer_norm=mcfg.layer_norm, prefix="rnn")
    if uses_mha(mcfg):
        params.update(mha_init(H, rng, dtype, prefix="mha"))
        params["mha_norm.gamma"] = np.ones(H, dtype=dtype)    # (H,)
        params["mha_norm.beta"] = np.zeros(H, dtype=dtype)    # (H,)
    params.update(readout_init(mcfg, pooling_kind(mcfg), rng, dtype))
    return params


def forward(params: dict, x: np.ndarray, mcfg: ModelConfig, *, mask=None, train=False, rng=None, keep_cache=True):
    """x (B, T, F) -> (out, cache); out = logits, confidence, return, attention (see module doc).
    keep_cache=False (eval passes: evaluate, predict, validation loss): the same outputs, bit for
    bit, and cache None; the recurrent layers then skip what only the backward needs."""
    x = np.asarray(x, dtype=params["head.out.W"].dtype)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        mask = None if mask.all() else mask   # no padding: skip the masking work
    cache = {}
    # 1. recurrent stack
    spec = recurrent.StackSpec(KINDS[mcfg.type], mcfg.num_layers, dropout=mcfg.dropout, layer_norm=mcfg.layer_norm,
                               residual=mcfg.residual, prefix="rnn")
    h, cache["rnn"] = recurrent.rnn_stack_forward(params, x, spec, mask=mask, train=train, rng=rng,
                                                  keep_cache=keep_cache)
    # 2. self-attention block: h = LayerNorm(h + dropout(MHA(h)))
    attn = None
    if uses_mha(mcfg):
        a, cache["mha"] = mha_forward(params, h, "mha", mcfg.num_heads, mask=mask, causal=mcfg.causal,
                                      train=train, rng=rng)
        a, cache["mha_drop"] = dropout_forward(a, mcfg.dropout, train, rng)
        h, cache["mha_norm"] = layernorm_forward(params["mha_norm.gamma"], params["mha_norm.beta"], h + a)
        attn = cache["mha"]["attn"]
    # 3. pooling over time and MLP heads
    out, cache["readout"] = readout_forward(params, h, mcfg, pooling_kind(mcfg), attn, mask=mask, train=train,
                                            rng=rng)
    return out, (cache if keep_cache else None)


def backward(params: dict, cache: dict, dout: dict, mcfg: ModelConfig, need_dx: bool = True):
    """Returns (dx (B, T, F), or None unless need_dx, grads with the keys of params). Training
    passes need_dx=False: the first layer then skips its input gradient.

    Walks `forward` line by line in reverse: heads and pooling, self-attention block, recurrent stack.
    """
    # 3. MLP heads and pooling over time
    dh, grads = readout_backward(params, cache["readout"], dout)
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
    return dx, grads
