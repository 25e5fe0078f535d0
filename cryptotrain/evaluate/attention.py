"""Attention analysis: where in the window the model looks.

Shapes: N windows, T window length. The model's attention is (N, T) with column T - 1 the
decision candle t; we report it by lag, lag 0 = t, lag j = t - j, up to lag T - 1.

"About uniform": every lag's mean weight within ABOUT_UNIFORM (relative) of 1/T, i.e.
max_j |w_j T - 1| <= 0.25: the model averages its window rather than picking candles.
"""

from __future__ import annotations

import numpy as np

ABOUT_UNIFORM = 0.25   # largest relative deviation |w_j T - 1| still called "about uniform"


def attention_by_lag(att: np.ndarray) -> np.ndarray:
    """(T,) mean attention weight per lag, lag 0 (candle t) first."""
    return np.asarray(att, dtype=np.float64)[:, ::-1].mean(axis=0)


def top_lags(by_lag: np.ndarray, k: int = 5) -> list[dict]:
    """The k lags with the largest mean weight, largest first (ties -> the smaller lag)."""
    order = np.argsort(-by_lag, kind="stable")[:k]
    return [{"lag": int(j), "weight": float(by_lag[j])} for j in order]


def attention_summary(att: np.ndarray | None, k: int = 5) -> dict | None:
    """Mean weight per lag, the top-k lags and the weight a uniform attention would give."""
    if att is None or len(att) == 0:
        return None
    by_lag = attention_by_lag(att)
    deviation = float(np.max(np.abs(by_lag * len(by_lag) - 1.0)))
    return {"by_lag": by_lag.tolist(), "top_lags": top_lags(by_lag, k), "uniform_weight": 1.0 / att.shape[1],
            "max_relative_deviation": deviation, "about_uniform": deviation <= ABOUT_UNIFORM}
