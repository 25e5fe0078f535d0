"""What the user sees after `backtest --grid`: one table of the combinations, best first, then how
many were tried, the deflated Sharpe ratio of the best and the PBO of the grid (from grid.json's
plain document, backtest/grid_run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from cryptotrain.report.backtest_report import format_stat
from cryptotrain.report.tables import print_fitted_table

TABLE_STATS = ("Return [%]", "Sharpe Ratio", "Max. Drawdown [%]", "# Trades", "Exposure Time [%]", "Fees Paid [$]")
LEVEL = 0.95


def dsr_sentence(doc: dict[str, Any]) -> str:
    """The deflated Sharpe ratio of the best row as a claim: its null (the best of N skill-less
    combinations), the count it was chosen from, and whether it holds."""
    d, n = doc["deflated_sharpe"], doc["combinations_tried"]
    if d["dsr"] is None:
        return (f"Deflated Sharpe ratio of the best of {n} combinations tried: n/a (flat or too short returns).")
    holds = (f">= {LEVEL:.2f}: its Sharpe ratio is more than the luck of the best of {n} tries explains"
             if d["dsr"] >= LEVEL else f"< {LEVEL:.2f}: its Sharpe ratio is consistent with the luck of picking "
                                       f"the best of {n} combinations")
    return (f"Deflated Sharpe ratio of the best of {n} combinations tried: {d['dsr']:.3f} {holds} (Sharpe "
            f"{d['sharpe_ann']:.2f} against {d['sr0_ann']:.2f} expected from the best of {n} without skill, "
            "annualized).")


def print_grid(console: Console, doc: dict[str, Any], *, header: str, out_dir: Path, files: list[Path]) -> None:
    rows = doc["rows"]
    stats = list(TABLE_STATS) + ([doc["sort"]] if doc["sort"] not in TABLE_STATS else [])
    title = (f"Grid {doc['grid']} on {doc['traded']} ({header}): {doc['combinations_tried']} combinations, "
             f"sorted by {doc['sort']}, highest first. Return [%] is after fees and slippage.")
    print_fitted_table(console, title, "Combination", [r["combination"] for r in rows],
                       {k: [format_stat(k, r.get(k)) for r in rows] for k in stats})
    console.print(f"wrote {out_dir}/{', '.join(f.name for f in files)}", soft_wrap=True, markup=False,
                  highlight=False)
    console.print(f"Best by {doc['sort']}: {doc['best']['combination']}.", soft_wrap=True, markup=False)
    console.print(dsr_sentence(doc), soft_wrap=True, markup=False)
    console.print(doc["pbo_sentence"] + ".", soft_wrap=True, markup=False)
