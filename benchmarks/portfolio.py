"""Benchmark: the portfolio engine plus its statistics on nine pairs x ~47,000 hourly candles, with
top-k weights changing every 4 candles; target < 1 s in a warm process (issue 28).

The candles are data/sample's nine 1h pairs (BTC and the eight of PROVENANCE-universe.md) on one
grid (data/universe.py; the real gaps and BTC's longer history included). Every 4 candles the
book is long the 3 pairs with the highest trailing 24-candle return, 1/3 each (a top-k policy:
a function scores -> weights). Times, after one warm-up run, the best and median of --repeats:
run_portfolio (engine and per-pair trades) + portfolio_stats + per_pair_stats, at 10 bps fee and
2 bps slippage. When vectorbt is installed (not a dependency) it also times vectorbt's
Portfolio.from_orders on the same target percentages with cash sharing, for comparison only.

    .venv/bin/python benchmarks/portfolio.py [--repeats 5] [--every 4] [--k 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from cryptotrain.backtest.portfolio_engine import run_portfolio
from cryptotrain.backtest.portfolio_stats import per_pair_stats, portfolio_stats
from cryptotrain.data.universe import list_pairs, load_pairs

TARGET_S = 1.0
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
PAIRS = ["BTC_USDT", "ETH_USDT", "SOL_USDT", "XRP_USDT", "DOGE_USDT", "ADA_USDT", "LINK_USDT", "LTC_USDT", "AVAX_USDT"]


def topk_weights(close: np.ndarray, every: int, k: int, lookback: int = 24) -> np.ndarray:
    """(T, N): every `every` rows, 1/k on the k highest trailing returns (a pair without a candle scores -inf)."""
    T, N = close.shape
    rows = np.arange(lookback, T, every)
    score = close[rows] / close[rows - lookback] - 1.0
    score = np.where(np.isfinite(score), score, -np.inf)
    top = np.argsort(score, axis=1)[:, -k:]
    w = np.full((T, N), np.nan)
    w[rows] = 0.0
    w[rows[:, None], top] = 1.0 / k
    return w


def once(uni, w) -> float:
    t0 = time.perf_counter()
    res = run_portfolio(uni.timestamps, uni.open, uni.close, w, cash=10_000.0, fee_bps=10.0, slippage_bps=2.0,
                        timeframe_ms=uni.timeframe_ms, symbols=uni.symbols)
    res.buy_hold = res.equity
    portfolio_stats(res)
    per_pair_stats(res)
    return time.perf_counter() - t0


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
    a = ap.parse_args()
    uni = load_pairs(list_pairs(SAMPLE), PAIRS, "1h")
    w = topk_weights(uni.close, a.every, a.k)
    once(uni, w)                                    # warm-up: imports, caches
    times = [once(uni, w) for _ in range(a.repeats)]
    res = run_portfolio(uni.timestamps, uni.open, uni.close, w, cash=10_000.0, fee_bps=10.0, slippage_bps=2.0,
                        timeframe_ms=uni.timeframe_ms, symbols=uni.symbols)
    best, med = min(times), statistics.median(times)
    print(f"portfolio engine + stats: {len(uni.symbols)} pairs x {len(uni.timestamps):,} {uni.timeframe} candles, "
          f"top-{a.k} every {a.every} candles, {len(res.fills.candle):,} fills, {len(res.trades):,} trades: "
          f"best {best:.3f} s, median {med:.3f} s of {a.repeats} (target < {TARGET_S:g} s: "
          f"{'met' if med < TARGET_S else 'NOT met'})")
    vb = vectorbt_time(uni, w)
    print(f"vectorbt from_orders + stats on the same targets: {vb:.3f} s" if vb is not None
          else "vectorbt: not installed (not a dependency); no comparison")


if __name__ == "__main__":
    main()
