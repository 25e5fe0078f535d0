"""Backtesting: model predictions or external signals -> target exposures -> next-open fills,
fees and slippage -> equity, trades and statistics.

- `policy.py`   predictions -> target exposures (and the buy-and-hold / persistence baselines)
- `signals.py`  reading and checking an external `timestamp,position` signal file
- `engine.py`   the execution rule, vectorized over candles (`run_backtest`)
- `trades.py`   round-trip trades from the fills (vectorized over fills)
- `stats.py`    `compute_stats`: every reported number and its formula
- `runner.py`   `backtest_command`: the CLI entry point, outputs on disk
"""
