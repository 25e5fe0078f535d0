"""Backtesting: model predictions or external signals -> target exposures -> next-open fills,
fees and slippage -> equity, trades and statistics.

- `policy.py`   predictions -> target exposures (and the buy-and-hold / persistence baselines)
- `signals.py`  reading and checking an external `timestamp,position` signal file
- `engine.py`   the execution rule, vectorized over candles (`execute_targets`)
- `trades.py`   round-trip trades from the fills (vectorized over fills)
- `stats.py`    `compute_stats`: every reported number and its formula
- `backtester.py` `run`: a run's predictions or a signal file -> outputs on disk (`trade`: no files)
(the command, printing through report/, is commands/backtest.py)
"""

from cryptotrain.backtest.backtester import BacktestReport, run, trade  # noqa: F401
