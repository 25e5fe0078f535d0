"""Benchmark universe runs (issue 27) on configs/universe_1h.yaml: nine 1h pairs, about 423,000 candles.

1. Building the nine-pair dataset with the basic features (target: under 3 s). Best and worst of 3.
2. Peak memory of training the nine-pair config (target: under 1.5 GB): `cryptotrain train` with
   the config as it is but 1 epoch (an epoch is 60 batches plus the full validation pass; more
   epochs repeat the same work), in a child process; its peak RSS (ru_maxrss of the child).
3. Training samples/s of the same model on the universe and on BTC/USDT alone (the same config
   with data.path; target: the universe within 10% of the single pair). Each side runs one epoch of
   BATCHES batches of the config's batch size, seeded, alternately ROUNDS times; best of each, per
   wall second and per CPU second of this process (the second is less hit by other processes).

The machine is shared: the load average (os.getloadavg) is printed beside each number.
Run: .venv/bin/python benchmarks/universe.py
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cryptotrain.config import load_config
from cryptotrain.data.dataset import build_dataset
from cryptotrain.models import init_params
from cryptotrain.optim import adam_init
from cryptotrain.train.loop import epoch_batches, train_epoch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "universe_1h.yaml"
BUILD_TARGET_S, MEMORY_TARGET_GB, SPEED_TARGET = 3.0, 1.5, 0.10
REPEATS, ROUNDS, BATCHES = 3, 5, 30


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def bench_build() -> None:
    cfg = load_config(CONFIG)
    build_dataset(cfg)   # warm imports and the page cache
    times, n = [], 0
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        ds = build_dataset(cfg)
        times.append(time.perf_counter() - t0)
        n = len(ds.timestamps)
    dt = min(times)
    print(f"dataset: {len(cfg.data.universe)} pairs, {n:,} candles x {ds.features.shape[1]} features in {dt:.2f} s "
          f"(best of {REPEATS}; worst {max(times):.2f} s); target < {BUILD_TARGET_S:.0f} s: "
          f"{'met' if dt < BUILD_TARGET_S else 'NOT met'} ({load()})")


def bench_memory() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        before = load()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cryptotrain.cli", "train", "--config", str(CONFIG), "--set",
                        "train.epochs=1", "--set", f"train.runs_dir={tmp}"], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
    gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9   # KiB on Linux
    print(f"training memory: peak RSS {gb:.2f} GB of `cryptotrain train` (1 epoch, {dt:.0f} s wall); target < "
          f"{MEMORY_TARGET_GB} GB: {'met' if gb < MEMORY_TARGET_GB else 'NOT met'} ({before} before, {load()} after)")


def _samples_per_s(cfg, ds) -> tuple[float, float]:
    """(samples per wall second, samples per CPU second of this process) of one epoch of BATCHES batches."""
    params = init_params(cfg.model, len(ds.feature_names), cfg.data.window, np.random.default_rng(0))
    batches = epoch_batches(ds.splits["train"], cfg.train.batch_size, np.random.default_rng(1), BATCHES)
    cpu = time.process_time()
    st, _ = train_epoch(params, adam_init(params), ds, cfg, batches, np.random.default_rng(2), 0, BATCHES)
    return st.samples / st.seconds, st.samples / (time.process_time() - cpu)


def bench_speed() -> None:
    uni = load_config(CONFIG)
    one = load_config(CONFIG)
    one.data = one.data.model_copy(update={"universe": None, "dir": None,
                                           "path": str(ROOT / "data" / "sample" / "BTC_USDT-1h.csv.gz")})
    datasets = {"universe": (uni, build_dataset(uni)), "BTC/USDT": (one, build_dataset(one))}
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in datasets}
    loads = []
    for _ in range(ROUNDS):
        for k, (cfg, ds) in datasets.items():
            rates[k].append(_samples_per_s(cfg, ds))
        loads.append(os.getloadavg()[0])
    for i, what in ((0, "samples/s"), (1, "samples per CPU second")):   # CPU time: less hit by other processes
        u, s = (max(r[i] for r in rates[k]) for k in ("universe", "BTC/USDT"))
        print(f"training speed: universe {u:,.0f} {what}, BTC/USDT alone {s:,.0f} (best of {ROUNDS} epochs of {BATCHES} "
              f"batches of {uni.train.batch_size} each, alternating; all: universe "
              f"{', '.join(f'{r[i]:,.0f}' for r in rates['universe'])}; single "
              f"{', '.join(f'{r[i]:,.0f}' for r in rates['BTC/USDT'])}); ratio {u / s:.3f}; target within "
              f"{SPEED_TARGET:.0%}: {'met' if u >= (1 - SPEED_TARGET) * s else 'NOT met'} (1-min load average "
              f"{min(loads):.2f} to {max(loads):.2f})")


if __name__ == "__main__":
    which = sys.argv[1:] or ["build", "speed", "memory"]   # e.g. `benchmarks/universe.py speed`
    for name in which:
        {"build": bench_build, "speed": bench_speed, "memory": bench_memory}[name]()
