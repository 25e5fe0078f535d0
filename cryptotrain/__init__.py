"""cryptotrain: fetch crypto candles, train NumPy recurrent attention models, evaluate, backtest.

The pipeline as a library (for notebooks and worker processes; nothing here prints):

    from cryptotrain import load_config, fit, score, run_backtest
    cfg = load_config("configs/tiny.yaml")
    trained = fit(cfg)                      # -> TrainResult (run_dir, best_epoch, best_val_loss, ...)
    evaluated = score(trained.run_dir)      # -> EvalResult (metrics, predictions, files)
    traded = run_backtest(trained.run_dir)  # -> BacktestReport (results, stats, files)

The names load lazily (module `__getattr__`), so importing the package, or running
`cryptotrain --help`, loads none of NumPy, pandas or the models.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute)
_API = {
    "load_config": ("cryptotrain.config", "load_config"),
    "Config": ("cryptotrain.config", "Config"),
    "fit": ("cryptotrain.train.trainer", "fit"),
    "TrainResult": ("cryptotrain.train.trainer", "TrainResult"),
    "score": ("cryptotrain.evaluate.scorer", "score"),
    "EvalResult": ("cryptotrain.evaluate.scorer", "EvalResult"),
    "run_backtest": ("cryptotrain.backtest.backtester", "run"),
    "BacktestReport": ("cryptotrain.backtest.backtester", "BacktestReport"),
    "UserError": ("cryptotrain.errors", "UserError"),
    "RunFailure": ("cryptotrain.errors", "RunFailure"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'cryptotrain' has no attribute {name!r}")
    module, attr = _API[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value   # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
