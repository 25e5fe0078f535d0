"""Benchmark the cross-section (issue 29): the nine-pair 1h universe dataset of data/sample (about
423,000 candles) built with the cross group and excess labels (configs/universe_cross_1h.yaml), against
the same dataset without them; target: under 5 s with the cross group.

The machine is shared: each build runs REPEATS times and the best and worst wall times are printed,
with the process CPU time of the best run (less sensitive to other processes) and the load average.

Run: .venv/bin/python benchmarks/cross.py
"""

from __future__ import annotations

import os
import time

from cryptotrain.config import load_config
from cryptotrain.data.dataset import build_dataset

CONFIG = "configs/universe_cross_1h.yaml"
TARGET_S = 5.0
REPEATS = 3


def bench(label: str, overrides: list[str]) -> float:
    cfg = load_config(CONFIG, overrides)
    walls, cpus = [], []
    for _ in range(REPEATS):
        t0, c0 = time.perf_counter(), time.process_time()
        ds = build_dataset(cfg)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    best = min(range(REPEATS), key=walls.__getitem__)
    print(f"{label}: {len(ds.timestamps):,} candles x {ds.n_features} features, {len(ds.splits['train']):,} training "
          f"windows: {walls[best]:.2f} s (best of {REPEATS}; worst {max(walls):.2f} s; CPU {cpus[best]:.2f} s)")
    return walls[best]


def main() -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    bench("nine pairs, basic features", ["features.cross=[]", "labels.target=absolute"])
    dt = bench("nine pairs, basic + cross group, excess labels", [])
    print(f"target < {TARGET_S:.0f} s with the cross group: {'met' if dt < TARGET_S else 'NOT met'}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
