"""Rich tables and matplotlib figures for training, evaluation and backtests."""
