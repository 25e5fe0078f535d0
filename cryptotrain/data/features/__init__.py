"""Causal features of candles: the basic indicators and the pipeline (`basic`), the Alpha158
set (`alpha158`), higher-timeframe context (`context`) and the window-only rolling statistics
they use (`rolling`)."""
