"""Assembled models: one entry point per operation, dispatching on `mcfg.type`.

    init_params(mcfg, n_features, window, rng, n_pairs=1) -> params
    model_forward(params, x (B, T, F), mcfg, *, mask, train, rng, keep_cache, pairs) -> (out, cache)
    model_loss(out, targets, mcfg, params, *, l2=True) -> (loss, parts, dout)
    model_backward(params, cache, dout, mcfg, *, need_dx=False, l2=True) -> (dx or None, grads)  (keys of params)
    loss_and_grads(params, x, targets, mcfg, *, mask, train, rng) -> (loss, parts, grads, out)

Pair identity (model.symbol_embedding = K > 0, a universe run): a learned table E (P, K), row p
for pair p, is appended to the features at every step, x' = [x_t, E[pair]] (B, T, F + K), and the
model runs on x'. Backward: dE[p] = sum over the batch rows of pair p and over t of dx'[..., F:].
`pairs` (B,) int64 pair indices (targets["pair"] of a universe's batch; default all 0).

Every model module (recurrent_attention, transformer) has init(mcfg, n_features, window, rng),
forward(params, x, mcfg, *, mask, train, rng) -> (out, cache) and
backward(params, cache, dout, mcfg, need_dx) -> (dx, grads), the data part of the loss only.

out = {"logits" (B, 3), "confidence" (B,), "return" (B,), "attention" (B, T) or None}.
targets = {"action" (B,) int64 in {0, 1, 2}, "confidence" (B,), "return" (B,) raw r_t}.

Loss (the returned total is weighted; `parts` holds the unweighted terms):
    loss = w_action * CE(logits, action; class_weights)
         + w_confidence * MSE(confidence, target confidence)
         + w_return * (MSE | Huber(delta))(return, return_scale * r_t)
         + l2 * sum of squared weight matrices (ndim >= 2; not biases, norm gains, attention v)
A weight of 0 removes the term from the total and sends zero gradient to that head; its part
is still reported. The l2 term lives here only: model_loss adds it (unless l2=False, as for a
validation loss, which excludes the weight penalty) and model_backward adds its gradient.

loss_and_grads is one training step's forward and backward, so it is the owner of the pooled
buffers of nn/buffers.py: they are taken inside its `buffers.step()` and given back when it
returns; what it returns is never pooled.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.errors import UserError
from cryptotrain.models import recurrent_attention, transformer
from cryptotrain.nn import buffers
from cryptotrain.nn.losses import (cross_entropy_backward, cross_entropy_forward, huber_backward, huber_forward,
                                   l2_backward, l2_forward, mse_backward, mse_forward)

_MODELS = {"gru_attention": recurrent_attention, "lstm_attention": recurrent_attention, "transformer": transformer}


def _module(mcfg: ModelConfig):
    if mcfg.type not in _MODELS:
        raise UserError(f"model.type {mcfg.type!r} is not implemented yet; use one of {', '.join(_MODELS)}")
    return _MODELS[mcfg.type]


def init_params(mcfg: ModelConfig, n_features: int, window: int, rng: np.random.Generator, n_pairs: int = 1) -> dict:
    """`window` (T) sizes the transformer's learned position table; the recurrent models ignore it.
    `n_pairs` (P) sizes the symbol embedding (drawn last, so the rest is as without it for F + K inputs)."""
    K = mcfg.symbol_embedding
    params = _module(mcfg).init(mcfg, n_features + K, window, rng)
    if K:
        params["symbol_embedding"] = (0.1 * rng.standard_normal((n_pairs, K))).astype(mcfg.dtype)  # (P, K)
    return params


def _pairs(x: np.ndarray, pairs) -> np.ndarray:
    return np.zeros(len(x), dtype=np.int64) if pairs is None else np.asarray(pairs, dtype=np.int64)


def model_forward(params: dict, x: np.ndarray, mcfg: ModelConfig, *, mask=None, train=False, rng=None,
                  keep_cache=True, pairs=None):
    """keep_cache=False: an eval pass that will not be differentiated; same outputs, and the recurrent
    models return cache None and keep only a few steps of gates (the transformer keeps its cache)."""
    if not mcfg.symbol_embedding:
        return _module(mcfg).forward(params, x, mcfg, mask=mask, train=train, rng=rng, keep_cache=keep_cache)
    pairs, E = _pairs(x, pairs), params["symbol_embedding"]
    e = np.broadcast_to(E[pairs][:, None, :], (x.shape[0], x.shape[1], E.shape[1]))   # (B, T, K)
    out, cache = _module(mcfg).forward(params, np.concatenate([x, e.astype(x.dtype)], axis=2), mcfg, mask=mask,
                                       train=train, rng=rng, keep_cache=keep_cache)
    return out, (None if cache is None else {"model": cache, "pairs": pairs, "F": x.shape[2]})


def model_loss(out: dict, targets: dict, mcfg: ModelConfig, params: dict, *, l2: bool = True):
    """-> (loss: float, parts {"action", "confidence", "return", "l2"}: unweighted floats, dout).
    l2=False leaves the weight penalty out of the loss (a validation loss); its part is still reported."""
    parts, dout = {}, {}
    parts["action"], c_ce = cross_entropy_forward(out["logits"], np.asarray(targets["action"]), mcfg.class_weights)
    parts["confidence"], c_conf = mse_forward(out["confidence"], targets["confidence"])
    r_target = np.asarray(targets["return"], dtype=out["return"].dtype) * out["return"].dtype.type(mcfg.return_scale)
    if mcfg.return_loss == "huber":
        parts["return"], c_ret = huber_forward(out["return"], r_target, mcfg.huber_delta)
        ret_backward = huber_backward
    else:
        parts["return"], c_ret = mse_forward(out["return"], r_target)
        ret_backward = mse_backward
    parts["l2"] = l2_forward(params)

    loss = 0.0
    terms = [("action", mcfg.w_action, "logits", lambda w: cross_entropy_backward(c_ce, w)),
             ("confidence", mcfg.w_confidence, "confidence", lambda w: mse_backward(c_conf, w)),
             ("return", mcfg.w_return, "return", lambda w: ret_backward(c_ret, w))]
    for part, w, key, grad in terms:
        if w > 0:
            loss += w * parts[part]
            dout[key] = grad(w)
        else:
            dout[key] = np.zeros_like(out[key])
    if l2 and mcfg.l2 > 0:
        loss += mcfg.l2 * parts["l2"]   # its gradient is added in model_backward
    return float(loss), parts, dout


def model_backward(params: dict, cache: dict, dout: dict, mcfg: ModelConfig, *, need_dx: bool = False,
                   l2: bool = True):
    """-> (dx (B, T, F) or None unless need_dx, grads with the keys of params, the l2 term's gradient
    included unless l2=False, as in model_loss). Training leaves need_dx off: the model then skips
    the gradient of its input."""
    if mcfg.symbol_embedding:   # the embedding's gradient is that of the model's input columns F..F+K-1
        dx, grads = _module(mcfg).backward(params, cache["model"], dout, mcfg, need_dx=True)
        F, E = cache["F"], params["symbol_embedding"]
        dE = np.zeros_like(E)
        np.add.at(dE, cache["pairs"], dx[..., F:].sum(axis=1))    # (P, K): rows of one pair add up
        grads["symbol_embedding"] = dE
        dx = dx[..., :F] if need_dx else None
    else:
        dx, grads = _module(mcfg).backward(params, cache, dout, mcfg, need_dx=need_dx)
    if l2:
        l2_backward(params, mcfg.l2, grads)   # + l2 * sum(W^2) over weight matrices (model_loss)
    return dx, grads


def loss_and_grads(params: dict, x: np.ndarray, targets: dict, mcfg: ModelConfig, *, mask=None, train=True,
                   rng=None):
    with buffers.step():
        out, cache = model_forward(params, x, mcfg, mask=mask, train=train, rng=rng, pairs=targets.get("pair"))
        loss, parts, dout = model_loss(out, targets, mcfg, params)
        _, grads = model_backward(params, cache, dout, mcfg)
    return loss, parts, grads, out
