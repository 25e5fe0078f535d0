"""Adam / AdamW, gradient clipping and learning-rate schedules, on dicts keyed like the params.

Optimizer state is a plain dict, so a checkpoint saves and restores it exactly:
    {"step": int (updates taken), "m": {k: (shape of params[k])}, "v": {k: (shape of params[k])}}

Adam (as torch.optim.Adam, with bias correction), at step t = state["step"] after increment:
    m = b1 m + (1 - b1) g;   v = b2 v + (1 - b2) g^2
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
AdamW (as torch.optim.AdamW) first decays, decoupled from the gradient:  p -= lr * wd * p,
only for weight matrices (ndim >= 2, the rule of nn.losses.is_weight_matrix; biases, norm
gains and the attention vector are not decayed). Plain Adam ignores tcfg.weight_decay (use
model.l2 for a coupled penalty).

All updates are in place, per key, with no per-element Python work; the moments share the
dtype of their parameter.
"""

from __future__ import annotations

import math

import numpy as np

from cryptotrain.config import TrainConfig
from cryptotrain.nn.losses import is_weight_matrix


def adam_init(params: dict) -> dict:
    return {"step": 0,
            "m": {k: np.zeros_like(p) for k, p in params.items()},
            "v": {k: np.zeros_like(p) for k, p in params.items()}}


def global_norm(grads: dict) -> float:
    """sqrt(sum over all tensors of sum(g^2)), accumulated in float64."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))


def clip_gradients(grads: dict, clip_norm: float | None, clip_value: float | None):
    """Element-wise clipping to [-clip_value, clip_value] first, then global-norm clipping as
    torch.nn.utils.clip_grad_norm_: g *= min(1, clip_norm / (norm + 1e-6)). Both in place on the
    arrays of `grads` (returned). Returns (grads, global norm before any clipping)."""
    norm_before = global_norm(grads)
    norm = norm_before
    if clip_value is not None:
        for g in grads.values():
            np.clip(g, -clip_value, clip_value, out=g)
        norm = global_norm(grads)
    if clip_norm is not None:
        coef = clip_norm / (norm + 1e-6)
        if coef < 1.0:
            for g in grads.values():
                g *= coef
    return grads, norm_before


def adam_step(params: dict, grads: dict, state: dict, lr: float, tcfg: TrainConfig) -> None:
    """One Adam (or AdamW, by tcfg.optimizer) update of `params` and `state`, in place."""
    b1, b2 = (float(b) for b in tcfg.betas)
    state["step"] += 1
    t = state["step"]
    step_size = lr / (1.0 - b1 ** t)
    inv_sqrt_bc2 = 1.0 / math.sqrt(1.0 - b2 ** t)
    decay = lr * tcfg.weight_decay if tcfg.optimizer == "adamw" else 0.0
    for k, p in params.items():
        g, m, v = grads[k], state["m"][k], state["v"][k]
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * (g * g)
        if decay and is_weight_matrix(p):
            p *= 1.0 - decay
        denom = np.sqrt(v)
        denom *= inv_sqrt_bc2
        denom += tcfg.eps
        p -= step_size * (m / denom)


def learning_rate(step: int, total_steps: int, tcfg: TrainConfig) -> float:
    """lr for update number `step` (0-based) of `total_steps`.

    Both schedules start with a linear warm-up when tcfg.warmup_steps > 0:
        lr * (step + 1) / warmup_steps   for step < warmup_steps.
    "constant": lr afterwards. "cosine": cosine decay from lr to min_lr = min_lr_ratio * lr at the
    last step:  min_lr + (lr - min_lr) * (1 + cos(pi * progress)) / 2,
        progress = (step - warmup) / max(1, total_steps - 1 - warmup), clipped to [0, 1].
    """
    lr, warm = tcfg.lr, tcfg.warmup_steps
    if step < warm:
        return lr * (step + 1) / warm
    if tcfg.schedule == "constant":
        return lr
    progress = min(1.0, max(0.0, (step - warm) / max(1, total_steps - 1 - warm)))
    min_lr = tcfg.min_lr_ratio * lr
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
