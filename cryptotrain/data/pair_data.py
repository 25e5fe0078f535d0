"""One pair's candles -> everything computed from them alone: features, segments, labels, valid windows.

Shared by the single-file dataset and the universe (dataset.py, universe_dataset.py): the
splits, the normalizer and the label thresholds come after, from all the data of a run.
Shapes: N candles of the pair, F features, T window.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.config import Config
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.labels import confidence_target, forward_returns
from cryptotrain.data.ohlcv import OhlcvReport, segment_ids
from cryptotrain.data.splits import window_ok
from cryptotrain.data.timestamps import format_utc, parse_utc
from cryptotrain.errors import UserError


@dataclass
class PairArrays:
    df: pd.DataFrame          # the trimmed candles
    report: OhlcvReport
    timestamps: np.ndarray    # (N,) int64 ms
    X: np.ndarray             # (N, F) raw features of `dtype`, NaN in warm-up
    names: list[str]
    filled: np.ndarray        # (N,) bool: inserted by gap_policy ffill
    ret: np.ndarray           # (N,) r_t, NaN undefined
    conf: np.ndarray          # (N,) confidence target, NaN undefined
    ok: np.ndarray            # (N,) bool: row t ends a complete window (warm-up, gaps, label)


def pair_arrays(cfg: Config, df: pd.DataFrame, report: OhlcvReport, dtype) -> PairArrays:
    """Features, segments, labels and window validity of one pair's trimmed candles."""
    h, T = cfg.labels.horizon, cfg.data.window
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    o, c = df["open"].to_numpy(), df["close"].to_numpy()
    X, names = compute_features(df, cfg.features, report.timeframe_ms, dtype=dtype)
    seg = segment_ids(ts, report.timeframe_ms)
    filled = filled_candles(ts, report)
    ret = forward_returns(o, h, segment=seg, filled=filled)
    conf = confidence_target(ret, c, cfg.labels, segment=seg)
    ok = window_ok(np.isfinite(X).all(axis=1), seg, T) & np.isfinite(ret) & np.isfinite(conf)
    return PairArrays(df, report, ts, X, names, filled, ret, conf, ok)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def trim_candles(df: pd.DataFrame, start: str | None, end: str | None, last_rows: int | None,
                 source: str = "data") -> pd.DataFrame:
    """Keep candles with start <= timestamp < end, then the last `last_rows` of them."""
    ts = df["timestamp"].to_numpy()
    keep = np.ones(len(df), dtype=bool)
    for key, text in (("start", start), ("end", end)):
        if text is not None:
            try:
                bound = parse_utc(text)
            except UserError as err:
                raise UserError(f"data.{key}: {err}") from None
            keep &= ts >= bound if key == "start" else ts < bound
    out = df[keep]
    if last_rows is not None:
        out = out.iloc[-last_rows:]
    if len(out) == 0:
        raise UserError(f"{source}: data.start={start} / data.end={end} keep no candles (the file covers "
                        f"{format_utc(ts[0])} .. {format_utc(ts[-1])}); change data.start / data.end")
    return out.reset_index(drop=True)


def filled_candles(ts: np.ndarray, report: OhlcvReport) -> np.ndarray:
    """(N,) bool: rows whose timestamp load_ohlcv inserted for a gap (report.filled > 0 only with ffill)."""
    if not report.filled or not report.gaps:
        return np.zeros(len(ts), dtype=bool)
    tf = report.timeframe_ms
    inserted = np.concatenate([last + tf * np.arange(1, n + 1, dtype=np.int64) for last, n in report.gaps])
    return np.isin(ts, inserted)
