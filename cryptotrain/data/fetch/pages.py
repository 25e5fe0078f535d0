"""Pages of candles: check each page, merge it into what is stored, and the pagination loop.

The loop asks for `limit` candles from `since = cursor` and moves the cursor to one interval
after the last candle actually received, so a short page (a server that caps the page below
`limit`, a gap, an overlap) never skips anything. It stops when the cursor reaches the end of
the range or the still-open candle (`cursor + tf > now`, now being the exchange's clock).
An empty page before that is asked again (`empty_page_attempts`); only when it stays empty is
the window [cursor, cursor + limit * tf) taken as a real hole and skipped. Candles are never
invented: gaps are whatever the exchange does not return, and are reported at the end.

`Segment` holds one contiguous run of candles in memory and rewrites its file atomically
(`write_ohlcv`) every few pages, so the file on disk is always valid and gap-free apart from
the exchange's own gaps.
"""

from __future__ import annotations

import numbers
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from cryptotrain.data.fetch.retry import BadPage, FetchSettings, Retrier
from cryptotrain.data.ohlcv import COLUMNS, validate_ohlcv_frame, write_ohlcv
from cryptotrain.data.timestamps import format_utc
from cryptotrain.errors import UserError


# ------------------------------------------------------------------------ one page
def page_frame(raw: Any, tf_ms: int, anchor: int | None) -> tuple[pd.DataFrame, int]:
    """ccxt's [[ts, o, h, l, c, v], ...] -> (checked frame sorted by ts, identical repeats dropped).

    Raises BadPage on wrong types, unsorted timestamps, timestamps off the interval grid
    (`(ts - anchor) % tf_ms != 0`), bad prices or OHLC, or two different candles for one ts.
    """
    if not isinstance(raw, list):
        raise BadPage(f"expected a list of candles, got {type(raw).__name__}")
    for row in raw:
        if not isinstance(row, (list, tuple)) or len(row) < 6:
            raise BadPage(f"malformed candle {str(row)[:80]}")
        if isinstance(row[0], bool) or not isinstance(row[0], numbers.Real) or row[0] != int(row[0]):
            raise BadPage(f"malformed timestamp {row[0]!r}")
        if any(v is None or isinstance(v, bool) or not isinstance(v, numbers.Real) for v in row[1:6]):
            raise BadPage(f"non-numeric value in candle {str(row[:6])[:80]}")
    if not raw:
        return pd.DataFrame({c: np.empty(0, np.int64 if c == "timestamp" else np.float64) for c in COLUMNS}), 0
    frame = pd.DataFrame([list(r[:6]) for r in raw], columns=COLUMNS)
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    if np.any(np.diff(ts) < 0):
        raise BadPage("timestamps are not in order")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # identical repeats are counted below, not warned about
            clean = validate_ohlcv_frame(frame, source="page")
    except UserError as err:
        raise BadPage(str(err)) from None
    ts = clean["timestamp"].to_numpy()
    ref = int(ts[0]) if anchor is None else anchor
    off = (ts - ref) % tf_ms != 0
    if off.any():
        raise BadPage(f"candle at {format_utc(int(ts[np.argmax(off)]))} is off the {tf_ms} ms grid")
    return clean, len(frame) - len(clean)


# ------------------------------------------------------------------------ stored run
class Segment:
    """A contiguous run of candles and the file it is written to.

    ts (N,) int64 sorted unique; vals (N, 5) float64 open, high, low, close, volume.
    """

    def __init__(self, path: Path, fmt: str, df: pd.DataFrame | None = None):
        self.path, self.fmt = Path(path), fmt
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        if df is not None and len(df):
            self._parts.append((df["timestamp"].to_numpy(np.int64), df[COLUMNS[1:]].to_numpy(np.float64)))
        self.dirty = False
        self.added = 0        # candles added in this run

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._parts) != 1:
            ts = np.concatenate([p[0] for p in self._parts]) if self._parts else np.empty(0, np.int64)
            vals = np.concatenate([p[1] for p in self._parts]) if self._parts else np.empty((0, 5))
            self._parts = [(ts, vals)]
        return self._parts[0]

    def __len__(self) -> int:
        return sum(len(p[0]) for p in self._parts)

    @property
    def first(self) -> int | None:
        return int(self._parts[0][0][0]) if len(self) else None

    @property
    def last(self) -> int | None:
        return int(self._parts[-1][0][-1]) if len(self) else None

    def frame(self) -> pd.DataFrame:
        ts, vals = self._arrays()
        return pd.DataFrame({"timestamp": ts, **{c: vals[:, i] for i, c in enumerate(COLUMNS[1:])}})

    def known(self, page: pd.DataFrame) -> np.ndarray:
        """(P,) bool: which page candles are already stored. BadPage if one differs from the stored one."""
        pts = page["timestamp"].to_numpy(np.int64)
        if not len(self) or not len(pts) or pts[-1] < self.first or pts[0] > self.last:
            return np.zeros(len(pts), bool)
        ts, vals = self._arrays()
        pos = np.clip(np.searchsorted(ts, pts), 0, len(ts) - 1)
        hit = ts[pos] == pts
        new_vals = page[COLUMNS[1:]].to_numpy(np.float64)
        differ = hit & ~np.all(np.isclose(vals[pos], new_vals, rtol=1e-9, atol=0.0), axis=1)
        if differ.any():
            i = int(np.argmax(differ))
            raise BadPage(f"conflicting duplicate candle at {format_utc(int(pts[i]))}: stored "
                          f"{vals[pos[i]].tolist()}, exchange now sends {new_vals[i].tolist()}")
        return hit

    def merge(self, page: pd.DataFrame) -> int:
        """Add the page's new candles (identical ones already stored are skipped) -> number added."""
        new = page[~self.known(page)]
        if not len(new):
            return 0
        nts, nvals = new["timestamp"].to_numpy(np.int64), new[COLUMNS[1:]].to_numpy(np.float64)
        if len(self) and nts[0] <= self.last:  # rare: fills a hole behind the cursor; re-sort everything
            ts, vals = self._arrays()
            ts, vals = np.concatenate([ts, nts]), np.concatenate([vals, nvals])
            order = np.argsort(ts, kind="stable")
            self._parts = [(ts[order], vals[order])]
        else:
            self._parts.append((nts, nvals))
        self.dirty, self.added = True, self.added + len(nts)
        return len(nts)

    def flush(self) -> None:
        """Rewrite the file atomically if anything changed since the last write."""
        if self.dirty and len(self):
            write_ohlcv(self.frame(), self.path, self.fmt)
            self.dirty = False


# ------------------------------------------------------------------------ the loop
@dataclass
class Job:
    """Fetch candles with start <= ts < stop, closed before `now_ms`, into `segment`.

    `beyond`: a segment that already holds the candles from `stop` on (prepend); page candles
    there are checked against it and not stored again.
    """

    exchange: Any
    symbol: str
    timeframe: str
    tf_ms: int
    start: int
    stop: int
    now_ms: int
    limit: int
    segment: Segment
    anchor: int | None = None     # a candle open time: every candle is anchor + k * tf_ms
    beyond: Segment | None = None
    duplicates: int = 0           # identical repeated candles dropped from pages


def fetch_range(job: Job, retrier: Retrier, settings: FetchSettings,
                progress: Callable[[int, int, bool], None]) -> int:
    """Page through [job.start, job.stop) -> last cursor. progress(new_candles, cursor, wrote)."""
    tf, seg = job.tf_ms, job.segment
    cursor, pages, last_write = job.start, 0, time.monotonic()
    if len(seg) and seg.last >= job.start:  # resuming an interrupted prepend from its side file
        cursor = seg.last + tf
    while cursor < job.stop and cursor + tf <= job.now_ms:
        page = _ask(job, retrier, settings, cursor)
        pts = page["timestamp"].to_numpy(np.int64)
        ahead = pts[pts >= cursor]
        if len(ahead):
            cursor = int(ahead[-1]) + tf
        else:  # stayed empty after empty_page_attempts: the exchange has nothing in this window
            cursor += job.limit * tf
        added = seg.merge(page[(pts >= job.start) & (pts < job.stop) & (pts + tf <= job.now_ms)])
        pages += 1
        wrote = False
        if pages % settings.pages_per_write == 0 or time.monotonic() - last_write >= settings.write_every_s:
            seg.flush()
            wrote, last_write = True, time.monotonic()
        progress(added, min(cursor, job.stop), wrote)
    seg.flush()
    return cursor


def _ask(job: Job, retrier: Retrier, settings: FetchSettings, cursor: int) -> pd.DataFrame:
    """One checked page from `cursor`; an empty one is asked again up to empty_page_attempts times."""
    what = f"candles from {format_utc(cursor)}"
    for attempt in range(1, settings.empty_page_attempts + 1):
        page = retrier.call(lambda: _page(job, cursor), what)
        pts = page["timestamp"].to_numpy(np.int64)
        if (pts >= cursor).any() or attempt == settings.empty_page_attempts:
            return page
        retrier.pause(attempt, BadPage("empty page before the end of the range"), what,
                      settings.empty_page_attempts)
    raise AssertionError("unreachable")


def _page(job: Job, cursor: int) -> pd.DataFrame:
    try:
        raw = job.exchange.fetch_ohlcv(job.symbol, job.timeframe, since=cursor, limit=job.limit)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as err:
        # ccxt parsing a malformed body it did not recognise as an error
        raise BadPage(f"malformed response ({type(err).__name__}: {err})") from None
    page, repeats = page_frame(raw, job.tf_ms, job.anchor)
    # a candle that contradicts a stored one: ask again (BadPage)
    job.segment.known(page)
    if job.beyond is not None:
        job.beyond.known(page)
    job.duplicates += repeats
    if job.anchor is None and len(page):
        job.anchor = int(page["timestamp"].iloc[0])
    return page
