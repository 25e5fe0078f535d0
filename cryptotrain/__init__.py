"""cryptotrain: fetch crypto candles, train NumPy recurrent attention models, evaluate, backtest."""

__version__ = "0.1.0"
