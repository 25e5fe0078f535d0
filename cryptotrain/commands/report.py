"""`cryptotrain report`: one self-contained HTML file for a run, a walk-forward, a sweep or a
portfolio backtest's directory (report/html/), written into it (or --out) atomically; prints its
path and size.

Other commands end with the line `report_hint` makes, naming the report that shows their result.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_text
from cryptotrain.train.rundir import dir_kind, find_run


def report_hint(path: Path | str, split: str = "test") -> str:
    """The one line a command prints at its end: the report command that shows what it made."""
    extra = "" if split == "test" else f" --split {split}"
    return f"see it all in one page: cryptotrain report {path}{extra}"


def print_report_hint(console: Console, path: Path | str, split: str = "test") -> None:
    console.print(report_hint(path, split), soft_wrap=True, markup=False, highlight=False)


def build_report(path: Path, split: str) -> str:
    """The report's HTML for `path` (a run, universe run, walk-forward, sweep or portfolio backtest directory)."""
    kind = dir_kind(path)
    if kind == "walkforward":
        from cryptotrain.commands.report_groups import walkforward_data
        from cryptotrain.report.html.walkforward_sections import walkforward_report

        return walkforward_report(walkforward_data(path))
    if kind == "sweep":
        from cryptotrain.commands.report_groups import sweep_data
        from cryptotrain.report.html.sweep_sections import sweep_report

        return sweep_report(sweep_data(path))
    from cryptotrain.commands.report_groups import is_portfolio_dir

    if is_portfolio_dir(path):
        from cryptotrain.commands.report_groups import portfolio_data
        from cryptotrain.report.html.portfolio_sections import portfolio_report

        return portfolio_report(portfolio_data(path))
    from cryptotrain.backtest.universe_backtest import is_universe_run

    if is_universe_run(path):
        from cryptotrain.commands.report_universe import universe_data
        from cryptotrain.report.html.universe_sections import universe_report

        return universe_report(universe_data(path, split))
    from cryptotrain.commands.report_data import run_data
    from cryptotrain.report.html.build import run_report

    if not (path / "config.yaml").is_file():
        raise UserError(f"{path} is not a run, walk-forward, sweep or portfolio backtest directory (no config.yaml, "
                        "plan.json, sweep.json or weights.csv); pass one of those")
    return run_report(run_data(path, split))


def report_command(target: Path | None, out: Path | None, split: str, console: Console) -> Path:
    if split not in ("test", "val"):
        raise UserError(f"--split {split!r}: use test or val")
    path = find_run(target, single=False)
    if out is not None and out.is_dir():
        raise UserError(f"--out {out} is a directory; name the file, e.g. --out {out / 'report.html'}")
    dest = out or path / ("report.html" if split == "test" else f"report-{split}.html")
    text = build_report(path, split)
    atomic_write_text(dest, text)
    size = dest.stat().st_size
    console.print(f"wrote {dest} ({size / 1e6:.1f} MB); open it in a browser (it needs no network)",
                  soft_wrap=True, markup=False, highlight=False)
    return dest
