"""Sleeves: N pairs, each trading its own targets on 1/N of the starting cash, sized on its own equity
(the `independent` policy of a universe run, portfolio_policy.py).

A sleeve is a sub-ledger of the one account: pair i gets cash / N at the start, its fills are sized
on the sleeve's equity (its cash + its units) by the engine's rule, and it pays its own fees and
slippage. Each sleeve is the portfolio engine run on that one column (which equals the single-pair
engine to 1e-12, tests/test_portfolio_engine.py), so gaps, late listings and a pair's end follow the
portfolio rule; the account is their sum: cash, units, value and equity add up, the fills and trades
are pooled. Sleeves never lend to each other and are not traded back to 1/N (they drift);
`rebalance` R > 0 trades each sleeve's position back to its target every R candles, within the sleeve.
A sleeve can be ruined on its own (its equity stays 0); the account is ruined when all are.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from cryptotrain.backtest.portfolio_engine import PortfolioFills, PortfolioResult, run_portfolio


def run_sleeves(timestamps: np.ndarray, open_: np.ndarray, close: np.ndarray, targets: np.ndarray, *,
                cash: float, fee_bps: float, slippage_bps: float, timeframe_ms: int,
                rebalance: int | np.ndarray = 0, symbols: list[str], data_end: np.ndarray | None = None,
                with_trades: bool = True, **risk) -> PortfolioResult:
    """targets (T, N): each pair's target as a fraction of its sleeve's equity (NaN = keep) -> the account.
    `risk`: run_portfolio's high, low, rules, atr (risk.engine_args), each sleeve given its pair's column."""
    N = open_.shape[1]
    parts = [run_portfolio(timestamps, open_[:, i:i + 1], close[:, i:i + 1], targets[:, i:i + 1], cash=cash / N,
                           fee_bps=fee_bps, slippage_bps=slippage_bps, timeframe_ms=timeframe_ms,
                           rebalance=rebalance, symbols=[symbols[i]],
                           data_end=None if data_end is None else data_end[i:i + 1], with_trades=with_trades,
                           **{k: v[:, i:i + 1] if isinstance(v, np.ndarray) else v for k, v in risk.items()})
             for i in range(N)]
    return merge_sleeves(parts, float(cash))


def merge_sleeves(parts: list[PortfolioResult], cash: float) -> PortfolioResult:
    """One-pair results -> the account holding them all (module docstring)."""
    fl = {f.name: np.concatenate([getattr(p.fills, f.name) for p in parts]) for f in fields(PortfolioFills)}
    fl["pair"] = np.concatenate([np.full(len(p.fills.candle), i, dtype=np.int64) for i, p in enumerate(parts)])
    order = np.lexsort((fl["units_after"] > fl["units_before"], fl["at_close"], fl["candle"]))   # as the engine
    fills = PortfolioFills(**{k: v[order] for k, v in fl.items()})
    trades = pd.concat([p.trades for p in parts], ignore_index=True).sort_values(
        ["entry_time", "symbol"], kind="stable", ignore_index=True)
    ruined = [p.ruined_at for p in parts]
    first = parts[0]
    return PortfolioResult(first.timestamps, [s for p in parts for s in p.symbols],
                           np.hstack([p.close for p in parts]), np.hstack([p.target for p in parts]),
                           np.hstack([p.units for p in parts]), np.hstack([p.value for p in parts]),
                           np.sum([p.equity for p in parts], axis=0), fills, trades, cash, first.timeframe_ms,
                           {s: t for p in parts for s, t in p.ended.items()},
                           max(ruined) if all(r is not None for r in ruined) else None)
