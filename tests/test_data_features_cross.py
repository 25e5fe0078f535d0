"""The cross group (data/features/cross.py) and excess labels against slow pandas references computed
per timestamp from the candles <= t, with the pairs missing at t left out (not filled)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.features.cross import check_cross, cross_features, cross_names, cross_rank01
from cryptotrain.data.labels import excess_returns
from cryptotrain.data.synthetic import synthetic_candles
from cryptotrain.errors import UserError

H = 3_600_000
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "ADA/USDT"]
FCFG = FeaturesConfig(set=["returns", "volatility"], returns=[1, 3], volatility=[4], cross=["ret_1", "vol_4"],
                      cross_windows=[5, 12], cross_reference="ETH/USDT", cross_min_pairs=3)
T = 240


def _panel(seed: int = 0):
    """Five pairs on a 240-row grid: SOL listed at row 40, ADA delisted after row 200, XRP with a gap
    at rows 100-104, BTC and ETH (the reference) missing one candle each, and rows 150-153 where only BTC and ETH trade (thin: fewer than 3 pairs).
    -> close (T, N) NaN where no candle, {feature: (T, N)} from each pair's own compute_features."""
    rng = np.random.default_rng(seed)
    common = np.cumsum(rng.normal(0, 0.01, T))                 # a shared market factor: betas are not ~0
    present = np.ones((T, len(SYMBOLS)), dtype=bool)
    present[:40, 2] = False
    present[201:, 4] = False
    present[100:105, 3] = False
    present[150:154, 2:] = False
    present[60, 0] = present[80, 1] = False                    # one-candle gaps, inside a ret_3 look-back
    close = np.full(present.shape, np.nan)
    values = {f: np.full(present.shape, np.nan) for f in FCFG.cross}
    for i in range(len(SYMBOLS)):
        df = synthetic_candles(T, H, seed=seed * 10 + i, sigma=0.01)
        df["close"] *= np.exp(common * (0.5 + i / 4))
        df = df[present[:, i]].reset_index(drop=True)
        df["high"] = np.maximum(df["high"], np.maximum(df["open"], df["close"]))
        df["low"] = np.minimum(df["low"], np.minimum(df["open"], df["close"]))
        X, names = compute_features(df, FCFG, H, dtype=np.float64)
        close[present[:, i], i] = df["close"].to_numpy()
        for f in FCFG.cross:
            values[f][present[:, i], i] = X[:, names.index(f)]
    return close, values


def _reference_row(close: np.ndarray, values: dict, t: int) -> dict[str, np.ndarray]:
    """Every cross column at row t from close[: t + 1] only, by pandas, pairs missing at t left out."""
    c = pd.DataFrame(close[: t + 1], columns=SYMBOLS)
    at = c.iloc[-1].notna()
    nan = np.full(len(SYMBOLS), np.nan)
    out = {name: nan.copy() for name in cross_names(FCFG)}
    if at.sum() < FCFG.cross_min_pairs:
        return out
    for f in FCFG.cross:
        x = pd.Series(values[f][t], index=SYMBOLS)[at].dropna()
        if len(x) >= FCFG.cross_min_pairs:
            rank = (x.rank() - 1) / (len(x) - 1)
            z = (x - x.mean()) / x.std(ddof=0)
            out[f"xrank_{f}"] = rank.reindex(SYMBOLS).to_numpy()
            out[f"xz_{f}"] = z.reindex(SYMBOLS).to_numpy()
    r = c.pct_change(fill_method=None)                          # NaN unless candles at s-1 and s
    mkt = r.mean(axis=1).where(r.count(axis=1) >= FCFG.cross_min_pairs)
    out["mkt_ret"] = np.where(at, mkt.iloc[-1], np.nan)
    for w in FCFG.cross_windows:
        mw = mkt.iloc[-w:]
        for i, s in enumerate(SYMBOLS):
            rw = r[s].iloc[-w:]
            if at[s] and len(rw) == w and rw.notna().all() and mw.notna().all():
                out[f"mkt_beta_{w}"][i] = rw.cov(mw, ddof=0) / mw.var(ddof=0)
                out[f"mkt_corr_{w}"][i] = rw.corr(mw)
    for k in FCFG.returns:
        for i, s in enumerate(SYMBOLS):
            a, b = c[s].iloc[-(k + 1):], c[FCFG.cross_reference].iloc[-(k + 1):]
            if at[s] and len(a) == k + 1 and a.notna().all() and b.notna().all():
                out[f"rel_ret_{k}"][i] = np.log(a.iloc[-1] / a.iloc[0]) - np.log(b.iloc[-1] / b.iloc[0])
    return out


def test_cross_features_equal_a_per_timestamp_pandas_reference():
    """Catches a cross feature that reads a later candle (a centred window, a full-sample mean), that
    fills a missing pair (as 0 or its last value) into a rank, mean or window, that reads across a
    pair's gap, or that is emitted at a timestamp with fewer than cross_min_pairs pairs."""
    close, values = _panel()
    X, names = cross_features(close, values, SYMBOLS, FCFG, phase=7)
    assert names == cross_names(FCFG) and X.shape == (T, len(SYMBOLS), len(names))
    checked = 0
    for t in range(T):
        ref = _reference_row(close, values, t)
        for j, name in enumerate(names):
            np.testing.assert_allclose(X[t, :, j], ref[name], rtol=1e-9, atol=1e-12, err_msg=f"{name} at row {t}")
            checked += np.isfinite(ref[name]).sum()
    assert checked > 0.6 * X.size                               # most of the panel is defined and compared
    assert np.isnan(X[150:154]).all()                           # the thin rows: no cross feature at all
    assert np.isfinite(X[160, :, names.index("mkt_beta_5")]).all()


def test_the_future_does_not_move_the_past():
    """Catches look-ahead through any pair: the candles of one pair after t0 replaced by a random walk
    change no cross feature of any pair at or before t0."""
    close, values = _panel(1)
    X, _ = cross_features(close, values, SYMBOLS, FCFG)
    t0 = 170
    close2, values2 = close.copy(), {f: v.copy() for f, v in values.items()}
    rng = np.random.default_rng(5)
    close2[t0 + 1:, 1] = close[t0, 1] * np.exp(np.cumsum(rng.normal(0, 0.05, T - t0 - 1)))
    for v in values2.values():
        v[t0 + 1:, 1] = rng.normal(0, 1, T - t0 - 1)
    X2, _ = cross_features(close2, values2, SYMBOLS, FCFG)
    np.testing.assert_array_equal(X2[: t0 + 1], X[: t0 + 1])
    assert not np.allclose(np.nan_to_num(X2[t0 + 1:]), np.nan_to_num(X[t0 + 1:]))   # the change does reach t > t0


def test_cross_rank_ties_and_thin_rows():
    """Catches ranks that break ties by position or count a missing pair: ties share their mean rank,
    NaN is left out, fewer than min_pairs values give no rank."""
    x = np.array([[3.0, 1.0, 3.0, np.nan, 2.0], [1.0, np.nan, np.nan, np.nan, 2.0]])
    got = cross_rank01(x, 3)
    np.testing.assert_array_equal(got[0], [5 / 6, 0.0, 5 / 6, np.nan, 1 / 3])   # ranks 3.5, 1, 3.5, -, 2 of 4
    assert np.isnan(got[1]).all()


def test_excess_labels_sum_to_zero_per_timestamp():
    """Catches an excess target that subtracts a mean over all pairs (missing ones as 0) or over the
    whole sample instead of the pairs with a forward return at t, or that is defined on thin rows."""
    rng = np.random.default_rng(3)
    r = rng.normal(0.001, 0.02, (400, 6))
    r[rng.random(r.shape) < 0.3] = np.nan
    x = excess_returns(r, 3)
    n = np.isfinite(r).sum(axis=1)
    ok = n >= 3
    assert ok.sum() > 300 and (~ok).sum() > 10
    np.testing.assert_allclose(np.nansum(x[ok], axis=1), 0.0, atol=1e-15)
    assert np.isnan(x[~ok]).all()
    np.testing.assert_array_equal(np.isfinite(x[ok]), np.isfinite(r[ok]))      # a pair without r_t gets no label
    t = int(np.flatnonzero(ok)[0])
    np.testing.assert_allclose(x[t], r[t] - np.nanmean(r[t]))


def test_check_cross_names_the_fix():
    with pytest.raises(UserError, match="not a feature of the run"):
        check_cross(FCFG, ["ret_1", "ret_3"], SYMBOLS)
    with pytest.raises(UserError, match="cross_reference"):
        check_cross(FCFG, ["ret_1", "vol_4"], ["BTC/USDT", "SOL/USDT", "XRP/USDT"])
    with pytest.raises(UserError, match="at least"):
        check_cross(FCFG, ["ret_1", "vol_4"], ["ETH/USDT", "BTC/USDT"])
    check_cross(FCFG, ["ret_1", "vol_4"], SYMBOLS)
    assert cross_names(FeaturesConfig()) == []                  # the default: no cross group


def test_the_new_keys_are_type_checked_and_off_by_default():
    """Catches a default that turns the cross group or excess labels on for every single-pair run,
    and keys that accept nonsense (one pair as a cross-section, an unknown target)."""
    from cryptotrain.config import Config, load_config

    cfg = Config()
    assert cfg.features.cross == [] and cfg.labels.target == "absolute" and cfg.evaluate.quantiles == 3
    for bad in ("features.cross_min_pairs=1", "labels.target=relative", "evaluate.quantiles=1",
                "features.cross_windows=[1]", "features.cross=ret_1"):
        with pytest.raises(UserError):
            load_config(None, [bad])
    assert load_config(None, ["labels.target=excess"]).labels.target == "excess"
