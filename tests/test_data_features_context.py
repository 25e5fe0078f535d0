"""Higher-timeframe context: aggregation against a slow groupby, the join at bucket boundaries
(the forming bucket is never read, a bucket with a gap is missing), and the no-look-ahead
property (hypothesis) over every feature of both sets and the context features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.basic import compute_features, feature_names
from cryptotrain.data.features.context import context_candles
from cryptotrain.data.synthetic import random_valid_candles, synthetic_candles

H = 3_600_000
P4 = 4 * H
START = 1_704_067_200_000 + 2 * H  # 02:00 UTC: the first 4h bucket (00:00-04:00) is incomplete
CTX = dict(set=["returns"], returns=[1], context=["4h"], context_set=["price", "returns"], context_windows=[2])


def _slow_buckets(df):
    """Complete 4h candles by pandas groupby."""
    g = df.assign(b=df["timestamp"] // P4).groupby("b")
    agg = g.agg(open=("open", "first"), high=("high", "max"), low=("low", "min"), close=("close", "last"),
                volume=("volume", "sum"), n=("open", "size"))
    agg = agg[agg["n"] == 4]
    return agg.drop(columns="n")


def test_context_candles_match_a_groupby():
    df = synthetic_candles(200, start_ms=START, seed=4).drop(index=[50, 51]).reset_index(drop=True)
    got = context_candles(df, P4, H)
    ref = _slow_buckets(df)
    np.testing.assert_array_equal(got["timestamp"], ref.index.to_numpy() * P4)
    for k in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-12)
    assert got["timestamp"].iloc[0] == START - 2 * H + P4  # the incomplete first bucket is left out


def test_join_at_bucket_boundaries():
    df = synthetic_candles(60, start_ms=START, seed=5).drop(index=[30]).reset_index(drop=True)
    X, names = compute_features(df, FeaturesConfig(**CTX), H, dtype=np.float64)
    high0 = X[:, names.index("4h_HIGH0")]
    ref = _slow_buckets(df)
    ts = df["timestamp"].to_numpy()
    for t in range(len(df)):
        k = (ts[t] + H) // P4 - 1  # the last bucket closed by the close of t
        if k in ref.index:
            assert high0[t] == ref.loc[k, "high"] / ref.loc[k, "close"], t
        else:
            assert np.isnan(high0[t]), t
    hour = (ts // H) % 24
    # 02:00 and 03:00 rows of the first day: bucket 00-04 is incomplete (the file starts at 02:00)
    assert np.isnan(high0[:2]).all()
    # the 07:00 row closes bucket 04-08 and sees it; the 06:00 row still sees bucket 00-04 (missing here)
    i7 = int(np.flatnonzero(hour == 7)[0])
    assert high0[i7] == ref.loc[ts[i7] // P4, "high"] / ref.loc[ts[i7] // P4, "close"]
    assert np.isnan(high0[i7 - 1])
    # the bucket with the gap (row 30 dropped) is missing: the rows that would read it are NaN
    gap_bucket = (START + 30 * H) // P4
    readers = ((ts + H) // P4 - 1) == gap_bucket
    assert readers.sum() == 4 and np.isnan(high0[readers]).all()


def test_forming_bucket_is_never_read():
    df = synthetic_candles(48, start_ms=START - 2 * H, seed=6)  # starts 00:00: buckets complete
    X0, names = compute_features(df, FeaturesConfig(**CTX), H, dtype=np.float64)
    for t in range(len(df)):
        changed = df.copy()
        changed.loc[t, ["high", "close"]] = changed.loc[t, ["high", "close"]] * 1.5  # still a valid candle
        X1, _ = compute_features(changed, FeaturesConfig(**CTX), H, dtype=np.float64)
        j = [i for i, n in enumerate(names) if n.startswith("4h_")]
        np.testing.assert_array_equal(X0[:t, j], X1[:t, j])  # earlier rows never see candle t
        last_of_bucket = (t + 1) % 4 == 0
        if last_of_bucket:  # candle t closes its bucket: row t (and on) sees the change
            assert not np.array_equal(X0[t, j], X1[t, j], equal_nan=True)
        elif t + 1 < len(df):
            np.testing.assert_array_equal(X0[t, j], X1[t, j])  # the forming bucket is not read


# ------------------------------------------------------------------ no look-ahead (property)
N = 360
BASE = synthetic_candles(N + 4, seed=11).drop(index=[40, 120, 121, 122]).reset_index(drop=True)  # two gaps
# short look-backs so that the 1d context (15 days here) has finite rows of every feature too
ALL = FeaturesConfig(set=["basic", "alpha158"], context=["4h", "1d"], context_set=["basic", "alpha158"],
                     context_windows=[2, 3], returns=[1, 2, 4, 8], volatility=[3, 5], rsi=3, macd=[2, 4, 2],
                     bollinger=3, atr=3, volume_zscore=3, vwap=3)
X_BASE, _ = compute_features(BASE, ALL, H)


def test_the_property_covers_every_feature():
    names = feature_names(ALL)
    assert len(names) == X_BASE.shape[1] == (24 - 2) + 158 + 2 * ((24 - 2 - 4) + 13 + 29 * 2)
    assert any(n.startswith("1d_") for n in names) and any(n.startswith("4h_VSUMD") for n in names)
    assert np.isfinite(X_BASE[-1]).all()  # every column has finite rows to compare


@settings(max_examples=15, deadline=None)
@given(t=st.integers(0, N - 2), seed=st.integers(0, 2**31 - 1))
def test_no_lookahead_in_any_set_or_context(t, seed):
    """Replacing every candle after t by random valid candles changes no feature of rows <= t."""
    future = BASE.copy()
    for k, v in random_valid_candles(np.random.default_rng(seed), N - t - 1).items():
        future.loc[t + 1:, k] = v
    X1, _ = compute_features(future, ALL, H)
    np.testing.assert_array_equal(X_BASE[:t + 1], X1[:t + 1])
    assert not np.array_equal(X_BASE[t + 1:], X1[t + 1:], equal_nan=True)  # the future did change


def test_context_rows_update_once_per_bucket():
    df = synthetic_candles(24 * 10, start_ms=pd.Timestamp("2024-01-01").value // 10**6, seed=2)
    X, names = compute_features(df, FeaturesConfig(set=["returns"], returns=[1], context=["1d"],
                                                   context_set=["returns"]), H)
    col = X[:, names.index("1d_ret_1")]
    changes = np.flatnonzero(np.diff(col[np.isfinite(col)]) != 0)
    hours = ((df["timestamp"].to_numpy()[np.isfinite(col)] // H) % 24)[changes + 1]
    assert len(changes) >= 7 and (hours == 23).all()  # the 23:00 candle closes the day


def test_dataset_builds_with_alpha158_and_context():
    from cryptotrain.config import config_from_dict
    from cryptotrain.data.dataset import build_dataset

    cfg = config_from_dict({"data": {"path": "data/sample/BTC_USDT-1h.csv.gz", "timeframe": "1h", "last_rows": 1500,
                                     "window": 16},
                            "features": {"set": ["kbar", "roc", "rank"], "context": ["4h"], "context_set": ["rsv"]}})
    ds = build_dataset(cfg)
    assert ds.feature_names == feature_names(cfg.features) and ds.n_features == 9 + 5 + 5 + 3
    assert ds.features.dtype == np.float32 and min(len(v) for v in ds.splits.values()) > 100
    x, _ = ds.batch(ds.splits["train"][:4])
    assert np.isfinite(x).all()
