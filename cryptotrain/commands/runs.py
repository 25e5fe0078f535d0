"""`cryptotrain runs list | show | compare`: read the runs directory (runs/) and print through
report/runs_report.py (tables, or one JSON document with --json)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.report.runs_report import print_compare, print_json_doc, print_run, print_runs_list
from cryptotrain.runs.compare import compare_runs, show_run
from cryptotrain.runs.index import list_runs, list_view, resolve


def list_command(runs_dir: Path, as_json: bool, *, console: Console) -> None:
    (print_json_doc if as_json else print_runs_list)(console, list_view(list_runs(runs_dir)))


def show_command(run: str, runs_dir: Path, as_json: bool, *, console: Console) -> None:
    (print_json_doc if as_json else print_run)(console, show_run(resolve(run, runs_dir)))


def compare_command(runs: list[str], runs_dir: Path, as_json: bool, *, console: Console) -> None:
    doc = compare_runs([resolve(r, runs_dir) for r in runs])
    (print_json_doc if as_json else print_compare)(console, doc)
