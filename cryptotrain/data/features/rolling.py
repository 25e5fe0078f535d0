"""Rolling sums, means and standard deviations whose value at t is a function of the window alone.

pandas' rolling aggregations update a running sum as the window slides (add the new value,
remove the old one), so the rounding of row t carries the whole history of the series: the
same candles give last-bit different features when the file starts at another row. Here every
window is summed from its own values only, so row t depends only on x[t-w+1 .. t], whatever came
before. That is what lets `cryptotrain predict` compute the features of a short tail of a long
file and get the bits `evaluate` gets on the whole file (the EMAs, which do have infinite memory,
are handled there by a long enough tail; see data/tail.py).

How, in O(N) (van Herk / Gil-Werman): cut the series into blocks of w candles aligned to the
absolute candle index `phase + i` (phase: the index of x[0] on the timeframe grid, so a tail of
the file has the same blocks), and take within each block prefix sums from its first candle
and suffix sums from its last. A window [t-w+1, t] is the suffix of one block plus the prefix
of the next (or exactly one block):

    sum_t = S[t-w+1] + P[t]

For the std, each part is summed around its own edge value K (suffix: the block's last candle,
prefix: its first, both inside the window), n, s = sum(x - K), q = sum((x - K)^2), so
M2 = q - s^2 / n loses little to cancellation, and the two parts are merged exactly as in
Chan et al.'s parallel variance:

    M2 = M2_A + M2_B + (mean_B - mean_A)^2 n_A n_B / w,   std = sqrt(M2 / w)   (ddof 0)

NaN semantics match pandas' `min_periods=window`: a window holding a NaN is NaN, the first
`window - 1` rows are NaN. Shapes: N values, w window, nb blocks; blocks are stored (w, nb), one block per column, so each
prefix-sum step adds a whole row (numpy accumulates short rows slowly).
"""

from __future__ import annotations

import numpy as np


def _blocks(x: np.ndarray, w: int, phase: int) -> tuple[np.ndarray, int]:
    """x zero-padded to whole aligned blocks -> ((w, nb) blocks, one per column, leading pad)."""
    lead = int(phase) % w
    nb = -(-(lead + len(x)) // w)
    xp = np.zeros(nb * w)
    xp[lead:lead + len(x)] = x
    return np.ascontiguousarray(xp.reshape(nb, w).T), lead


def _prefix_cumsum(b: np.ndarray) -> np.ndarray:
    return np.cumsum(b, axis=0)


def _suffix_cumsum(b: np.ndarray) -> np.ndarray:
    """(w, nb) sums from each position to the end of its block."""
    return np.cumsum(b[::-1], axis=0)[::-1]


def _merge(pre: np.ndarray, suf: np.ndarray) -> np.ndarray:
    """(w, nb) value of the window ending at each position: the whole block at the last row, else the
    prefix of this block up to it plus the suffix of the previous block from the next row."""
    out = np.empty(pre.shape)
    out[:-1, 0] = np.nan                   # no previous block: never a full window (see _unblock)
    out[-1] = pre[-1]
    np.add(suf[1:, :-1], pre[:-1, 1:], out=out[:-1, 1:])
    return out


def _unblock(blocks: np.ndarray, lead: int, n: int, window: int) -> np.ndarray:
    """(w, nb) window values -> (N,) in candle order, NaN for the first window - 1 rows."""
    out = np.full(n, np.nan)
    out[window - 1:] = blocks.T.ravel()[lead + window - 1:lead + n]
    return out


def rolling_sum(x: np.ndarray, window: int, phase: int = 0) -> np.ndarray:
    """(N,) sum of the last `window` values ending at t; NaN for the first window - 1 rows."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) < window:
        return np.full(len(x), np.nan)
    b, lead = _blocks(x, window, phase)
    return _unblock(_merge(_prefix_cumsum(b), _suffix_cumsum(b)), lead, len(x), window)


def rolling_mean(x: np.ndarray, window: int, phase: int = 0) -> np.ndarray:
    """(N,) mean of the last `window` values ending at t."""
    return rolling_sum(x, window, phase) / window


def _part_stats(d: np.ndarray, k: np.ndarray, n: np.ndarray, cum) -> tuple[np.ndarray, np.ndarray]:
    """Mean and M2 of each prefix (or suffix) of the blocks, from deviations d = x - k around k (1, nb)."""
    s = cum(d)
    np.square(d, out=d)
    q = cum(d)
    return k + s / n, q - s * s / n


def rolling_mean_std(x: np.ndarray, window: int, phase: int = 0, ddof: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(N,) mean and std (ddof 0, or 1 for the sample std) of the last `window` values ending at t
    (module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    mean = rolling_mean(x, window, phase)
    if len(x) < window:
        return mean, np.full(len(x), np.nan)
    w = window
    b, lead = _blocks(x, w, phase)
    n_pre = np.arange(1, w + 1, dtype=np.float64)[:, None]   # prefix: block start .. row j
    n_suf = n_pre[::-1].copy()                               # suffix: row j .. block end
    mean_p, m2_p = _part_stats(b - b[:1], b[:1], n_pre, _prefix_cumsum)
    mean_s, m2_s = _part_stats(b - b[-1:], b[-1:], n_suf, _suffix_cumsum)
    coef = n_pre[:-1] * n_suf[1:] / w                        # n_B n_A / w for the window ending at row j
    m2 = _merge(m2_p, m2_s)
    m2[:-1, 1:] += (mean_p[:-1, 1:] - mean_s[1:, :-1]) ** 2 * coef
    np.maximum(m2, 0.0, out=m2)
    return mean, _unblock(np.sqrt(m2 / (w - ddof)), lead, len(x), w)


def rolling_std(x: np.ndarray, window: int, phase: int = 0, ddof: int = 0) -> np.ndarray:
    """(N,) std (ddof 0 or 1) over the last `window` values ending at t; NaN until `window` finite values."""
    return rolling_mean_std(x, window, phase, ddof)[1]


def _part_comoments(bx: np.ndarray, by: np.ndarray, edge: slice, n: np.ndarray, cum):
    """Means of x and y, M2 of x and y and the co-moment C_xy of each prefix (or suffix) of the blocks,
    from deviations around the part's edge values (bx[edge], by[edge], inside every part)."""
    kx, ky = bx[edge], by[edge]
    dx, dy = bx - kx, by - ky
    sx, sy = cum(dx), cum(dy)
    mx, my = kx + sx / n, ky + sy / n
    return mx, my, cum(dx * dx) - sx * sx / n, cum(dy * dy) - sy * sy / n, cum(dx * dy) - sx * sy / n


def rolling_comoments(x: np.ndarray, y: np.ndarray, window: int,
                      phase: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N,) means of x and y, M2_x, M2_y and C_xy = sum (x - mean_x)(y - mean_y) over the last `window`
    rows ending at t, each from its window alone: the two parts merged as in Chan et al.,
    C = C_A + C_B + (mx_B - mx_A)(my_B - my_A) n_A n_B / w. NaN for the first window - 1 rows."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    w, n = window, len(x)
    if n < w:
        nan = np.full(n, np.nan)
        return nan, nan.copy(), nan.copy(), nan.copy(), nan.copy()
    bx, lead = _blocks(x, w, phase)
    by, _ = _blocks(y, w, phase)
    n_pre = np.arange(1, w + 1, dtype=np.float64)[:, None]
    n_suf = n_pre[::-1].copy()
    pre = _part_comoments(bx, by, slice(0, 1), n_pre, _prefix_cumsum)
    suf = _part_comoments(bx, by, slice(w - 1, w), n_suf, _suffix_cumsum)
    coef = n_pre[:-1] * n_suf[1:] / w
    dmx, dmy = pre[0][:-1, 1:] - suf[0][1:, :-1], pre[1][:-1, 1:] - suf[1][1:, :-1]
    m2x, m2y, cxy = (_merge(p, q) for p, q in zip(pre[2:], suf[2:]))
    m2x[:-1, 1:] += dmx * dmx * coef
    m2y[:-1, 1:] += dmy * dmy * coef
    cxy[:-1, 1:] += dmx * dmy * coef
    np.maximum(m2x, 0.0, out=m2x)
    np.maximum(m2y, 0.0, out=m2y)
    means = (_merge(p * n_pre, q * n_suf) / w for p, q in ((pre[0], suf[0]), (pre[1], suf[1])))  # n_A m_A + n_B m_B
    return tuple(_unblock(b, lead, n, w) for b in (*means, m2x, m2y, cxy))
