"""Statistics of a portfolio backtest: stats.compute_stats (the same keys and definitions as every
backtest) followed by what only a book of pairs has, and a table per pair.

With E_t the equity and v_{t,i} = units_{t,i} * close_{t,i} (the last close in a gap) at the close
of t, T rows, Y calendar years (stats.py):
    Turnover per Year     = sum of traded notional [$] / mean(E) / Y
    Avg. Gross Exposure   = mean_t sum_i |v_{t,i}| / E_t             [%]
    Avg. Net Exposure     = mean_t sum_i v_{t,i} / E_t               [%]
    Avg. Holdings         = mean_t #{i : units_{t,i} != 0}
Per pair: P&L contribution = the sum of its trades' P&L (fees and slippage included, a trade open
at the end marked at the last close; the contributions add up to E_final - cash), its trades,
fees [$] and exposure time (share of rows holding it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptotrain.backtest.stats import YEAR_MS, compute_stats


def portfolio_stats(res, no_costs: float | None = None) -> dict[str, Any]:
    """portfolio_engine.PortfolioResult (with `buy_hold` set) -> compute_stats' dict plus the keys above."""
    s = compute_stats(res, no_costs=no_costs)
    eq = np.asarray(res.equity, dtype=float)
    years = (int(res.timestamps[-1]) + res.timeframe_ms - int(res.timestamps[0])) / YEAR_MS
    safe = np.where(eq > 0, eq, np.inf)
    s["Turnover per Year"] = float(np.sum(res.fills.notional) / eq.mean() / years) if eq.mean() > 0 else float("nan")
    s["Avg. Gross Exposure [%]"] = 100.0 * float(np.mean(np.abs(res.value).sum(axis=1) / safe))
    s["Avg. Net Exposure [%]"] = 100.0 * float(np.mean(res.value.sum(axis=1) / safe))
    s["Avg. Holdings"] = float(np.mean((res.units != 0).sum(axis=1)))
    return s


def per_pair_stats(res) -> dict[str, dict[str, Any]]:
    """symbol -> P&L contribution [$] and [% of cash], trades, fees [$], exposure time [%]."""
    pnl = res.trades.groupby("symbol")["pnl"].sum() if len(res.trades) else {}
    count = res.trades["symbol"].value_counts() if len(res.trades) else {}
    fees = np.bincount(res.fills.pair, res.fills.fee, minlength=len(res.symbols))
    out = {}
    for i, sym in enumerate(res.symbols):
        p = float(pnl.get(sym, 0.0)) if len(res.trades) else 0.0
        out[sym] = {"P&L Contribution [$]": p, "P&L Contribution [%]": 100.0 * p / res.cash,
                    "# Trades": int(count.get(sym, 0)) if len(res.trades) else 0, "Fees Paid [$]": float(fees[i]),
                    "Exposure Time [%]": 100.0 * float(np.mean(res.units[:, i] != 0))}
    return out
