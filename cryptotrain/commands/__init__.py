"""The commands: one module per `cryptotrain` command, each calling the library and printing
through report/. With cli.py (which parses options and calls one function here) this is the only
code that prints; everything below reports through return values and callbacks
(tests/test_layering.py checks it).

Modules: `fetch`, `data_inspect`, `train`, `gradcheck`, `evaluate`, `backtest`, `walkforward`
(also the walk-forward branches of evaluate and backtest), `sweep`, `predict`, `runs`.
"""
