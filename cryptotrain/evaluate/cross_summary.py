"""The cross-sectional report of a universe run: IC, Rank IC, ICIR and quantile spread of the model and
of each baseline on the same cells, with block-bootstrap intervals over time and the verdict.

The statistics of a predictor from its per-timestamp series (cross_section.py) over the T' timestamps
that have a cross-section, each over the timestamps where the series is defined:

    ic, rank_ic                 mean of IC_t, RankIC_t
    ic_std, rank_ic_std         their standard deviation (ddof 1)
    icir, rank_icir             mean / std
    ic_positive, rank_ic_positive   share of timestamps with a value > 0
    top_return, bottom_return   mean of G_q-1,t and G_0,t (forward return of the top and bottom group)
    spread                      mean of spread_t = G_q-1,t - G_0,t

Intervals: bootstrap.py's circular block bootstrap over the T' timestamps in time order (block
length max(h, ceil(T'^(1/3))): the labels of neighbouring timestamps overlap by h - 1 candles, and
all pairs of one timestamp stay together, so their correlation is kept), percentile intervals;
model and baselines on the same resampled timestamps, so model - baseline has its own interval.
The verdict's null and correction are edge.py's (`cross_edge_summary`): mean Rank IC against every
baseline, Holm-corrected one-sided bounds.

Shapes: T' timestamps, R resamples, C resamples in one chunk, q groups.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.evaluate.bootstrap import (CHUNK_ELEMENTS, block_length, circular_block_indices,
                                            corrected_intervals, percentile_interval)
from cryptotrain.evaluate.cross_section import common_cells, cross_series, momentum_scores, score_panel
from cryptotrain.evaluate.edge import CROSS_METRIC, cross_edge_summary, holm_levels

CROSS_BASELINE_LABELS = {"momentum": "cross-sectional momentum", "reversal": "cross-sectional reversal"}
DIFF_METRICS = ("ic", "rank_ic", "spread")          # model - baseline intervals (rank_ic: also corrected)


def _moments(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(C,) count, sum, sum of squares and count of values > 0 of the finite values of x (T',) at idx."""
    f = np.isfinite(x)
    x0 = np.where(f, x, 0.0)
    return f[idx].sum(axis=1), x0[idx].sum(axis=1), (x0 * x0)[idx].sum(axis=1), (x0 > 0)[idx].sum(axis=1)


def series_stats(s: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """(C,) each statistic of the module docstring on the resampled timestamps idx (C, T')."""
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for key in ("ic", "rank_ic"):
            n, s1, s2, pos = _moments(s[key], idx)
            mean = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
            std = np.where(n > 1, np.sqrt(np.maximum(s2 - s1 * mean, 0.0) / np.maximum(n - 1, 1)), np.nan)
            out[key], out[f"{key}_std"] = mean, std
            out[key.replace("ic", "icir")] = np.where(std > 0, mean / std, np.nan)
            out[f"{key}_positive"] = np.where(n > 0, pos / np.maximum(n, 1), np.nan)
        for key, x in (("top_return", s["groups"][:, -1]), ("bottom_return", s["groups"][:, 0]),
                       ("spread", s["spread"])):
            n, s1, _, _ = _moments(x, idx)
            out[key] = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
    return out


def distinct_baselines(scores: dict[str, np.ndarray], cells: np.ndarray) -> list[str]:
    """The baselines whose scores differ on the cells (the first of each group of identical ones)."""
    seen: list[np.ndarray] = []
    out = []
    for name, s in scores.items():
        if not any(np.array_equal(s[cells], t) for t in seen):
            seen.append(s[cells])
            out.append(name)
    return out


def cross_section_report(ret: np.ndarray, model: np.ndarray, baselines: dict[str, np.ndarray], *, min_pairs: int,
                         quantiles: int, horizon: int, labels: dict[str, str] | None = None,
                         n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
                         on_progress: Callable[[str, int, int], None] | None = None) -> tuple[dict, dict]:
    """(report, series): the model's statistics with intervals (keys ic, rank_ic, icir, ...), "baselines"
    (each one's, and model - baseline), the verdict ("edge") and the facts of the cross-section (JSON-ready
    but for NaN); series: the model's per-timestamp "rank_ic", "groups", "rows" (its
    timestamps' rows in the panel) for the figure. ret, model, each baseline: (T, N) panels.
    on_progress("cross-sectional intervals", resamples done, n_resamples) after each chunk."""
    scores = {"model": model, **baselines}
    cells = common_cells(ret, scores, min_pairs)
    rows = np.flatnonzero(cells.any(axis=1))
    series = {k: {m: v[rows] for m, v in cross_series(s, ret, cells, quantiles).items()} for k, s in scores.items()}
    n = len(rows)
    L = block_length(n, horizon)
    names = distinct_baselines(baselines, cells)
    corrected = {CROSS_METRIC: holm_levels(len(names))}
    point = {k: series_stats(s, np.arange(n)[None, :]) for k, s in series.items()}
    draws: dict[str, dict[str, list]] = {k: {m: [] for m in v} for k, v in point.items()}
    rng = np.random.default_rng(seed)
    done, chunk = 0, max(1, CHUNK_ELEMENTS // max(n, 1))
    tick = on_progress or (lambda step, done, total: None)
    tick("cross-sectional intervals", 0, n_resamples)
    while done < n_resamples and n > 0:
        idx = circular_block_indices(n, min(chunk, n_resamples - done), L, rng)
        for k, s in series.items():
            for m, v in series_stats(s, idx).items():
                draws[k][m].append(v)
        done += len(idx)
        tick("cross-sectional intervals", done, n_resamples)
    samples = {k: {m: np.concatenate(v) if v else np.array([]) for m, v in d.items()} for k, d in draws.items()}

    def interval(value, s):
        lo, hi = percentile_interval(s, level)
        return {"value": float(value), "lo": lo, "hi": hi}

    boot = {"model": {m: interval(point["model"][m][0], s) for m, s in samples["model"].items()}, "baselines": {}}
    for b in baselines:
        diff = {}
        for m in DIFF_METRICS:
            d = samples["model"][m] - samples[b][m]
            diff[m] = interval(point["model"][m][0] - point[b][m][0], d)
            if m in corrected:
                diff[m].update(corrected_intervals(d, corrected[m]))
        boot["baselines"][b] = {"metrics": {m: interval(point[b][m][0], s) for m, s in samples[b].items()},
                                "diff": diff}
    labels = {**CROSS_BASELINE_LABELS, **(labels or {})}
    report = {**boot["model"], "baselines": boot["baselines"],
              "edge": cross_edge_summary(boot, names, labels),
              "n_timestamps": int(n), "n_pairs": len(ret[0]) if len(ret) else 0,
              "pairs_per_timestamp": float(cells[rows].sum() / n) if n else float("nan"),
              "min_pairs": int(min_pairs), "quantiles": int(quantiles), "horizon": int(horizon),
              "method": "circular block bootstrap over timestamps, percentile intervals", "block_length": L,
              "n_resamples": int(n_resamples), "seed": int(seed), "level": level,
              "labels": {b: labels.get(b, b) for b in baselines}}
    figure = {"rows": rows, "rank_ic": series["model"]["rank_ic"], "groups": series["model"]["groups"]}
    return report, figure


def universe_cross_section(ds, idx: np.ndarray, model: dict, baselines: dict[str, dict], cfg,
                           labels: dict[str, str] | None = None,
                           on_progress: Callable[[str, int, int], None] | None = None) -> tuple[dict | None, dict | None]:
    """cross_section_report of a universe evaluation's windows `idx` (None, None when fewer than
    features.cross_min_pairs pairs have windows, e.g. one pair's file). The model's score is its
    predicted return, or p_buy - p_sell without a trained return head; the baselines are momentum,
    reversal and the fitted baselines' predicted returns. The long frame (timestamp, symbol, scores,
    forward_return) is the predictions' rows."""
    m = cfg.features.cross_min_pairs
    if len(np.unique(ds.symbol_id[idx])) < m:
        return None, None
    score = model["pred_return"] if model.get("pred_return") is not None else model["probs"][:, 2] - model["probs"][:, 0]
    mom = momentum_scores(ds.timestamps, ds.symbol_id, ds.close, idx, ds.horizon, timeframe_to_ms(ds.timeframe))
    fitted = {b: p["pred_return"] for b, p in baselines.items() if b in ("linear", "lightgbm") and
              p.get("pred_return") is not None}
    frame = pd.DataFrame({"timestamp": ds.timestamps[idx], "symbol": np.asarray(ds.symbols)[ds.symbol_id[idx]],
                          "forward_return": ds.ret[idx], "score": score, "momentum": mom, "reversal": -mom, **fitted})
    names = ["momentum", "reversal", *fitted]
    ts, _, p = score_panel(frame, ["score", *names])
    rep, fig = cross_section_report(p["forward_return"], p["score"], {b: p[b] for b in names}, min_pairs=m,
                                    quantiles=cfg.evaluate.quantiles, horizon=ds.horizon, labels=labels,
                                    seed=cfg.train.seed, on_progress=on_progress)
    rep["score"] = "predicted return" if model.get("pred_return") is not None else "p_buy - p_sell"
    rep["target"] = cfg.labels.target      # excess: the returns above are each pair's minus the pairs' mean
    fig["timestamps"] = ts[fig["rows"]]
    return rep, fig
