"""`cryptotrain data inspect PATH`: load a candle file and print what is in it.

Rows, first/last candle, timeframe, gaps (each with its size), duplicates dropped,
zero-volume candles and the price range. A bad file raises the loader's UserError.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from rich.console import Console

from cryptotrain.data.ohlcv import OhlcvReport, load_ohlcv
from cryptotrain.data.timestamps import format_utc
from cryptotrain.report.tables import print_fitted_table

MAX_GAPS_SHOWN = 20


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


def _price(x: float) -> str:
    """Thousands separators; two decimals for large prices, 8 significant digits for small ones."""
    return f"{x:,.2f}" if abs(x) >= 1 else f"{x:.8g}"
