"""Allocation policies of a universe run (backtest/portfolio_policy.py): topk with Qlib's TopkDropout
hysteresis against a plain loop written here, proportional, independent sleeves against N single-pair
backtests, and the momentum benchmark's causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptotrain.backtest import backtester, policy
from cryptotrain.backtest.portfolio_policy import (decision_rows, momentum_scores, policy_weights,
                                                   proportional_weights, topk_weights)
from cryptotrain.backtest.universe_backtest import UniversePredictions, trade_universe
from cryptotrain.config import BacktestConfig
from cryptotrain.data.universe import Universe

H = 3_600_000


def scores_matrix(T=60, N=7, seed=0, holes=0.15):
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(T, N))
    s[rng.random((T, N)) < holes] = np.nan        # pairs without a score at some rows
    return s


def held_sets(w, t):
    return set(np.flatnonzero(w[t] > 0)), set(np.flatnonzero(w[t] < 0))


@pytest.mark.parametrize("long_short", [False, True])
def test_topk_holds_exactly_the_k_best_and_k_worst(long_short):
    """Catches a book that is not the k highest scores (a sort in the wrong direction, a candidate list cut
    one short), a short side that is not the k lowest of the pairs not long, a pair without a score kept,
    and weights other than gross / k (gross / 2k long-short); n_drop unset = plain top-k."""
    s, k = scores_matrix(), 2
    rows = decision_rows(len(s), 3)
    w = topk_weights(s, rows, k=k, n_drop=None, long_short=long_short, gross=1.0)
    assert np.isnan(np.delete(w, rows, axis=0)).all()
    for t in rows:
        ok = np.flatnonzero(np.isfinite(s[t]))
        by = ok[np.argsort(-s[t, ok], kind="stable")]
        long, short = held_sets(w, t)
        assert long == set(by[:k]), t
        if long_short:
            assert short == set(by[::-1][:k]), t
            np.testing.assert_allclose(np.abs(w[t][w[t] != 0]), 1.0 / (2 * k))
        else:
            assert not short
            np.testing.assert_allclose(w[t][w[t] != 0], 1.0 / k)


def dropout_loop(scores, rows, k, n_drop, exclude=None):
    """Qlib's TopkDropout in plain Python, one side, from its description: held pairs without a score
    leave first; candidates = the best n_drop + k - |held| pairs not held; the held pairs among the
    last n_drop of (held + candidates) by score are sold; the first |sold| + k - |held| candidates bought.
    `exclude`: row -> pairs out of reach at that row (the long book, for the short side)."""
    held, out = [], {}
    for t in rows:
        sc = {i: scores[t, i] for i in range(scores.shape[1])
              if np.isfinite(scores[t, i]) and i not in (exclude or {}).get(t, ())}
        rank = lambda ids: sorted(ids, key=lambda i: (-sc[i], i))     # noqa: E731
        held = rank([i for i in held if i in sc])
        cand = rank([i for i in sc if i not in held])[: n_drop + k - len(held)]
        comb = rank(held + cand)
        bottom = comb[len(comb) - n_drop:] if n_drop else []
        sell = [i for i in held if i in bottom]
        buy = cand[: len(sell) + k - len(held)]
        held = [i for i in held if i not in sell] + buy
        out[t] = set(held)
    return out


@pytest.mark.parametrize("n_drop", [0, 1, 2])
def test_n_drop_limits_replacements_against_a_plain_loop(n_drop):
    """Catches hysteresis that replaces more than n_drop holdings per decision (n_drop ignored: plain
    top-k), sells a holding for a worse candidate, keeps a pair that lost its score, or shorts a pair
    the long book holds; both books equal the loop above at every decision row (long-short)."""
    s, k = scores_matrix(T=200, N=8, seed=3, holes=0.05), 3
    rows = decision_rows(len(s), 2)
    w = topk_weights(s, rows, k=k, n_drop=n_drop, long_short=True, gross=1.0)
    want = dropout_loop(s, rows, k, n_drop)
    want_short = dropout_loop(-s, rows, k, n_drop, exclude=want)
    prev, swaps = set(), []
    for t in rows:
        long, short = held_sets(w, t)
        assert long == want[t] and short == want_short[t], t
        forced = {i for i in prev if not np.isfinite(s[t, i])}
        swaps.append(len(prev - long - forced))
        prev = long
    assert max(swaps) <= n_drop
    assert max(swaps) == n_drop          # the limit binds on random scores: the test sees the hysteresis


def test_proportional_weights_sum_to_gross_and_are_demeaned_long_short():
    """Catches weights not scaled to gross, long-short scores not demeaned across the pairs with a score
    (or demeaned over the missing ones too), negative scores bought long-only, and a missing score held."""
    s = scores_matrix(T=30, N=5, seed=1)
    rows = decision_rows(len(s), 5)
    for ls in (False, True):
        w = proportional_weights(s, rows, long_short=ls, gross=0.8)
        for t in rows:
            ok = np.isfinite(s[t])
            v = s[t, ok] - s[t, ok].mean() if ls else np.maximum(s[t, ok], 0)
            if not v.any():                                   # long-only, no positive score: flat
                assert (w[t] == 0).all()
                continue
            np.testing.assert_allclose(w[t, ok], 0.8 * v / np.abs(v).sum(), atol=1e-15)
            assert (w[t, ~ok] == 0).all()
            assert np.abs(w[t]).sum() == pytest.approx(0.8)
            if ls:
                assert w[t].sum() == pytest.approx(0.0, abs=1e-12)


def market(T, N, seed):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    open_ = np.vstack([close[:1] * 0.999, close[:-1] * (1 + rng.normal(0, 0.002, (T - 1, N)))])
    ts = 1_700_000_000_000 - 1_700_000_000_000 % H + np.arange(T) * H
    return Universe([f"P{i}_USDT" for i in range(N)], "1h", H, ts, open_, close, [])


@pytest.mark.parametrize("fee_bps,slip_bps", [(0.0, 0.0), (10.0, 2.0)])
def test_independent_equals_n_single_pair_backtests_on_sleeves(fee_bps, slip_bps):
    """Catches independent sized on the whole account's equity (target / N of the portfolio: sleeves
    that lend to each other), a sleeve of the whole cash, and a single-pair rule not followed (a missing
    prediction not keeping the target, min_hold ignored): the account's equity is the sum of N
    backtester.trade runs of each pair's own predictions on cash / N, to 1e-9 relative."""
    T, N = 240, 3
    uni = market(T, N, seed=5)
    rng = np.random.default_rng(6)
    act = rng.choice([-1.0, 0.0, 1.0], size=(T - 1, N), p=[0.1, 0.8, 0.1])
    conf = rng.random((T - 1, N))
    act[rng.random((T - 1, N)) < 0.1] = np.nan                       # no prediction there
    act[0], act[-1] = 0.0, 0.0                                       # every pair spans the same range
    conf[np.isnan(act)] = np.nan
    preds = UniversePredictions(np.arange(T - 1), np.where(np.isnan(act), np.nan, conf), act, conf, "x")
    bcfg = BacktestConfig(fee_bps=fee_bps, slippage_bps=slip_bps, threshold=0.3, min_hold=3)
    rep = trade_universe(uni, preds, bcfg, horizon=4, n_pairs=N)
    total = np.zeros(T)
    for i in range(N):
        has = np.flatnonzero(np.isfinite(act[:, i]))
        candles = pd.DataFrame({"timestamp": uni.timestamps, "open": uni.open[:, i], "close": uni.close[:, i]})
        one = bcfg.model_copy(update={"cash": bcfg.cash / N})
        results, _ = backtester.trade(candles, H, has, policy.prediction_actions(act[has, i], conf[has, i], one), one)
        total += results["model"].equity
    np.testing.assert_allclose(rep.results["portfolio"].equity, total, rtol=1e-9)
    assert len(rep.results["portfolio"].trades) > 10


def test_momentum_score_uses_only_past_closes():
    """Catches a momentum score that looks ahead (the forward return over the horizon, a close after the
    decision): changing every close after row t leaves the scores and the topk book up to t as they were,
    and the score is close[t] / close[t - h] - 1."""
    uni = market(120, 5, seed=2)
    h, t = 6, 70
    s = momentum_scores(uni.close, h)
    bumped = uni.close.copy()
    bumped[t + 1:] *= np.random.default_rng(0).uniform(0.5, 1.5, bumped[t + 1:].shape)
    s2 = momentum_scores(bumped, h)
    np.testing.assert_array_equal(s[: t + 1], s2[: t + 1])
    assert not np.allclose(s[t + 1:][h:], s2[t + 1:][h:])
    assert s[t, 2] == pytest.approx(uni.close[t, 2] / uni.close[t - h, 2] - 1)
    assert np.isnan(s[:h]).all()
    bcfg = BacktestConfig(policy="topk", k=2, n_drop=1, rebalance=h)
    w, _ = policy_weights(s, bcfg)
    w2, _ = policy_weights(s2, bcfg)
    np.testing.assert_array_equal(w[: t + 1], w2[: t + 1])
