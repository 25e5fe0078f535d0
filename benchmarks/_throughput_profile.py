"""`train_throughput.py --profile CONFIG`: where our training step spends its time.

Prints (1) the median step time, (2) the "GEMM floor": the same matrix products as one step
(train_throughput.gemm_shapes), each timed alone on contiguous float32 operands, i.e. the time
the step would take if it were nothing but its matrix products, and the rest above it, and
(3) a pyinstrument profile of a few steps (call tree with the time per function), or, without
pyinstrument, cProfile's time per function.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from cryptotrain.train.loop import train_epoch  # noqa: F401 (the profiled code path)


def gemm_floor(shapes, reps: int = 5) -> tuple[float, list]:
    """Seconds of the step's matrix products run back to back (median of reps), and per shape."""
    rng = np.random.default_rng(0)
    per_shape = []
    for m, k, n, count in shapes:
        a = rng.normal(size=(m, k)).astype(np.float32)
        b = rng.normal(size=(k, n)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        np.matmul(a, b, out=out)
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            for _ in range(count):
                np.matmul(a, b, out=out)
            ts.append(time.perf_counter() - t0)
        per_shape.append(((m, k, n, count), statistics.median(ts)))
    return sum(t for _, t in per_shape), per_shape


def profile_config(cfg_name: str, model: str, build_pair, gemm_shapes) -> None:
    pair = build_pair(model, cfg_name, False)
    step = pair["ours"]
    step(2)
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        step(1)
        times.append(time.perf_counter() - t0)
    t_step = statistics.median(times)
    floor, per_shape = gemm_floor(gemm_shapes)
    print(f"{model} {cfg_name}: step {1e3 * t_step:.1f} ms (median of 7); matrix products alone "
          f"{1e3 * floor:.1f} ms ({100 * floor / t_step:.0f}%); rest {1e3 * (t_step - floor):.1f} ms")
    for (m, k, n, c), t in per_shape:
        print(f"  ({m:>6} x {k:>5}) @ ({k:>5} x {n:>5}) x {c:>3}: {1e3 * t:7.2f} ms")
    n = max(3, round(3.0 / t_step))
    try:
        from pyinstrument import Profiler
    except ImportError:   # not in every environment: cProfile's own time per function instead
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        step(n)
        prof.disable()
        print(f"\ncProfile (pyinstrument is not installed), {n} steps, by own time:")
        pstats.Stats(prof).sort_stats("tottime").print_stats(18)
        return
    prof = Profiler(interval=0.0005)
    prof.start()
    step(n)
    prof.stop()
    print(f"\npyinstrument, {n} steps:")
    print(prof.output_text(unicode=False, color=False, show_all=False))
