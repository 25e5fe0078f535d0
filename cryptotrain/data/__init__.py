"""Candle data: OHLCV files (load, validate, write), features, labels, windows and splits.

Modules: `ohlcv` (files and checks), `timestamps` (timeframes, UTC dates, timestamp columns),
`features/` (causal indicators), `labels` (forward returns, actions, confidence), `dataset`
(splits, normalizer, batched windows), `fetch/` (the ccxt download's parts; the command is
commands/fetch.py).
"""

from cryptotrain.data.ohlcv import OhlcvReport, load_ohlcv, validate_ohlcv_frame, write_ohlcv  # noqa: F401
from cryptotrain.data.timestamps import ms_to_timeframe, parse_utc, timeframe_to_ms  # noqa: F401
