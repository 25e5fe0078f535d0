"""`cryptotrain fetch --symbols A,B,...` (or `--config CONFIG`, a universe config's pairs): fetch each pair
into one folder, one after the other, then a table of what each got.

Each pair is one `fetch_command` (commands/fetch.py) with its own resumable file, named as fetch and
data/sample name them (`BTC_USDT-1h.parquet`); a pair that already has a file in the folder (any of
the candle formats) continues that file. A pair that fails (unknown symbol, an exchange error after
the retries) is reported and the next one is fetched: no pair loses the candles it has. The command
then fails (exit 1) naming the failed pairs; running it again resumes every file where it stopped.
Ctrl-C stops the whole command (the pair being fetched keeps what it stored).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.commands.fetch import FetchResult, fetch_command
from cryptotrain.config import load_config
from cryptotrain.data.ohlcv import symbol_slug
from cryptotrain.data.timestamps import format_utc
from cryptotrain.data.universe import list_pairs
from cryptotrain.errors import RunFailure, UserError
from cryptotrain.report.tables import print_fitted_table


def _existing(out_dir: Path, symbol: str, timeframe: str) -> Path | None:
    """The pair's candle file already in `out_dir` (any format), if there is one."""
    if not out_dir.is_dir():
        return None
    try:
        return list_pairs(out_dir).get(symbol_slug(symbol), {}).get(timeframe)
    except UserError:   # no candle file in the folder yet
        return None


def fetch_symbols(*, exchange: str, symbols: list[str], timeframe: str, since: str | None, until: str | None,
                  out_dir: Path, fmt: str, exchange_config: Path | None,
                  console: Console | None = None) -> dict[str, FetchResult]:
    """Fetch every pair of `symbols` into `out_dir` (module docstring); -> {symbol: result} of those that worked."""
    console = console or Console(highlight=False)
    if len(set(symbols)) != len(symbols) or not symbols:
        raise UserError("--symbols needs one or more distinct symbols, e.g. BTC/USDT,ETH/USDT")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file; with --symbols give the folder the pairs' files go to")
    done: dict[str, FetchResult] = {}
    failed: dict[str, str] = {}
    for i, sym in enumerate(symbols, 1):
        path = _existing(out_dir, sym, timeframe) or out_dir / f"{symbol_slug(sym)}-{timeframe}.{fmt}"
        console.print(f"[{i}/{len(symbols)}] {sym} -> {path}", markup=False, highlight=False)
        try:
            done[sym] = fetch_command(exchange=exchange, symbol=sym, timeframe=timeframe, since=since, until=until,
                                      out=path, fmt=fmt, exchange_config=exchange_config, console=console)
        except (UserError, RunFailure) as err:
            if isinstance(err.__context__, KeyboardInterrupt):
                raise
            failed[sym] = str(err)
            console.print(f"{sym} failed: {err}", markup=False, highlight=False, soft_wrap=True)
    rows = list(symbols)
    cols = {"candles": [str(done[s].rows) if s in done else "-" for s in rows],
            "new": [str(done[s].added) if s in done else "-" for s in rows],
            "range (UTC)": [f"{format_utc(done[s].first_ts)} .. {format_utc(done[s].last_ts)}"
                            if s in done and done[s].rows else "-" for s in rows],
            "gaps": [str(len(done[s].gaps)) if s in done else "-" for s in rows],
            "result": ["ok" if s in done else "FAILED" for s in rows]}
    print_fitted_table(console, f"{len(done)} of {len(symbols)} pairs fetched into {out_dir}", "pair", rows, cols)
    if failed:
        raise RunFailure(f"{len(failed)} of {len(symbols)} pairs failed: {', '.join(failed)} (reasons above); the "
                         "other pairs' candles are stored; run the same command again to resume every file")
    return done


def fetch_config(config: Path, *, since: str | None, until: str | None, fmt: str, exchange_config: Path | None,
                 console: Console | None = None, symbols_given: bool = False) -> dict[str, FetchResult]:
    """`fetch --config CONFIG`: the config's data.universe into its data.dir, at its exchange and timeframe."""
    cfg = load_config(config)
    d = cfg.data
    if symbols_given:
        raise UserError("pass --symbols or --config, not both (--config fetches the config's data.universe)")
    if d.universe is None or d.dir is None:
        raise UserError(f"{config}: fetch --config needs data.universe and data.dir (the folder the pairs' files go "
                        "to); for one file use --symbol and --out")
    return fetch_symbols(exchange=d.exchange, symbols=list(d.universe), timeframe=d.timeframe or "1h", since=since,
                         until=until, out_dir=Path(d.dir), fmt=fmt, exchange_config=exchange_config, console=console)
