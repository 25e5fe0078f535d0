"""`cryptotrain predict`: what the run's model would do at a candle (predict.py), printed through
report/predict.py."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cryptotrain.predict import predict
from cryptotrain.report.predict import print_prediction


def predict_command(run: Path | None, *, checkpoint: str, data: Path | None, at: str | None, allow_stale: bool,
                    as_json: bool, console: Console) -> dict:
    """Score the decision candle and print it; returns the prediction's plain result."""
    result = predict(run, checkpoint=checkpoint, data=data, at=at, allow_stale=allow_stale).result
    print_prediction(result, console, as_json=as_json)
    return result
