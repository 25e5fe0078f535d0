"""The walk-forward plan: which candles each fold trains, validates and tests on.

Rows 0..N-1 are the candles of the base config's data (after data.start / end / last_rows); for a
universe (data.universe) the open times of its union calendar, cut as universe_dataset.py cuts it, so
a fold's dates select every pair's candles in that time range (a pair not listed yet has none).
Fold k (0-based here, 1-based for the user) has

    test part   [s_k, e_k)          the decisions it scores; s_k = s_0 + k * step, e_k = s_k + test_span,
                                    cut at s_{k+1} (test parts never overlap) and at N - 1 - h (a label
                                    reads open[t + 1 + h])
    test split  [s_k - (T - 1), e_k + h + 1)   so that the first scored window ends at s_k and the last
                                    label is defined; the fold's data ends there (data.end)
    val part    [v_k, s_k - (T - 1))   val_span candles (or time) before the test split
    train part  [a_k, v_k)          sliding: train_span before v_k; expanding: a_k = a_0

and becomes an ordinary training config with data.start / data.end at its first and last row and
data.split.val_start / test_start at v_k and s_k - (T - 1), so `fit` fits the fold's normalizer and
label thresholds on the fold's training rows only and its embargo (data.split.embargo) drops the
last E window ends of the train and val parts. The layout is anchored at the first candle (or
first_test_start), so appending candles to the file adds folds and moves none.

Spans are candle counts, or durations mapped through the timestamps (gaps then shorten a part).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cryptotrain.config import Config, SplitConfig
from cryptotrain.data.dataset import build_dataset, iso_utc, trim_candles
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.universe_dataset import universe_files
from cryptotrain.data.timestamps import format_utc, ms_to_timeframe, parse_utc, timeframe_to_ms
from cryptotrain.errors import UserError

PARTS = ("train", "val", "test")


@dataclass
class Fold:
    fold: int                        # 1-based
    rows: dict[str, list[int]]       # part -> [first row, stop row) in the base data; "data": the fold's rows
    dates: dict[str, list[str]]      # part -> [first candle, last candle] (ISO UTC)
    first_ts: dict[str, int]         # part -> open time (ms) of its first candle
    last_ts: dict[str, int]          # part -> open time (ms) of its last candle
    windows: dict[str, int]          # part -> windows fit / score use
    data_sha256: str                 # of the fold's candle rows: what "same data" means for reuse

    def as_dict(self) -> dict:
        return asdict(self)


def span_rows(ts: np.ndarray, start: int, span, sign: int = 1, times: int = 1) -> int:
    """The row `times` x `span` candles (int) or that long (duration) after (sign 1) or before (-1)
    row `start` (times 0: `start` itself)."""
    if isinstance(span, int):
        return start + sign * times * span
    t0 = int(ts[start]) if start < len(ts) else int(ts[-1]) + int(np.median(np.diff(ts[-3:])))
    return int(np.searchsorted(ts, t0 + sign * times * timeframe_to_ms(span), side="left"))


def _length_ms(span, candle_ms: int) -> int:
    """A span in milliseconds: a count of candles of `candle_ms` each, or a duration."""
    return span * candle_ms if isinstance(span, int) else timeframe_to_ms(span)


def _check_step(wf, ts: np.ndarray) -> None:
    """A step shorter than the test span overlaps test parts, whether each is a count or a duration
    (a count is read at the data's candle length: 200 candles of 1h are 200h)."""
    if wf.step is None:
        return
    candle_ms = int(np.median(np.diff(ts))) if len(ts) > 1 else 1
    if _length_ms(wf.step, candle_ms) < _length_ms(wf.test_span, candle_ms):
        mixed = type(wf.step) is not type(wf.test_span)
        raise UserError(f"walkforward.step {wf.step} is shorter than test_span {wf.test_span}"
                        + (f" ({ms_to_timeframe(candle_ms)} candles)" if mixed else "")
                        + ": test parts would overlap; use step >= test_span")


def _required(cfg: Config) -> None:
    wf = cfg.walkforward
    missing = [k for k in ("train_span", "val_span", "test_span") if getattr(wf, k) is None]
    if missing:
        raise UserError(f"walkforward needs {', '.join('walkforward.' + k for k in missing)} in the config "
                        "(candle counts or durations such as 365d), e.g. --set walkforward.test_span=90d")


def resolve_wf_embargo(cfg: Config) -> int:
    need = cfg.labels.horizon + 1
    emb = cfg.walkforward.embargo
    if emb is None:
        return need
    if emb < need:
        raise UserError(f"walkforward.embargo = {emb} is below labels.horizon + 1 = {need}; set it >= {need} "
                        "or leave it unset")
    return int(emb)


def base_candles(cfg: Config) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The rows the folds are cut on and the candles they hash: one pair's candles (rows = candles), or
    for a universe the union calendar of its pairs (as universe_dataset cuts it: data.start / end per
    pair, data.last_rows of the calendar) and each pair's candles."""
    if cfg.data.universe is None:
        df, _ = load_ohlcv(cfg.data.path, cfg.data.timeframe, cfg.data.gap_policy)
        df = trim_candles(df, cfg.data.start, cfg.data.end, cfg.data.last_rows, str(cfg.data.path))
        return df, {"": df}
    pairs = {}
    for s, f in universe_files(cfg.data).items():
        df, _ = load_ohlcv(f, cfg.data.timeframe, cfg.data.gap_policy)
        pairs[s] = trim_candles(df, cfg.data.start, cfg.data.end, None, f)
    calendar = np.unique(np.concatenate([p["timestamp"].to_numpy(dtype=np.int64) for p in pairs.values()]))
    if cfg.data.last_rows is not None:
        calendar = calendar[-cfg.data.last_rows:]
    return pd.DataFrame({"timestamp": calendar}), pairs


def _rows_sha256(df: pd.DataFrame, pairs: dict[str, pd.DataFrame], lo: int, hi: int) -> str:
    """Of every pair's candles inside rows lo..hi - 1 of `df` (by time; one pair: those rows)."""
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    h = hashlib.sha256()
    for s, p in pairs.items():
        t = p["timestamp"].to_numpy(dtype=np.int64)
        block = p[(t >= ts[lo]) & (t <= ts[hi - 1])][["timestamp", "open", "high", "low", "close", "volume"]]
        h.update(s.encode())
        h.update(np.ascontiguousarray(block.to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()


def fold_config(cfg: Config, df: pd.DataFrame, rows: dict[str, list[int]], embargo: int) -> Config:
    """The fold as a training config: its data rows by date, its val / test starts, the embargo."""
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    out = cfg.model_copy(deep=True)
    lo, hi = rows["data"]
    out.data.start, out.data.end, out.data.last_rows = iso_utc(int(ts[lo])), iso_utc(int(ts[hi - 1]) + 1), None
    out.data.split = SplitConfig(**{**cfg.data.split.model_dump(), "val_start": iso_utc(int(ts[rows["val"][0]])),
                                    "test_start": iso_utc(int(ts[rows["val"][1]])), "embargo": embargo})
    return out


def _layout(cfg: Config, ts: np.ndarray) -> list[dict[str, list[int]]]:
    wf, T, h = cfg.walkforward, cfg.data.window, cfg.labels.horizon
    n = len(ts)
    step = wf.step if wf.step is not None else wf.test_span
    limit = n - 1 - h
    if wf.last_test_end is not None:
        limit = min(limit, int(np.searchsorted(ts, parse_utc(wf.last_test_end), side="left")))
    if wf.first_test_start is not None:
        s0 = int(np.searchsorted(ts, parse_utc(wf.first_test_start), side="left"))
        a0 = span_rows(ts, span_rows(ts, s0 - (T - 1), wf.val_span, -1), wf.train_span, -1)
    else:
        a0 = 0
        s0 = span_rows(ts, span_rows(ts, 0, wf.train_span), wf.val_span) + T - 1
    if a0 < 0 or s0 >= limit:
        need = f"train_span {wf.train_span} + val_span {wf.val_span} + window {T} - 1 + a test part + {h + 1} label candles"
        have = f"{n} candles ({format_utc(ts[0])} .. {format_utc(ts[-1])})" if n else "no candles"
        raise UserError(f"walkforward: too little data for the first fold: it needs {need}, the data has {have}"
                        + (f" and the first test start is row {s0}, training would start at row {a0}" if a0 < 0 else
                           f"; the first test part would start at row {s0}, past the last usable row {limit - 1}")
                        + "; use more data (data.start / last_rows) or shorter spans")
    folds = []
    for k in range(wf.max_folds or 10**9):
        s, s_next = span_rows(ts, s0, step, times=k), span_rows(ts, s0, step, times=k + 1)
        if s >= limit:
            break
        e = min(span_rows(ts, s, wf.test_span), s_next, limit)
        split_test = s - (T - 1)
        v = span_rows(ts, split_test, wf.val_span, -1)
        a = a0 if wf.mode == "expanding" else max(span_rows(ts, v, wf.train_span, -1), 0)
        folds.append({"train": [a, v], "val": [v, split_test], "test": [s, e], "data": [a, e + h + 1]})
    return folds


def make_plan(cfg: Config) -> tuple[list[Fold], list[Config], dict]:
    """The folds, their training configs, and the plan's header (what plan.json holds besides the folds)."""
    _required(cfg)
    wf = cfg.walkforward
    embargo = resolve_wf_embargo(cfg)
    df, pairs = base_candles(cfg)
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    _check_step(wf, ts)
    folds, configs = [], []
    for k, rows in enumerate(_layout(cfg, ts), start=1):
        fcfg = fold_config(cfg, df, rows, embargo)
        if cfg.walkforward.warm_start and k > 1 and cfg.walkforward.warm_epochs is not None:
            fcfg.train.epochs = cfg.walkforward.warm_epochs
        try:
            ds = build_dataset(fcfg)
        except UserError as err:
            raise UserError(f"walkforward fold {k}: {err}") from None
        windows = {p: int(len(ds.splits[p])) for p in PARTS}
        first = {p: int(ts[rows[p][0]]) for p in PARTS}
        last = {p: int(ts[rows[p][1] - 1]) for p in PARTS}
        folds.append(Fold(fold=k, rows=rows, dates={p: [format_utc(first[p]), format_utc(last[p])] for p in PARTS},
                          first_ts=first, last_ts=last, windows=windows,
                          data_sha256=_rows_sha256(df, pairs, *rows["data"])))
        configs.append(fcfg)
    data = str(cfg.data.path) if cfg.data.universe is None else f"{len(pairs)} pairs ({', '.join(pairs)})"
    header = {"data": data, "rows": int(len(ts)), "first_ts": int(ts[0]), "last_ts": int(ts[-1]),
              "mode": wf.mode, "embargo": embargo, "window": cfg.data.window, "horizon": cfg.labels.horizon,
              "spans": {k: getattr(wf, k) for k in ("train_span", "val_span", "test_span")},
              "step": wf.step if wf.step is not None else wf.test_span}
    return folds, configs, header

