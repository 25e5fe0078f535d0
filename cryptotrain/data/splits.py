"""Chronological train / val / test splits, the embargo between them, and valid window ends.

Rows 0..N-1 are cut into three contiguous ranges, by fractions of rows (data.split.train,
.val) or by dates (data.split.val_start, .test_start: the first candle at or after each).
A window of T rows ending at t belongs to split S = [start, stop) only if

  * all T rows lie in S:                 t - T + 1 >= start
  * the embargo E keeps its label in S:  t <= stop - 1 - E   (train and val; E >= h + 1, so
                                          the last row a label reads, t + 1 + h, is < stop)
  * all T rows are finite feature rows (past the warm-up) and in one contiguous segment
    (no gap inside the window), and the label r_t is defined.

Between the last training decision and the first validation decision there are therefore
E + T - 1 rows that neither uses for its decision.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import Config
from cryptotrain.data.timestamps import format_utc, parse_utc
from cryptotrain.errors import UserError

SPLITS = ("train", "val", "test")


def resolve_embargo(cfg: Config) -> int:
    """data.split.embargo, defaulting to labels.horizon + 1; smaller than h + 1 is an error."""
    need = cfg.labels.horizon + 1
    emb = cfg.data.split.embargo
    if emb is None:
        return need
    if emb < need:
        raise UserError(f"data.split.embargo = {emb} is below labels.horizon + 1 = {need}, so training labels "
                        f"would read validation candles; set data.split.embargo >= {need} or leave it unset")
    return int(emb)


def split_bounds(ts: np.ndarray, cfg: Config) -> dict[str, tuple[int, int]]:
    """{"train": (0, a), "val": (a, b), "test": (b, N)} row ranges."""
    n, sc = len(ts), cfg.data.split
    if sc.val_start is not None:
        v, t = parse_utc(sc.val_start), parse_utc(sc.test_start)
        if v >= t:
            raise UserError(f"data.split.val_start ({sc.val_start}) must be before test_start ({sc.test_start})")
        a, b = (int(np.searchsorted(ts, x, side="left")) for x in (v, t))
    else:
        a = int(np.floor(sc.train * n))
        b = int(np.floor((sc.train + sc.val) * n))
    return {"train": (0, a), "val": (a, b), "test": (b, n)}


def window_ok(finite_rows: np.ndarray, segment: np.ndarray, window: int) -> np.ndarray:
    """(N,) bool: rows t-T+1..t exist, are all finite and lie in one segment."""
    n = len(finite_rows)
    ok = np.zeros(n, dtype=bool)
    if n < window:
        return ok
    cum_bad = np.r_[0, np.cumsum(~finite_rows)]
    t = np.arange(window - 1, n)
    ok[t] = (cum_bad[t + 1] - cum_bad[t + 1 - window] == 0) & (segment[t] == segment[t + 1 - window])
    return ok


def window_ends(bounds: dict[str, tuple[int, int]], ok: np.ndarray, window: int,
                embargo: int) -> dict[str, np.ndarray]:
    """{split: int64 rows t} of valid window ends (`ok` already covers warm-up, gaps and labels)."""
    out = {}
    for name, (start, stop) in bounds.items():
        last = stop - 1 - (embargo if name != "test" else 0)
        t = np.arange(start + window - 1, last + 1, dtype=np.int64)
        out[name] = t[ok[t]] if len(t) else t
    return out


def rows_used(ends: np.ndarray, window: int, n: int) -> np.ndarray:
    """(N,) bool: rows that appear in at least one window ending at `ends`."""
    diff = np.bincount(ends - window + 1, minlength=n + 1) - np.bincount(ends + 1, minlength=n + 1)
    return np.cumsum(diff[:n]) > 0


def check_nonempty(ends: dict[str, np.ndarray], bounds: dict[str, tuple[int, int]], ts: np.ndarray,
                   window: int, embargo: int, source: str, names: tuple[str, ...] = SPLITS) -> None:
    """UserError naming the numbers when one of the splits `names` has no window."""
    for name in names:
        if len(ends[name]) == 0:
            start, stop = bounds[name]
            span = (f"{format_utc(ts[start])} .. {format_utc(ts[stop - 1])}" if stop > start else "empty")
            raise UserError(
                f"{source}: {len(ts)} candles give 0 {name} windows ({name} rows {start}..{stop - 1}: {stop - start} "
                f"rows, {span}; window {window}, embargo {embargo}, plus feature warm-up and gaps); use more data "
                "(data.start/end/last_rows), a smaller data.window or other data.split settings")
