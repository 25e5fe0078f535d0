"""The inner training loop: shuffled mini-batches, forward/backward, clipping, Adam, NaN guard.

No I/O and no printing here: `trainer.py` drives epochs and checkpoints, commands/train.py the
display. Everything random comes from explicit generators passed in, so an epoch is a pure function of
(params, optimizer state, generator states), which is what makes resume bit-identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from cryptotrain.config import Config
from cryptotrain.errors import RunFailure
from cryptotrain.models.inference import predicted_action
from cryptotrain.models import loss_and_grads
from cryptotrain.optim import adam_step, clip_gradients, learning_rate


class NonFiniteError(RunFailure):
    """A loss or gradient became NaN/inf; names the step and the tensor."""


@dataclass
class EpochStats:
    loss: float = 0.0                         # sample-weighted mean total loss over the epoch
    parts: dict[str, float] = field(default_factory=dict)  # per-head loss parts, same weighting
    accuracy: float = 0.0                     # action accuracy on the training batches (with dropout)
    grad_norm: float = 0.0                    # mean global gradient norm before clipping
    lr: float = 0.0                           # learning rate of the last step
    samples: int = 0
    steps: int = 0
    seconds: float = 0.0


def epoch_batches(train_idx: np.ndarray, batch_size: int, rng: np.random.Generator,
                  max_batches: int | None) -> list[np.ndarray]:
    """Shuffle the training window ends with `rng` and cut them into batches (last one may be short)."""
    perm = train_idx[rng.permutation(len(train_idx))]
    batches = [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]
    return batches[:max_batches] if max_batches else batches


def batches_per_epoch(n_train: int, cfg: Config) -> int:
    n = -(-n_train // cfg.train.batch_size)
    return min(n, cfg.train.max_batches_per_epoch) if cfg.train.max_batches_per_epoch else n


def _first_nonfinite(grads: dict[str, np.ndarray]) -> str | None:
    for k, g in grads.items():
        if not np.isfinite(g).all():
            return k
    return None


def train_epoch(params: dict, opt_state: dict, dataset, cfg: Config, batches: list[np.ndarray],
                dropout_rng: np.random.Generator, global_step: int, total_steps: int,
                on_batch: Callable[[int, float, int], None] | None = None) -> tuple[EpochStats, int]:
    """Run one epoch over `batches`; returns the epoch's statistics and the new global step.

    `on_batch(batch_index, loss, n_samples)` is called after every optimizer step (progress UI).
    """
    mcfg, tcfg = cfg.model, cfg.train
    st = EpochStats()
    t0 = time.perf_counter()
    sums: dict[str, float] = {}
    correct = 0
    gnorm_sum = 0.0
    for bi in range(len(batches)):
        x, targets = dataset.batch(batches[bi])
        loss, parts, grads, out = loss_and_grads(params, x, targets, mcfg, train=True, rng=dropout_rng)
        step = global_step + 1
        if not np.isfinite(loss):
            raise NonFiniteError(f"non-finite loss ({loss}) at step {step} (epoch batch {bi + 1}); "
                                 "lower train.lr or enable train.clip_norm")
        bad = _first_nonfinite(grads)
        if bad is not None:
            raise NonFiniteError(f"non-finite gradient in '{bad}' at step {step} (epoch batch {bi + 1}); "
                                 "lower train.lr or enable train.clip_norm")
        grads, gnorm = clip_gradients(grads, tcfg.clip_norm, tcfg.clip_value)
        lr = learning_rate(global_step, total_steps, tcfg)
        adam_step(params, grads, opt_state, lr, tcfg)
        bad = _first_nonfinite(params)
        if bad is not None:
            raise NonFiniteError(f"parameter '{bad}' became non-finite after the update at step {step} "
                                 f"(epoch batch {bi + 1}, learning rate {lr:.3g}); lower train.lr")
        global_step = step

        n = len(batches[bi])
        st.samples += n
        st.steps += 1
        for k, v in parts.items():
            sums[k] = sums.get(k, 0.0) + float(v) * n
        sums["loss"] = sums.get("loss", 0.0) + float(loss) * n
        correct += int((predicted_action(out["logits"]) == targets["action"]).sum())
        gnorm_sum += float(gnorm)
        st.lr = lr
        if on_batch is not None:
            on_batch(bi, float(loss), n)
    st.seconds = time.perf_counter() - t0
    if st.samples:
        st.loss = sums.pop("loss") / st.samples
        st.parts = {k: v / st.samples for k, v in sums.items()}
        st.accuracy = correct / st.samples
        st.grad_norm = gnorm_sum / st.steps
    return st, global_step
