"""Defaults needed before the config classes load: the backtest settings. `backtest --help`
shows them (cli.py) and BacktestConfig takes them as its defaults (config/schema.py), so they are
written once and `cryptotrain --help` still imports no pydantic (start-up time)."""

BACKTEST = {"fee_bps": 10.0, "slippage_bps": 2.0, "cash": 10_000.0, "mode": "long-short", "threshold": 0.0,
            "sizing": "fixed", "max_exposure": 1.0, "min_hold": 0,
            "gross": 1.0, "rebalance": 0, "target_vol": 0.0,
            "stop_loss": 0.0, "take_profit": 0.0, "stop_loss_atr": 0.0, "take_profit_atr": 0.0, "atr_period": 14,
            "trailing_stop": 0.0, "max_hold": 0,
            "policy": "independent", "k": 3, "n_drop": None}
