"""Execution engine against hand arithmetic and a slow candle-by-candle cash/units oracle."""

from __future__ import annotations

import numpy as np
import pytest

from cryptotrain.backtest.engine import execute_targets, final_equity

H = 3_600_000


def bt(open_, close, target, cash=1000.0, fee_bps=0.0, slippage_bps=0.0):
    n = len(close)
    return execute_targets(np.arange(n) * H, np.asarray(open_, float), np.asarray(close, float),
                           np.asarray(target, float), cash=cash, fee_bps=fee_bps, slippage_bps=slippage_bps, timeframe_ms=H)


def oracle(open_, close, target, cash, f, s):
    """Candle by candle with explicit cash and units; the fill solves the sizing rule from the cash side:
    after the fill, units * open == target * (cash' + units * open)."""
    c, u, prev, equity = cash, 0.0, 0.0, []
    for t in range(len(close)):
        e = target[t - 1] if t > 0 else 0.0
        if e != prev:
            o, E = open_[t], c + u * open_[t]
            for side in (1.0, -1.0):
                k = s + f * (1 + side * s)                # cost per unit notional at the open
                u_new = e * (E / o + side * u * k) / (1 + side * e * k)
                if side * (u_new - u) >= 0:
                    break
            p = o * (1 + side * s)
            c -= (u_new - u) * p + f * abs(u_new - u) * p
            u, prev = u_new, e
        equity.append(c + u * close[t])
    return np.array(equity)


def walk(n, seed):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, 0.003, n))
    return open_, close, rng


O4, C4 = [100.0, 101.0, 99.0, 104.0], [100.5, 98.0, 103.0, 110.0]


@pytest.mark.parametrize("fee_bps,slip_bps", [(0, 0), (10, 0), (0, 2), (10, 2), (25, 7)])
def test_always_long_is_buy_and_hold_minus_one_entry_fee_and_slippage(fee_bps, slip_bps):
    f, s = fee_bps / 1e4, slip_bps / 1e4
    r = bt(O4, C4, [1, 1, 1, 1], fee_bps=fee_bps, slippage_bps=slip_bps)
    bh = 1000.0 * np.array(C4[1:]) / O4[1]                        # from the first fill's open
    np.testing.assert_allclose(r.buy_hold[1:], bh, rtol=1e-12)
    np.testing.assert_allclose(r.equity[1:], bh / ((1 + s) * (1 + f)), rtol=1e-9)
    assert r.equity[0] == 1000.0
    assert len(r.fills.candle) == 1 and r.fills.price[0] == pytest.approx(O4[1] * (1 + s), rel=1e-12)
    assert r.fills.fee.sum() == pytest.approx(1000.0 * f / (1 + f), rel=1e-9)   # cash is exactly 0 after the fill
    (trade,) = r.trades.itertuples()
    assert trade.open and trade.side == "long"
    assert trade.pnl == pytest.approx(r.equity[-1] - 1000.0, rel=1e-9)


def test_all_flat_keeps_cash():
    r = bt(O4, C4, [0, 0, 0, 0], fee_bps=10, slippage_bps=2)
    assert np.all(r.equity == 1000.0) and len(r.trades) == 0 and r.fills.fee.sum() == 0
    assert np.all(r.position == 0)


def test_three_candle_flip_matches_hand_arithmetic():
    # fee 1%, slippage 1%, cash 1000. Decide long at close 0, short at close 1.
    # fill 1 @ open 1 = 100: buy at 101, u1 = 1000 / (101 * 1.01) = 9.80296049406921, fee1 = 9.9009901, cash 0
    # fill 2 @ open 2 = 120: sell at 118.8; u2 * 120 = -(cash2 + u2 * 120) with cash2 = (u1 - u2) * 118.8 * 0.99
    #   -> u2 = -(u1 * 117.612) / (240 - 117.612) = -9.420415315459586
    #   fee2 = 0.01 * (u1 - u2) * 118.8 = 22.83737046172021: the long's and the short's notional
    # equity at close 2 = cash2 + u2 * 90 = 1413.062297318938
    r = bt([100, 100, 120], [100, 110, 90], [1, -1, 1], fee_bps=100, slippage_bps=100)
    u1, u2 = 1000 / (101 * 1.01), -(1000 / (101 * 1.01) * 117.612) / (240 - 117.612)
    np.testing.assert_allclose(r.fills.units_after, [u1, u2], rtol=1e-9)
    np.testing.assert_allclose(r.fills.price, [101.0, 118.8], rtol=1e-12)
    np.testing.assert_allclose(r.fills.fee, [9.900990099009901, 22.83737046172021], rtol=1e-9)
    np.testing.assert_allclose(r.equity, [1000.0, u1 * 110, 1413.062297318938], rtol=1e-9)
    assert r.fills.fee[1] == pytest.approx(0.01 * (abs(u1) + abs(u2)) * 118.8, rel=1e-12)
    assert r.fills.fee[1] == pytest.approx(0.01 * 2 * u1 * 120, rel=0.05)   # about twice the notional
    long, short = r.trades.itertuples()
    assert (long.side, long.entry_price, long.exit_price, long.open) == ("long", 101.0, 118.8, False)
    assert long.pnl == pytest.approx(152.9457896284678, rel=1e-9)
    assert long.fees == pytest.approx(9.900990099009901 + 0.01 * u1 * 118.8, rel=1e-9)
    assert (short.side, short.open, short.exit_price) == ("short", True, 90.0)
    assert long.pnl + short.pnl == pytest.approx(r.equity[-1] - 1000.0, rel=1e-9)
    assert len(r.fills.candle) == 2                                   # the signal at the last close is not filled


def test_fees_and_slippage_cost_the_right_amount():
    # round trip: long at the open of candle 1 (o1 = 101), flat at the open of candle 2 (o2 = 99)
    o1, o2, f, s = O4[1], O4[2], 1e-3, 5e-4
    base = bt(O4, C4, [1, 0, -1, 0])
    fee = bt(O4, C4, [1, 0, -1, 0], fee_bps=10)
    slip = bt(O4, C4, [1, 0, -1, 0], slippage_bps=5)
    assert base.equity[2] == pytest.approx(1000 * o2 / o1, rel=1e-12)
    assert fee.equity[2] == pytest.approx(1000 * o2 / o1 * (1 - f) / (1 + f), rel=1e-12)
    assert slip.equity[2] == pytest.approx(1000 * o2 * (1 - s) / (o1 * (1 + s)), rel=1e-12)
    units = 1000 / (o1 * (1 + f))
    np.testing.assert_allclose(fee.fills.fee[:2], [f * units * o1, f * units * o2], rtol=1e-12)
    np.testing.assert_allclose(slip.fills.price[:2], [o1 * (1 + s), o2 * (1 - s)], rtol=1e-12)
    assert fee.equity[-1] < base.equity[-1] and slip.equity[-1] < base.equity[-1]
    assert fee.trades["fees"].sum() == pytest.approx(fee.fills.fee.sum(), rel=1e-12)


def test_decision_at_t_never_uses_the_open_or_close_of_t():
    open_, close, _ = walk(8, 1)
    target = [1, 1, 1, -1, -1, 0.5, 0.5, 0.5]
    a = bt(open_, close, target, fee_bps=10, slippage_bps=2)
    open2, close2 = open_.copy(), close.copy()
    open2[3] *= 1.3                 # the short is decided at the close of candle 3 ...
    close2[3] *= 0.7
    b = bt(open2, close2, target, fee_bps=10, slippage_bps=2)
    fill = list(a.fills.candle).index(4)   # ... and filled at the open of candle 4
    assert a.fills.price[fill] == b.fills.price[fill] and a.fills.units_after[fill] == b.fills.units_after[fill]
    np.testing.assert_allclose(a.equity[4:], b.equity[4:], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_engine_matches_candle_loop_oracle(seed):
    open_, close, rng = walk(300, seed)
    levels = np.array([-1.0, -0.5, 0.0, 0.3, 1.0])
    target = np.repeat(rng.choice(levels, 300), rng.integers(1, 6, 300))[:300]   # runs, resizes and flips
    r = bt(open_, close, target, cash=10_000.0, fee_bps=10, slippage_bps=2)
    np.testing.assert_allclose(r.equity, oracle(open_, close, target, 10_000.0, 1e-3, 2e-4), rtol=1e-9)
    assert r.trades["pnl"].sum() == pytest.approx(r.equity[-1] - 10_000.0, rel=1e-9)
    assert r.trades["fees"].sum() == pytest.approx(r.fills.fee.sum(), rel=1e-9)
    assert (r.trades["exit_time"] > r.trades["entry_time"]).all()


def test_resize_stays_in_one_trade():
    r = bt([100, 100, 100, 100, 100], [100, 100, 100, 100, 100], [0.5, 1.0, 0.5, 0, 0], fee_bps=10)
    assert len(r.fills.candle) == 4 and len(r.trades) == 1
    (t,) = r.trades.itertuples()
    assert t.size == pytest.approx(r.fills.units_after[0]) and t.pnl == pytest.approx(-r.fills.fee.sum(), rel=1e-12)


def test_short_wiped_out_by_a_rally_ends_at_zero():
    r = bt([100, 100, 150, 250, 260], [100, 140, 240, 255, 270], [-1, -1, -1, -1, -1], fee_bps=10)
    assert r.ruined_at == 2
    np.testing.assert_array_equal(r.equity[2:], 0.0)
    assert r.trades["pnl"].sum() == pytest.approx(-1000.0, rel=1e-9) and not r.trades["open"].any()


@pytest.mark.parametrize("fee_bps,slip_bps", [(100, 0), (100, 100), (10, 2), (0, 50)])
def test_a_flip_pays_fee_and_slippage_on_both_legs(fee_bps, slip_bps):
    """Long -> short -> long: each flip trades the old units and the new ones, and pays the fee and
    the slippage on both legs. With slippage 0 a fee charged on one leg can hide behind the
    rounding of the price; the slipped cases are checked against the explicit cash/units loop."""
    f, s = fee_bps / 1e4, slip_bps / 1e4
    open_, close, target = [100.0, 100.0, 120.0, 90.0, 95.0], [100.0, 110.0, 90.0, 96.0, 97.0], [1, -1, 1, 1, 1]
    r = bt(open_, close, target, fee_bps=fee_bps, slippage_bps=slip_bps)
    np.testing.assert_allclose(r.equity, oracle(open_, close, target, 1000.0, f, s), rtol=1e-9)
    u = r.fills.units_after
    before = np.r_[0.0, u[:-1]]
    sides = np.sign(u - before)
    np.testing.assert_allclose(r.fills.price, np.asarray(open_)[r.fills.candle] * (1 + sides * s), rtol=1e-12)
    np.testing.assert_allclose(r.fills.fee, f * np.abs(u - before) * r.fills.price, rtol=1e-12)
    assert list(np.sign(u)) == [1, -1, 1] and r.fills.candle.tolist() == [1, 2, 3]
    # the long closed by the first flip carries the fee of its own leg only
    first = next(r.trades.itertuples())
    assert first.fees == pytest.approx(r.fills.fee[0] + f * u[0] * r.fills.price[1], rel=1e-9)
    assert first.pnl == pytest.approx(u[0] * (r.fills.price[1] - r.fills.price[0]) - first.fees, rel=1e-9)
    assert r.trades["fees"].sum() == pytest.approx(r.fills.fee.sum(), rel=1e-12)
    assert r.trades["pnl"].sum() == pytest.approx(r.equity[-1] - 1000.0, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_final_equity_is_the_last_equity_of_the_full_run(seed):
    """engine.final_equity (the "no costs" return of every strategy) gives the same bits as
    execute_targets's last equity, also when a short is wiped out (and when the ruin is at a fill)."""
    open_, close, rng = walk(300, seed)
    target = np.repeat(rng.choice([-1.0, -0.5, 0.0, 0.3, 1.0], 300), rng.integers(1, 6, 300))[:300]
    cases = [(open_, close, target, 10, 2), (open_, close, target, 0, 0),
             ([100, 100, 150, 250, 260], [100, 140, 240, 255, 270], [-1, -1, -1, -1, -1], 10, 0),
             ([100, 100, 300, 310], [100, 100, 305, 320], [-1, 0.5, 0.5, 0.5], 0, 0)]
    for o, c, t, fee, slip in cases:
        full = bt(o, c, t, cash=1000.0, fee_bps=fee, slippage_bps=slip)
        last = final_equity(np.asarray(o, float), np.asarray(c, float), np.asarray(t, float), cash=1000.0,
                            fee_bps=fee, slippage_bps=slip)
        assert last == full.equity[-1] and (full.ruined_at is None) == (last > 0)
