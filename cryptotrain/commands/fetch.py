"""`cryptotrain fetch`: download candles through ccxt into a file that is exactly the exchange's history.

Order of work: check every argument that needs no network (format, dates, exchange, timeframe,
output path) -> load the markets and check the symbol -> ask the exchange's clock -> fetch.

What is fetched, given the existing output file [F, L] (if any; details in data/fetch/plan.py):
  prepend  [since, F)      when --since is before the file's start; collected in a side file
                           (so the main file stays contiguous) and joined to it when complete
  append   [L + tf, until) (--since defaults to L + tf; --until to the exchange's now)
Only closed candles are kept (open time + tf <= now). The file is rewritten atomically every few
pages, so after Ctrl-C or kill -9 it holds a contiguous prefix and a rerun continues from it.
Pages, retries and checks: data/fetch/pages.py, data/fetch/retry.py; ccxt set-up: data/fetch/exchange.py.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import ccxt
from rich.console import Console

from cryptotrain.data.fetch.exchange import (check_symbol, check_timeframe, load_exchange_config, make_exchange,
                                       page_limit)
from cryptotrain.data.fetch.pages import Job, Segment, fetch_range
from cryptotrain.data.fetch.plan import check_range, expected_candles, find_side, join_prepend, plan_jobs
from cryptotrain.report.fetch_progress import FetchProgress
from cryptotrain.data.fetch.retry import FetchSettings, Retrier, RetriesExhausted
from cryptotrain.data.ohlcv import FORMATS, find_gaps, load_ohlcv, symbol_slug
from cryptotrain.data.timestamps import format_utc, parse_utc
from cryptotrain.errors import RunFailure, UserError

@dataclass
class FetchResult:
    """What a fetch did. gaps: (last open time before the hole, missing candles) in the file within the
    requested range (--since .. --until; the whole file without --since), whichever run fetched them."""

    path: Path
    rows: int
    added: int
    requests: int
    retries: int
    duplicates: int
    first_ts: Optional[int]
    last_ts: Optional[int]
    gaps: list[tuple[int, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fetch_command(*, exchange: str, symbol: str, timeframe: str, since: str | None = None,
                  until: str | None = None, out: Path | None = None, fmt: str = "parquet",
                  exchange_config: Path | None = None, console: Console | None = None) -> FetchResult:
    """Download `symbol` candles from `exchange` into `out`; see the module docstring."""
    console = console or Console(highlight=False)
    fmt = _check_format(fmt, out)
    since_ms = parse_utc(since) if since else None
    until_ms = parse_utc(until) if until else None
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise UserError(f"--since {since} is not before --until {until}; give a start earlier than the end")
    cfg, settings, redact = load_exchange_config(exchange_config)
    ex = make_exchange(exchange, cfg, redact)
    tf_ms = check_timeframe(ex, timeframe)
    path = Path(out) if out else Path("data") / ex.id / f"{symbol_slug(symbol)}-{timeframe}.{fmt}"
    _check_writable(path)
    main = load_ohlcv(path, timeframe)[0] if path.exists() else None
    check_range(path, main, since_ms, until_ms, tf_ms)
    plain = functools.partial(console.print, markup=False)   # exchange texts may hold [brackets]
    side = find_side(path, main, since_ms, timeframe, plain)
    resume = _resume_hint(exchange, symbol, timeframe, since, until, path, exchange_config)

    say: list[Any] = [plain]  # where retry messages go: the console, then the progress bar
    retrier = Retrier(ex, settings, on_retry=lambda k, n, d, err, what: say[-1](
        redact(f"retry {k}/{n - 1} in {d:.2f} s: {what}: {type(err).__name__}: {str(err)[:200]}")))
    market = _load_markets(ex, symbol, retrier, settings, redact)
    now = _exchange_now(ex, retrier, redact)
    stop = min(until_ms, now) if until_ms is not None else now
    if main is None and since_ms + tf_ms > now:
        raise UserError(f"--since {format_utc(since_ms)} is not before the exchange's current time "
                        f"({format_utc(now)}), so there is no closed candle to fetch; give an earlier --since")
    limit = page_limit(ex, market, settings)
    jobs = plan_jobs(path, fmt, main, side, since_ms, stop, exchange=ex, symbol=market["symbol"],
                     timeframe=timeframe, tf_ms=tf_ms, now_ms=now, limit=limit)
    expected = sum(expected_candles(j) for j in jobs)

    seg: Segment | None = None
    try:
        with FetchProgress(console, expected, redact, lambda: (retrier.requests, retrier.retries),
                           format_utc) as bar:
            say.append(bar.note)
            for job in jobs:
                seg = job.segment
                fetch_range(job, retrier, settings, bar.update)
                if job.beyond is not None:  # prepend complete: join the side file to the main file
                    seg = jobs[-1].segment = join_prepend(job)
    except RetriesExhausted as err:
        _flush(seg)
        lost = f"lost contact with {ex.id}: " if isinstance(err.last, ccxt.NetworkError) else ""
        raise RunFailure(redact(f"{lost}{err}. {_kept(seg, path)} Run the same command again to resume: {resume}")) from None
    except KeyboardInterrupt:
        _flush(seg)
        raise RunFailure(f"interrupted. {_kept(seg, path)} Run the same command again to resume: {resume}") from None
    except ccxt.BaseError as err:
        _flush(seg)
        raise RunFailure(redact(f"{ex.id} answered with an error: {type(err).__name__}: {str(err)[:300]}. "
                                f"{_kept(seg, path)} Fix the cause and rerun: {resume}")) from None
    return _summary(console, path, jobs, retrier, bar.fetched, since_ms)


# ---------------------------------------------------------------------- argument checks
def _check_format(fmt: str, out: Path | None) -> str:
    fmt = str(fmt).strip().lower()
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r} is not supported; use parquet or csv")
    if out is not None:
        name = Path(out).name.lower()
        kinds = [k for k, exts in FORMATS.items() if name.endswith(exts)]
        if not kinds:
            raise UserError(f"--out {out}: name must end with .parquet, .csv or .csv.gz, so the format can be read back")
        return kinds[0]  # the file name decides when --out is given
    return fmt


def _check_writable(path: Path) -> None:
    """Refuse an output that cannot be written, creating nothing: directories are made by the first write."""
    if path.is_dir():
        raise UserError(f"--out {path} is a directory; give a file name, e.g. {path / 'BTC_USDT-1h.parquet'}")
    base = next(p for p in path.absolute().parents if p.exists())  # the directory the first write creates under
    if not base.is_dir():
        raise UserError(f"output {path} is not writable: {base} is a file, not a directory; choose another --out")
    try:
        with tempfile.NamedTemporaryFile(dir=base, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as err:
        raise UserError(f"output {path} is not writable ({err.strerror or err}); choose another --out") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"output {path} is read-only; make it writable or choose another --out")
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed run's atomic write
        stale.unlink(missing_ok=True)


def _resume_hint(exchange, symbol, timeframe, since, until, path, exchange_config) -> str:
    parts = ["cryptotrain fetch", f"--exchange {exchange}", f"--symbol {symbol}", f"--timeframe {timeframe}"]
    parts += [f"--since {since}"] if since else []
    parts += [f"--until {until}"] if until else []
    parts += [f"--out {path}"] + ([f"--exchange-config {exchange_config}"] if exchange_config else [])
    return " ".join(parts)


# ---------------------------------------------------------------------- network set-up
def _load_markets(ex: ccxt.Exchange, symbol: str, retrier: Retrier, settings: FetchSettings, redact) -> dict:
    attempts = settings.max_attempts
    retrier.settings = settings.model_copy(update={"max_attempts": min(attempts, settings.connect_attempts)})
    try:
        retrier.call(ex.load_markets, f"loading the {ex.id} markets")
    except RetriesExhausted as err:
        raise RunFailure(redact(f"could not reach the exchange {ex.id}: {type(err.last).__name__}: "
                                f"{str(err.last)[:200]}; check the network connection (or the URLs in "
                                "--exchange-config) and try again. Nothing was written.")) from None
    except ccxt.BaseError as err:
        raise RunFailure(redact(f"{ex.id} answered with an error while listing its markets: "
                                f"{type(err).__name__}: {str(err)[:200]}. Nothing was written.")) from None
    finally:
        retrier.settings = settings
    return check_symbol(ex, symbol)


def _exchange_now(ex: ccxt.Exchange, retrier: Retrier, redact) -> int:
    """The exchange's clock (fetchTime) when it has one, else ours: it decides which candle is still open."""
    if ex.has.get("fetchTime"):
        try:
            t = retrier.call(ex.fetch_time, "asking the exchange's time")
            if isinstance(t, (int, float)) and t > 0:
                return int(t)
        except RetriesExhausted as err:
            raise RunFailure(redact(f"could not reach the exchange {ex.id}: {err}. Nothing was written.")) from None
        except ccxt.BaseError:
            pass  # not supported after all: use the local clock
    return int(ex.milliseconds())


def _flush(seg: Segment | None) -> None:
    if seg is not None:
        seg.flush()


def _kept(seg: Segment | None, path: Path) -> str:
    if seg is None or not len(seg):
        return f"Nothing new was written to {path}."
    return f"{len(seg)} candles up to {format_utc(seg.last)} are safely stored in {seg.path}."


# ---------------------------------------------------------------------- the report
def _summary(console: Console, path: Path, jobs: list[Job], retrier: Retrier, added: int,
             since_ms: int | None) -> FetchResult:
    final, tf, last_job = jobs[-1].segment, jobs[-1].tf_ms, jobs[-1]
    notes: list[str] = []
    dupes = sum(j.duplicates for j in jobs)
    res = FetchResult(path, len(final), added, retrier.requests, retrier.retries, dupes, final.first, final.last,
                      notes=notes)
    if not len(final):
        console.print(f"no closed candles from {format_utc(last_job.start)} to {format_utc(last_job.stop)}; "
                      f"nothing written to {path}", markup=False)
        return res
    ts = final.frame()["timestamp"].to_numpy()
    # every hole of the requested range as stored, also those a run interrupted earlier downloaded
    lo = since_ms if since_ms is not None else final.first
    res.gaps = [(t, n) for t, n in find_gaps(ts, tf) if t + (n + 1) * tf > lo and t < last_job.stop]
    if since_ms is not None and final.first > since_ms + tf - 1 and added:
        notes.append(f"the exchange has no candles from {format_utc(since_ms)} to {format_utc(final.first)} "
                     "(before its history starts, or missing)")
    end = min(last_job.stop, last_job.now_ms - tf + 1)  # open times < end are closed and in range
    last_closed = final.last + ((end - 1 - final.last) // tf) * tf
    if last_closed > final.last:
        notes.append(f"the exchange has no candles after {format_utc(final.last)} up to {format_utc(last_closed)} "
                     f"({(last_closed - final.last) // tf} missing at the end)")
    head = "already up to date" if not added else f"{added} new candles"
    console.print(f"{path}: {len(final)} candles {format_utc(final.first)} .. {format_utc(final.last)} ({head}); "
                  f"{retrier.requests} requests, {retrier.retries} retries, {dupes} repeated candles dropped",
                  highlight=False, soft_wrap=True, markup=False)
    if res.gaps:
        shown = ", ".join(f"after {format_utc(t)}: {n} missing" for t, n in res.gaps[:10])
        more = f" (and {len(res.gaps) - 10} more)" if len(res.gaps) > 10 else ""
        console.print(f"gaps (candles the exchange does not have, not filled): {shown}{more}", highlight=False,
                      soft_wrap=True, markup=False)
    for note in notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True, markup=False)
    return res
