"""`cryptotrain sweep`: the command around `run_sweep`, printing through report/sweep_report.py.

The sweep directory is RUNS_DIR/<run name> (default sweep-<config stem>), so the same command
run again continues the same sweep.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.commands.report import print_report_hint
from cryptotrain.config import Config
from cryptotrain.dirlock import dir_lock
from cryptotrain.orchestration.sweep.search import SweepSettings, check_universe, run_sweep
from cryptotrain.orchestration.sweep.results import final_test, write_outputs
from cryptotrain.orchestration.sweep.space import check_keys, load_space
from cryptotrain.report.sweep_report import SweepDisplay, print_sweep_end


def sweep_dir_for(cfg: Config, config_path: Path, run_name: str | None) -> Path:
    return Path(cfg.train.runs_dir) / (run_name or f"sweep-{Path(config_path).name.split('.')[0]}")


def sweep_command(cfg: Config, config_path: Path, space_path: Path, s: SweepSettings, *,
                  run_name: str | None = None, console: Console | None = None) -> Path:
    console = console or Console()
    space = load_space(space_path)
    check_keys(space, cfg, str(space_path))   # before anything is created or started
    s.check()
    check_universe(cfg, s.objective)
    sweep_dir = sweep_dir_for(cfg, config_path, run_name)
    keys = list(space)
    console.print(f"sweep {sweep_dir}: {s.trials} trials over {', '.join(keys)}; objective {s.objective}, "
                  f"pruner {s.pruner} (warm-up {s.warmup} epochs), workers {s.workers}"
                  + (f", cluster {s.address}" if s.address else ""), soft_wrap=True, markup=False)
    made = not sweep_dir.exists()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    try:
        with dir_lock(sweep_dir, "sweep"):   # to the end: the results and the test look are this sweep's too
            with SweepDisplay(console, keys, s.trials) as display:
                study, rows = run_sweep(cfg, space, sweep_dir, s, origin=str(config_path), on_update=display.update)
            log_keys = tuple(k for k, d in space.items() if getattr(d, "log", False))
            summary = write_outputs(sweep_dir, study, rows, keys, s, log_keys)
            final = final_test(sweep_dir, study, summary) if summary["best"] is not None else None
    finally:
        if made and not any(sweep_dir.iterdir()):   # refused before it wrote anything: leave nothing behind
            sweep_dir.rmdir()
    print_sweep_end(console, summary, final, sweep_dir)
    print_report_hint(console, sweep_dir)
    return sweep_dir
