"""`cryptotrain data inspect PATH`: load a candle file and print what is in it.

Rows, first/last candle, timeframe, gaps (each with its size), duplicates dropped,
zero-volume candles and the price range. A bad file raises the loader's UserError.
A folder of pair files (or a universe config's pairs): one row per pair (rows, range, gaps) and
the range where every pair has candles; in a folder, the files of --timeframe, by default of the
timeframe most pairs have.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

from rich.console import Console

from cryptotrain.config import load_config
from cryptotrain.data.ohlcv import OhlcvReport, load_ohlcv
from cryptotrain.data.timestamps import format_utc
from cryptotrain.data.universe import list_pairs
from cryptotrain.data.universe_dataset import universe_files
from cryptotrain.errors import UserError
from cryptotrain.report.tables import print_fitted_table

MAX_GAPS_SHOWN = 20


def inspect_data(path: Path | None, timeframe: str | None = None, config: Path | None = None,
                 console: Console | None = None) -> None:
    """A file (inspect_file), a folder of pair files or a universe config's pairs (inspect_pairs)."""
    if (path is None) == (config is None):
        raise UserError("data inspect needs a PATH (a candle file or a folder of them) or --config CONFIG, one of them")
    if config is not None:
        cfg = load_config(config)
        if cfg.data.universe is None:
            return inspect_file(cfg.data.path, timeframe or cfg.data.timeframe, console)
        inspect_pairs(universe_files(cfg.data), timeframe or cfg.data.timeframe, console, title=str(config))
    elif Path(path).is_dir():
        pairs = list_pairs(Path(path), "PATH")
        counts = Counter(t for f in pairs.values() for t in f)   # default: the timeframe most pairs have
        tf = timeframe or max(sorted(counts), key=lambda t: counts[t])
        found = {s: f[tf] for s, f in pairs.items() if tf in f}
        inspect_pairs(found, tf, console, title=f"{path}: {len(found)} pairs of {tf} candles")
    else:
        inspect_file(path, timeframe, console)


def inspect_file(path: str | Path, timeframe: str | None = None, console: Console | None = None) -> OhlcvReport:
    """Print a summary of the candle file at `path`; returns the loader's report."""
    console = console or Console(highlight=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicates are shown in the table instead
        df, rep = load_ohlcv(path, timeframe=timeframe, gap_policy="keep")
    zero_ts = df["timestamp"].to_numpy()[df["volume"].to_numpy() == 0]

    about = {
        "rows": f"{rep.rows:,}",
        "first candle (UTC)": format_utc(rep.first_ts),
        "last candle (UTC)": format_utc(rep.last_ts),
        "timeframe": rep.timeframe + ("" if timeframe else " (inferred)"),
        "gaps": f"{len(rep.gaps)} ({rep.missing:,} missing candles)",
        "duplicates dropped": f"{rep.duplicates_dropped:,}",
        "row order": "in time order" if rep.was_sorted else "out of order (sorted on load)",
        "zero-volume candles": f"{rep.zero_volume:,}"
        + (f" ({', '.join(format_utc(t) for t in zero_ts[:5])}{', ...' if len(zero_ts) > 5 else ''})"
           if len(zero_ts) else ""),
        "price range (low .. high)": f"{_price(rep.price_min)} .. {_price(rep.price_max)}",
    }
    print_fitted_table(console, str(path), "what", list(about), {"value": list(about.values())}, left=("value",))

    if rep.gaps:
        shown = rep.gaps[:MAX_GAPS_SHOWN]
        print_fitted_table(console, "gaps (last candle before the gap, UTC)", "after",
                           [format_utc(t) for t, _ in shown], {"missing candles": [str(n) for _, n in shown]})
        if len(rep.gaps) > MAX_GAPS_SHOWN:
            console.print(f"... and {len(rep.gaps) - MAX_GAPS_SHOWN} more gaps", markup=False)
    return rep


def inspect_pairs(files: dict[str, Path], timeframe: str | None = None, console: Console | None = None,
                  title: str = "") -> dict[str, OhlcvReport]:
    """One row per pair of `files` ({symbol: candle file}) and the range every pair covers."""
    console = console or Console(highlight=False)
    reports = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sym, path in files.items():
            reports[sym] = load_ohlcv(path, timeframe=timeframe, gap_policy="keep")[1]
    rows = list(reports.values())
    cols = {"rows": [f"{r.rows:,}" for r in rows], "first candle (UTC)": [format_utc(r.first_ts) for r in rows],
            "last candle (UTC)": [format_utc(r.last_ts) for r in rows],
            "gaps": [f"{len(r.gaps)} ({r.missing:,} missing)" for r in rows]}
    print_fitted_table(console, title or f"{len(files)} pairs", "pair", list(reports), cols)
    first, last = max(r.first_ts for r in rows), min(r.last_ts for r in rows)
    console.print(f"every pair has candles from {format_utc(first)} to {format_utc(last)}" if first <= last else
                  "no time when every pair has candles (one ends before another starts)", markup=False)
    return reports


def _price(x: float) -> str:
    """Thousands separators; two decimals for large prices, 8 significant digits for small ones."""
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.8g}"
