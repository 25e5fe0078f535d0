"""How much memory a configured model needs to train, estimated from the config alone.

A model far too big for the machine (e.g. model.hidden_size=100000) would otherwise fail deep in
the first allocation with a bare MemoryError, or swap the machine to a halt. The estimate counts
the dominant terms; it only has to tell "fits" from "cannot possibly fit":
- parameters P: input projection, recurrent or encoder layers, attention, MLP head;
- per training step, activations A: the values a forward pass caches for the backward pass,
  per layer about 8 x B x T x H for a recurrent layer, attention weights B x heads x T x T;
- bytes = itemsize x (5 P + A): parameters, gradients, two Adam moments and the best copy, and
  the cached activations (their gradients reuse buffers step by step). Calibration: the
  benchmark's large GRU (B 128, T 96, H 256, 3 layers) estimates 0.35 GB; nn/buffers.py
  measures a 310 MB working set for it.
It reads the config by attribute (data, features, model, train), so it imports no layer above.
`fit` checks it before training (not the config validator: a config stays valid on a smaller
machine, it only cannot be trained there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from cryptotrain.errors import UserError

N_OUT = 5  # the head's outputs: three action logits, confidence, return


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    activations: int    # values cached by one training step's forward pass
    bytes: int


def n_features(fcfg: Any) -> int:
    """Feature columns the configured feature set produces (at least the ones counted here)."""
    n = len(fcfg.returns) + len(fcfg.volatility) + 2 * bool(fcfg.body_range) + 4 * bool(fcfg.time)
    n += sum(k * (getattr(fcfg, name) is not None) for name, k in
             (("rsi", 1), ("macd", 3), ("bollinger", 2), ("atr", 1), ("volume_zscore", 2), ("vwap", 1)))
    return max(n, 1)


def estimate_training_memory(cfg: Any) -> MemoryEstimate:
    m, B, T = cfg.model, cfg.train.batch_size, cfg.data.window
    F, H, L = n_features(cfg.features), m.hidden_size, m.num_layers
    params = acts = 0
    if m.type == "transformer":
        params += F * H + H + (T * H if m.positional == "learned" else 0)
        params += L * (4 * H * H + 2 * H * m.d_ff + 9 * H + m.d_ff)
        acts += L * B * T * (8 * H + 2 * m.d_ff) + L * 3 * B * m.num_heads * T * T
    else:
        gates = 3 if m.type == "gru_attention" else 4
        for layer in range(L):
            d_in = F if layer == 0 else H
            params += gates * H * (d_in + H) + 2 * gates * H
        acts += L * 8 * B * T * H
        if m.attention in ("additive", "both"):
            params += H * H + 2 * H
            acts += 2 * B * T * H
        if m.attention in ("multihead", "both"):
            params += 4 * H * H + 4 * H
            acts += 4 * B * T * H + 3 * B * m.num_heads * T * T
    widths = [2 * H if m.concat_last else H, *m.head_sizes, N_OUT]
    params += sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    acts += 3 * B * sum(widths)
    itemsize = 8 if m.dtype == "float64" else 4
    return MemoryEstimate(params, acts, itemsize * (5 * params + acts))


def physical_memory() -> int | None:
    """Bytes of RAM on this machine, None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(cfg: Any) -> None:
    """UserError with the numbers when training the configured model cannot fit in this machine's RAM."""
    ram = physical_memory()
    est = estimate_training_memory(cfg)
    if ram is not None and est.bytes > ram:
        raise UserError(
            f"the model is too big for this machine: about {est.parameters:,} parameters and {est.activations:,} "
            f"cached values per batch need at least {est.bytes / 2**30:,.1f} GiB, the machine has {ram / 2**30:,.1f} GiB; "
            "reduce model.hidden_size, model.num_layers, model.head_sizes, data.window or train.batch_size")
