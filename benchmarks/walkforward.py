"""Walk-forward speed: the folds of a config trained one after another in this process (BLAS at
its default thread count) and as Ray tasks on a local Ray with 2 workers (1 BLAS thread each).

    python benchmarks/walkforward.py [--config configs/walkforward_1h.yaml] [--folds 6]

Prints, for each mode: wall time of the whole command (plan, folds, stitching, backtest, figures)
and of the fold phase (first fold start to last fold end, seen by the driver), the sum of the
folds' own times (measured in the process that ran them), and for Ray: parallel efficiency
= sum / (workers x fold-phase wall), the speedup over the sequential run, Ray's start-up, and its
overhead per fold = (workers x fold-phase wall - sum) / folds. The load average is printed with
the numbers: on a shared machine they move with it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from cryptotrain.config import load_config
from cryptotrain.orchestration import Executor
from cryptotrain.orchestration.walkforward.run import walk_forward


def timed(cfg, wf_dir: Path, workers: int, blas_threads: int | None) -> dict:
    starts, ends, own = {}, {}, {}

    def on_event(e):
        if e.kind == "start":
            starts[e.key] = e.time
        elif e.kind in ("finish", "fail"):
            ends[e.key], own[e.key] = e.time, e.data["seconds"]

    t0 = time.perf_counter()
    res = walk_forward(cfg, wf_dir, workers=workers, blas_threads=blas_threads, on_event=on_event)
    wall = time.perf_counter() - t0
    assert not res.failed, res.failed
    return {"wall": wall, "phase": max(ends.values()) - min(starts.values()), "sum": sum(own.values()),
            "folds": len(own), "load": os.getloadavg()[0]}


def show(name: str, r: dict) -> None:
    print(f"{name:12s} wall {r['wall']:7.1f} s, fold phase {r['phase']:7.1f} s, sum of fold times "
          f"{r['sum']:7.1f} s ({r['sum'] / r['folds']:.1f} s per fold), load average after {r['load']:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/walkforward_1h.yaml")
    parser.add_argument("--folds", type=int, default=6)
    args = parser.parse_args()
    cfg = load_config(args.config, [f"walkforward.max_folds={args.folds}"])
    root = Path(tempfile.mkdtemp(prefix="walkforward-bench-"))
    print(f"{args.config}, {args.folds} folds, load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"outputs under {root}", flush=True)
    seq = timed(cfg, root / "sequential", 1, None)
    show("sequential", seq)
    started = time.perf_counter()
    with Executor(workers=2) as ex:
        startup = time.perf_counter() - started
        print(f"Ray start-up: {startup:.2f} s (executor's own figure {ex.startup_seconds:.2f} s)", flush=True)
        par = timed(cfg, root / "ray2", 2, None)
    show("--workers 2", par)
    eff = par["sum"] / (2 * par["phase"])
    print(f"parallel efficiency {eff:.2f} (target >= 0.85), speedup {seq['wall'] / par['wall']:.2f} (whole command), "
          f"{seq['phase'] / par['phase']:.2f} (fold phase), Ray overhead per fold "
          f"{(2 * par['phase'] - par['sum']) / par['folds']:.2f} s")


if __name__ == "__main__":
    main()
