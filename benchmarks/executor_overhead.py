"""What the executor costs: Ray start-up and shutdown, per-job and per-report overhead, in process
and on a local Ray with 2 workers; and whether 1 and 2 BLAS threads give different bits here.

    python benchmarks/executor_overhead.py [--jobs 40] [--reports 200]

Timings on a shared machine are noisy: run it a few times and compare within one run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import os
import sys

from cryptotrain.orchestration import Executor, Job, run_jobs

# The probe jobs live in tests/probes.py: this process and the Ray workers import them from there.
TESTS = str(Path(__file__).resolve().parents[1] / "tests")
sys.path.insert(0, TESTS)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (TESTS, os.environ.get("PYTHONPATH")) if p)
NOOP, GEMM = "probes:noop", "probes:gemm"


def timed_map(executor: Executor, jobs: list[Job], fn: str) -> float:
    started = time.perf_counter()
    results = executor.map(jobs, fn)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--reports", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="executor-bench-"))
    jobs = [Job(f"n{i}", root / f"n{i}") for i in range(args.jobs)]
    chatty = [Job("r", root / "r", {"reports": args.reports})]

    rows = []
    for workers in (1, 2):
        executor = Executor(workers=workers)
        started = time.perf_counter()
        executor.start()
        start_s = time.perf_counter() - started
        warm = timed_map(executor, [Job(f"w{i}", root / f"w{i}") for i in range(2)], NOOP)
        per_job = timed_map(executor, jobs, NOOP) / args.jobs
        per_report = (timed_map(executor, chatty, NOOP) - per_job) / args.reports
        started = time.perf_counter()
        executor.close()
        rows.append((executor.mode, start_s, warm, per_job, per_report, time.perf_counter() - started))

    print(f"{'mode':<11} {'start [s]':>9} {'first 2 jobs [s]':>16} {'per job [ms]':>12} "
          f"{'per report [ms]':>15} {'close [s]':>9}")
    for mode, start_s, warm, per_job, per_report, close_s in rows:
        print(f"{mode:<11} {start_s:9.2f} {warm:16.2f} {per_job * 1e3:12.2f} {per_report * 1e3:15.3f} {close_s:9.2f}")

    digests = {}
    for threads in (1, 2):
        [r] = run_jobs([Job("g", root / f"g{threads}", {"k": 504})], GEMM, blas_threads=threads)
        digests[threads] = r.value["sha256"]
    same = "identical" if digests[1] == digests[2] else "different"
    print(f"GEMM (64 x 504) @ (504 x 96) float32 with 1 and 2 BLAS threads: {same} bits")


if __name__ == "__main__":
    main()
