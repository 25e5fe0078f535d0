"""Refuse to score what cannot be scored: a checkpoint with non-finite parameters, or model
outputs that are NaN or infinite.

Without this, an all-NaN row of logits would become a class anyway (argmax of NaNs is 0,
"sell"), and the metrics, the predictions file and then the backtest would all look normal.
Both cases are a UserError (exit code 2, one line): the checkpoint is a bad input, and the
fix is to use the other checkpoint or retrain, not to look at a traceback. Training never
writes such a checkpoint (its non-finite guard stops first), so this catches damaged,
foreign or hand-edited files and data far outside what the model was trained on.

Shapes: N windows.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.data.timestamps import format_utc
from cryptotrain.errors import UserError

OUTPUTS = ("logits", "confidence", "pred_return", "attention")


def check_finite_params(params: dict[str, np.ndarray], source: str) -> None:
    """UserError naming the first parameters that hold NaN or inf."""
    bad = [k for k, v in params.items() if not np.isfinite(v).all()]
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise UserError(f"{source}: non-finite parameters in {', '.join(bad[:3])}{more}; this checkpoint cannot be "
                        "evaluated: use the other one (--checkpoint best|last) or retrain with a lower train.lr")


def check_finite_outputs(pred: dict, timestamps: np.ndarray, source: str) -> None:
    """UserError naming the output, how many windows and the first one, when an output is not finite.

    `pred`: predict_with_loss outputs, each (N, ...); `timestamps` (N,) decision candles.
    """
    for key in OUTPUTS:
        out = pred.get(key)
        if out is None:
            continue
        bad = ~np.isfinite(np.asarray(out, dtype=np.float64).reshape(len(timestamps), -1)).all(axis=1)
        if bad.any():
            first = format_utc(int(timestamps[np.argmax(bad)]))
            raise UserError(f"{source} gives non-finite {key} on {int(bad.sum())} of {len(bad)} windows (first at "
                            f"{first}); its predictions cannot be scored: use the other checkpoint "
                            "(--checkpoint best|last) or retrain with a lower train.lr")
