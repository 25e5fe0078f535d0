"""What a backtest says in a few numbers: the return before and after costs, what the costs
were in % of the starting cash, how often and how long the strategy traded against the label
horizon, and the same returns for each baseline (any number of them).

The sentences are written by report/backtest_report.py from this plain dict; nothing here
prints. Definitions (stats.py gives the per-strategy statistics):
- return after costs [%]  = Return [%];  before costs = Return, no costs [%] (the same targets
  traded with fee = slippage = 0);
- fees / slippage [% of cash] = Fees Paid [$] / cash, Slippage Paid [$] / cash (summed over the
  fills, not compounded, so they need not add up to the gap between the two returns);
- PSR(0) [%] and the 95% block-bootstrap interval of the annualized return (stats.py): the
  reading of a profitable strategy says whether that interval excludes 0 (the null: no return);
- average holding time [candles] = mean trade duration / timeframe (a trade open at the end
  counts to the last close).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptotrain.config import BacktestConfig


def _finite(v) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def strategy_summary(stats: dict[str, Any], cash: float) -> dict[str, Any]:
    """The verdict's numbers of one strategy, from its compute_stats dict."""
    return {"return_pct": _finite(stats["Return [%]"]),
            "return_no_costs_pct": _finite(stats.get("Return, no costs [%]")),
            "fees_pct_of_cash": _finite(100.0 * stats["Fees Paid [$]"] / cash),
            "slippage_pct_of_cash": _finite(100.0 * stats.get("Slippage Paid [$]", float("nan")) / cash),
            "trades": int(stats["# Trades"]),
            "psr0_pct": _finite(stats.get("PSR(0) [%]")),
            "ann_return_ci_pct": [_finite(stats.get("Return (Ann.) CI Low [%]")),
                                  _finite(stats.get("Return (Ann.) CI High [%]"))]}


def backtest_verdict(stats: dict[str, dict[str, Any]], results: dict, settings: BacktestConfig, *,
                     strategy: str = "model", horizon: int | None = None) -> dict[str, Any]:
    """The verdict of `strategy` against every other entry of `stats` (the baselines).

    `results`: the engine results by strategy (trade durations), `horizon`: the label horizon in
    candles of the predictions traded (None for external signals)."""
    res = results[strategy]
    dur = res.trades["duration"].to_numpy(dtype=np.float64)
    out = {"strategy": strategy, **strategy_summary(stats[strategy], settings.cash),
           "avg_hold_candles": float(dur.mean() / res.timeframe_ms) if len(dur) else None,
           "horizon": None if horizon is None else int(horizon), "min_hold": int(settings.min_hold),
           "baselines": {name: strategy_summary(s, settings.cash) for name, s in stats.items() if name != strategy}}
    return out
