"""Benchmark: the portfolio engine plus its statistics on nine pairs x ~47,000 hourly candles, with
the topk policy deciding every 4 candles; target < 1 s in a warm process (issue 28).

The candles are data/sample's nine 1h pairs (BTC and the eight of PROVENANCE-universe.md) on one
grid (data/universe.py; the real gaps and BTC's longer history included). The scores are the
momentum benchmark's (portfolio_policy.momentum_scores: the trailing 24-candle return); every 4
candles the topk policy (portfolio_policy.policy_weights, TopkDropout with --n-drop) holds the 3
best long, 1/3 each, through portfolio_weights.constrain. Times, after one warm-up run, the best and
median of --repeats of: the policy and constraints (scores -> weights), and run_portfolio (engine
and per-pair trades) + portfolio_stats + per_pair_stats at 10 bps fee and 2 bps slippage (the
target). When vectorbt is installed (not a dependency) it also times vectorbt's
Portfolio.from_orders on the same target percentages with cash sharing, for comparison only.

    .venv/bin/python benchmarks/portfolio.py [--repeats 5] [--every 4] [--k 3] [--n-drop 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from cryptotrain.backtest.portfolio_engine import run_portfolio
from cryptotrain.backtest.portfolio_policy import momentum_scores, policy_weights
from cryptotrain.backtest.portfolio_weights import constrain
from cryptotrain.backtest.portfolio_stats import per_pair_stats, portfolio_stats
from cryptotrain.config import BacktestConfig
from cryptotrain.data.universe import list_pairs, load_pairs

TARGET_S = 1.0
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
PAIRS = ["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "ADA_USDT", "LINK_USDT", "LTC_USDT", "AVAX_USDT"]


def topk_weights(uni, bcfg: BacktestConfig, lookback: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(T, N) constrained topk weights on momentum scores and the engine's rebalance mask (T,)."""
    w, reb = policy_weights(momentum_scores(uni.close, lookback), bcfg)
    return constrain(w, uni.close, mode=bcfg.mode, max_exposure=bcfg.max_exposure, gross=bcfg.gross,
                     target_vol=bcfg.target_vol, timeframe_ms=uni.timeframe_ms), reb


def once(uni, bcfg: BacktestConfig) -> tuple[float, float]:
    """(seconds of the policy, seconds of engine + statistics)."""
    t0 = time.perf_counter()
    w, reb = topk_weights(uni, bcfg)
    t1 = time.perf_counter()
    res = run_portfolio(uni.timestamps, uni.open, uni.close, w, cash=10_000.0, fee_bps=10.0, slippage_bps=2.0,
                        timeframe_ms=uni.timeframe_ms, rebalance=reb, symbols=uni.symbols)
    res.buy_hold = res.equity
    portfolio_stats(res)
    per_pair_stats(res)
    return t1 - t0, time.perf_counter() - t1


def vectorbt_time(uni, w) -> float | None:
    """vectorbt's from_orders on the same targets (fills at the next open approximated by shifting the
    targets one row and pricing at the open); None when vectorbt is not installed."""
    try:
        import pandas as pd
        import vectorbt as vbt
    except ImportError:
        return None
    held = pd.DataFrame(w).ffill().shift(1).to_numpy()
    price = pd.DataFrame(uni.open).ffill().to_numpy()
    t0 = time.perf_counter()
    pf = vbt.Portfolio.from_orders(price, size=held, size_type="targetpercent", group_by=True, cash_sharing=True,
                                   fees=1e-3, slippage=2e-4, init_cash=10_000.0, freq="1h")
    pf.stats()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--every", type=int, default=4)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--n-drop", type=int, default=1)
    a = ap.parse_args()
    uni = load_pairs(list_pairs(SAMPLE), PAIRS, "1h")
    bcfg = BacktestConfig(policy="topk", k=a.k, n_drop=a.n_drop, rebalance=a.every, mode="long-only")
    once(uni, bcfg)                                 # warm-up: imports, caches
    times = [once(uni, bcfg) for _ in range(a.repeats)]
    pol, eng = [t[0] for t in times], [t[1] for t in times]
    w, reb = topk_weights(uni, bcfg)
    res = run_portfolio(uni.timestamps, uni.open, uni.close, w, cash=10_000.0, fee_bps=10.0, slippage_bps=2.0,
                        timeframe_ms=uni.timeframe_ms, rebalance=reb, symbols=uni.symbols)
    best, med = min(eng), statistics.median(eng)
    print(f"topk policy (k {a.k}, n_drop {a.n_drop}, every {a.every} candles, {len(uni.timestamps) // a.every:,} "
          f"decisions) + constraints: best {min(pol):.3f} s, median {statistics.median(pol):.3f} s")
    print(f"portfolio engine + stats: {len(uni.symbols)} pairs x {len(uni.timestamps):,} {uni.timeframe} candles, "
          f"{len(res.fills.candle):,} fills, {len(res.trades):,} trades: best {best:.3f} s, median {med:.3f} s of "
          f"{a.repeats} (target < {TARGET_S:g} s: {'met' if med < TARGET_S else 'NOT met'})")
    vb = vectorbt_time(uni, w)
    print(f"vectorbt from_orders + stats on the same targets: {vb:.3f} s" if vb is not None
          else "vectorbt: not installed (not a dependency); no comparison")


if __name__ == "__main__":
    main()
