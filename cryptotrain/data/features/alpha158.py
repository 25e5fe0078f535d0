"""Qlib's Alpha158 features adapted to candles: the K-bar, price-ratio and rolling groups.

Definitions follow qlib/contrib/data/loader.py (Alpha158DL.get_feature_config) and Qlib's
operators: Std is the sample std (ddof 1), Quantile interpolates linearly, Rank is the
percentile of the newest value with ties averaged, Slope/Rsquare/Resi fit y on the positions
i = 1..d of the window (d = newest), IdxMax/IdxMin are 1-based positions of the first
extremum counted from the oldest row. Notation: o, h, l, c, v of candle t; c1 = c_{t-1};
d a window in features.windows; every feature is divided by c_t or v_t (or is a ratio of
like quantities) so it is scale-free across symbols.

  kbar   KMID (c-o)/o, KLEN (h-l)/o, KMID2 (c-o)/(h-l), KUP (h-max(o,c))/o, KUP2 (h-max(o,c))/(h-l),
         KLOW (min(o,c)-l)/o, KLOW2 (min(o,c)-l)/(h-l), KSFT (2c-h-l)/o, KSFT2 (2c-h-l)/(h-l)
  price  OPEN0 o/c, HIGH0 h/c, LOW0 l/c, VWAP0 p/c with the typical price p = (h+l+c)/3: candles
         carry no traded VWAP, and with p VWAP0 = (HIGH0 + LOW0 + 1)/3 adds no information (kept
         for Qlib's count)
  ROCd   c_{t-d}/c          MAd  mean(c)/c        STDd std(c)/c         BETAd slope(c)/c
  RSQRd  R^2 of that fit    RESId (c - fit_t)/c   MAXd max(h)/c         MINd  min(l)/c
  QTLUd  q80(c)/c           QTLDd q20(c)/c        RANKd pct rank of c_t RSVd (c-min(l))/(max(h)-min(l))
  IMAXd  idxmax(h)/d        IMINd idxmin(l)/d     IMXDd (idxmax(h)-idxmin(l))/d
  CORRd  corr(c, log(v+1))  CORDd corr(c/c1, log(v/v1+1))
  CNTPd  mean(c>c1)         CNTNd mean(c<c1)      CNTDd CNTP-CNTN
  SUMPd  sum(max(c-c1,0))/sum|c-c1|   SUMNd sum(max(c1-c,0))/sum|c-c1|   SUMDd SUMP-SUMN
  VMAd   mean(v)/v          VSTDd std(v)/v        WVMAd std(|c/c1-1| v)/mean(|c/c1-1| v)
  VSUMPd, VSUMNd, VSUMDd   as SUMP, SUMN, SUMD on the volume

Where the candle data needs it the definitions differ from Qlib's, on purpose:
- Qlib adds 1e-12 to denominators (h-l+1e-12, v+1e-12); an absolute constant is not
  scale-free, so here a zero denominator gives 0 (Qlib's value there when the numerator is 0,
  as for a flat candle) and a ratio with the volume below is capped at 1e3 (zero-volume candles
  exist on crypto: halted markets, forward-filled gaps; Qlib's formula would give ~1e12).
- Qlib's Corr is NaN over a constant window; a NaN row can enter no window, so here it is 0
  (a std below 1e-9 of the mean counts as constant); R^2 of a constant window is 0 likewise.
- Qlib's rolling operators accept partial windows (min_periods=1); here a feature is NaN until
  its window is full (60 candles for d = 60, 61 for ROC60 and the ones reading c1), like the
  basic features. Nothing is left out: every Alpha158 definition has a meaning on candles.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cryptotrain.data.features.rolling import rolling_comoments, rolling_mean, rolling_mean_std, rolling_sum

VOLUME_RATIO_CAP = 1e3
CONSTANT_STD = 1e-9   # relative std below which a window counts as constant (Corr)
_CHUNK = 1 << 13      # windows per block in the sliding-window passes (bounds the temporaries)

KBAR = ["KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2"]
PRICE = ["OPEN0", "HIGH0", "LOW0", "VWAP0"]


def group_names(group: str, windows: list[int]) -> list[str]:
    if group == "kbar":
        return list(KBAR)
    if group == "price":
        return list(PRICE)
    return [f"{group.upper()}{d}" for d in windows]


def ratio(num: np.ndarray, den: np.ndarray, cap: float | None = None) -> np.ndarray:
    """num / den for den >= 0; a zero den gives 0 (or `cap` when num > 0 and a cap is given); NaN stays."""
    pos = den > 0
    out = num / np.where(pos, den, 1.0)
    zero = den == 0
    out[zero] = 0.0 if cap is None else np.where(num[zero] > 0, cap, 0.0)
    out[np.isnan(num) | np.isnan(den)] = np.nan
    return out if cap is None else np.minimum(out, cap)


def kbar(o, h, l, c) -> Iterator[tuple[str, np.ndarray]]:
    rng, top, bot, sft = h - l, np.maximum(o, c), np.minimum(o, c), 2 * c - h - l
    for name, num in (("KMID", c - o), ("KUP", h - top), ("KLOW", bot - l), ("KSFT", sft)):
        yield name, num / o
        yield name + "2", ratio(num, rng)
    yield "KLEN", rng / o


def price(o, h, l, c) -> Iterator[tuple[str, np.ndarray]]:
    yield "OPEN0", o / c
    yield "HIGH0", h / c
    yield "LOW0", l / c
    yield "VWAP0", (h + l + c) / 3.0 / c


def window_pass(x: np.ndarray, d: int, fn, k: int) -> list[np.ndarray]:
    """fn applied to blocks of the (m, d) windows ending at rows d-1..n-1 of x -> k (n,) arrays, NaN before."""
    n = len(x)
    outs = [np.full(n, np.nan) for _ in range(k)]
    if n < d:
        return outs
    W = sliding_window_view(x, d)
    for a in range(0, len(W), _CHUNK):
        for o, r in zip(outs, fn(W[a:a + _CHUNK])):
            o[d - 1 + a:d - 1 + a + len(r)] = r
    return outs


def _order_stats(d: int):
    """Per window: 20% and 80% quantiles (linear interpolation) and the pct rank of the newest value."""
    def quantile(S, q):
        p = q * (d - 1)
        k = int(np.floor(p))
        lo = S[:, k]
        return lo if k + 1 >= d else lo + (S[:, k + 1] - lo) * (p - k)

    def fn(W):
        S = np.sort(W, axis=1)
        x = W[:, -1:]
        rank = (np.count_nonzero(W < x, axis=1) + np.count_nonzero(W <= x, axis=1) + 1) / (2.0 * d)
        return quantile(S, 0.8), quantile(S, 0.2), rank
    return fn


def _slope_num(d: int):
    u = np.arange(1, d + 1) - (d + 1) / 2.0  # centred positions: sum_i (i - mean_i) y_i, exact per window
    return lambda W: (W @ u,)


def _shift(x: np.ndarray, k: int, fill=np.nan) -> np.ndarray:
    """y[t] = x[t - k] (k >= 0), `fill` before."""
    y = np.full(len(x), fill, dtype=x.dtype)
    if k < len(x):
        y[k:] = x[:len(x) - k]
    return y


def window_argmax(x: np.ndarray, windows: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """{d: (max of x over rows t-d+1..t, its first position 0..d-1 from the oldest row)}, NaN before row d-1.

    Sparse table: level k holds the max of the 2^k rows ending at t and the row of its first
    occurrence; a window of d is covered by two overlapping blocks 2^k <= d, and on a tie the
    earlier block wins, so the first occurrence is kept.
    """
    n = len(x)
    idx = np.arange(n)
    levels = [(x, idx)]
    while 2 ** len(levels) <= max(windows):
        (v, i), half = levels[-1], 2 ** (len(levels) - 1)
        lv, li = _shift(v, half, -np.inf), _shift(i, half, 0)
        left = lv >= v
        levels.append((np.where(left, lv, v), np.where(left, li, i)))
    out = {}
    for d in windows:
        k = int(np.log2(d))
        v, i = levels[k]
        lv, li = _shift(v, d - 2 ** k, -np.inf), _shift(i, d - 2 ** k, 0)
        left = lv >= v
        val, pos = np.where(left, lv, v), (np.where(left, li, i) - (idx - d + 1)).astype(np.float64)
        val[:d - 1] = pos[:d - 1] = np.nan
        out[d] = val, pos
    return out


def rolling_corr(x: np.ndarray, y: np.ndarray, windows: list[int], phase: int = 0) -> dict[int, np.ndarray]:
    """{d: Pearson correlation over the last d values}; 0 where either series is constant there
    (a std below CONSTANT_STD of the window's mean).

    From the window's co-moments (data/rolling.rolling_comoments: each window from its own values,
    around values inside it, so little cancels and nothing depends on where the rows start).
    """
    out = {}
    for d in windows:
        mx, my, m2x, m2y, cxy = rolling_comoments(x, y, d, phase)
        const = (m2x / d <= (CONSTANT_STD * mx) ** 2) | (m2y / d <= (CONSTANT_STD * my) ** 2)
        r = np.clip(cxy / np.sqrt(np.where(const, 1.0, m2x * m2y)), -1.0, 1.0)
        r[const] = 0.0
        r[np.isnan(m2x) | np.isnan(m2y)] = np.nan
        out[d] = r
    return out


def _lag1(x: np.ndarray) -> np.ndarray:
    return np.r_[np.nan, x[:-1]]


def _window_counts(flag: np.ndarray, d: int) -> np.ndarray:
    """Rolling mean of a 0/1 series over d rows (row 0 undefined): exact, from integer prefix sums."""
    cs = np.r_[0.0, np.cumsum(flag)]  # integers below 2**53: exact in float64
    out = np.full(len(flag), np.nan)
    if d < len(flag):
        out[d:] = (cs[d + 1:] - cs[1:-d]) / d  # rows t-d+1..t, all after row 0
    return out


def rolling(h, l, c, v, ops: list[str], windows: list[int], phase: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """The rolling groups `ops` (lower-case Qlib names) over each window d, as (name, column).

    Means, sums and stds come from data/rolling.py (`phase`: the time-grid index of row 0), so
    they depend on their window only, not on where the rows start."""
    want = set(ops)
    n = len(c)
    c1, v1 = _lag1(c), _lag1(v)
    dc, dv = c - c1, v - v1
    corr = rolling_corr(c, np.log1p(v), windows, phase) if "corr" in want else None
    cord = rolling_corr(c / c1, np.log1p(ratio(v, v1, VOLUME_RATIO_CAP)), windows, phase) if "cord" in want else None
    if want & {"max", "min", "rsv", "imax", "imin", "imxd"}:
        hmax, lmin = window_argmax(h, windows), window_argmax(-l, windows)
    wv = np.abs(c / c1 - 1.0) * v if "wvma" in want else None
    for d in windows:
        sum_ = lambda x: rolling_sum(x, d, phase)  # noqa: E731
        if "roc" in want:
            r = np.full(n, np.nan)
            if d < n:
                r[d:] = c[:-d] / c[d:]
            yield f"ROC{d}", r
        if want & {"ma", "resi"}:
            mean_c = rolling_mean(c, d, phase)
        if "ma" in want:
            yield f"MA{d}", mean_c / c
        if want & {"std", "rsqr"}:
            std_c = rolling_mean_std(c, d, phase, ddof=1)[1]
            var_c = std_c * std_c
            if "std" in want:
                yield f"STD{d}", std_c / c
        if want & {"beta", "rsqr", "resi"}:
            (sxy,) = window_pass(c, d, _slope_num(d), 1)
            suu = d * (d * d - 1) / 12.0
            slope = sxy / suu
            if "beta" in want:
                yield f"BETA{d}", slope / c
            if "rsqr" in want:
                syy = var_c * (d - 1)
                yield f"RSQR{d}", np.clip(ratio(sxy * sxy, suu * syy), 0.0, 1.0)
            if "resi" in want:
                yield f"RESI{d}", (c - (mean_c + slope * (d - 1) / 2.0)) / c
        if want & {"max", "min", "rsv", "imax", "imin", "imxd"}:
            (hi, imax), (lo, imin) = hmax[d], lmin[d]
            lo = -lo
            for name, col in (("max", hi / c), ("min", lo / c), ("rsv", ratio(c - lo, hi - lo)),
                              ("imax", (imax + 1) / d), ("imin", (imin + 1) / d), ("imxd", (imax - imin) / d)):
                if name in want:
                    yield f"{name.upper()}{d}", col
        if want & {"qtlu", "qtld", "rank"}:
            q80, q20, rank = window_pass(c, d, _order_stats(d), 3)
            for name, col in (("qtlu", q80 / c), ("qtld", q20 / c), ("rank", rank)):
                if name in want:
                    yield f"{name.upper()}{d}", col
        if "corr" in want:
            yield f"CORR{d}", corr[d]
        if "cord" in want:
            yield f"CORD{d}", cord[d]
        if want & {"cntp", "cntn", "cntd"}:
            p, m = _window_counts(dc > 0, d), _window_counts(dc < 0, d)
            for name, col in (("cntp", p), ("cntn", m), ("cntd", p - m)):
                if name in want:
                    yield f"{name.upper()}{d}", col
        for prefix, delta in (("sum", dc), ("vsum", dv)):
            if want & {prefix + "p", prefix + "n", prefix + "d"}:
                gain, loss = sum_(np.maximum(delta, 0.0)), sum_(np.maximum(-delta, 0.0))
                total = gain + loss  # = sum |delta|
                for s, num in (("p", gain), ("n", loss), ("d", gain - loss)):
                    if prefix + s in want:
                        yield f"{prefix.upper()}{s.upper()}{d}", ratio(num, total)
        if want & {"vma", "vstd"}:
            mean_v, std_v = rolling_mean_std(v, d, phase, ddof=1)
            if "vma" in want:
                yield f"VMA{d}", ratio(mean_v, v, VOLUME_RATIO_CAP)
            if "vstd" in want:
                yield f"VSTD{d}", ratio(std_v, v, VOLUME_RATIO_CAP)
        if "wvma" in want:
            mean_w, std_w = rolling_mean_std(wv, d, phase, ddof=1)
            yield f"WVMA{d}", ratio(std_w, mean_w)
