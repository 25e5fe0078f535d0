"""Benchmark the data layer.

1. The default feature set on 1,000,000 synthetic 1m candles (target: under 2 s).
2. alpha158 plus one context timeframe (4h) on the same candles (target: under 6 s and under
   1.5 GB peak memory; float32 output). Peak memory is tracemalloc's peak (NumPy allocations are
   traced) in a separate run, since tracing slows the timed runs down.
3. The training dataset for the 1m sample with T = 60: peak traced memory (tracemalloc) of
   build_dataset (and the growth of peak RSS) against the size the materialized (M, T, F)
   training windows would take.

Run: .venv/bin/python benchmarks/features.py
"""

from __future__ import annotations

import resource
import time
import tracemalloc

from cryptotrain.config import FeaturesConfig, config_from_dict
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.synthetic import synthetic_candles

N = 1_000_000
TARGET_S = 2.0
REPEATS = 3
SAMPLE_1M = "data/sample/BTC_USDT-1m.csv.gz"


def bench_features() -> None:
    df = synthetic_candles(N, 60_000, seed=0, sigma=0.001)
    compute_features(df.iloc[:1000], FeaturesConfig(), 60_000)  # warm imports and caches
    times = []
    for _ in range(REPEATS):  # the machine is shared: report the best and the worst of a few runs
        t0 = time.perf_counter()
        X, names = compute_features(df, FeaturesConfig(), 60_000)
        times.append(time.perf_counter() - t0)
    dt = min(times)
    print(f"features: {N:,} candles x {len(names)} features in {dt:.2f} s (best of {REPEATS}; worst "
          f"{max(times):.2f} s; {N / dt / 1e6:.2f} M candles/s); target < {TARGET_S:.0f} s: "
          f"{'met' if dt < TARGET_S else 'NOT met'}")


ALPHA = FeaturesConfig(set="alpha158", context=["4h"])
ALPHA_TARGET_S, ALPHA_TARGET_GB = 6.0, 1.5


def bench_alpha158() -> None:
    df = synthetic_candles(N, 60_000, seed=0, sigma=0.001)
    compute_features(df.iloc[:20_000], ALPHA, 60_000)  # warm imports and caches
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        X, names = compute_features(df, ALPHA, 60_000)
        times.append(time.perf_counter() - t0)
        del X
    tracemalloc.start()
    X, names = compute_features(df, ALPHA, 60_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    dt, gb = min(times), peak / 1e9
    print(f"alpha158 + 4h context: {N:,} candles x {len(names)} features ({X.dtype}, {X.nbytes / 1e9:.2f} GB) in "
          f"{dt:.2f} s (best of {REPEATS}; worst {max(times):.2f} s); peak traced memory {gb:.2f} GB; "
          f"targets < {ALPHA_TARGET_S:.0f} s: {'met' if dt < ALPHA_TARGET_S else 'NOT met'}, "
          f"< {ALPHA_TARGET_GB} GB: {'met' if gb < ALPHA_TARGET_GB else 'NOT met'}")


def bench_dataset() -> None:
    cfg = config_from_dict({"data": {"path": SAMPLE_1M, "timeframe": "1m", "window": 60}})
    build_dataset(config_from_dict({"data": {**cfg.data.model_dump(), "last_rows": 5000}}))  # warm imports
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux; run before the 1M benchmark
    tracemalloc.start()
    t0 = time.perf_counter()
    ds = build_dataset(cfg)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024
    m, (n, f) = len(ds.splits["train"]), ds.features.shape
    windows = m * ds.window * f * ds.features.itemsize
    print(f"dataset: {n:,} candles, {m:,} training windows of {ds.window} x {f} built in {dt:.2f} s")
    print(f"  peak traced memory of build_dataset: {peak / 2**20:.1f} MiB; stored features: "
          f"{ds.features.nbytes / 2**20:.1f} MiB; materialized training windows would take "
          f"{windows / 2**20:.1f} MiB ({windows / peak:.1f}x the peak); peak RSS grew by {rss_growth / 2**20:.1f} MiB")


if __name__ == "__main__":
    bench_dataset()
    bench_features()
    bench_alpha158()
