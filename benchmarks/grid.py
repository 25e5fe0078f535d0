"""Benchmark: `backtest --grid` with 24 combinations on nine pairs x ~7,000 hourly candles (a test
split's size); target < 10 s in process (issue 31).

The weights are benchmarks/portfolio.py's top-3 momentum book on data/sample's nine 1h pairs,
decided every 4 candles over the last --candles rows of the grid, written to a temporary weight
file; the grid "rebalance=0,24,168 stop_loss=0,0.05 trailing_stop=0,0.1 fee_bps=5,10" (24
combinations) runs through backtest/grid_run.run as the command does (read, trade each, DSR,
PBO, write grid.csv, grid_equity.csv, grid.json), timed from the call to its return (wall clock, and the process's CPU time, which a loaded
machine inflates less). Load (`uptime`) is printed: the machine is shared.

    .venv/bin/python benchmarks/grid.py [--candles 7000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from cryptotrain.backtest import grid_run
from cryptotrain.config import BacktestConfig
from cryptotrain.data.universe import list_pairs, load_pairs

from portfolio import PAIRS, SAMPLE, topk_weights

TARGET_S = 10.0
GRID = "rebalance=0,24,168 stop_loss=0,0.05 trailing_stop=0,0.1 fee_bps=5,10"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=7000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    uni = load_pairs(list_pairs(SAMPLE), PAIRS, "1h")
    w = topk_weights(uni, BacktestConfig(policy="topk", k=3, rebalance=4, mode="long-only"))[0][-a.candles:]
    ts = uni.timestamps[-a.candles:]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "topk.csv"
        frame = pd.DataFrame(w, columns=uni.symbols).assign(timestamp=ts).dropna(how="all", subset=uni.symbols)
        frame[["timestamp", *uni.symbols]].to_csv(path, index=False)
        times, cpu = [], []
        for i in range(a.repeats + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            rep = grid_run.run(grid=GRID, weights=path, data_dir=SAMPLE, out=Path(tmp) / "grid")
            if i:                                   # the first call: a warm-up (imports)
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    print(f"grid of {rep.doc['combinations_tried']} combinations, {len(uni.symbols)} pairs x {len(rep.grid.timestamps):,} "
          f"candles: best {min(times):.2f} s, median {med:.2f} s of {a.repeats} (target < {TARGET_S:g} s: "
          f"{'met' if med < TARGET_S else 'NOT met'}), CPU time median {statistics.median(cpu):.2f} s; DSR of the best {rep.doc['deflated_sharpe']['dsr']:.3f}, "
          f"PBO {rep.doc['pbo']['pbo']:.2f}")


if __name__ == "__main__":
    main()
