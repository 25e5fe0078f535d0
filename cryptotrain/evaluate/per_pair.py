"""The per-pair table of a universe evaluation: each pair's windows scored on their own.

For every pair of the run with windows in the scored split: its window count, the model's accuracy,
direction accuracy (and coverage) and, when the return head was trained, IC (Pearson and
Spearman), each with a 95% circular block bootstrap interval over that pair's own windows (which are
consecutive in time, so the blocks are runs of that pair's candles); and the baselines on the same
windows (the pooled evaluation's baselines, a forecast per window, restricted to the pair's, and a
random caller at the pair's own model call rates), with the interval of model - baseline.
Descriptive, like the pooled tables: P pairs times several metrics, not corrected for their number.

Shapes: N windows of the split (time, then pair order), P pairs.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.evaluate.baselines import rate_matched_baseline
from cryptotrain.evaluate.bootstrap import bootstrap_intervals
from cryptotrain.evaluate.metrics import direction_metrics

PAIR_METRICS = ("accuracy", "direction_accuracy", "ic_pearson", "ic_spearman")


def _rows(pred: dict, mask: np.ndarray) -> dict:
    """A predictor ({"action", "probs", "pred_return", ...}) restricted to the windows `mask`."""
    return {k: (np.asarray(v)[mask] if isinstance(v, np.ndarray) and len(v) == len(mask) else v)
            for k, v in pred.items()}


def per_pair_report(symbols: list[str], symbol_id: np.ndarray, *, y_true, r, model: dict, baselines: dict[str, dict],
                    horizon: int = 1, n_resamples: int = 1000, seed: int = 0, on_progress=None) -> dict[str, dict]:
    """{symbol: {"windows", "coverage", metric: {"value", "lo", "hi"}, "baselines": {name: {metric: value}},
    "diff": {name: {metric: {"value", "lo", "hi"}}}}} for the pairs with windows, in `symbols` order.
    on_progress("per-pair intervals", pairs done, pairs) after each pair."""
    y_true, r, symbol_id = np.asarray(y_true), np.asarray(r, dtype=np.float64), np.asarray(symbol_id)
    tick = on_progress or (lambda step, done, total: None)
    out = {}
    for p, sym in enumerate(symbols):
        tick("per-pair intervals", p, len(symbols))
        mask = symbol_id == p
        if not mask.any():
            continue
        m = _rows(model, mask)
        base = {b: _rows(v, mask) for b, v in baselines.items()}
        base["rate_matched"] = rate_matched_baseline(m["action"], seed)
        boot = bootstrap_intervals(y_true[mask], r[mask], m, base, horizon=horizon, n_resamples=n_resamples, seed=seed)
        keep = [k for k in PAIR_METRICS if k in boot["model"]]
        out[sym] = {"windows": int(mask.sum()), "coverage": direction_metrics(m["action"], r[mask])["coverage"],
                    **{k: boot["model"][k] for k in keep},
                    "baselines": {b: {k: v["metrics"][k]["value"] for k in keep if k in v["metrics"]}
                                  for b, v in boot["baselines"].items()},
                    "diff": {b: {k: v["diff"][k] for k in keep if k in v["diff"]} for b, v in boot["baselines"].items()}}
    tick("per-pair intervals", len(symbols), len(symbols))
    return out
