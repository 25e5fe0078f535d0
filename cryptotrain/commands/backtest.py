"""`cryptotrain backtest`: the command around `backtester.run`, printing through report/ (a walk-forward
directory: its stitched test signals, commands/walkforward.py)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rich.console import Console

from cryptotrain.backtest import backtester
from cryptotrain.backtest.stats import span_warning
from cryptotrain.commands.report import print_report_hint
from cryptotrain.report.backtest_report import print_backtest, print_message


def backtest_command(run: Path | None, split: str, signals: Path | None, data: Path | None, out: Path | None,
                     overrides: dict[str, Any], console: Console) -> dict[str, dict[str, Any]]:
    """Run the backtest, write the outputs, print the table; returns {"model"|...: stats}."""
    if signals is None:   # (signals mode needs neither import: evaluate's modules come with them)
        from cryptotrain.orchestration.walkforward.stitch import is_walkforward_dir

        if is_walkforward_dir(run):   # a walk-forward run: its stitched test signals
            from cryptotrain.commands.walkforward import backtest_walkforward

            return backtest_walkforward(run, overrides, console=console)
        from cryptotrain.backtest.universe_backtest import is_universe_run

        universe = _resolved(run)
        if is_universe_run(universe):   # many pairs: the portfolio engine
            from cryptotrain.commands.portfolio import universe_command

            return universe_command(universe, split, out, overrides, console=console,
                                    on_scored=functools.partial(_print_scored, console=console))
    rep = backtester.run(run, split, signals=signals, data=data, out=out, overrides=overrides,
              on_message=functools.partial(print_message, console),
              on_scored=functools.partial(_print_scored, console=console))
    print_backtest(console, rep.stats, header=rep.header, title=rep.title, settings=rep.settings,
                   timeframe=rep.timeframe, out_dir=rep.out_dir, verdict=rep.verdict)
    short = span_warning(rep.stats["model"])
    if short:
        print_message(console, "warning", short)
    if signals is None and out is None and rep.out_dir.name == split:   # RUN/backtest/SPLIT: the run's report shows it
        print_report_hint(console, rep.out_dir.parent.parent, split)
    return rep.stats


def _print_scored(result, console: Console) -> None:
    """evaluate's report, when run mode ran it first (imported here: signals mode never needs it)."""
    from cryptotrain.commands.evaluate import print_result

    print_result(result, console=console)


def grid_command(*, grid: str, sort_by: str, as_json: bool, console: Console, **where: Any) -> dict[str, Any]:
    """`backtest --grid`: every combination on the same decisions (backtest/grid_run.py), one table
    and the DSR and PBO lines, or grid.json's document with --json (messages then go to stderr)."""
    from cryptotrain.backtest import grid_run
    from cryptotrain.report.grid_report import print_grid
    from cryptotrain.report.runs_report import print_json_doc

    if where.get("signals") is None and where.get("weights") is None and where.get("data_dir") is None:
        from cryptotrain.errors import UserError
        from cryptotrain.orchestration.walkforward.stitch import is_walkforward_dir

        if is_walkforward_dir(where.get("run_dir")):
            raise UserError("--grid trades a run's predictions, --signals or --weights; a walk-forward's stitched "
                            "signals are not supported yet (backtest it with --set for each setting)")
        from cryptotrain.backtest.universe_backtest import is_universe_run

        universe = _resolved(where.get("run_dir"))
        if is_universe_run(universe):   # (runs/latest's too)
            where["run_dir"] = universe
    say = Console(stderr=True, highlight=False) if as_json else console
    rep = grid_run.run(grid=grid, sort_by=sort_by, on_message=functools.partial(print_message, say),
                       on_scored=None if as_json else functools.partial(_print_scored, console=console), **where)
    if as_json:
        print_json_doc(console, rep.doc)
    else:
        print_grid(console, rep.doc, header=rep.header, out_dir=rep.out_dir, files=rep.files)
    return rep.doc


def _resolved(run: Path | None) -> Path | None:
    """The run directory --run names (runs/latest's when None); None when there is none (backtester.run says so)."""
    from cryptotrain.errors import UserError
    from cryptotrain.train.rundir import resolve_run

    try:
        return resolve_run(run)
    except UserError:
        return None
