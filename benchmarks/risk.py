"""Benchmark: what the risk rules cost the engines (issue 31): nine pairs x ~47,000 hourly candles with
a stop; target < 2 s for the portfolio engine plus its statistics with a stop, in a warm process.

The book of benchmarks/portfolio.py (data/sample's nine 1h pairs on one grid, long the top 3 by
trailing 24-candle return, re-chosen every 4 candles) is traded at 10 bps fee and 2 bps slippage
without rules, with a 2% stop-loss, and with every rule (stop 2%, take-profit 4%, trailing 3%,
max_hold 48); each time is run_portfolio + portfolio_stats + per_pair_stats, the best and median
of --repeats after a warm-up. The single-pair engine is timed on BTC's candles the same way (the
book's BTC column as its target). Load (`uptime`) is printed: the machine is shared.

    .venv/bin/python benchmarks/risk.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from cryptotrain.backtest.engine import execute_targets
from cryptotrain.backtest.policy import hold_forward
from cryptotrain.backtest.portfolio_engine import run_portfolio
from cryptotrain.backtest.portfolio_stats import per_pair_stats, portfolio_stats
from cryptotrain.backtest.risk import Rules
from cryptotrain.backtest.stats import compute_stats
from cryptotrain.config import BacktestConfig
from cryptotrain.data.universe import list_pairs, load_pairs

from portfolio import PAIRS, SAMPLE, topk_weights

TARGET_S = 2.0
CASES = {"no rules": None, "stop 2%": Rules(stop_loss=0.02),
         "all rules": Rules(stop_loss=0.02, take_profit=0.04, trailing_stop=0.03, max_hold=48)}


def portfolio_once(uni, w, rules):
    t0 = time.perf_counter()
    res = run_portfolio(uni.timestamps, uni.open, uni.close, w, cash=10_000.0, fee_bps=10.0, slippage_bps=2.0,
                        timeframe_ms=uni.timeframe_ms, symbols=uni.symbols, high=uni.high, low=uni.low, rules=rules)
    res.buy_hold = res.equity
    portfolio_stats(res)
    per_pair_stats(res)
    return time.perf_counter() - t0, res


def single_once(uni, target, rules):
    ok = np.isfinite(uni.open[:, 0])
    t0 = time.perf_counter()
    res = execute_targets(uni.timestamps[ok], uni.open[ok, 0], uni.close[ok, 0], target[ok], cash=10_000.0,
                          fee_bps=10.0, slippage_bps=2.0, timeframe_ms=uni.timeframe_ms, high=uni.high[ok, 0],
                          low=uni.low[ok, 0], rules=rules)
    compute_stats(res)
    return time.perf_counter() - t0, res


def timed(fn, repeats):
    fn()                                            # warm-up: imports, caches
    runs = [fn() for _ in range(repeats)]
    return min(t for t, _ in runs), statistics.median(t for t, _ in runs), runs[0][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    uni = load_pairs(list_pairs(SAMPLE), PAIRS, "1h")
    w, _ = topk_weights(uni, BacktestConfig(policy="topk", k=3, rebalance=4, mode="long-only"))
    btc = np.nan_to_num(hold_forward(w[:, 0]) * 3)    # BTC's own sleeve as a target of 0 or 1
    for name, rules in CASES.items():
        best, med, res = timed(lambda: portfolio_once(uni, w, rules), a.repeats)
        exits = res.trades["exit_reason"].value_counts().to_dict()
        verdict = "" if rules is None else f" (target < {TARGET_S:g} s: {'met' if med < TARGET_S else 'NOT met'})"
        print(f"portfolio, {name}: {len(uni.symbols)} pairs x {len(uni.timestamps):,} candles, "
              f"{len(res.fills.candle):,} fills, exits {exits}: best {best:.3f} s, median {med:.3f} s{verdict}")
        best, med, res = timed(lambda: single_once(uni, btc, rules), a.repeats)
        print(f"single pair (BTC), {name}: {int(np.isfinite(uni.open[:, 0]).sum()):,} candles, "
              f"{len(res.fills.candle):,} fills: best {best:.3f} s, median {med:.3f} s")


if __name__ == "__main__":
    main()
