"""Backtesting: model predictions or external signals -> target exposures -> next-open fills,
fees and slippage -> equity, trades and statistics.

- `policy.py`   predictions -> target exposures (and the buy-and-hold / persistence baselines)
- `signals.py`  reading and checking an external `timestamp,position` signal file
- `engine.py`   the execution rule, vectorized over candles (`execute_targets`)
- `trades.py`   round-trip trades from the fills (vectorized over fills)
- `stats.py`    `compute_stats`: every reported number and its formula
- `backtester.py` `run`: a run's predictions or a signal file -> outputs on disk (`trade`: no files)
- `settings.py` the settings of one backtest (options, `--set`, the directory of other settings)
(the command, printing through report/, is commands/backtest.py)
Portfolio (`backtest --weights`): `weights_file.py` (reading a weight file), `portfolio_weights.py`
(constraints), `portfolio_engine.py` (N pairs, one cash account), `portfolio_stats.py`,
`portfolio_backtest.py` (`run`: files in, outputs written) and the command in commands/portfolio.py.
Universe runs (`backtest --run UNIVERSE_RUN`): `portfolio_policy.py` (scores -> weights: independent,
topk, proportional; the momentum score), `portfolio_sleeves.py` (independent's sleeves) and
`universe_backtest.py` (predictions + candles -> policy -> engine).
"""

from cryptotrain.backtest.backtester import BacktestReport, run, trade  # noqa: F401
