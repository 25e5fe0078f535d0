"""`cryptotrain control`: the command around `run_control` (orchestration/control/), printing
through report/control_report.py (the power table, or its JSON with --json)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console

from cryptotrain.config import Config
from cryptotrain.fileio import to_jsonable
from cryptotrain.orchestration.control.run import ControlSettings, control_dir_for, run_control
from cryptotrain.orchestration.executor.jobs import FAIL, FINISH, Event
from cryptotrain.report.control_report import print_cell_done, print_power_table


def control_command(cfg: Config, config_path: Path, s: ControlSettings, *, run_name: str | None = None,
                    as_json: bool = False, console: Console | None = None) -> dict:
    console = console or Console()
    s.check()
    control_dir = control_dir_for(cfg, config_path, s.family, run_name)

    def on_event(e: Event) -> None:
        if e.kind in (FINISH, FAIL) and not as_json:
            print_cell_done(console, e.key, e.kind == FINISH, e.data.get("value"), e.data.get("error"),
                            e.data.get("seconds", 0.0))

    if not as_json:
        console.print(f"control {control_dir}: planted {s.family} at strengths "
                      f"{', '.join(f'{k:g}' for k in s.strengths)}, {s.seeds} seed(s) each, workers {s.workers}",
                      soft_wrap=True, markup=False)
    table = run_control(cfg, control_dir, s, on_event=on_event)
    if as_json:
        console.print_json(json.dumps(to_jsonable({k: v for k, v in table.items() if k != "config"})))
    else:
        print_power_table(console, table)
    return table
