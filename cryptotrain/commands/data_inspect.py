"""`cryptotrain data inspect PATH`: load a candle file and print what is in it.

Rows, first/last candle, timeframe, gaps (each with its size), duplicates dropped,
zero-volume candles and the price range. A bad file raises the loader's UserError.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cryptotrain.data.ohlcv import OhlcvReport, load_ohlcv
from cryptotrain.data.timestamps import format_utc

MAX_GAPS_SHOWN = 20


def inspect_file(path: str | Path, timeframe: str | None = None, console: Console | None = None) -> OhlcvReport:
    """Print a summary of the candle file at `path`; returns the loader's report."""
    console = console or Console(highlight=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicates are shown in the table instead
        df, rep = load_ohlcv(path, timeframe=timeframe, gap_policy="keep")
    zero_ts = df["timestamp"].to_numpy()[df["volume"].to_numpy() == 0]

    table = Table(title=f"{path}", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("rows", f"{rep.rows:,}")
    table.add_row("first candle (UTC)", format_utc(rep.first_ts))
    table.add_row("last candle (UTC)", format_utc(rep.last_ts))
    table.add_row("timeframe", rep.timeframe + ("" if timeframe else " (inferred)"))
    table.add_row("gaps", f"{len(rep.gaps)} ({rep.missing:,} missing candles)")
    table.add_row("duplicates dropped", f"{rep.duplicates_dropped:,}")
    table.add_row("row order", "in time order" if rep.was_sorted else "out of order (sorted on load)")
    table.add_row("zero-volume candles", f"{rep.zero_volume:,}"
                  + (f" ({', '.join(format_utc(t) for t in zero_ts[:5])}{', ...' if len(zero_ts) > 5 else ''})"
                     if len(zero_ts) else ""))
    table.add_row("price range (low .. high)", f"{_price(rep.price_min)} .. {_price(rep.price_max)}")
    console.print(table)

    if rep.gaps:
        gaps = Table(title="gaps (last candle before the gap, UTC)", title_justify="left")
        gaps.add_column("after")
        gaps.add_column("missing candles", justify="right")
        for t, n in rep.gaps[:MAX_GAPS_SHOWN]:
            gaps.add_row(format_utc(t), str(n))
        console.print(gaps)
        if len(rep.gaps) > MAX_GAPS_SHOWN:
            console.print(f"... and {len(rep.gaps) - MAX_GAPS_SHOWN} more gaps")
    return rep


def _price(x: float) -> str:
    """Thousands separators; two decimals for large prices, 8 significant digits for small ones."""
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.8g}"
