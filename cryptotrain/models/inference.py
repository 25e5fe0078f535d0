"""Run a model over a split in eval mode (no dropout), in order, in batches: predictions and loss.

Model use, not evaluation: this sits with the models so that training (`split_loss`, its
validation) and `evaluate` (`predict_split`, `predict_with_loss`) share it without training
importing evaluate. One loop serves both, so the validation loss that evaluate reports for a
checkpoint is the one training logged, bit for bit: same batches (up to train.batch_size windows in
split order, each in the batch column its decision candle's time names, `window_slots`; a batch
ends where a column would repeat: after batch_size windows, or at a gap), same dtype, same
formula, and (evaluate, predict) training's BLAS thread count:

    loss = sum_b B_b * model_loss(batch b) / sum_b B_b     (model_loss with l2=False: no weight penalty)

and the same sample weighting for each loss part and for the action accuracy (predicted action:
`predicted_action` below, the argmax with exact ties going to hold).

Shapes: N windows of the split, B batch, T window, F features, K = 3 classes.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.models import model_forward, model_loss
from cryptotrain.nn import buffers
from cryptotrain.nn.layers import softmax_forward


def predicted_action(scores: np.ndarray) -> np.ndarray:
    """(N,) class index of the largest probability (or logit); an exact tie with hold gives hold,
    so an undecided model does not act (other ties: the lower index). Scores must be finite (a
    NaN row would come out as 0, sell): evaluate refuses non-finite outputs first (guards.py)."""
    scores = np.asarray(scores)
    return np.where(scores[:, 1] >= scores.max(axis=1), 1, scores.argmax(axis=1)).astype(np.int64)


# How the eval passes lay out their batches; training records it in its checkpoints, so evaluate
# knows whether the validation loss in the training log came from the same batches.
EVAL_COLUMNS = "time"


def window_slots(timestamps: np.ndarray, timeframe_ms: int, batch_size: int, pair: np.ndarray | int = 0,
                 n_pairs: int = 1) -> np.ndarray:
    """(N,) the batch column of each window: (open time of its decision candle // timeframe) mod B;
    of a universe's window of pair p (of P), ((open time // timeframe) * P + p) mod B, so the pairs that
    share a time sit in distinct columns (one pair: the same columns as a single-file run).

    BLAS rounds a GEMM's columns by where they sit: with OpenBLAS's Haswell kernels some batch
    columns (which ones depends on B and the thread count; e.g. 6-11 and 18-31 of 32 at 1 thread)
    get other bits than the same window in column 0; the neighbours do not matter
    (tests/test_speed_paths.py). So every pass puts a candle's window in the column
    its time names, and `cryptotrain predict` scoring that candle alone gets evaluate's bits."""
    return ((np.asarray(timestamps, dtype=np.int64) // int(timeframe_ms)) * int(n_pairs) + pair) % batch_size


def dataset_slots(dataset, idx: np.ndarray, batch_size: int) -> np.ndarray:
    """`window_slots` of the windows ending at rows `idx` of a Dataset (one file or a universe; an object
    without symbol ids is one file)."""
    tf = timeframe_to_ms(dataset.timeframe)
    if getattr(dataset, "symbol_id", None) is None:
        return window_slots(dataset.timestamps[idx], tf, batch_size)
    return window_slots(dataset.timestamps[idx], tf, batch_size, dataset.symbol_id[idx], len(dataset.symbols))


def forward_fixed_batch(params: dict, x: np.ndarray, mcfg: ModelConfig, batch_size: int,
                        slots: np.ndarray | None = None, pairs: np.ndarray | None = None) -> dict:
    """Eval-mode outputs for the n <= batch_size windows x (n, T, F), always computed as one batch of
    exactly `batch_size`, window i in column slots[i] (distinct; default i); the other columns
    hold copies of the last window. Outputs come back in the order of x.

    BLAS picks its kernel by the matrix sizes (a batch of 1 goes through a matrix-vector product,
    small batches through other kernels) and rounds a column by its position (`window_slots`); in
    a batch of a fixed size, at a fixed column, a window's outputs do not depend on what is beside
    it. So a window gets the same bits in evaluate's batches and alone in `cryptotrain predict`.
    """
    n = len(x)
    slots = np.arange(n) if slots is None else np.asarray(slots, dtype=np.int64)
    if len(np.unique(slots)) != n or n > batch_size:
        raise ValueError(f"{n} windows need {n} distinct batch columns below {batch_size}, got {slots.tolist()}")
    full = np.repeat(x[-1:], batch_size, axis=0)
    full[slots] = x
    full_pairs = None
    if pairs is not None:   # a universe's windows: their symbol ids, placed as the windows
        full_pairs = np.repeat(np.asarray(pairs, dtype=np.int64)[-1:], batch_size)
        full_pairs[slots] = pairs
    out, _ = model_forward(params, full, mcfg, train=False, keep_cache=False, pairs=full_pairs)
    return {k: (v[slots] if v is not None else None) for k, v in out.items()}


def slot_batches(slots: np.ndarray) -> list[slice]:
    """Consecutive runs of windows with distinct slots, in order: a batch ends where a slot would
    repeat (it has batch_size windows, or the candles have a gap)."""
    out, start, seen = [], 0, set()
    for i, s in enumerate(slots.tolist()):
        if s in seen:
            out.append(slice(start, i))
            start, seen = i, set()
        seen.add(s)
    if start < len(slots):
        out.append(slice(start, len(slots)))
    return out


def split_indices(dataset, split: str | np.ndarray) -> np.ndarray:
    """Window-end rows of a named split ("train", "val", "test") or an explicit index array."""
    if isinstance(split, str):
        return np.asarray(dataset.splits[split], dtype=np.int64)
    return np.asarray(split, dtype=np.int64)


def predict_with_loss(params: dict, dataset, split: str | np.ndarray, mcfg: ModelConfig, batch_size: int,
                      keep_outputs: bool = True) -> tuple[dict | None, tuple[float, dict[str, float], float]]:
    """One eval-mode pass: (predictions or None, (loss, parts, accuracy)); see the module docstring."""
    idx = split_indices(dataset, split)
    slots = dataset_slots(dataset, idx, batch_size)
    sums: dict[str, float] = {}
    total = 0.0
    correct = 0
    outs: dict[str, list] = {"logits": [], "confidence": [], "return": [], "attention": []}
    for part in slot_batches(slots):
        bidx = idx[part]
        x, targets = dataset.batch(bidx)
        # one batch = one buffers.step(): its arrays reuse the previous batch's memory (no fresh
        # pages to fault in); what is kept past the block is copied out of the pool
        with buffers.step():
            out = forward_fixed_batch(params, x, mcfg, batch_size, slots[part], targets.get("pair"))
            loss, parts, _ = model_loss(out, targets, mcfg, params, l2=False)  # no weight penalty in a validation loss
            n = len(bidx)
            total += float(loss) * n
            for k, v in parts.items():
                if k != "l2":
                    sums[k] = sums.get(k, 0.0) + float(v) * n
            correct += int((predicted_action(out["logits"]) == targets["action"]).sum())
            if keep_outputs:
                for k in outs:
                    if out.get(k) is not None:
                        outs[k].append(np.array(out[k]))
    n_all = len(idx)
    if n_all == 0:
        loss_t = (float("nan"), {}, float("nan"))
    else:
        loss_t = (total / n_all, {k: v / n_all for k, v in sums.items()}, correct / n_all)
    if not keep_outputs:
        return None, loss_t
    return _assemble(outs, idx, mcfg), loss_t


def _assemble(outs: dict[str, list], idx: np.ndarray, mcfg: ModelConfig) -> dict:
    def cat(k, shape):
        return np.concatenate(outs[k]) if outs[k] else np.zeros(shape)

    logits = cat("logits", (0, 3)).astype(np.float64)
    probs = softmax_forward(logits)[0]
    return {"idx": idx,
            "logits": logits,
            "probs": probs,                                             # (N, K) float64
            "confidence": cat("confidence", (0,)).astype(np.float64),   # (N,)
            "pred_return": cat("return", (0,)).astype(np.float64) / mcfg.return_scale,  # (N,) r_t units
            "attention": np.concatenate(outs["attention"]).astype(np.float64) if outs["attention"] else None}


def split_loss(params: dict, dataset, split: str | np.ndarray, mcfg: ModelConfig,
               batch_size: int) -> tuple[float, dict[str, float], float]:
    """(loss, parts without "l2", action accuracy) over the split, sample-weighted over batches."""
    return predict_with_loss(params, dataset, split, mcfg, batch_size, keep_outputs=False)[1]


def predict_split(params: dict, dataset, split: str | np.ndarray, mcfg: ModelConfig, batch_size: int) -> dict:
    """Arrays over the split, in split order: idx (N,), logits (N, K), probs (N, K), confidence (N,),
    pred_return (N,) in r_t units (head output / return_scale), attention (N, T) or None."""
    return predict_with_loss(params, dataset, split, mcfg, batch_size)[0]
