"""Portfolio engine against a plain per-candle loop written here from the rule, hand arithmetic,
and today's single-pair engine."""

from __future__ import annotations

import numpy as np
import pytest

from cryptotrain.backtest.engine import execute_targets
from cryptotrain.backtest.policy import hold_forward
from cryptotrain.backtest.portfolio_engine import run_portfolio

H = 3_600_000
nan = np.nan


def pf(open_, close, weights, cash=1000.0, fee_bps=0.0, slippage_bps=0.0, rebalance=0, symbols=None):
    open_, close, weights = (np.asarray(v, dtype=float) for v in (open_, close, weights))
    return run_portfolio(np.arange(len(open_)) * H, open_, close, weights, cash=cash, fee_bps=fee_bps,
                         slippage_bps=slippage_bps, timeframe_ms=H, rebalance=rebalance, symbols=symbols)


def oracle(open_, close, weights, cash, f, s, rebalance):
    """The rule, candle by candle, pair by pair, with explicit cash and units. The sizing equation
    x = E - sum_i kappa_i |w_i x - a_i| is solved by bisection (not the engine's Newton steps);
    sells are paid in before buys. Returns the equity at every close."""
    T, N = open_.shape
    c, u = cash, [0.0] * N
    filled, pending, last = [0.0] * N, [0.0] * N, [nan] * N
    last_row = [max(t for t in range(T) if np.isfinite(open_[t, i])) for i in range(N)]
    equity = []
    for t in range(T):
        has = [bool(np.isfinite(open_[t, i])) for i in range(N)]
        P = [open_[t, i] if has[i] else last[i] for i in range(N)]
        reb = rebalance > 0 and t > 0 and t % rebalance == 0
        go = [i for i in range(N) if has[i] and (pending[i] != filled[i] or (reb and pending[i] != 0))]
        if go:
            E = c + sum(u[i] * P[i] for i in range(N) if u[i] != 0)

            def cost(x):
                tot = 0.0
                for i in go:
                    d = pending[i] * x - u[i] * P[i]
                    tot += (s + f * (1 + s) if d > 0 else s + f * (1 - s)) * abs(d)
                return x + tot - E

            lo, hi = 0.0, E
            for _ in range(200):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if cost(mid) < 0 else (lo, mid)
            x = (lo + hi) / 2
            new = {i: pending[i] * x / P[i] for i in go}
            for sells in (True, False):
                for i in go:
                    du = new[i] - u[i]
                    if (du < 0) == sells and du != 0:
                        price = P[i] * (1 + s if du > 0 else 1 - s)
                        c -= du * price + f * abs(du) * price
                        u[i] = new[i]
                filled = [pending[i] if i in new else filled[i] for i in range(N)]
        for i in range(N):
            if has[i]:
                last[i] = close[t, i]
            if last_row[i] == t < T - 1 and u[i] != 0:      # data ends while held: sold at that close
                price = close[t, i] * (1 - s if u[i] > 0 else 1 + s)
                c += u[i] * price - f * abs(u[i]) * price
                u[i] = 0.0
        equity.append(c + sum(u[i] * last[i] for i in range(N) if u[i] != 0))
        for i in range(N):
            if np.isfinite(weights[t, i]):
                pending[i] = weights[t, i]
    return np.array(equity)


def market(T, N, seed):
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.03, (T, N)), axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(rng.normal(0, 0.004, (T, N)))
    return open_, close, rng


@pytest.mark.parametrize("fee_bps,slip_bps,rebalance", [(0, 0, 0), (10, 2, 0), (25, 7, 3), (10, 2, 5)])
def test_matches_per_candle_loop_with_gaps_late_listing_and_early_end(fee_bps, slip_bps, rebalance):
    """Catches a wrong fill rule anywhere: fees, slippage, sizing, a fill at a gap (at the last close
    instead of waiting), a late-listed pair traded before its first candle, an ended pair not sold."""
    T, N = 60, 4
    open_, close, rng = market(T, N, seed=fee_bps + rebalance)
    for a in (open_, close):
        a[:12, 1] = nan            # pair 1 listed late
        a[40:, 2] = nan            # pair 2 ends early, while held
        a[[20, 21, 33], 3] = nan   # pair 3 has gaps
    w = np.where(rng.random((T, N)) < 0.3, np.round(rng.uniform(-0.5, 0.5, (T, N)), 2), nan)
    w[5, 1] = 0.3                  # decided before pair 1 exists: waits for its first open
    w[19, 3] = -0.2                # decided just before pair 3's gap: waits for row 22
    w[30:, 2] = nan
    w[30, 2] = 0.25                # held into pair 2's end
    r = pf(open_, close, w, fee_bps=fee_bps, slippage_bps=slip_bps, rebalance=rebalance)
    want = oracle(open_, close, w, 1000.0, fee_bps / 1e4, slip_bps / 1e4, rebalance)
    np.testing.assert_allclose(r.equity, want, rtol=1e-9)
    assert list(r.ended) == ["pair2"] and r.ended["pair2"] == 39 * H
    assert not ((r.fills.pair == 1) & (r.fills.candle < 12)).any()
    assert not ((r.fills.pair == 3) & np.isin(r.fills.candle, [20, 21, 33])).any()


def hand_case():
    """Three pairs, ten candles, no costs: A throughout, B listed at row 3, C ending at row 6."""
    A_o = [10, 10, 10, 12, 12, 12, 6, 6, 6, 6]
    A_c = [10, 10, 12, 12, 12, 6, 6, 6, 6, 12]
    B_o = [nan, nan, nan, 20, 20, 25, 25, 25, 20, 20]     # listed at row 3
    B_c = [nan, nan, nan, 20, 25, 25, 25, 20, 20, 20]
    C_o = [5, 5, 5, 5, 5, 5, 10, nan, nan, nan]           # ends at row 6
    C_c = [5, 5, 5, 5, 5, 10, 10, nan, nan, nan]
    w = np.full((10, 3), nan)
    w[0] = [0.5, nan, 0.5]   # open 1: E 1000 -> A 50 units at 10, C 100 units at 5, cash 0
    w[1] = [0.0, 0.5, nan]   # open 2: A sold at 10 (cash 500); B has no candle: waits for open 3
    #                          open 3: E = 500 + 100 * 5 = 1000 -> B 25 units at 20, cash 0
    w[6] = [0.25, nan, nan]  # C ends at row 6 held: sold at its close 10 -> cash 1000
    #                          open 7: E = 1000 + 25 * 25 = 1625 -> A 0.25 * 1625 / 6 = 67.7083 units
    return pf(np.array([A_o, B_o, C_o]).T, np.array([A_c, B_c, C_c]).T, w, symbols=["A", "B", "C"])


def test_three_pairs_ten_candles_without_costs_by_hand():
    """Catches sizing on the wrong equity, a waiting change filled at a gap or before listing, and an
    ended pair left in the book: the equity below is worked out by hand in the comments of hand_case."""
    r = hand_case()
    hand = [1000,                  # flat
            50 * 10 + 100 * 5,     # 1000
            500 + 100 * 5,         # 1000 (A sold at the open of 2)
            25 * 20 + 100 * 5,     # 1000
            25 * 25 + 100 * 5,     # 1125
            25 * 25 + 100 * 10,    # 1625
            25 * 25 + 1000,        # 1625 (C sold at its last close)
            593.75 + 406.25 + 25 * 20,   # 1500: cash 1000 - 406.25 for A
            593.75 + 406.25 + 25 * 20,   # 1500
            593.75 + 812.5 + 25 * 20]    # 1906.25
    np.testing.assert_allclose(r.equity, hand, rtol=1e-12)
    assert r.ended == {"C": 6 * H}
    assert sorted(r.trades["symbol"]) == ["A", "A", "B", "C"]


@pytest.mark.parametrize("fee_bps,slip_bps", [(0, 0), (10, 2), (25, 7)])
def test_one_pair_equals_the_single_pair_engine(fee_bps, slip_bps):
    """Catches any drift between the portfolio rule and engine.py's (sizing, costs, which candles fill)."""
    T = 3000
    open_, close, rng = market(T, 1, seed=3)
    raw = np.where(rng.random(T) < 0.1, np.round(rng.uniform(-1, 1, T), 1), nan)
    a = execute_targets(np.arange(T) * H, open_[:, 0], close[:, 0], hold_forward(raw), cash=1e4, fee_bps=fee_bps,
                     slippage_bps=slip_bps, timeframe_ms=H)
    b = pf(open_, close, raw[:, None], cash=1e4, fee_bps=fee_bps, slippage_bps=slip_bps)
    assert np.max(np.abs(b.equity / a.equity - 1)) < 1e-12
    np.testing.assert_array_equal(b.fills.candle, a.fills.candle)
    np.testing.assert_allclose(b.fills.fee, a.fills.fee, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.trades["pnl"], a.trades["pnl"], rtol=1e-9, atol=1e-7)


@pytest.mark.parametrize("fee_bps,slip_bps", [(10, 0), (0, 5), (10, 2), (30, 9)])
def test_round_trip_costs_twice_fee_plus_slippage(fee_bps, slip_bps):
    """Catches a fee taken on the wrong price or side, or slippage charged once: with flat prices a
    buy and sell of one pair lose exactly 2 (fee + slippage) of the notional at the open."""
    f, s = fee_bps / 1e4, slip_bps / 1e4
    flat = np.full((6, 2), 100.0)
    w = np.full((6, 2), nan)
    w[0, 0], w[2, 0] = 0.6, 0.0
    r = pf(flat, flat, w, fee_bps=fee_bps, slippage_bps=slip_bps)
    notional = r.fills.units_after[0] * 100.0
    assert 1000.0 - r.equity[-1] == pytest.approx(2 * (f + s) * notional, rel=1e-12)
    assert r.fills.fee.sum() + r.fills.slippage.sum() == pytest.approx(2 * (f + s) * notional, rel=1e-12)


def test_rebalance_zero_with_unchanged_targets_trades_nothing():
    """Catches a trade for a target equal to the one filled (drift alone must not trade) and a
    rebalance that never happens when asked for."""
    open_, close, _ = market(50, 3, seed=1)
    w = np.full((50, 3), nan)
    w[0] = [0.3, 0.3, 0.3]
    w[10] = [0.3, 0.3, 0.3]        # the same targets again
    r = pf(open_, close, w, fee_bps=10, slippage_bps=2)
    assert len(r.fills.candle) == 3 and set(r.fills.candle) == {1}
    r5 = pf(open_, close, w, fee_bps=10, slippage_bps=2, rebalance=5)
    assert sorted(set(r5.fills.candle)) == [1, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    v = r5.value[5] / r5.equity[5]     # after a rebalance the book is back at its weights (at the open)
    assert np.all(np.abs(v - 0.3) < 0.05)


def test_sells_are_recorded_before_buys_and_a_rebalanced_long_book_of_gross_one_keeps_cash_non_negative():
    """Catches buys sized before sells pay in, and costs left out of the sizing: a full long book
    traded at every decision (decisions on the rebalance rows) would take cash below zero. (A
    pair left to drift is not resized, so the claim needs every held pair filled at that open.)"""
    open_, close, rng = market(40, 4, seed=2)
    w = np.full((40, 4), nan)
    for t in range(2, 40, 3):      # filled at the opens 3, 6, 9, ...: rebalance rows with rebalance=3
        w[t] = np.eye(4)[rng.integers(4)] * 0.5 + np.eye(4)[(t // 3) % 4] * 0.5
    r = pf(open_, close, w, fee_bps=10, slippage_bps=2, rebalance=3)
    for row in np.unique(r.fills.candle):
        du = (r.fills.units_after - r.fills.units_before)[r.fills.candle == row]
        assert not np.any(np.diff((du > 0).astype(int)) < 0)   # no sell after a buy
    cash = r.equity - r.value.sum(axis=1)
    assert cash.min() > -1e-9 and cash[3:].min() < 1e-6       # fully invested, never overdrawn


def test_ruin_wipes_the_account_out_as_the_single_pair_engine_does():
    """Catches equity going negative after a short's rally of more than 100%, or trading on after it."""
    o = np.array([100, 100, 100, 150, 250, 260, 100.0])
    c = np.array([100, 100, 140, 240, 255, 200, 90.0])
    t = np.full(7, -1.0)
    a = execute_targets(np.arange(7) * H, o, c, t, cash=1000.0, fee_bps=10, slippage_bps=2, timeframe_ms=H)
    b = pf(o[:, None], c[:, None], t[:, None], fee_bps=10, slippage_bps=2)
    assert a.ruined_at == b.ruined_at == 3
    np.testing.assert_allclose(b.equity, a.equity, rtol=1e-12)
    assert (b.equity[3:] == 0).all() and (b.units[3:] == 0).all()


def test_the_future_does_not_change_the_past():
    """Catches look-ahead: a target filled at the open of its own decision candle, or equity valued
    with a later price. Weights decided from the close of c on and prices from the open of c + 1 on
    are perturbed; the equity and fills through the close of c stay the same to the bit."""
    T, N, c = 80, 3, 45
    open_, close, rng = market(T, N, seed=7)
    open_[20:30, 1] = close[20:30, 1] = nan
    w = np.where(rng.random((T, N)) < 0.3, np.round(rng.uniform(-0.3, 0.3, (T, N)), 2), nan)
    r = pf(open_, close, w, fee_bps=10, slippage_bps=2, rebalance=6)
    o2, c2, w2 = open_.copy(), close.copy(), w.copy()
    o2[c + 1:] *= 1.3
    c2[c + 1:] *= 0.7
    w2[c:] = np.round(rng.uniform(-0.3, 0.3, (T - c, N)), 2)
    r2 = pf(o2, c2, w2, fee_bps=10, slippage_bps=2, rebalance=6)
    np.testing.assert_array_equal(r2.equity[: c + 1], r.equity[: c + 1])
    np.testing.assert_array_equal(r2.fills.candle[r2.fills.candle <= c], r.fills.candle[r.fills.candle <= c])
    assert not np.array_equal(r2.equity[c + 1:], r.equity[c + 1:])
