"""Benchmark: backtest 1,000,000 one-minute candles with a changing signal; target < 1 s.

Also (--command, on by default) the whole command a user runs, in fresh processes:
`cryptotrain backtest --signals s.csv --data c.parquet` on the same number of candles with a
signal that changes on 1% of them (imports, loading and checking the candles, engine, stats,
equity.csv, trades.csv, stats.json and the figure); target < 1.5 s, median of --repeats runs.

Times `execute_targets` (engine + trade extraction) and `compute_stats` on a synthetic random
walk, for a signal that flips long/short about every other candle (the persistence rule:
~500,000 fills, the worst case for the fill-level work) and for confidence-sized targets that
change every candle. Prints the best of a few repeats and whether the target is met.
Costs are 1 bp fee and no slippage so that the account survives 500,000 fills (with 10 + 2 bps
its equity underflows to 0 and the ruin path runs instead); the costs do not change the work.

    .venv/bin/python benchmarks/backtest.py [--candles 1000000] [--repeats 3] [--no-command]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from cryptotrain.backtest.engine import execute_targets
from cryptotrain.backtest.stats import compute_stats

MINUTE = 60_000
TARGET_S = 1.0
COMMAND_TARGET_S = 1.5


def candles(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 5e-4, n)))
    open_ = np.concatenate(([30_000.0], close[:-1])) * np.exp(rng.normal(0, 1e-4, n))
    return 1_700_000_040_000 + np.arange(n, dtype=np.int64) * MINUTE, open_, close


def command_files(n: int, folder: Path) -> tuple[Path, Path]:
    """c.parquet (n candles) and s.csv (a position in {-1, 0, 0.5, 1} on a random 1% of them)."""
    import pandas as pd

    from cryptotrain.data.ohlcv import write_ohlcv

    ts, open_, close = candles(n)
    rng = np.random.default_rng(2)
    wick = rng.uniform(0, 1e-4, (2, n))
    write_ohlcv(pd.DataFrame({"timestamp": ts, "open": open_, "high": np.maximum(open_, close) * (1 + wick[0]),
                              "low": np.minimum(open_, close) * (1 - wick[1]), "close": close,
                              "volume": rng.uniform(0, 10, n)}), folder / "c.parquet")
    rows = np.sort(rng.choice(n - 1, max(1, n // 100), replace=False))
    pd.DataFrame({"timestamp": ts[rows], "position": rng.choice([-1.0, 0.0, 0.5, 1.0], len(rows))}).to_csv(
        folder / "s.csv", index=False)
    return folder / "c.parquet", folder / "s.csv"


def command_seconds(n: int, repeats: int) -> list[float]:
    """Wall seconds of each fresh `cryptotrain backtest --signals` process (after one warm-up run)."""
    from commands import CLI, fresh_seconds   # benchmarks/commands.py, beside this file

    with tempfile.TemporaryDirectory() as d:
        data, signals = command_files(n, Path(d))
        return fresh_seconds(CLI + ["backtest", "--signals", str(signals), "--data", str(data)], repeats)


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
    ap.add_argument("--no-command", action="store_true", help="skip the fresh-process command row")
    args = ap.parse_args()
    ts, open_, close = candles(args.candles)
    side = np.sign(np.diff(close, prepend=close[0]))
    conf = np.random.default_rng(1).uniform(0, 1, args.candles)
    signals = {"flip every ~2 candles": side, "confidence-sized, every candle": np.round(side * conf, 3)}
    print(f"{args.candles:,} one-minute candles, best of {args.repeats}")
    ok = True
    for name, target in signals.items():
        t_bt, res = best_of(args.repeats, lambda: execute_targets(ts, open_, close, target, cash=10_000.0, fee_bps=1,
                                                                  slippage_bps=0, timeframe_ms=MINUTE))
        t_st, _ = best_of(args.repeats, lambda: compute_stats(res))
        total = t_bt + t_st
        ok &= total < TARGET_S
        print(f"  {name:32s} fills {len(res.fills.candle):>9,}  trades {len(res.trades):>9,}  "
              f"backtest {t_bt:.3f} s  stats {t_st:.3f} s  total {total:.3f} s  "
              f"{'OK' if total < TARGET_S else 'SLOW'} (target < {TARGET_S:g} s)")
    if not args.no_command:
        times = command_seconds(args.candles, args.repeats)
        med = statistics.median(times)
        ok &= med < COMMAND_TARGET_S
        print(f"  {'whole command, fresh process':32s} cryptotrain backtest --signals (1% of candles) --data .parquet: "
              f"median {med:.2f} s of {len(times)} (min {min(times):.2f}, max {max(times):.2f})  "
              f"{'OK' if med < COMMAND_TARGET_S else 'SLOW'} (target < {COMMAND_TARGET_S:g} s)")
    print("target met" if ok else "target NOT met")


if __name__ == "__main__":
    main()
