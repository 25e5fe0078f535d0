"""Benchmark: backtest 1,000,000 one-minute candles with a changing signal; target < 1 s.

Times `run_backtest` (engine + trade extraction) and `compute_stats` on a synthetic random
walk, for a signal that flips long/short about every other candle (the persistence rule:
~500,000 fills, the worst case for the fill-level work) and for confidence-sized targets that
change every candle. Prints the best of a few repeats and whether the target is met.
Costs are 1 bp fee and no slippage so that the account survives 500,000 fills (with 10 + 2 bps
its equity underflows to 0 and the ruin path runs instead); the costs do not change the work.

    .venv/bin/python benchmarks/backtest.py [--candles 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cryptotrain.backtest.engine import run_backtest
from cryptotrain.backtest.stats import compute_stats

MINUTE = 60_000
TARGET_S = 1.0


def candles(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    open_ = np.concatenate(([30_000.0], close[:-1])) * np.exp(rng.normal(0, 1e-4, n))
    return 1_700_000_040_000 + np.arange(n, dtype=np.int64) * MINUTE, open_, close


def best_of(repeats: int, fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ts, open_, close = candles(args.candles)
    side = np.sign(np.diff(close, prepend=close[0]))
    conf = np.random.default_rng(1).uniform(0, 1, args.candles)
    signals = {"flip every ~2 candles": side, "confidence-sized, every candle": np.round(side * conf, 3)}
    print(f"{args.candles:,} one-minute candles, best of {args.repeats}")
    ok = True
    for name, target in signals.items():
        t_bt, res = best_of(args.repeats, lambda: run_backtest(ts, open_, close, target, cash=10_000.0, fee_bps=1,
                                                               slippage_bps=0, timeframe_ms=MINUTE))
        t_st, _ = best_of(args.repeats, lambda: compute_stats(res))
        total = t_bt + t_st
        ok &= total < TARGET_S
        print(f"  {name:32s} fills {len(res.fills.candle):>9,}  trades {len(res.trades):>9,}  "
              f"backtest {t_bt:.3f} s  stats {t_st:.3f} s  total {total:.3f} s  "
              f"{'OK' if total < TARGET_S else 'SLOW'} (target < {TARGET_S:g} s)")
    print("target met" if ok else "target NOT met")


if __name__ == "__main__":
    main()
