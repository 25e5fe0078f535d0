"""Time `cryptotrain report RUN` in fresh processes (the target: under 3 s for the demo run's test
split), and print the file's size and the machine's load.

    .venv/bin/python benchmarks/report.py [RUN] [--repeats 3]     (default RUN: runs/latest)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", nargs="?", default="runs/latest")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    out = Path(os.environ.get("TMPDIR", "/tmp")) / "cryptotrain-bench-report.html"
    cmd = [sys.executable, "-m", "cryptotrain.cli", "report", args.run, "--out", str(out)]
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"cryptotrain report {args.run}: median {statistics.median(times):.2f} s, min {min(times):.2f} s "
          f"of {args.repeats} fresh processes; {out.stat().st_size / 1e6:.2f} MB")
    out.unlink()


if __name__ == "__main__":
    main()
