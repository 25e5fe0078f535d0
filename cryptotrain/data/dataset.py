"""The training dataset: candles -> features, labels, splits, normalizer and batched windows.

Every candle row of the (trimmed) file is kept, aligned across all arrays; warm-up rows keep
NaN features and are simply never part of a window. `splits[name]` lists the rows t that
end a valid window of that split (see splits.py for the rules: window inside the split,
embargo, no gap, no warm-up, defined label). A window is gathered only when a batch asks
for it, by fancy indexing: x = features[idx[:, None] + arange(-T + 1, 1)]; the (M, T, F)
array of all windows is never built.

Shapes: N candles, F features, T window, B batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cryptotrain.config import Config, SplitConfig
from cryptotrain.data.labels import action_labels, label_thresholds
from cryptotrain.data.normalize import Normalizer, check_normalizer
from cryptotrain.data.ohlcv import OhlcvReport, load_ohlcv
from cryptotrain.data.pair_data import file_sha256, pair_arrays, trim_candles
from cryptotrain.data.splits import SPLITS, check_nonempty, resolve_embargo, rows_used, split_bounds, window_ends
from cryptotrain.data.universe_dataset import build_universe, universe_files

__all__ = ["Dataset", "Normalizer", "build_dataset", "file_sha256", "iso_utc", "pin_data_range", "trim_candles"]


@dataclass
class Dataset:
    timestamps: np.ndarray        # (N,) int64 ms, candle open time
    open: np.ndarray              # (N,) float64
    high: np.ndarray              # (N,)
    low: np.ndarray               # (N,)
    close: np.ndarray             # (N,)
    volume: np.ndarray            # (N,)
    features: np.ndarray          # (N, F) normalized, float32 (float64 if model.dtype is float64); NaN in warm-up
    feature_names: list[str]
    action: np.ndarray            # (N,) int64 in {0 sell, 1 hold, 2 buy}, -1 undefined
    confidence: np.ndarray        # (N,) float64 in [0, 1), NaN undefined
    ret: np.ndarray               # (N,) float64 r_t = open[t+1+h] / open[t+1] - 1, NaN undefined
    splits: dict[str, np.ndarray]  # "train", "val", "test" -> (M,) int64 rows t ending a valid window
    normalizer: Normalizer
    thresholds: tuple[float, float]  # (lo, hi): sell if r_t < lo, buy if r_t > hi
    window: int                   # T
    horizon: int                  # h
    timeframe: str
    fingerprint: dict             # path, rows, first_ts, last_ts, sha256
    embargo: int = 0              # rows between splits (>= h + 1)
    bounds: dict[str, tuple[int, int]] = field(default_factory=dict)  # split -> row range [start, stop)
    report: OhlcvReport | None = None
    filled: np.ndarray | None = None  # (N,) bool: candle inserted by gap_policy ffill (no label fills at its open)
    # a universe (data.universe): the arrays above are the pairs' arrays one after the other, so a
    # row is a (pair, time); splits are sorted by time, then symbol; bounds are rows of the calendar
    symbols: list[str] | None = None   # (P,) the run's pairs, as in data.universe (index = symbol id)
    symbol_id: np.ndarray | None = None  # (N,) int64 index into symbols of each row
    calendar: np.ndarray | None = None  # (C,) int64 ms: the union of the pairs' open times

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    @property
    def data_range(self) -> dict[str, int | None]:
        """Open times (ms) of the first and last row kept and of the first val and test rows.

        Stored in checkpoints so that evaluate rebuilds exactly these rows and splits
        (`pin_data_range`), whatever was prepended or appended to the file since.
        """
        ts = self.timestamps if self.calendar is None else self.calendar
        n = len(ts)
        first = {k: self.bounds[k][0] if k in self.bounds else n for k in ("val", "test")}
        return {"start_ts": int(ts[0]), "end_ts": int(ts[-1]),
                "val_start_ts": int(ts[first["val"]]) if first["val"] < n else None,
                "test_start_ts": int(ts[first["test"]]) if first["test"] < n else None}

    def batch(self, idx: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Windows ending at rows `idx` -> x (B, T, F) and targets {"action", "confidence", "return"} (B,),
        and of a universe "pair" (B,), the symbol ids (the model's symbol embedding reads them)."""
        idx = np.asarray(idx, dtype=np.int64)
        x = self.features[idx[:, None] + np.arange(-self.window + 1, 1)]  # (B, T, F)
        dt = self.features.dtype
        pair = {} if self.symbol_id is None else {"pair": self.symbol_id[idx]}
        return x, {"action": self.action[idx], "confidence": self.confidence[idx].astype(dt),
                   "return": self.ret[idx].astype(dt), **pair}


def iso_utc(ms: int) -> str:
    """int ms -> ISO datetime that `parse_utc` reads back exactly (milliseconds only when not 0)."""
    return pd.Timestamp(int(ms), unit="ms").isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def pin_data_range(cfg: Config, data_range: dict) -> Config:
    """A copy of `cfg` whose trimming and date splits reproduce `data_range` (Dataset.data_range).

    data.start / end keep the rows start_ts .. end_ts (end is exclusive: end_ts + 1 ms),
    last_rows is dropped, and val / test start at the stored timestamps. On an unchanged file
    this gives the same rows and splits as the fractions or dates the run was configured with;
    on a file that grew, the same time range.
    """
    cfg = cfg.model_copy(deep=True)
    cfg.data.start, cfg.data.end = iso_utc(data_range["start_ts"]), iso_utc(data_range["end_ts"] + 1)
    cfg.data.last_rows = None
    cfg.data.split = SplitConfig(**{**cfg.data.split.model_dump(), "val_start": iso_utc(data_range["val_start_ts"]),
                                    "test_start": iso_utc(data_range["test_start_ts"])})
    return cfg


def build_dataset(cfg: Config, *, path: str | None = None, normalizer: Normalizer | None = None,
                  thresholds: tuple | None = None, require: tuple[str, ...] | None = None,
                  files: dict[str, str] | None = None) -> Dataset:
    """Load `path` (default cfg.data.path) and build features, labels, splits and the normalizer.

    A given `normalizer` / `thresholds` (evaluation on other data, resume) is used as is, never refitted.
    `require`: the splits that must have at least one window (default all three; the training
    split always when the normalizer or thresholds are fitted here). Evaluation asks only for
    the split it scores, so a newer file that lies entirely after the training dates works.
    A config with data.universe builds the universe (universe_dataset.py) of `files` ({symbol: file},
    default every pair of data.dir / data.paths); `path` is then not used.
    """
    dtype = np.float64 if cfg.model.dtype == "float64" else np.float32
    need = SPLITS if require is None else tuple(require)
    if (normalizer is None or thresholds is None) and "train" not in need:
        need = ("train", *need)
    if cfg.data.universe is not None:
        return Dataset(**build_universe(cfg, files or universe_files(cfg.data), normalizer, thresholds, need, dtype))
    dcfg, T = cfg.data, cfg.data.window
    src = str(path if path is not None else dcfg.path)
    embargo = resolve_embargo(cfg)
    df, report = load_ohlcv(src, dcfg.timeframe, dcfg.gap_policy)
    p = pair_arrays(cfg, trim_candles(df, dcfg.start, dcfg.end, dcfg.last_rows, src), report, dtype)
    ts, X, names, ret = p.timestamps, p.X, p.names, p.ret

    bounds = split_bounds(ts, cfg)
    ends = window_ends(bounds, p.ok, T, embargo)
    check_nonempty(ends, bounds, ts, T, embargo, src, need)

    if normalizer is None:
        normalizer = Normalizer.fit(X[rows_used(ends["train"], T, len(ts))], cfg.features.normalizer)
    else:
        check_normalizer(normalizer, names)
    if thresholds is None:
        thresholds = label_thresholds(ret[ends["train"]], cfg.labels, cfg.backtest)
    lo, hi = (float(v) for v in thresholds)

    fingerprint = {"path": src, "rows": int(len(ts)), "first_ts": int(ts[0]), "last_ts": int(ts[-1]),
                   "sha256": file_sha256(src)}
    df = p.df
    return Dataset(
        timestamps=ts, open=df["open"].to_numpy(), high=df["high"].to_numpy(), low=df["low"].to_numpy(),
        close=df["close"].to_numpy(), volume=df["volume"].to_numpy(),
        features=np.ascontiguousarray(normalizer.transform(X), dtype=dtype), feature_names=names,
        action=action_labels(ret, lo, hi), confidence=p.conf,
        ret=ret, splits={k: ends[k] for k in SPLITS}, normalizer=normalizer, thresholds=(lo, hi), window=T,
        horizon=cfg.labels.horizon, timeframe=report.timeframe, fingerprint=fingerprint, embargo=embargo,
        bounds=bounds, report=report, filled=p.filled)
