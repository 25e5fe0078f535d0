"""Control speed: `cryptotrain control` of a config (default the demo's 4 strengths x 3 seeds) in a
temporary runs directory, with N workers (1: in this process; 2: a local Ray, 1 BLAS thread each).

    python benchmarks/control.py [--config configs/demo_1h.yaml] [--workers 2] [--seeds 3]

Prints the wall time of the whole control (shape, 12 cells of train + evaluate + backtest, the
table), the sum of the cells' own times and the mean per cell, parallel efficiency = sum / (workers
x wall), and the load average before and after: on a shared machine the numbers move with it.
The target of issue 30: the demo config in under 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from cryptotrain.config import load_config
from cryptotrain.orchestration.control.run import ControlSettings, run_control


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo_1h.yaml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--strengths", default="0,0.1,0.2,0.3")
    args = parser.parse_args()
    own: dict[str, float] = {}

    def on_event(e):
        if e.kind in ("finish", "fail"):
            own[e.key] = e.data["seconds"]

    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.config, [f"train.runs_dir={tmp}"])
        s = ControlSettings(strengths=tuple(float(k) for k in args.strengths.split(",")), seeds=args.seeds,
                            workers=args.workers)
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        table = run_control(cfg, f"{tmp}/control", s, on_event=on_event)
        wall = time.perf_counter() - t0
    total = sum(own.values())
    print(f"{args.config}: {len(own)} cells, workers {args.workers}: wall {wall:.1f} s ({wall / 60:.1f} min), "
          f"sum of cell times {total:.1f} s ({total / max(len(own), 1):.1f} s per cell), efficiency "
          f"{total / (args.workers * wall):.2f}; load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after; "
          f"smallest detected strength {table['smallest_detected']}, false discovery {table['false_discovery']}")


if __name__ == "__main__":
    main()
