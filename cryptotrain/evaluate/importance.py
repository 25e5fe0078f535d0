"""Permutation importance on the validation split: how much worse the model gets when one
feature (or one group of features) no longer lines up with the labels.

For a feature set S (one feature, or a group) and repeat j: the N validation windows (in time
order) are cut into blocks of L consecutive windows, L = block_length(N, horizon) as in the
bootstrap, and the blocks are shuffled (seeded): a permutation pi of the windows. Window i's
values of S, over all T candles of the window, are replaced by those of window pi(i); every other
feature is left as it is. Block-wise in time so that the permuted inputs keep their own
autocorrelation within a block and the permutation breaks their alignment with the labels, not
only their serial structure. The same R permutations serve every S, so drops are comparable.

    drop in log loss          = log loss(permuted) - log loss(original)                  (> 0: S helps)
    drop in balanced accuracy = balanced accuracy(original) - balanced accuracy(permuted)  (> 0: S helps)

Each drop is averaged over the R repeats. 95% intervals: the circular block bootstrap over the
windows (bootstrap.py), the original and every permuted prediction evaluated on the same
resampled windows, so the interval covers the sampling of the validation period.
Cost: one eval-mode forward pass over the validation split per feature (or group) per repeat.

Shapes: N windows, T window, F features, B batch, K = 3 classes, R repeats, C resamples.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from cryptotrain.evaluate.bootstrap import (balanced_accuracy_stat, block_length, circular_block_indices,
                                            log_loss_stat, percentile_interval)
from cryptotrain.models.inference import dataset_slots, forward_fixed_batch, predicted_action, slot_batches
from cryptotrain.nn.layers import softmax_forward

IMPORTANCE_CHOICES = ("features", "groups")
N_RESAMPLES = 500


def column_groups(names: list[str], groups: dict[str, list[str]] | None = None) -> dict[str, list[int]]:
    """Group -> column indices. `groups` (group -> column names, data.features.feature_groups) when
    they cover `names` exactly; else (a checkpoint whose names they do not match) a feature's group
    is its name up to the first digit or underscore ("ret_4" -> ret, "bb_pctb_20" -> bb, "ROC5" ->
    ROC), a leading "log_" skipped ("log_volume" -> volume, with "volume_z_20")."""
    where = {name: i for i, name in enumerate(names)}
    if groups and sorted(n for cols in groups.values() for n in cols) == sorted(names):
        return {g: [where[n] for n in cols] for g, cols in groups.items() if cols}
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        stem = name[4:] if name.startswith("log_") else name
        group = re.match(r"[^_\d]*", stem).group(0) or name
        out.setdefault(group, []).append(i)
    return out


def block_permutation(n: int, block: int, rng: np.random.Generator) -> np.ndarray:
    """(N,) a permutation of range(n) that moves blocks of `block` consecutive windows as a whole."""
    blocks = [np.arange(s, min(s + block, n)) for s in range(0, n, block)]
    order = rng.permutation(len(blocks))
    return np.concatenate([blocks[b] for b in order]) if blocks else np.zeros(0, dtype=np.int64)


def permuted_probs(params: dict, ds, idx: np.ndarray, mcfg, batch_size: int, cols: list[int] | None = None,
                   source: np.ndarray | None = None) -> np.ndarray:
    """(N, K) eval-mode probabilities on the windows ending at `idx`, with columns `cols` of each
    window taken from the window ending at `source` (same length as idx) when given."""
    out = []
    slots = dataset_slots(ds, idx, batch_size)
    for part in slot_batches(slots):                              # evaluate's batches (models/inference.py)
        x, targets = ds.batch(idx[part])                          # (B, T, F), a copy
        if cols:
            xs, _ = ds.batch(source[part])
            x[:, :, cols] = xs[:, :, cols]
        o = forward_fixed_batch(params, x, mcfg, batch_size, slots[part], targets.get("pair"))
        out.append(softmax_forward(np.asarray(o["logits"], dtype=np.float64))[0])
    return np.concatenate(out) if out else np.zeros((0, 3))


def permutation_importance(params: dict, ds, idx: np.ndarray, mcfg, batch_size: int, by: str = "features",
                           repeats: int = 5, seed: int = 0, n_resamples: int = N_RESAMPLES,
                           groups: dict[str, list[str]] | None = None,
                           on_progress: Callable[[str, int, int], None] | None = None) -> dict:
    """The drops of every feature (or group: `column_groups(names, groups)`) on the windows `idx`;
    see the module docstring. on_progress("permutation importance", passes done, passes) after each
    forward pass over the split (1 + sets x repeats)."""
    idx = np.asarray(idx, dtype=np.int64)
    n = len(idx)
    y = ds.action[idx]
    sets = ({name: [i] for i, name in enumerate(ds.feature_names)} if by == "features"
            else column_groups(list(ds.feature_names), groups))
    L = block_length(n, ds.horizon)
    rng = np.random.default_rng(seed)
    perms = [block_permutation(n, L, rng) for _ in range(repeats)]
    samples = np.vstack([np.arange(n)[None, :], circular_block_indices(n, n_resamples, L, rng)])  # row 0: the sample itself
    tick, total = on_progress or (lambda step, done, total: None), 1 + len(sets) * repeats
    tick("permutation importance", 0, total)
    base = permuted_probs(params, ds, idx, mcfg, batch_size)
    passes = 1
    tick("permutation importance", passes, total)
    base_ll = log_loss_stat(y, base, samples)
    base_ba = balanced_accuracy_stat(y, predicted_action(base), samples)
    rows = []
    for name, cols in sets.items():
        d_ll = np.zeros(len(samples))
        d_ba = np.zeros(len(samples))
        for perm in perms:
            p = permuted_probs(params, ds, idx, mcfg, batch_size, cols, idx[perm])
            d_ll += (log_loss_stat(y, p, samples) - base_ll) / repeats
            d_ba += (base_ba - balanced_accuracy_stat(y, predicted_action(p), samples)) / repeats
            passes += 1
            tick("permutation importance", passes, total)
        rows.append({"name": name, "features": [ds.feature_names[c] for c in cols],
                     "log_loss": _interval(d_ll), "balanced_accuracy": _interval(d_ba)})
    rows.sort(key=lambda r: -r["log_loss"]["value"])
    return {"by": by, "split": "val", "n_windows": n, "repeats": int(repeats), "seed": int(seed),
            "block_length": L, "n_resamples": int(n_resamples),
            "base": {"log_loss": float(base_ll[0]), "balanced_accuracy": float(base_ba[0])},
            "method": "block permutation across validation windows; drop averaged over repeats; "
                      "circular block bootstrap percentile 95% intervals",
            "rows": rows}


def _interval(s: np.ndarray) -> dict:
    lo, hi = percentile_interval(s[1:])
    return {"value": float(s[0]), "lo": lo, "hi": hi}
