"""How arrays travel into the page, and how long series are reduced for drawing.

Numbers go in as plotly.js typed arrays ({"dtype": "f8", "bdata": base64}): 8 bytes a number,
decoded by the browser without parsing text, so a report of tens of thousands of points stays
small and quick to write. Time is milliseconds since the epoch on a date axis (UTC).

Lines are thinned by `report.equity_figure.thin` (the PNG figures' rule: every bucket's minimum
and maximum kept); candles beyond MAX_CANDLES are merged `step` at a time into one candle
(first open, highest high, lowest low, last close, summed volume), so no extreme is lost either.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from cryptotrain.report.equity_figure import thin

MAX_CANDLES = 8000   # drawn one by one up to this many (the demo's test split: 7,133); else merged

__all__ = ["typed", "thin", "merge_candles", "MAX_CANDLES"]


def typed(a: Any) -> dict[str, str]:
    """A numeric array as a plotly.js typed array (float64; NaN draws as a gap)."""
    x = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
    return {"dtype": "f8", "bdata": base64.b64encode(x.tobytes()).decode("ascii")}


def merge_candles(c: dict[str, np.ndarray], max_candles: int = MAX_CANDLES) -> tuple[dict[str, np.ndarray], int]:
    """(candles to draw, candles per drawn candle): `c` itself when it has at most `max_candles`,
    else every `step` consecutive candles merged into one; "position" (when present) becomes the
    mean position of the merged candles."""
    n = len(c["time"])
    if n <= max_candles:
        return c, 1
    step = -(-n // max_candles)
    start = np.arange(0, n, step)
    out = {"time": np.asarray(c["time"])[start],
           "open": np.asarray(c["open"])[start],
           "high": np.maximum.reduceat(np.asarray(c["high"], dtype=np.float64), start),
           "low": np.minimum.reduceat(np.asarray(c["low"], dtype=np.float64), start),
           "close": np.asarray(c["close"])[np.append(start[1:] - 1, n - 1)],
           "volume": np.add.reduceat(np.asarray(c["volume"], dtype=np.float64), start)}
    if "position" in c:
        counts = np.diff(np.append(start, n))
        out["position"] = np.add.reduceat(np.asarray(c["position"], dtype=np.float64), start) / counts
    return out, step
