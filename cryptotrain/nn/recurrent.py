"""A stack of GRU or LSTM layers, batch-first at the boundary: x (B, T, F) -> h_seq (B, T, H).

Per layer l (0-based), in this order:

    y_l = rnn_l(in_l)                      (nn/gru.py or nn/lstm.py; zero at padded steps)
    y_l = layernorm(y_l)                   if layer_norm        (params ln_g, ln_b)
    y_l = y_l + in_l                       if residual and l >= 1  (equal widths H)
    y_l = y_l * mask                       if a mask is given and layer_norm or residual
    in_{l+1} = dropout(y_l)                if l < num_layers - 1 (never after the last layer)

The output is y_{L-1}: ZERO at padded steps (mask False), so a pooling layer may ignore them.
Internally everything is step-contiguous (T, C, B) (nn/rnn_common.py: each step a contiguous
(C, B) block); the only transposes are of the stack's output and of its gradient (the input x is
read through a view by the first layer's GEMMs). Layer norm and dropout, which work on the last
axis, see the (T, H, B) arrays through (T, B, H) views.

params of layer l (prefix p = f"{prefix}.{l}", K = 3 for GRU, 4 for LSTM, F_0 = n_in, F_l = H):
    p.Wx (F_l, K*H)   p.Wh (H, K*H)   p.b (K*H,)   GRU only: p.bhn (H,)
    layer_norm only: p.ln_g (H,)  p.ln_b (H,)

Dropout masks (B, T, H), already scaled by 1 / (1 - p) (as nn.layers.dropout_forward), one per
layer boundary (num_layers - 1), are drawn from the explicit rng, returned in
cache["dropout_masks"], and may be passed in (`dropout_masks`) to fix them in gradient tests.

h0: per layer, (B, H) for GRU or a tuple (h0, c0) for LSTM; dh0 comes back in the same form.

Legend: B batch, T time, F input width, H hidden width, L num_layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryptotrain.nn.gru import gru_backward_tcb, gru_forward_tcb, gru_init
from cryptotrain.nn.layers import dropout_backward, dropout_forward, layernorm_backward, layernorm_forward
from cryptotrain.nn.lstm import lstm_backward_tcb, lstm_forward_tcb, lstm_init
from cryptotrain.nn.rnn_common import from_step_major, states_in, states_out, step_mask, to_step_major

_LAYERS = {  # kind: (init, forward_tcb, backward_tcb, number of state tensors)
    "gru": (gru_init, gru_forward_tcb, gru_backward_tcb, 1),
    "lstm": (lstm_init, lstm_forward_tcb, lstm_backward_tcb, 2),
}


def _kind(kind: str):
    try:
        return _LAYERS[kind]
    except KeyError:
        raise ValueError(f"unknown recurrent kind {kind!r}; expected 'gru' or 'lstm'") from None


def _layer_params(params: dict, prefix: str, l: int) -> dict:
    """The short-keyed params of layer l ({"Wx": ..., ...}) as views of the stack's dict."""
    head = f"{prefix}.{l}."
    return {k[len(head):]: v for k, v in params.items() if k.startswith(head)}


def _swap(a: np.ndarray) -> np.ndarray:
    """(T, H, B) <-> (T, B, H) (a view): the last-axis layers (layer norm, dropout) see (T, B, H)."""
    return a.transpose(0, 2, 1)


def rnn_stack_init(kind: str, n_in: int, hidden: int, num_layers: int, rng: np.random.Generator,
                   dtype=np.float32, layer_norm: bool = False, prefix: str = "rnn") -> dict[str, np.ndarray]:
    """Parameters of the stack, keyed f"{prefix}.{l}.{name}" (shapes in the module docstring)."""
    init = _kind(kind)[0]
    params = {}
    for l in range(num_layers):
        p = init(n_in if l == 0 else hidden, hidden, rng, dtype)
        if layer_norm:
            p["ln_g"] = np.ones(hidden, dtype)     # (H,)
            p["ln_b"] = np.zeros(hidden, dtype)    # (H,)
        params.update({f"{prefix}.{l}.{k}": v for k, v in p.items()})
    return params


@dataclass(frozen=True)
class StackSpec:
    """What a stack is (the module docstring's steps): the recurrence, its depth, what sits between
    the layers and the prefix of its parameter keys."""
    kind: str                  # "gru" or "lstm"
    num_layers: int            # L
    dropout: float = 0.0       # between layers, when training
    layer_norm: bool = False
    residual: bool = False     # from the second layer on
    prefix: str = "rnn"        # params f"{prefix}.{l}.{name}"


def rnn_stack_forward(params, x, spec: StackSpec, *, mask=None, train: bool = False, rng=None, h0=None,
                      dropout_masks=None, keep_cache: bool = True):
    """x (B, T, F) -> h_seq (B, T, H) contiguous, cache. mask (B, T) bool, True = valid step.
    keep_cache=False: eval mode with nothing to differentiate; the same numbers, and the cache is None
    (the layers then keep only a few steps of gates, nn/gru.py)."""
    kind, num_layers, dropout, layer_norm, residual, prefix = (
        spec.kind, spec.num_layers, spec.dropout, spec.layer_norm, spec.residual, spec.prefix)
    _, fwd, _, n_states = _kind(kind)
    dt = params[f"{prefix}.0.Wx"].dtype
    x = np.asarray(x, dtype=dt)
    B, T, _ = x.shape
    inp = x.transpose(1, 2, 0)                     # (T, F, B) view; layer 0's GEMMs read it as is
    m = step_mask(mask, T, B, dt)
    keep = None if m is None else m["keep"]        # (T, 1, B)
    layers, masks_out = [], []
    for l in range(num_layers):
        p = _layer_params(params, prefix, l)
        H = p["Wh"].shape[0]
        Hs, rnn_cache = fwd(p, inp, states_in(None if h0 is None else h0[l], n_states, H, B, dt), m, keep_cache)
        y = Hs[1:] if keep is None else Hs[1:] * keep  # (T, H, B), zero at padded steps
        c = {"rnn": rnn_cache, "ln": None, "drop": None}
        if layer_norm:
            y, c["ln"] = layernorm_forward(p["ln_g"], p["ln_b"], _swap(y))
            y = _swap(y)
        if residual and l >= 1:
            y = y + inp
        if keep is not None and (layer_norm or residual):
            y = y * keep
        if l < num_layers - 1 and train and dropout > 0.0:
            # masks drawn (T, B, H) as always, so a seeded run draws the same numbers
            given = None if dropout_masks is None else dropout_masks[l].transpose(1, 0, 2)
            y, c["drop"] = dropout_forward(_swap(y), dropout, True, rng, mask=given)
            y = _swap(y)
            masks_out.append(c["drop"].transpose(1, 0, 2))
        layers.append(c)
        inp = y
    cache = {"kind": kind, "num_layers": num_layers, "layer_norm": layer_norm, "residual": residual,
             "keep": keep, "layers": layers, "h0_given": h0 is not None, "prefix": prefix,
             "dropout_masks": masks_out}
    return from_step_major(inp), (cache if keep_cache else None)


def rnn_stack_backward(params, cache, dh_seq, *, need_dx: bool = True):
    """dh_seq (B, T, H) -> dx (B, T, F), grads (this stack's keys), dh0 (list, or None if no h0).
    need_dx=False skips the gradient w.r.t. x (dx is None): training does not need it, and it
    costs a GEMM over all steps and a transpose (2-5% of a step, more for small models).

    Mirrors rnn_stack_forward in reverse: last layer first, and inside a layer dropout,
    mask, residual, layer norm, then the recurrence.
    """
    _, _, bwd, n_states = _kind(cache["kind"])
    prefix, keep = cache["prefix"], cache["keep"]
    dt = params[f"{prefix}.0.Wx"].dtype
    dy = to_step_major(np.asarray(dh_seq, dtype=dt))  # (T, H, B)
    grads, dh0 = {}, [None] * cache["num_layers"]
    for l in reversed(range(cache["num_layers"])):
        c = cache["layers"][l]
        p = _layer_params(params, prefix, l)
        head = f"{prefix}.{l}."
        if c["drop"] is not None:
            dy = _swap(dropout_backward(c["drop"], _swap(dy)))
        if keep is not None and (cache["layer_norm"] or cache["residual"]):
            dy = dy * keep
        d_res = dy if cache["residual"] and l >= 1 else None
        if c["ln"] is not None:
            dy, grads[head + "ln_g"], grads[head + "ln_b"] = layernorm_backward(c["ln"], _swap(dy))
            dy = _swap(dy)
        dinp, dh0_l, g = bwd(p, c["rnn"], dy, need_dx or l > 0)    # ignores dy at padded steps
        dh0[l] = states_out(dh0_l, n_states)
        grads.update({head + k: v for k, v in g.items()})
        if d_res is not None:
            dinp += d_res
        dy = dinp
    dx = from_step_major(dy) if need_dx else None
    return dx, grads, (dh0 if cache["h0_given"] else None)
