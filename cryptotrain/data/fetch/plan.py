"""What a fetch has to download, given the output file that exists and the side file of a prepend.

Main file [F, L] (contiguous apart from the exchange's own gaps):
  prepend  [S, F)       when --since S < F. Collected in the side file `<name>.prepend-<S ms>.<ext>`
                        (S in the name: the exchange may have nothing in [S, first candle), and a
                        rerun must know that part was already asked), joined to the main file when
                        complete. A later run continues it when its --since is S or later (or
                        absent); an earlier --since starts a new one.
  append   [L + tf, until)
No main file: one job [S, until) into the main file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from cryptotrain.data.fetch.pages import Job, Segment
from cryptotrain.data.ohlcv import EXTENSIONS, load_ohlcv
from cryptotrain.data.timestamps import format_utc
from cryptotrain.errors import UserError

@dataclass
class Side:
    """An unfinished prepend: the range starts at `start` (ms); `df` holds what arrived (or None)."""

    start: int
    path: Path
    df: pd.DataFrame | None


def _split(path: Path) -> tuple[str, str]:
    name = path.name
    ext = next((e for e in EXTENSIONS if name.lower().endswith(e)), "")
    return name[: len(name) - len(ext)], name[len(name) - len(ext):]


def side_path(path: Path, start: int) -> Path:
    stem, ext = _split(path)
    return path.with_name(f"{stem}.prepend-{start}{ext}")


def find_side(path: Path, main: pd.DataFrame | None, since_ms: int | None, timeframe: str,
              say: Callable[[str], Any]) -> Side | None:
    """The prepend to run: an interrupted one to continue, a new one for --since < F, or None."""
    stem, ext = _split(path)
    pattern = re.compile(re.escape(stem) + r"\.prepend-(-?\d+)" + re.escape(ext))
    found = sorted((int(m.group(1)), p) for p in path.parent.glob(f"{stem}.prepend-*")
                   if (m := pattern.fullmatch(p.name)))
    chosen: Side | None = None
    for start, p in found:
        if main is not None and chosen is None and (since_ms is None or since_ms >= start):
            chosen = Side(start, p, load_ohlcv(p, timeframe)[0])
        else:
            say(f"note: discarding {p} (an interrupted prepend that this run does not continue)")
            p.unlink()
    if chosen is not None:
        return chosen
    if main is not None and since_ms is not None and since_ms < int(main["timestamp"].iloc[0]):
        return Side(since_ms, side_path(path, since_ms), None)
    return None


def check_range(path: Path, main: pd.DataFrame | None, since_ms: int | None, until_ms: int | None,
                tf_ms: int) -> None:
    """UserError for a request that has no start or would leave a hole in the existing file."""
    if main is None:
        if since_ms is None:
            raise UserError(f"{path} does not exist yet, so there is no end to continue from; "
                            "give --since, e.g. --since 2024-01-01")
        return
    first, last = int(main["timestamp"].iloc[0]), int(main["timestamp"].iloc[-1])
    if since_ms is not None and since_ms > last + tf_ms:
        raise UserError(f"--since {format_utc(since_ms)} is after the end of {path} ({format_utc(last)}), which would "
                        "leave a hole; omit --since to continue from the file's end, or use another --out")
    if until_ms is not None and until_ms < first and since_ms is not None and since_ms < first:
        raise UserError(f"--until {format_utc(until_ms)} is before the start of {path} ({format_utc(first)}), which "
                        "would leave a hole; use --until after the file's start, or another --out")


def plan_jobs(path: Path, fmt: str, main: pd.DataFrame | None, side: Side | None, since_ms: int | None,
              stop: int, **common: Any) -> list[Job]:
    """The jobs in order (prepend first); `common`: exchange, symbol, timeframe, tf_ms, now_ms, limit."""
    if main is None:
        return [Job(start=since_ms, stop=stop, segment=Segment(path, fmt), **common)]
    main_seg = Segment(path, fmt, main)
    jobs = []
    if side is not None:
        jobs.append(Job(start=side.start, stop=main_seg.first, segment=Segment(side.path, fmt, side.df),
                        anchor=main_seg.first, beyond=main_seg, **common))
    jobs.append(Job(start=main_seg.last + common["tf_ms"], stop=stop, segment=main_seg, anchor=main_seg.first,
                    **common))
    return jobs


def join_prepend(job: Job) -> Segment:
    """Side file + main file -> the new main file (written atomically), then remove the side file."""
    before, main = job.segment, job.beyond
    if len(before):
        main = Segment(main.path, main.fmt, pd.concat([before.frame(), main.frame()], ignore_index=True))
        main.dirty = True
        main.flush()
    before.path.unlink(missing_ok=True)
    return main


def expected_candles(job: Job) -> int:
    """Closed candles still to fetch in [start, stop) (a total for the progress bar; gaps make it rough)."""
    end = min(job.stop, job.now_ms - job.tf_ms + 1)
    start = job.start if not len(job.segment) or job.beyond is None else job.segment.last + job.tf_ms
    return max(0, -(-(end - start) // job.tf_ms))
