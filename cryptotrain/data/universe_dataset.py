"""The dataset of a universe run (data.universe): many pairs, one calendar, one set of splits.

Each pair is built on its own, as a single-file run is (pair_data.py: its own features, segments,
warm-up and labels; nothing is forward-filled across pairs). Then:

  * calendar: the union of the pairs' open times (after data.start / data.end); data.last_rows
    keeps the last rows of the calendar. A pair may start later or end earlier than the others.
  * splits: split_bounds on the calendar (fractions of calendar rows, or dates) give two times,
    the first validation and the first test open time, the same for every pair; each pair's rows
    are cut at them and its window ends found as for one file (splits.py: window inside the pair's
    split, embargo, no gap, no warm-up). So no pair's test period precedes another's training.
  * normalizer (features.normalizer_scope): per_symbol fits each pair on its own training rows;
    pooled fits one on the training rows of every pair. Label thresholds: one pair (lo, hi) from the
    training returns of every pair.
  * layout: the pairs' arrays one after the other (pair 0's rows, then pair 1's, ...). A window
    of pair p ending at its row t is global row offset[p] + t; a window never starts before its
    pair's first row (window_ok), so Dataset.batch gathers features[row - T + 1 : row + 1] as for one
    file and the (M, T, F) array of every window is never built. Split rows are sorted by time,
    then by symbol (its name), the order of a universe's predictions.csv.

Shapes: P pairs, C calendar rows, N = sum of the pairs' rows, F features.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from cryptotrain.config import Config, DataConfig
from cryptotrain.data.labels import action_labels, label_thresholds
from cryptotrain.data.normalize import Normalizer, check_normalizer
from cryptotrain.data.ohlcv import file_stem, load_ohlcv, symbol_slug
from cryptotrain.data.pair_data import PairArrays, file_sha256, pair_arrays, trim_candles
from cryptotrain.data.splits import SPLITS, check_nonempty, resolve_embargo, rows_used, split_bounds, window_ends
from cryptotrain.data.timestamps import format_utc
from cryptotrain.data.universe import list_pairs, pick_timeframe
from cryptotrain.errors import UserError


def universe_files(dcfg: DataConfig) -> dict[str, str]:
    """{symbol: candle file} of every pair of data.universe: data.paths, or found in data.dir."""
    if dcfg.paths is not None:
        return {s: str(dcfg.paths[s]) for s in dcfg.universe}
    pairs = list_pairs(Path(dcfg.dir), "data.dir")
    missing = [s for s in dcfg.universe if symbol_slug(s) not in pairs or
               (dcfg.timeframe is not None and dcfg.timeframe not in pairs[symbol_slug(s)])]
    if missing:
        tf = dcfg.timeframe or "1h"
        raise UserError(f"data.dir {dcfg.dir}: no {tf} candle file for {', '.join(missing)} (expected "
                        f"{symbol_slug(missing[0])}-{tf}.csv.gz); fetch it (cryptotrain fetch --symbols "
                        f"{','.join(missing)}) or drop it from data.universe")
    slugs = [symbol_slug(s) for s in dcfg.universe]
    tf = pick_timeframe(pairs, slugs, dcfg.timeframe, Path(dcfg.dir))
    return {s: str(pairs[slug][tf]) for s, slug in zip(dcfg.universe, slugs)}


def pair_index(symbols: list[str], symbol: str, what: str = "data") -> int:
    """Index of `symbol` among the run's pairs; a pair the run does not know is refused, naming it."""
    if symbol not in symbols:
        raise UserError(f"{what} holds {symbol}, a pair this run was not trained on (it knows {', '.join(symbols)}), "
                        "so it has no normalizer statistics or embedding for it; pass a file of one of these pairs, "
                        "named as fetch names it (e.g. BTC_USDT-1h.csv.gz)")
    return symbols.index(symbol)


def pair_of_file(symbols: list[str], path: str | Path) -> str:
    """The pair of `symbols` whose file `path` is, by its name (BTC_USDT-1h.csv.gz); another is refused."""
    slug = file_stem(Path(path)).rpartition("-")[0] or file_stem(Path(path))
    known = {symbol_slug(s): s for s in symbols}
    return known.get(slug) or symbols[pair_index(symbols, slug, f"{path}")]


def _load(cfg: Config, files: dict[str, str], dtype) -> tuple[np.ndarray, dict[str, PairArrays]]:
    """Every pair's arrays, trimmed to data.start / end and to the last data.last_rows calendar rows."""
    dcfg = cfg.data
    frames = {}
    for s, f in files.items():
        df, report = load_ohlcv(f, dcfg.timeframe, dcfg.gap_policy)
        frames[s] = (trim_candles(df, dcfg.start, dcfg.end, None, f), report)
    tfs = {r.timeframe for _, r in frames.values()}
    if len(tfs) > 1:
        raise UserError(f"the universe's files have several timeframes ({', '.join(sorted(tfs))}); set data.timeframe "
                        "and give files of that timeframe")
    calendar = np.unique(np.concatenate([df["timestamp"].to_numpy(dtype=np.int64) for df, _ in frames.values()]))
    if dcfg.last_rows is not None and dcfg.last_rows < len(calendar):
        calendar = calendar[-dcfg.last_rows:]
        for s, (df, report) in frames.items():
            kept = df[df["timestamp"].to_numpy(dtype=np.int64) >= calendar[0]].reset_index(drop=True)
            if len(kept) == 0:
                raise UserError(f"{s}: data.last_rows = {dcfg.last_rows} keeps no candle of this pair (it ends "
                                f"{format_utc(df['timestamp'].iloc[-1])}); raise data.last_rows or drop {s}")
            frames[s] = (kept, report)
    return calendar, {s: pair_arrays(cfg, df, report, dtype) for s, (df, report) in frames.items()}


def _pair_ends(ts: np.ndarray, ok: np.ndarray, edges: tuple[float, float], T: int, embargo: int) -> dict:
    """Window ends of one pair, its rows cut at the calendar's first val and test open times."""
    a, b = (int(np.searchsorted(ts, e, side="left")) for e in edges)
    return window_ends({"train": (0, a), "val": (a, b), "test": (b, len(ts))}, ok, T, embargo)


def _fingerprint(dcfg: DataConfig, files: dict[str, str], parts: dict[str, PairArrays], calendar) -> dict:
    pairs = {s: {"path": files[s], "rows": int(len(p.timestamps)), "first_ts": int(p.timestamps[0]),
                 "last_ts": int(p.timestamps[-1]), "sha256": file_sha256(files[s])} for s, p in parts.items()}
    digest = hashlib.sha256("".join(f"{s}:{v['sha256']}\n" for s, v in pairs.items()).encode()).hexdigest()
    where = dcfg.dir if dcfg.dir is not None else "data.paths"
    return {"path": f"{where} ({len(pairs)} pairs)", "rows": sum(v["rows"] for v in pairs.values()),
            "first_ts": int(calendar[0]), "last_ts": int(calendar[-1]), "sha256": digest, "pairs": pairs}


def build_universe(cfg: Config, files: dict[str, str], normalizer: Normalizer | None, thresholds: tuple | None,
                   need: tuple[str, ...], dtype) -> dict:
    """The fields of the universe's Dataset (module docstring). `files`: the pairs to load, a subset
    of data.universe in its order (evaluation of one pair's file); symbol ids index data.universe."""
    symbols, T = list(cfg.data.universe), cfg.data.window
    embargo = resolve_embargo(cfg)
    calendar, parts = _load(cfg, files, dtype)
    cal_bounds = split_bounds(calendar, cfg)
    edges = tuple(float(calendar[cal_bounds[k][0]]) if cal_bounds[k][0] < len(calendar) else np.inf
                  for k in ("val", "test"))
    pair_ends = {s: _pair_ends(p.timestamps, p.ok, edges, T, embargo) for s, p in parts.items()}
    offsets = np.cumsum([0] + [len(p.timestamps) for p in parts.values()])
    sid = np.concatenate([np.full(len(p.timestamps), symbols.index(s), dtype=np.int64) for s, p in parts.items()])
    ts = np.concatenate([p.timestamps for p in parts.values()])
    rank = np.argsort(np.argsort(symbols))      # a symbol id's place in the symbols sorted by name
    ends = {}
    for k in SPLITS:
        rows = np.concatenate([pair_ends[s][k] + off for s, off in zip(parts, offsets)])
        ends[k] = rows[np.lexsort((rank[sid[rows]], ts[rows]))]     # by time, then symbol
    check_nonempty(ends, cal_bounds, calendar, T, embargo, f"data.universe ({len(parts)} pairs)", need)

    names = next(iter(parts.values())).names
    used = {s: p.X[rows_used(pair_ends[s]["train"], T, len(p.timestamps))] for s, p in parts.items()}
    if normalizer is None and cfg.features.normalizer_scope == "pooled":
        normalizer = Normalizer.fit(np.concatenate(list(used.values())), cfg.features.normalizer)
    elif normalizer is None:
        empty = [s for s in symbols if s not in parts or len(used[s]) == 0]
        if empty:
            raise UserError(f"{', '.join(empty)}: no training window, so features.normalizer_scope per_symbol has no "
                            "statistics for it; set features.normalizer_scope: pooled, move data.split earlier or drop it")
        normalizer = Normalizer.stack([Normalizer.fit(used[s], cfg.features.normalizer) for s in symbols])
    else:
        check_normalizer(normalizer, names, len(symbols))
    ret = np.concatenate([p.ret for p in parts.values()])
    if thresholds is None:
        thresholds = label_thresholds(ret[ends["train"]], cfg.labels, cfg.backtest)
    lo, hi = (float(v) for v in thresholds)

    features = np.concatenate([normalizer.pair(symbols.index(s)).transform(p.X).astype(dtype)
                               for s, p in parts.items()])
    col = {c: np.concatenate([p.df[c].to_numpy() for p in parts.values()]) for c in ("open", "high", "low", "close",
                                                                                      "volume")}
    return dict(timestamps=ts, **col, features=np.ascontiguousarray(features), feature_names=names,
                action=action_labels(ret, lo, hi), confidence=np.concatenate([p.conf for p in parts.values()]),
                ret=ret, splits=ends, normalizer=normalizer, thresholds=(lo, hi), window=T,
                horizon=cfg.labels.horizon, timeframe=next(iter(parts.values())).report.timeframe,
                fingerprint=_fingerprint(cfg.data, files, parts, calendar), embargo=embargo, bounds=cal_bounds,
                report=None, filled=np.concatenate([p.filled for p in parts.values()]), symbols=symbols,
                symbol_id=sid, calendar=calendar)
