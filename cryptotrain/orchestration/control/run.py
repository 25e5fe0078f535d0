"""`run_control`: the positive and negative controls of a config, one executor map of cells, and
the power table made from their results.

CONTROL_DIR (default RUNS_DIR/control-<config>-<family>) holds base.yaml (the config the control
was started from: a rerun with another config is refused), data/ (one candle file per cell),
s<strength>-seed<k>/ (each cell: a normal run directory with eval/test, backtest/test and
cell.json) and control.json (the power table). A rerun reuses finished cells and resumes the
others; with the same settings it gives the same table, bit for bit.

Detected, at a strength: a sign edge claimed by evaluate's rule (evaluate/edge.py) and a positive
test backtest after costs in at least DETECT_SHARE of the seeds (2 of 3). A detection at strength
0 (a random walk: nothing to find) is a false discovery.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from cryptotrain.config import Config, config_from_yaml_text, config_to_dict, config_to_yaml
from cryptotrain.data.planted import FAMILIES, measure_shape
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import RunFailure, UserError
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.orchestration.control.cell import PLANTED_KIND, control_cell
from cryptotrain.orchestration.executor.executor import Executor, check_counts
from cryptotrain.orchestration.executor.jobs import Event, Job

DETECT_SHARE = 2 / 3
MAX_SEEDS = 20


@dataclass
class ControlSettings:
    family: str = "trend"
    strengths: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    seeds: int = 3
    workers: int = 1

    def check(self) -> None:
        if self.family not in FAMILIES:
            raise UserError(f"--family {self.family!r}: choose one of {', '.join(FAMILIES)}")
        if not self.strengths or any(not (0 <= k <= 5) or k != k for k in self.strengths):
            raise UserError(f"--strengths {','.join(map(str, self.strengths)) or '(none)'}: give strengths between 0 "
                            "and 5 (drift in sigmas per candle), e.g. 0,0.1,0.2,0.3")
        if len(set(self.strengths)) != len(self.strengths):
            raise UserError("--strengths: each strength once")
        if not isinstance(self.seeds, int) or not 1 <= self.seeds <= MAX_SEEDS:
            raise UserError(f"--seeds must be a whole number from 1 to {MAX_SEEDS}, got {self.seeds!r}")
        check_counts(self.workers)

    @property
    def needed(self) -> int:
        """Detections out of `seeds` that make a strength detected (2 of 3)."""
        return math.ceil(DETECT_SHARE * self.seeds - 1e-9)


def control_dir_for(cfg: Config, config_path: Path, family: str, run_name: str | None = None) -> Path:
    return Path(cfg.train.runs_dir) / (run_name or f"control-{Path(config_path).name.split('.')[0]}-{family}")


def cell_name(strength: float, seed: int) -> str:
    return f"s{strength:g}-seed{seed}"


def run_control(cfg: Config, control_dir: Path, s: ControlSettings,
                on_event: Callable[[Event], None] | None = None) -> dict:
    """Run (or finish) every cell; write control.json; -> the power table (see `power_table`).
    Everything is checked and the data measured before the directory is made."""
    s.check()
    shape = measure_shape(cfg)
    control_dir = Path(control_dir)
    control_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(control_dir, "control"):
        _pin_base(control_dir, cfg)
        jobs = [cell_job(cfg, control_dir, shape.to_dict(), s.family, k, seed)
                for k in s.strengths for seed in range(s.seeds)]
        with Executor(s.workers) as executor:
            results = executor.map(jobs, control_cell, on_event=on_event)
        cells = [{"cell": r.key, "ok": r.ok, "error": r.error, **(r.value or {})} for r in results]
        if not any(c["ok"] for c in cells):
            raise RunFailure(f"all {len(cells)} control cells failed; the first: {cells[0]['error']}")
        table = power_table(cells, s)
        table.update({"config": config_to_dict(cfg), "shape": shape.to_dict(), "settings": asdict(s),
                      "directory": str(control_dir)})
        atomic_write_text(control_dir / "control.json", json.dumps(to_jsonable(table), indent=2) + "\n")
    return table


def cell_job(cfg: Config, control_dir: Path, shape: dict, family: str, strength: float, seed: int) -> Job:
    """One cell: the config on its own candle file (already trimmed: no start / end / last_rows), its
    training seed moved on by the seed index, the data drawn from (train.seed, seed index)."""
    name = cell_name(strength, seed)
    raw = config_to_dict(cfg)
    raw["data"].update(path=str((control_dir / "data" / f"{name}.csv.gz").resolve()), start=None, end=None,
                       last_rows=None)
    raw["train"]["seed"] = cfg.train.seed + seed
    return Job(name, control_dir / name, {"config": raw, "shape": shape, "family": family, "strength": strength,
                                          "seed": seed, "data_seed": [cfg.train.seed, seed]})


def power_table(cells: list[dict], s: ControlSettings) -> dict:
    """Per strength: medians over the seeds of the oracle's and the model's direction accuracy and of
    the test backtest's return after costs, edge claims by kind, detections; the smallest detected
    strength above 0 and the false discoveries (detections at 0)."""
    rows = []
    for k in s.strengths:
        here = [c for c in cells if c.get("strength") == k and c["ok"]]

        def med(key: str) -> float:
            values = [c[key] for c in here]
            return float(np.median(values)) if values and None not in values else float("nan")

        detections = sum(bool(c["detected"]) for c in here)
        rows.append({"strength": k, "seeds": s.seeds, "finished": len(here),
                     "oracle_direction_accuracy": med("oracle_direction_accuracy"),
                     "model_direction_accuracy": med("model_direction_accuracy"),
                     "edge_claims": {kind: sum(c["edge"] == kind for c in here) for kind in ("sign", "size")},
                     "return_pct": med("return_pct"), "buy_hold_return_pct": med("buy_hold_return_pct"),
                     "detections": detections, "detected": detections >= s.needed})
    found = [r["strength"] for r in rows if r["detected"] and r["strength"] > 0]
    false = [r["strength"] for r in rows if r["strength"] == 0 and r["detections"] > 0]
    return {"family": s.family, "planted_kind": PLANTED_KIND, "needed": s.needed, "rows": rows, "cells": cells,
            "smallest_detected": min(found) if found else None, "false_discovery": bool(false),
            "failed": [c["cell"] for c in cells if not c["ok"]]}


def _pin_base(control_dir: Path, cfg: Config) -> None:
    """base.yaml is written once; a rerun must use the same config (its cells were trained on it)."""
    base, text = control_dir / "base.yaml", config_to_yaml(cfg)
    if base.is_file() and config_to_yaml(config_from_yaml_text(base.read_text(), str(base))) != text:
        raise UserError(f"{control_dir} was started from another config (see {base}); rerun with that config "
                        "or start a new control with --run-name")
    if not base.is_file():
        atomic_write_text(base, text)
