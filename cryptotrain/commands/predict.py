"""`cryptotrain predict`: what the run's model would do at a candle (predict.py), printed through
report/predict.py; a universe run without --data ranks every pair and prints the orders
(predict_universe.py, report/predict_universe.py)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.errors import UserError
from cryptotrain.predict import load_run, predict
from cryptotrain.predict_universe import predict_universe
from cryptotrain.report.predict import print_prediction
from cryptotrain.report.predict_universe import print_universe_prediction


def predict_command(run: Path | None, *, checkpoint: str, data: Path | None, at: str | None, allow_stale: bool,
                    as_json: bool, console: Console, data_dir: Path | None = None, holdings: Path | None = None,
                    cash: float | None = None, overrides: dict | None = None) -> dict:
    """Score the decision candle and print it; returns the prediction's plain result."""
    loaded = load_run(run, checkpoint)
    if loaded.ck.config.data.universe is not None and data is None:
        result = predict_universe(loaded, data_dir=data_dir, holdings=holdings, cash=cash, at=at,
                                  allow_stale=allow_stale, overrides=overrides)
        print_universe_prediction(result, console, as_json=as_json)
        return result
    given = [o for o, v in (("--data-dir", data_dir), ("--holdings", holdings), ("--cash", cash), ("--set", overrides))
             if v]
    if given:
        raise UserError(f"{given[0]} is for a universe run without --data (every pair ranked, orders from the "
                        "holdings); drop it")
    result = predict(checkpoint=checkpoint, data=data, at=at, allow_stale=allow_stale, loaded=loaded).result
    print_prediction(result, console, as_json=as_json)
    return result
