"""Benchmark `cryptotrain predict --run UNIVERSE_RUN --holdings H --json` in a fresh process (target: under
2 s): the nine 1h pairs of configs/universe_1h.yaml (data/sample, CSV.gz, about 47,000 candles each),
a run trained briefly first (the time is in reading nine files, the features and nine forward passes,
not in how good the model is), then asked for the pairs' common last candle (--at 2026-05-16T18:00:
BTC's file runs on past the others, whose newest candle would leave eight of them skipped as stale)
with holdings in two pairs. The machine is shared: say the load average
with the numbers. Besides the wall time: the seconds the library reports (`seconds` of the result:
the checkpoint, nine files read, features and model, without the imports and interpreter start).

Run: .venv/bin/python benchmarks/predict_universe.py [--repeats 5] [--keep DIR]
"""

from __future__ import annotations

import json
import os
import statistics
import time

from predict import _children_cpu, _run, _train, bench_setup   # benchmarks/predict.py: fresh processes, brief training

TARGET_S = 2.0


def main() -> None:
    with bench_setup(__doc__) as (args, env, tmp):
        run = _train(tmp, "configs/universe_1h.yaml", "run_universe", env)
        holdings = tmp / "holdings.json"
        holdings.write_text(json.dumps({"BTC/USDT": 0.01, "ETH/USDT": 0.5}))
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2-core machine, shared); "
              f"median of {args.repeats} fresh processes")
        walls, cpus, inner = [], [], []
        for _ in range(args.repeats):
            t0, c0 = time.perf_counter(), _children_cpu()
            out = _run(["-m", "cryptotrain.cli", "predict", "--run", str(run), "--holdings", str(holdings), "--json",
                        "--at", "2026-05-16T18:00"], env)
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu() - c0)
            res = json.loads(out.stdout)
            inner.append(res["seconds"])
        wall = statistics.median(walls)
        print(f"  nine pairs, {len(res['pairs'])} scored, {len(res['orders'])} orders: wall {wall:.2f} s (min "
              f"{min(walls):.2f}, max {max(walls):.2f}) {'OK' if wall < TARGET_S else 'SLOW'} (target < "
              f"{TARGET_S:g} s); CPU (user + sys) {statistics.median(cpus):.2f} s; inside predict_universe "
              f"{statistics.median(inner):.2f} s")
        print("target met" if wall < TARGET_S else "target NOT met")


if __name__ == "__main__":
    main()
