"""Features and labels: stable names, indicators against slow loop references, per-segment
warm-up after gaps, and the no-look-ahead property (hypothesis) for features, windows and labels."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptotrain.config import FeaturesConfig, LabelsConfig, config_from_dict
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.features.basic import compute_features, feature_names
from cryptotrain.data.labels import action_labels, confidence_target, forward_returns, label_thresholds
from cryptotrain.data.ohlcv import write_ohlcv
from cryptotrain.data.synthetic import random_valid_candles, synthetic_candles

H = 3_600_000


def test_default_feature_names_are_stable():
    assert feature_names(FeaturesConfig()) == [
        "ret_1", "ret_2", "ret_4", "ret_8", "ret_24", "body", "range", "vol_12", "vol_24", "vol_72", "rsi_14",
        "macd", "macd_signal", "macd_hist", "bb_pctb_20", "bb_width_20", "atr_14", "log_volume", "volume_z_24",
        "vwap_dist_24", "hour_sin", "hour_cos", "dow_sin", "dow_cos"]
    X, names = compute_features(synthetic_candles(300), FeaturesConfig(), H)
    assert X.shape == (300, 24) and names == feature_names(FeaturesConfig())
    assert np.isfinite(X[72:]).all() and np.isnan(X[:72]).any(axis=1).all()  # warm-up = vol_72


def _wilder_loop(x, n, first):
    y = np.full(len(x), np.nan)
    y[first + n - 1] = np.mean(x[first:first + n])
    for t in range(first + n, len(x)):
        y[t] = y[t - 1] + (x[t] - y[t - 1]) / n
    return y


def _ema_loop(x, span):
    a, y, out, count = 2 / (span + 1), np.nan, np.full(len(x), np.nan), 0
    for t, v in enumerate(x):
        if np.isnan(v):
            continue
        y = v if count == 0 else y + a * (v - y)
        count += 1
        out[t] = y if count >= span else np.nan
    return out


def test_indicators_match_loop_references():
    df = synthetic_candles(200, seed=5)
    fcfg = FeaturesConfig(returns=[3], body_range=False, volatility=[10], time=False, volume_zscore=None, vwap=None)
    X, names = compute_features(df, fcfg, H, dtype=np.float64)
    col = dict(zip(names, X.T))
    o, h, l, c = (df[k].to_numpy() for k in ("open", "high", "low", "close"))
    d = np.r_[np.nan, np.diff(c)]
    g, s = _wilder_loop(np.maximum(d, 0), 14, 1), _wilder_loop(np.maximum(-d, 0), 14, 1)
    np.testing.assert_allclose(col["rsi_14"], 100 - 100 / (1 + g / s), rtol=1e-9)
    line = (_ema_loop(c, 12) - _ema_loop(c, 26)) / c
    np.testing.assert_allclose(col["macd"], line, rtol=1e-9)
    np.testing.assert_allclose(col["macd_signal"], _ema_loop(line, 9), rtol=1e-9)
    tr = np.maximum(h - l, np.maximum(abs(h - np.r_[c[0], c[:-1]]), abs(l - np.r_[c[0], c[:-1]])))
    np.testing.assert_allclose(col["atr_14"], _wilder_loop(tr, 14, 0) / c, rtol=1e-9)
    t = 150
    r1 = np.diff(np.log(c))
    assert col["vol_10"][t] == pytest.approx(np.std(r1[t - 10:t]), rel=1e-9)
    assert col["ret_3"][t] == pytest.approx(np.log(c[t] / c[t - 3]), rel=1e-12)
    mid, sd = c[t - 19:t + 1].mean(), c[t - 19:t + 1].std()
    assert col["bb_pctb_20"][t] == pytest.approx((c[t] - mid + 2 * sd) / (4 * sd), rel=1e-9)


def test_time_features_monday_midnight():
    df = synthetic_candles(30, start_ms=1_704_067_200_000)  # 2024-01-01 was a Monday
    X, names = compute_features(df, FeaturesConfig(), H)
    np.testing.assert_allclose(X[0, -4:], [0, 1, 0, 1], atol=1e-12)
    np.testing.assert_allclose(X[6, names.index("hour_sin")], 1.0)  # 06:00 is a quarter day


def test_features_restart_after_a_gap():
    df = synthetic_candles(400, seed=2).drop(index=[199]).reset_index(drop=True)  # segment 2 starts at row 199
    X, _ = compute_features(df, FeaturesConfig(), H)
    X2, _ = compute_features(df.iloc[199:].reset_index(drop=True), FeaturesConfig(), H)
    np.testing.assert_array_equal(X[199:], X2)  # nothing from before the gap is used
    assert np.isnan(X[199:199 + 72]).any(axis=1).all() and np.isfinite(X[199 + 72]).all()


def test_labels_formula_gap_and_thresholds():
    o = np.array([10.0, 11, 12, 13, 14, 15])
    # r_t = open[t+1+h] / open[t+1] - 1 with h = 2
    np.testing.assert_allclose(forward_returns(o, 2), [13 / 11 - 1, 14 / 12 - 1, 15 / 13 - 1, np.nan, np.nan, np.nan])
    seg = np.array([0, 0, 0, 1, 1, 1])  # gap between rows 2 and 3: labels reading both sides are undefined
    np.testing.assert_allclose(forward_returns(o, 1, seg), [12 / 11 - 1, np.nan, np.nan, 15 / 14 - 1, np.nan, np.nan])
    assert action_labels(np.array([-0.01, 0.0, 0.01, np.nan]), -0.001, 0.001).tolist() == [0, 1, 2, -1]
    assert label_thresholds(np.zeros(3), LabelsConfig(threshold="fixed", threshold_bps=25)) == (-0.0025, 0.0025)
    r = np.random.default_rng(0).normal(size=3000)
    counts = np.bincount(action_labels(r, *label_thresholds(r, LabelsConfig(threshold="quantile"))))
    assert counts.max() - counts.min() <= 2


def test_confidence_formula():
    df = synthetic_candles(100, seed=4)
    c, lc = df["close"].to_numpy(), LabelsConfig(horizon=3, confidence_window=10)
    r = forward_returns(df["open"].to_numpy(), 3)
    conf = confidence_target(r, c, lc)
    t = 50
    sigma = np.std(np.diff(np.log(c))[t - 10:t])
    assert conf[t] == pytest.approx(1 - np.exp(-abs(r[t]) / (sigma * np.sqrt(3))), rel=1e-9)
    assert np.isnan(conf[:10]).all() and np.isnan(conf[-4:]).all()
    assert ((conf[np.isfinite(conf)] >= 0) & (conf[np.isfinite(conf)] <= 1)).all()


# ------------------------------------------------------------------ no look-ahead (property)
N, T = 360, 12
BASE = synthetic_candles(N + 4, seed=11).drop(index=[40, 120, 121, 122]).reset_index(drop=True)  # two gaps


def _cfg(path, h):
    return config_from_dict({"data": {"path": str(path), "timeframe": "1h", "window": T},
                             "labels": {"horizon": h, "threshold": "quantile"}})


@settings(max_examples=20, deadline=None)
@given(t=st.integers(0, N - 2), h=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_no_lookahead(t, h, seed):
    """Replacing every candle after t by random valid candles changes no feature row <= t, no window
    ending at t' <= t, and no label (return, action, confidence) at t' with t' + 1 + h <= t."""
    future = BASE.copy()
    for k, v in random_valid_candles(np.random.default_rng(seed), N - t - 1).items():
        future.loc[t + 1:, k] = v
    X0, _ = compute_features(BASE, FeaturesConfig(), H)
    X1, _ = compute_features(future, FeaturesConfig(), H)
    np.testing.assert_array_equal(X0[:t + 1], X1[:t + 1])

    with tempfile.TemporaryDirectory() as tmp:
        p0, p1 = Path(tmp) / "base.parquet", Path(tmp) / "future.parquet"
        write_ohlcv(BASE, p0)
        write_ohlcv(future, p1)
        d0 = build_dataset(_cfg(p0, h))
        d1 = build_dataset(_cfg(p1, h), normalizer=d0.normalizer, thresholds=d0.thresholds)
    np.testing.assert_array_equal(d0.features[:t + 1], d1.features[:t + 1])
    ends = np.concatenate(list(d0.splits.values()))
    ends = ends[ends <= t]
    if len(ends):
        np.testing.assert_array_equal(d0.batch(ends)[0], d1.batch(ends)[0])
    known = slice(0, max(t - h, 0))  # t' + 1 + h <= t
    np.testing.assert_array_equal(d0.ret[known], d1.ret[known])
    np.testing.assert_array_equal(d0.action[known], d1.action[known])
    np.testing.assert_array_equal(d0.confidence[known], d1.confidence[known])
    for name in d0.splits:  # the same decisions are eligible up to t - h - 1
        a, b = d0.splits[name], d1.splits[name]
        np.testing.assert_array_equal(a[a < t - h], b[b < t - h])
