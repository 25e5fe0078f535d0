"""PSR(0), the block-bootstrap interval of the annualized return and the short-span warning that
every backtest's statistics carry (backtest/stats.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from cryptotrain.backtest.stats import BOOTSTRAP_RESAMPLES, annual_return_interval, compute_stats, span_warning
from cryptotrain.evaluate.bootstrap import block_length, percentile_interval
from tests.test_backtest_cli import candles  # noqa: F401  (a fixture)
from tests.test_backtest_stats import fixed_result

H = 3_600_000


def with_equity(equity: np.ndarray, timeframe_ms: int = H):
    res = fixed_result()
    n = len(equity)
    res.equity, res.timestamps, res.timeframe_ms = equity, np.arange(n, dtype=np.int64) * timeframe_ms, timeframe_ms
    res.position, res.buy_hold, res.cash = np.ones(n), equity, 10_000.0
    return res


def test_interval_equals_a_slow_bootstrap_of_the_same_blocks():
    """Catches a wrong prefix-sum block (off by one candle), blocks that do not wrap around, and a
    mean taken over n instead of the k * b resampled candles: the slow version builds every resample."""
    rng = np.random.default_rng(1)
    r = rng.normal(0.0002, 0.01, 500)
    n, b = len(r), block_length(len(r))
    k = -(-n // b)
    starts = np.random.default_rng(0).integers(0, n, size=(BOOTSTRAP_RESAMPLES, k))
    idx = ((starts[:, :, None] + np.arange(b)) % n).reshape(BOOTSTRAP_RESAMPLES, k * b)
    slow = np.expm1(8760 * np.log1p(r)[idx].mean(axis=1))
    np.testing.assert_allclose(annual_return_interval(r, 8760), percentile_interval(slow), rtol=1e-9)


def test_psr_and_interval_on_a_steady_and_a_driftless_equity():
    """Catches PSR of the wrong sign or scale (n, not n - 1, or a per-year Sharpe ratio: against the
    normal-returns value Phi(SR sqrt(n - 1))) and an interval that misses its own point estimate."""
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 0.01, 2000)
    up = compute_stats(with_equity(10_000 * np.cumprod(1 + 0.002 + noise)))
    flat = compute_stats(with_equity(10_000 * np.cumprod(1 + noise - noise.mean())))
    assert up["PSR(0) [%]"] > 99 and 30 < flat["PSR(0) [%]"] < 70
    mild = 1 + 0.0003 + noise - noise.mean()
    some = compute_stats(with_equity(10_000 * np.cumprod(mild)))
    sr = (mild - 1).mean() / (mild - 1).std(ddof=1)
    assert abs(some["PSR(0) [%]"] - 100 * norm.cdf(sr * np.sqrt(1999))) < 1.0 and 70 < some["PSR(0) [%]"] < 99
    for s in (up, flat, some):
        assert s["Return (Ann.) CI Low [%]"] < s["Return (Ann.) [%]"] < s["Return (Ann.) CI High [%]"]


def test_short_span_warns_with_its_dates_and_a_long_one_does_not():
    """Catches the 18-day run that printed an annualized return of 1,796.95% without a word."""
    short = compute_stats(with_equity(10_000 * np.cumprod(np.full(18 * 24, 1.0007))))
    text = span_warning(short)
    assert text is not None and "18.0 days" in text and "1970-01-01 00:00" in text
    long = compute_stats(with_equity(np.full(24 * 91, 10_000.0)))
    assert long["Duration"] > pd.Timedelta(days=90) and span_warning(long) is None


def test_a_single_pair_backtest_reports_psr_the_interval_and_warns_of_its_short_span(tmp_path, candles):  # noqa: F811
    """Catches the single-pair command left without the new rows or the warning (the issue asks for
    them on every backtest)."""
    import json

    from tests.test_backtest_cli import T0 as T0_, invoke, write_signals

    sig = write_signals(tmp_path / "rule.csv", T0_ + np.arange(5, 30) * H, np.tile([1, 1, -1, 0, 0.5], 5))
    res = invoke("--signals", sig, "--data", candles)
    assert res.exit_code == 0, res.output
    assert "PSR(0) [%]" in res.output and "Return (Ann.) CI Low [%]" in res.output
    assert "warning:" in res.output and "shorter than 90 days" in " ".join(res.output.split())
    model = json.loads((tmp_path / "rule_backtest" / "stats.json").read_text())["model"]
    assert model["PSR(0) [%]"] is not None and model["Return (Ann.) CI High [%]"] is not None
