"""What `cryptotrain control` prints: a line per finished cell while it runs, then the power table
(per strength: the oracle's and the model's direction accuracy, the edge claims, the test backtest
after costs, the detections), the smallest detected strength and any false discovery. Drawn from
the plain dict of orchestration/control/run.py's `power_table`."""

from __future__ import annotations

from rich.console import Console

from cryptotrain.report.tables import print_fitted_table


def _f(v, fmt: str) -> str:
    return "-" if v is None or v != v else fmt.format(v)


def print_cell_done(console: Console, key: str, ok: bool, value: dict | None, error: str | None,
                    seconds: float) -> None:
    """One line when a cell finishes (or fails)."""
    if not ok:
        console.print(f"cell {key}: failed: {error}", style="red", soft_wrap=True, markup=False)
        return
    console.print(f"cell {key}: edge {value['edge']}, direction accuracy {_f(value['model_direction_accuracy'], '{:.3f}')} "
                  f"(oracle {_f(value['oracle_direction_accuracy'], '{:.3f}')}), test return after costs "
                  f"{value['return_pct']:+.1f}% ({seconds:.0f} s)", soft_wrap=True, markup=False)


def print_power_table(console: Console, table: dict) -> None:
    rows = table["rows"]
    seeds = rows[0]["seeds"]
    columns = {
        "Oracle dir. acc.": [_f(r["oracle_direction_accuracy"], "{:.3f}") for r in rows],
        "Model dir. acc.": [_f(r["model_direction_accuracy"], "{:.3f}") for r in rows],
        "Edge claims": [f"sign {r['edge_claims']['sign']}/{seeds}, size {r['edge_claims']['size']}/{seeds}"
                        for r in rows],
        "Return after costs [%]": [_f(r["return_pct"], "{:+.1f}") for r in rows],
        "Buy & Hold [%]": [_f(r["buy_hold_return_pct"], "{:+.1f}") for r in rows],
        "Detected": [f"{r['detections']}/{seeds}" + (" yes" if r["detected"] else "") for r in rows],
    }
    title = (f"Control: planted {table['family']} on synthetic candles shaped like the config's data "
             f"({table['shape']['n']} candles, sigma {100 * table['shape']['sigma']:.2f}% per candle); test split, "
             f"medians over {seeds} seed(s)")
    print_fitted_table(console, title, "Strength", [f"{r['strength']:g}" for r in rows], columns,
                       left=("Edge claims", "Detected"))
    rule = (f"detected = a {table['planted_kind']} edge claimed by evaluate's rule and a positive test backtest after "
            f"costs in at least {table['needed']} of {seeds} seeds")
    k = table["smallest_detected"]
    console.print(f"smallest strength detected: {k:g} ({rule})" if k is not None else
                  f"no strength above 0 detected ({rule})", soft_wrap=True, markup=False)
    zero = [r for r in rows if r["strength"] == 0]
    if table["false_discovery"]:
        console.print(f"FALSE DISCOVERY: strength 0 (a random walk) detected in {zero[0]['detections']} of {seeds} "
                      "seeds: this setup finds edges in noise", style="bold red", soft_wrap=True, markup=False)
    elif zero:
        console.print(f"strength 0 (a random walk): detected in none of {seeds} seeds", soft_wrap=True, markup=False)
    if table["failed"]:
        console.print(f"failed cells (rerun the command to retry them): {', '.join(table['failed'])}",
                      style="yellow", soft_wrap=True, markup=False)
    console.print(f"wrote {table['directory']}/control.json; each cell's run in {table['directory']}/s<strength>-seed<k>/",
                  soft_wrap=True, markup=False)
