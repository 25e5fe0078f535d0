"""alpha158 features against slow per-row references (random candles with gaps, flat candles,
zero volume, tied closes), pandas as a peer for rolling rank, quantiles and corr, block
boundaries, and the feature-set config (names, counts, validation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import rankdata

from cryptotrain.config import ALPHA158_ROLLING, FeaturesConfig, config_from_dict
from cryptotrain.data.features import basic as features_mod
from cryptotrain.data.features import alpha158 as a158
from cryptotrain.data.features.basic import compute_features, feature_names
from cryptotrain.data.ohlcv import segment_ids
from cryptotrain.data.synthetic import synthetic_candles
from cryptotrain.errors import UserError

H = 3_600_000
WINDOWS = [2, 5, 7, 12]  # odd sizes: block sums and the sparse table combine several blocks
CAP = a158.VOLUME_RATIO_CAP


def awkward_candles(n=260, seed=3, gaps=True):
    """Random candles with two gaps, flat candles, zero-volume runs and tied closes."""
    df = synthetic_candles(n + 5, seed=seed)
    rng = np.random.default_rng(seed)
    flat = rng.choice(np.arange(10, n), 12, replace=False)
    for k in ("open", "high", "low"):
        df.loc[flat, k] = df.loc[flat, "close"].to_numpy()
    df.loc[rng.choice(np.arange(n), 15, replace=False), "volume"] = 0.0
    df.loc[100:104, "volume"] = 0.0
    tie = rng.choice(np.arange(20, n), 15, replace=False)
    df.loc[tie, "close"] = df.loc[tie - 3, "close"].to_numpy()
    df["high"] = df[["open", "high", "close"]].max(axis=1)
    df["low"] = df[["open", "low", "close"]].min(axis=1)
    return df.drop(index=[60, 150, 151, 152, 153] if gaps else []).reset_index(drop=True)


def _safe(num, den, cap=None):
    if den == 0:
        return 0.0 if cap is None or num == 0 else cap
    return num / den if cap is None else min(num / den, cap)


def _corr(x, y):
    if np.std(x) <= 1e-9 * abs(np.mean(x)) or np.std(y) <= 1e-9 * abs(np.mean(y)):
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def reference(df, windows):
    """Every alpha158 column by a loop over rows and windows, straight from Qlib's definitions."""
    o, h, l, c, v = (df[k].to_numpy() for k in ("open", "high", "low", "close", "volume"))
    seg = segment_ids(df["timestamp"].to_numpy(), H)
    n = len(c)
    out = {}

    def put(name, t, value):
        out.setdefault(name, np.full(n, np.nan))[t] = value

    for t in range(n):
        rng = h[t] - l[t]
        for name, num in (("KMID", c[t] - o[t]), ("KUP", h[t] - max(o[t], c[t])), ("KLOW", min(o[t], c[t]) - l[t]),
                          ("KSFT", 2 * c[t] - h[t] - l[t])):
            put(name, t, num / o[t])
            put(name + "2", t, _safe(num, rng))
        put("KLEN", t, rng / o[t])
        for name, p in (("OPEN0", o[t]), ("HIGH0", h[t]), ("LOW0", l[t]), ("VWAP0", (h[t] + l[t] + c[t]) / 3)):
            put(name, t, p / c[t])
        for d in windows:
            for name in ALPHA158_ROLLING:
                put(f"{name.upper()}{d}", t, np.nan)
            if t - d + 1 < 0 or seg[t - d + 1] != seg[t]:
                continue
            w = slice(t - d + 1, t + 1)
            cw, hw, lw, vw = c[w], h[w], l[w], v[w]
            i = np.arange(1, d + 1)
            slope, icpt = np.polyfit(i, cw, 1)
            const = np.ptp(cw) == 0
            put(f"MA{d}", t, cw.mean() / c[t])
            put(f"STD{d}", t, cw.std(ddof=1) / c[t])
            put(f"BETA{d}", t, slope / c[t])
            put(f"RSQR{d}", t, 0.0 if const else np.corrcoef(i, cw)[0, 1] ** 2)
            put(f"RESI{d}", t, (c[t] - (slope * d + icpt)) / c[t])
            put(f"MAX{d}", t, hw.max() / c[t])
            put(f"MIN{d}", t, lw.min() / c[t])
            put(f"QTLU{d}", t, np.quantile(cw, 0.8) / c[t])
            put(f"QTLD{d}", t, np.quantile(cw, 0.2) / c[t])
            put(f"RANK{d}", t, rankdata(cw)[-1] / d)
            put(f"RSV{d}", t, _safe(c[t] - lw.min(), hw.max() - lw.min()))
            put(f"IMAX{d}", t, (np.argmax(hw) + 1) / d)
            put(f"IMIN{d}", t, (np.argmin(lw) + 1) / d)
            put(f"IMXD{d}", t, (np.argmax(hw) - np.argmin(lw)) / d)
            put(f"CORR{d}", t, _corr(cw, np.log1p(vw)))
            put(f"VMA{d}", t, _safe(vw.mean(), v[t], CAP))
            put(f"VSTD{d}", t, _safe(vw.std(ddof=1), v[t], CAP))
            if t - d < 0 or seg[t - d] != seg[t]:
                continue  # the rest reads c_{t-1} of the oldest row
            p = slice(t - d, t)
            put(f"ROC{d}", t, c[t - d] / c[t])
            dcw, dvw = cw - c[p], vw - v[p]
            vr = np.array([_safe(a, b, CAP) for a, b in zip(vw, v[p])])
            put(f"CORD{d}", t, _corr(cw / c[p], np.log1p(vr)))
            up, down = np.mean(cw > c[p]), np.mean(cw < c[p])
            put(f"CNTP{d}", t, up)
            put(f"CNTN{d}", t, down)
            put(f"CNTD{d}", t, up - down)
            for pre, dx in (("SUM", dcw), ("VSUM", dvw)):
                g, ls, tot = np.maximum(dx, 0).sum(), np.maximum(-dx, 0).sum(), np.abs(dx).sum()
                put(f"{pre}P{d}", t, _safe(g, tot))
                put(f"{pre}N{d}", t, _safe(ls, tot))
                put(f"{pre}D{d}", t, _safe(g - ls, tot))
            wv = np.abs(cw / c[p] - 1) * vw
            put(f"WVMA{d}", t, _safe(wv.std(ddof=1), wv.mean()))
    return out


@pytest.mark.parametrize("block", [None, 37])
def test_every_alpha158_column_matches_the_slow_reference(monkeypatch, block):
    if block:  # several row blocks, each with its look-back: same values as one block
        monkeypatch.setattr(features_mod, "_BLOCK", block)
    df = awkward_candles()
    fcfg = FeaturesConfig(set="alpha158", windows=WINDOWS)
    X, names = compute_features(df, fcfg, H, dtype=np.float64)
    ref = reference(df, WINDOWS)
    assert sorted(names) == sorted(ref)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(np.isnan(X[:, j]), np.isnan(ref[name]), err_msg=f"{name}: warm-up differs")
        np.testing.assert_allclose(X[:, j], ref[name], rtol=1e-8, atol=1e-10, err_msg=name)
        assert np.isfinite(X[:, j]).sum() > 100, name  # the comparison covers real rows


def test_alpha158_has_158_features_in_qlib_order():
    names = feature_names(FeaturesConfig(set="alpha158"))
    assert len(names) == 158 and len(set(names)) == 158
    assert names[:13] == ["KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2",
                          "OPEN0", "HIGH0", "LOW0", "VWAP0"]
    assert names[13:18] == ["ROC5", "ROC10", "ROC20", "ROC30", "ROC60"] and names[-1] == "VSUMD60"
    X, got = compute_features(synthetic_candles(200, seed=1), FeaturesConfig(set="alpha158"), H)
    assert got == names and X.dtype == np.float32 and X.shape == (200, 158)
    assert np.isfinite(X[61:]).all() and np.isnan(X[:60]).any(axis=1).all()  # warm-up: 61 candles (ROC60)


def test_rank_quantile_and_corr_agree_with_pandas():
    df = awkward_candles(150, seed=9, gaps=False)
    c, v = df["close"], df["volume"]
    fcfg = FeaturesConfig(set=["rank", "qtlu", "qtld", "corr"], windows=[5, 20])
    X, names = compute_features(df.iloc[:150], fcfg, H, dtype=np.float64)
    col = dict(zip(names, X.T))
    for d in (5, 20):
        r = c.iloc[:150].rolling(d)
        np.testing.assert_allclose(col[f"RANK{d}"], r.rank(pct=True), rtol=1e-12)
        np.testing.assert_allclose(col[f"QTLU{d}"], r.quantile(0.8) / c.iloc[:150], rtol=1e-12)
        np.testing.assert_allclose(col[f"QTLD{d}"], r.quantile(0.2) / c.iloc[:150], rtol=1e-12)
        peer = r.corr(np.log1p(v.iloc[:150])).to_numpy()
        ok = np.isfinite(peer) & (np.log1p(v.iloc[:150]).rolling(d).std() > 0).to_numpy()
        assert ok.sum() > 80
        np.testing.assert_allclose(col[f"CORR{d}"][ok], peer[ok], rtol=1e-8, atol=1e-10)


def test_mixed_sets_and_groups():
    fcfg = FeaturesConfig(set=["kbar", "returns", "alpha158", "time"], returns=[1, 3])
    names = feature_names(fcfg)
    assert names[:11] == ["KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2", "ret_1", "ret_3"]
    assert len(names) == 158 + 2 + 4 and names[-4:] == ["hour_sin", "hour_cos", "dow_sin", "dow_cos"]
    basic = FeaturesConfig(set="basic", rsi=None)
    assert "rsi" not in basic.groups() and feature_names(basic) == feature_names(FeaturesConfig(rsi=None))


@pytest.mark.parametrize("raw,message", [
    ({"set": "alpah158"}, "did you mean 'alpha158'"),
    ({"set": ["kbar", "rnak"]}, "did you mean 'rank'"),
    ({"set": ["rsi"], "rsi": None}, "features.set lists rsi but features.rsi disables it"),
    ({"context": ["4x"]}, "'4x' is not a timeframe"),
    ({"context": ["4h"], "context_set": ["time"]}, "time is the row's own clock"),
    ({"context_set": ["kbra"]}, "did you mean 'kbar'"),
    ({"windows": [1]}, "features.windows.0"),
])
def test_bad_feature_config_is_one_clear_line(raw, message):
    with pytest.raises(UserError, match=message) as err:
        config_from_dict({"features": raw})
    assert "\n" not in str(err.value)


def test_context_timeframe_must_be_a_multiple():
    with pytest.raises(UserError, match="90m is not a multiple"):
        compute_features(synthetic_candles(50), FeaturesConfig(context=["90m"]), H)
    with pytest.raises(UserError, match="1h is not a multiple"):
        compute_features(synthetic_candles(50), FeaturesConfig(context=["1h"]), H)


def test_single_group_string_and_pandas_free_helpers():
    assert FeaturesConfig(set="kbar").groups() == ["kbar"]
    x = np.random.default_rng(0).normal(size=300)
    for d, (val, pos) in a158.window_argmax(np.round(x, 1), [1, 3, 7, 60]).items():
        w = np.lib.stride_tricks.sliding_window_view(np.round(x, 1), d)
        np.testing.assert_array_equal(val[d - 1:], w.max(axis=1))
        np.testing.assert_array_equal(pos[d - 1:], w.argmax(axis=1))  # first occurrence on ties
