"""Candle data: OHLCV files (load, validate, write), features, labels, windows and splits.

Modules: `ohlcv` (files and checks), `inspect` (the `data inspect` summary), `features`
(causal indicators), `labels` (forward returns, actions, confidence), `dataset` (splits,
normalizer, batched windows), `fetch` (ccxt download).
"""

from cryptotrain.data.ohlcv import (  # noqa: F401
    OhlcvReport,
    load_ohlcv,
    ms_to_timeframe,
    parse_utc,
    timeframe_to_ms,
    validate_ohlcv_frame,
    write_ohlcv,
)
