"""The backtest constraints on a book of target weights: mode, max_exposure, gross, target_vol."""

from __future__ import annotations

import numpy as np

from cryptotrain.backtest.portfolio_weights import VOL_WINDOW_DAYS, constrain

H = 3_600_000
nan = np.nan


def test_mode_max_exposure_and_gross_apply_to_the_whole_book():
    """Catches a cap applied to the row's new decisions only instead of the book they join, a
    negative weight kept in long-only mode and a gross cap that scales up a small book."""
    w = np.array([[0.5, nan, -0.4], [nan, 0.9, nan], [nan, nan, nan], [0.1, 0.1, 0.1]])
    close = np.ones((4, 3))
    out = constrain(w, close, mode="long-short", max_exposure=0.6, gross=1.0, target_vol=0.0, timeframe_ms=H)
    np.testing.assert_allclose(out[0], [0.5, 0.0, -0.4])
    np.testing.assert_allclose(out[1], np.array([0.5, 0.6, -0.4]) / 1.5)    # gross 1.5 -> 1
    assert np.isnan(out[2]).all()
    np.testing.assert_allclose(out[3], [0.1, 0.1, 0.1])                     # below the cap: not scaled up
    lo = constrain(w, close, mode="long-only", max_exposure=1.0, gross=1.0, target_vol=0.0, timeframe_ms=H)
    np.testing.assert_allclose(lo[1], [0.5 / 1.4, 0.9 / 1.4, 0.0])


def test_target_vol_is_causal_capped_by_gross_and_aims_at_the_target():
    """Catches a volatility estimate that reads closes after the decision (perturbing the future
    changes the past), a scale above gross, and a wrong annualization (the realized volatility of
    the scaled book would miss the target by sqrt(24) or more)."""
    T, N = 24 * VOL_WINDOW_DAYS * 6, 3
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (T, N)), axis=0))
    w = np.full((T, N), nan)
    w[::24] = [0.2, 0.1, 0.1]
    kw = dict(mode="long-short", max_exposure=1.0, gross=1.0, target_vol=0.25, timeframe_ms=H)
    out = constrain(w, close, **kw)
    cut = T // 2
    future = close.copy()
    future[cut + 1:] *= np.exp(rng.normal(0, 0.05, (T - cut - 1, N)))
    np.testing.assert_array_equal(constrain(w, future, **kw)[: cut + 1], out[: cut + 1])
    rows = np.flatnonzero(np.isfinite(out).any(axis=1))
    assert np.abs(out[rows]).sum(axis=1).max() <= 1.0 + 1e-12
    r = np.diff(close, axis=0) / close[:-1]
    book = np.maximum.accumulate(np.where(np.isfinite(out).any(axis=1), np.arange(T), 0))
    held = out[book][:-1]
    late = slice(24 * VOL_WINDOW_DAYS * 2, None)
    vol = np.std((held * r).sum(axis=1)[late]) * np.sqrt(24 * 365)
    assert 0.2 < vol < 0.3
