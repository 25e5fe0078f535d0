"""Rolling sums, means and standard deviations whose value at t is a function of the window alone.

pandas' rolling aggregations update a running sum as the window slides (add the new value,
remove the old one), so the rounding of row t carries the whole history of the series: the
same candles give last-bit different features when the file starts at another row. Here each
window is summed on its own, in a fixed order (numpy's reduction over the window axis of a
strided view), so row t depends only on x[t-w+1 .. t], whatever came before. That is what
lets `cryptotrain predict` compute the features of a short tail of a long file and get the
bits `evaluate` gets on the whole file (the EMAs, which do have infinite memory, are handled
there by a long enough tail; see data/tail.py).

NaN semantics match pandas' `min_periods=window`: a window holding a NaN is NaN, the first
`window - 1` rows are NaN. Shapes: N values, w window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

_CHUNK = 1 << 15   # windows per block of the two-pass std, so the (rows, w) deviations stay small


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """(N,) sum of the last `window` values ending at t; NaN for the first window - 1 rows."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(len(x), np.nan)
    if len(x) >= window:
        out[window - 1:] = sliding_window_view(x, window).sum(axis=1)
    return out


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """(N,) mean of the last `window` values ending at t."""
    return rolling_sum(x, window) / window


def rolling_mean_std(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) mean and std (ddof 0) of the last `window` values: two passes, mean then sum((x - mean)^2)."""
    x = np.asarray(x, dtype=np.float64)
    mean = rolling_mean(x, window)
    std = np.full(len(x), np.nan)
    if len(x) >= window:
        view, m = sliding_window_view(x, window), mean[window - 1:]
        var = np.empty(len(view))
        for a in range(0, len(view), _CHUNK):
            d = view[a:a + _CHUNK] - m[a:a + _CHUNK, None]
            np.square(d, out=d)
            var[a:a + _CHUNK] = d.sum(axis=1)
        std[window - 1:] = np.sqrt(var / window)
    return mean, std


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """(N,) std (ddof 0) over the last `window` values ending at t; NaN until `window` finite values."""
    return rolling_mean_std(x, window)[1]
