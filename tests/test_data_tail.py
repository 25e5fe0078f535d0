"""How much history a feature row needs (data/tail.py) and rolling windows that forget (data/rolling.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.ohlcv import load_ohlcv, write_ohlcv
from cryptotrain.data.features.rolling import rolling_comoments, rolling_mean_std, rolling_sum
from cryptotrain.data.synthetic import synthetic_candles
from cryptotrain.data.tail import CandleFile, ema_memory_rows, ema_rows, warmup_rows

REPO = Path(__file__).resolve().parents[1]
HOUR = 3_600_000
CONFIGS = [FeaturesConfig(),
           FeaturesConfig(returns=[1, 2, 4], volatility=[12], macd=[6, 13, 5], volume_zscore=12, vwap=12),
           FeaturesConfig(returns=[30], volatility=[5], rsi=None, macd=[3, 40, 20], bollinger=None, atr=50),
           FeaturesConfig(returns=[], volatility=[], rsi=None, macd=None, bollinger=None, atr=None,
                          volume_zscore=None, vwap=None)]


@pytest.mark.parametrize("fcfg, expected", [(CONFIGS[0], 72), (CONFIGS[1], 19), (CONFIGS[2], 58), (CONFIGS[3], 0)])
def test_warmup_rows_is_the_first_full_feature_row_of_real_candles(fcfg, expected):
    """Measured on synthetic candles; expected by hand from the longest look-back: vol_72 (its returns
    start at row 1); Bollinger 20 - 1; MACD slow 40 + signal 20 - 2; none. Checked on the 1h sample."""
    df, rep = load_ohlcv(REPO / "data/sample/BTC_USDT-1h.csv.gz")
    X, _ = compute_features(df.iloc[-3000:].reset_index(drop=True), fcfg, rep.timeframe_ms)
    full = np.isfinite(X).all(axis=1)
    assert warmup_rows(fcfg, rep.timeframe_ms) == int(np.argmax(full)) and full[int(np.argmax(full)):].all()


def test_rolling_values_depend_on_the_window_only():
    x = np.random.default_rng(0).normal(1e4, 50.0, 5000)
    x[[100, 2500]] = np.nan
    for w in (1, 2, 7, 24, 72):
        for start in (1, 333, 4000):   # a tail starting at `start` has its blocks at the same candles (phase)
            assert np.array_equal(rolling_sum(x, w)[-50:], rolling_sum(x[start:], w, phase=start)[-50:])
            m, s = rolling_mean_std(x, w)
            m2, s2 = rolling_mean_std(x[start:], w, phase=start)
            assert np.array_equal(m[-50:], m2[-50:]) and np.array_equal(s[-50:], s2[-50:])
            assert np.array_equal(s[start + 2 * w:], s2[2 * w:], equal_nan=True)
        windows = [x[i - w + 1:i + 1] for i in range(w - 1, len(x))]                  # each window on its own
        m, s = rolling_mean_std(x, w, phase=5)
        np.testing.assert_allclose(m[w - 1:], [np.mean(v) for v in windows], rtol=1e-14)
        np.testing.assert_allclose(s[w - 1:], [np.std(v) for v in windows], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(rolling_sum(x, w, 3)[w - 1:], [np.sum(v) for v in windows], rtol=1e-14)
        assert np.isnan(s[: w - 1]).all() and np.isnan(s[100:100 + w]).all() and np.isfinite(s[100 + w:2500]).all()


def test_rolling_comoments_depend_on_the_window_only():
    rng = np.random.default_rng(1)
    x, y = rng.normal(6e4, 30.0, 3000), rng.normal(3.0, 0.5, 3000)
    x[700] = np.nan
    for w in (2, 5, 60):
        whole = rolling_comoments(x, y, w, phase=11)
        for start in (1, 701, 2222):
            tail = rolling_comoments(x[start:], y[start:], w, phase=11 + start)
            assert all(np.array_equal(a[-50:], b[-50:]) for a, b in zip(whole, tail))
        mx, my, m2x, m2y, cxy = whole
        for i in (w - 1, 699, 701 + w - 1, 2999):                                     # each window on its own
            a, b = x[i - w + 1:i + 1], y[i - w + 1:i + 1]
            np.testing.assert_allclose([mx[i], my[i], m2x[i], m2y[i], cxy[i]],
                                       [a.mean(), b.mean(), ((a - a.mean()) ** 2).sum(), ((b - b.mean()) ** 2).sum(),
                                        ((a - a.mean()) * (b - b.mean())).sum()], rtol=1e-9, atol=1e-9)
        assert np.isnan(m2x[:w - 1]).all() and np.isnan(cxy[700:700 + w]).all() and np.isfinite(cxy[700 + w:]).all()


@pytest.mark.parametrize("fcfg", CONFIGS[:3])
def test_a_tail_of_warmup_plus_ema_memory_gives_the_bits_of_the_whole_file(fcfg):
    df, rep = load_ohlcv(REPO / "data/sample/BTC_USDT-1h.csv.gz")
    T = 48
    full, _ = compute_features(df, fcfg, rep.timeframe_ms)
    for end in (len(df), len(df) - 777, 20_000):
        tail = df.iloc[end - (T + warmup_rows(fcfg) + ema_memory_rows(fcfg)):end].reset_index(drop=True)
        X, _ = compute_features(tail, fcfg, rep.timeframe_ms)
        assert np.array_equal(X[-T:], full[end - T:end])
        short = compute_features(tail.iloc[-(T + warmup_rows(fcfg) + 50):].reset_index(drop=True), fcfg,
                                 rep.timeframe_ms)[0]
        if fcfg.macd or fcfg.rsi or fcfg.atr:   # a short tail is not enough for an EMA: the check is not vacuous
            assert not np.array_equal(short[-T:], full[end - T:end])


def test_alpha158_and_context_ema_memory_give_the_bits_of_the_whole_file():
    """alpha158 groups are window-local; a 4h RSI remembers 600 4h candles, counted in 1h candles."""
    fcfg = FeaturesConfig(set=["kbar", "corr", "std", "sump", "rsqr"], windows=[5, 10], context=["4h"],
                          context_set=["rsi", "roc"], context_windows=[5])
    assert ema_memory_rows(fcfg) == 0 and ema_memory_rows(fcfg, HOUR) == (ema_rows(1 / 14) + 1) * 4
    df, rep = load_ohlcv(REPO / "data/sample/BTC_USDT-1h.csv.gz")
    T, warm = 48, warmup_rows(fcfg, HOUR)
    full, _ = compute_features(df, fcfg, HOUR, dtype=np.float64)
    for end in (len(df), len(df) - 777, 20_001):
        X = compute_features(df.iloc[end - (T + warm + ema_memory_rows(fcfg, HOUR)):end].reset_index(drop=True),
                             fcfg, HOUR, dtype=np.float64)[0]
        assert np.array_equal(X[-T:], full[end - T:end])
        short = compute_features(df.iloc[end - (T + warm + 50):end].reset_index(drop=True), fcfg, HOUR,
                                 dtype=np.float64)[0]
        assert not np.array_equal(short[-T:], full[end - T:end])   # the context EMA does need its memory


def test_parquet_rows_are_read_by_row_groups_and_match_the_loader(tmp_path):
    df = synthetic_candles(5000, 60_000)
    path = tmp_path / "c.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=700)
    src = CandleFile(path)
    assert src._pq is not None and src.rows == 5000 and src.timeframe_ms == 60_000
    pd.testing.assert_frame_equal(src.frame(1234, 4321), load_ohlcv(path)[0].iloc[1234:4321].reset_index(drop=True))
    unsorted = tmp_path / "u.parquet"
    write_ohlcv(df.iloc[::-1], unsorted)             # falls back to the loader, which sorts
    assert CandleFile(unsorted)._pq is None
    pd.testing.assert_frame_equal(CandleFile(unsorted).frame(10, 20), df.iloc[10:20].reset_index(drop=True))
