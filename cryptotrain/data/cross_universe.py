"""The cross group and excess labels inside a universe dataset (universe_dataset.py).

Each pair's arrays are built on its own first (pair_data.py). Here they are laid on one grid, every
open time of the timeframe from the calendar's first to its last (a row where no pair has a candle
is simply thin), as (G, P) panels, NaN where a pair has no candle; the cross features
(features/cross.py) and the excess target (labels.py) are computed on the panels and taken back to
each pair's own rows. The cross columns are appended after the pair's own features; a row whose
cross features are NaN (a thin timestamp, warm-up of a rolling window) ends no window and lies
inside none, as any NaN row of a pair. With labels.target excess, the pair's r_t is replaced by
its excess return and the confidence target is recomputed from it (labels.py).

Shapes: G grid rows, P pairs, N_p rows of pair p, F own features, C cross columns.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cryptotrain.config import Config
from cryptotrain.data.features.cross import check_cross, cross_features
from cryptotrain.data.labels import confidence_target, excess_returns
from cryptotrain.data.ohlcv import segment_ids
from cryptotrain.data.pair_data import rows_ok
from cryptotrain.errors import UserError


def grid_rows(calendar: np.ndarray, timestamps: list[np.ndarray], timeframe_ms: int) -> tuple[int, list[np.ndarray]]:
    """(G, [each pair's rows on the grid]): the grid runs from calendar[0] in steps of the timeframe."""
    first = int(calendar[0])
    G = (int(calendar[-1]) - first) // timeframe_ms + 1
    return G, [(np.asarray(ts, dtype=np.int64) - first) // timeframe_ms for ts in timestamps]


def on_grid(values: list[np.ndarray], rows: list[np.ndarray], G: int) -> np.ndarray:
    """(G, P) float64 panel of per-pair arrays (N_p,), NaN where a pair has no row."""
    out = np.full((G, len(values)), np.nan)
    for p, (v, r) in enumerate(zip(values, rows)):
        out[r, p] = v
    return out


def uses_cross(cfg: Config) -> bool:
    return bool(cfg.features.cross) or cfg.labels.target == "excess"


def check_single_pair(cfg: Config) -> None:
    """A one-file run has no cross-section: the cross group and excess labels are refused, naming why."""
    if cfg.features.cross:
        raise UserError("features.cross needs several pairs in one run (data.universe); set features.cross=[] for "
                        "a one-pair run")
    if cfg.labels.target == "excess":
        raise UserError("labels.target excess needs several pairs in one run (data.universe); use labels.target "
                        "absolute for a one-pair run")


def add_cross(cfg: Config, calendar: np.ndarray, parts: dict, timeframe_ms: int) -> dict:
    """`parts` ({symbol: PairArrays} in data.universe order) with the cross columns appended to X and
    names, r_t and the confidence target replaced by the excess target when labels.target is excess,
    and `ok` recomputed (module docstring)."""
    if not uses_cross(cfg):
        return parts
    fcfg, lcfg = cfg.features, cfg.labels
    symbols = list(parts)
    if len(symbols) < len(cfg.data.universe):
        raise UserError(f"this run's {'features.cross' if fcfg.cross else 'labels.target excess'} reads every pair at "
                        f"each timestamp; score it on all its {len(cfg.data.universe)} pairs (evaluate --data-dir DIR), "
                        f"not {len(symbols)}")
    if lcfg.target == "excess" and len(symbols) < fcfg.cross_min_pairs:
        raise UserError(f"labels.target excess needs at least features.cross_min_pairs = {fcfg.cross_min_pairs} "
                        f"pairs in data.universe (got {len(symbols)}); add pairs or use labels.target absolute")
    names = next(iter(parts.values())).names
    check_cross(fcfg, names, symbols)
    G, rows = grid_rows(calendar, [p.timestamps for p in parts.values()], timeframe_ms)
    close = on_grid([p.df["close"].to_numpy() for p in parts.values()], rows, G)
    Xc, cnames = cross_features(close, {f: on_grid([p.X[:, names.index(f)] for p in parts.values()], rows, G)
                                        for f in fcfg.cross}, symbols, fcfg, phase=int(calendar[0]) // timeframe_ms)
    Xc = np.ascontiguousarray(Xc.transpose(1, 0, 2))   # (P, G, C): each pair's rows are gathered whole
    if lcfg.target == "excess":
        x = excess_returns(on_grid([p.ret for p in parts.values()], rows, G), fcfg.cross_min_pairs)
    out = {}
    for i, (s, p) in enumerate(parts.items()):
        X = np.concatenate([p.X, Xc[i, rows[i]]], axis=1, dtype=p.X.dtype) if cnames else p.X
        seg = segment_ids(p.timestamps, timeframe_ms)
        ret, conf = p.ret, p.conf
        if lcfg.target == "excess":
            ret = x[rows[i], i]
            conf = confidence_target(ret, p.df["close"].to_numpy(), lcfg, segment=seg)
        out[s] = replace(p, X=X, names=names + cnames, ret=ret, conf=conf, ok=rows_ok(X, seg, cfg.data.window, ret, conf))
    return out
