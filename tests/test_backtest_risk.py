"""Risk rules (backtest/risk.py) in both engines against a plain per-candle loop written here from
the rule, and small cases by hand: stops inside candles, through gaps, a stop and a take-profit in
one candle, trailing stops that ratchet, a stop on the entry candle, shorts, max_hold, re-entry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryptotrain.backtest.engine import execute_targets, final_equity
from cryptotrain.backtest.policy import hold_forward
from cryptotrain.backtest.portfolio_engine import run_portfolio
from cryptotrain.backtest.risk import Rules, pair_atr
from cryptotrain.backtest.trades import EXIT_REASONS

H = 3_600_000
inf, nan = math.inf, math.nan


def rule_exit(side, o, h, l, entry, best, since, atr_e, R: Rules):
    """(price, reason) of a rule exit inside this candle, or None: the README's order, in prices."""
    if R.max_hold and since == R.max_hold:
        return o, "max_hold"
    atr_ok = atr_e is not None and np.isfinite(atr_e)
    if side > 0:
        stop = entry * (1 - R.stop_loss) if R.stop_loss else (entry - R.stop_loss_atr * atr_e
                                                              if R.stop_loss_atr and atr_ok else -inf)
        tp = entry * (1 + R.take_profit) if R.take_profit else (entry + R.take_profit_atr * atr_e
                                                                if R.take_profit_atr and atr_ok else inf)
        why = "stop"
        if R.trailing_stop and best * (1 - R.trailing_stop) > stop:
            stop, why = best * (1 - R.trailing_stop), "trailing"
        for hit, price, reason in ((o <= stop, o, why), (o >= tp, o, "take_profit"), (l <= stop, stop, why),
                                   (h >= tp, tp, "take_profit")):
            if hit:
                return price, reason
    else:
        stop = entry * (1 + R.stop_loss) if R.stop_loss else (entry + R.stop_loss_atr * atr_e
                                                              if R.stop_loss_atr and atr_ok else inf)
        tp = entry * (1 - R.take_profit) if R.take_profit else (entry - R.take_profit_atr * atr_e
                                                                if R.take_profit_atr and atr_ok else -inf)
        why = "stop"
        if R.trailing_stop and best * (1 + R.trailing_stop) < stop:
            stop, why = best * (1 + R.trailing_stop), "trailing"
        for hit, price, reason in ((o >= stop, o, why), (o <= tp, o, "take_profit"), (h >= stop, stop, why),
                                   (l <= tp, tp, "take_profit")):
            if hit:
                return price, reason
    return None


def loop(open_, high, low, close, weights, R: Rules, cash=1000.0, f=0.0, s=0.0, rebalance=0, atr=None):
    """Candle by candle, pair by pair: fills at a pair's open when its decided target changes (sizing
    by bisection, sells paid in first), then each held pair's rules inside its candle; a pair without
    a candle (NaN) waits, is valued at its last close, and is sold at its last close when its data
    ends. Returns (equity at every close, [(row, pair, exit price, reason)])."""
    T, N = open_.shape
    c, u = cash, [0.0] * N
    filled, pending, held = [0.0] * N, [0.0] * N, [0.0] * N
    entry, best, since, atr_e, last, last_atr = [0.0] * N, [0.0] * N, [0] * N, [None] * N, [nan] * N, [nan] * N
    last_row = [max(t for t in range(T) if np.isfinite(open_[t, i])) for i in range(N)]
    equity, exits = [], []
    for t in range(T):
        has = [bool(np.isfinite(open_[t, i])) for i in range(N)]
        P = [open_[t, i] if has[i] else last[i] for i in range(N)]
        reb = rebalance > 0 and t > 0 and t % rebalance == 0
        go = [i for i in range(N) if has[i] and (pending[i] != filled[i] or (reb and held[i] != 0))]
        if go:
            E = c + sum(u[i] * P[i] for i in range(N) if u[i] != 0)

            def excess(x):
                return x + sum((s + f * (1 + s) if pending[i] * x > u[i] * P[i] else s + f * (1 - s))
                               * abs(pending[i] * x - u[i] * P[i]) for i in go) - E

            lo, hi = 0.0, E
            for _ in range(200):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if excess(mid) < 0 else (lo, mid)
            x = (lo + hi) / 2
            for sells in (True, False):
                for i in go:
                    du = pending[i] * x / P[i] - u[i]
                    if (du < 0) == sells and du != 0:
                        price = P[i] * (1 + s if du > 0 else 1 - s)
                        c -= du * price + f * abs(du) * price
                        u[i] += du
            for i in go:
                if np.sign(pending[i]) != np.sign(held[i]):      # a new side: a new entry
                    entry[i] = best[i] = P[i]
                    since[i], atr_e[i] = 0, last_atr[i]
                filled[i] = held[i] = pending[i]
        for i in range(N):
            if has[i] and held[i] != 0:
                hit = rule_exit(np.sign(held[i]), open_[t, i], high[t, i], low[t, i], entry[i], best[i], since[i],
                                atr_e[i], R)
                if hit is not None:
                    price = hit[0] * (1 - s if u[i] > 0 else 1 + s)
                    c += u[i] * price - f * abs(u[i]) * price
                    u[i], held[i] = 0.0, 0.0
                    exits.append((t, i, hit[0], hit[1]))
                else:
                    best[i] = max(best[i], high[t, i]) if held[i] > 0 else min(best[i], low[t, i])
                    since[i] += 1
            if has[i]:
                last[i] = close[t, i]
                last_atr[i] = atr[t, i] if atr is not None else None
            if last_row[i] == t < T - 1 and u[i] != 0:      # data ends while held: sold at that close
                price = close[t, i] * (1 - s if u[i] > 0 else 1 + s)
                c += u[i] * price - f * abs(u[i]) * price
                u[i] = 0.0
        equity.append(c + sum(u[i] * last[i] for i in range(N) if u[i] != 0))
        pending = [w if np.isfinite(w) else p for w, p in zip(weights[t], pending)]
    return np.array(equity), exits


def candles(T, N, seed, gap_every=9):
    """Random walks with open gaps now and then; high/low around the open and close."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (T, N)), axis=0))
    jump = np.where(rng.random((T, N)) < 1 / gap_every, rng.normal(0, 0.06, (T, N)), rng.normal(0, 0.002, (T, N)))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(jump)
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, (T, N))))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, (T, N))))
    return open_, high, low, close, rng


def targets(rng, T, N, long_only=False):
    """Targets held for a few candles, with same-side resizes and flips."""
    levels = np.array([0.0, 0.5, 1.0] if long_only else [-1.0, -0.5, 0.0, 0.5, 1.0])
    w = levels[rng.integers(0, len(levels), (T, N))] / N
    keep = rng.random((T, N)) < 0.8
    w[keep] = nan
    w[0] = levels[-1] / N
    return w


RULES = [Rules(stop_loss=0.03), Rules(take_profit=0.04), Rules(stop_loss=0.03, take_profit=0.03),
         Rules(trailing_stop=0.04), Rules(stop_loss=0.05, trailing_stop=0.03, take_profit=0.08),
         Rules(max_hold=3), Rules(stop_loss=0.02, max_hold=5), Rules(stop_loss_atr=1.5, take_profit_atr=2.0),
         Rules(trailing_stop=0.02, take_profit_atr=1.0, max_hold=7)]


@pytest.mark.parametrize("rules", RULES, ids=lambda r: ",".join(f"{k}={v}" for k, v in vars(r).items()
                                                                  if v and k != "atr_period"))
@pytest.mark.parametrize("fee_bps,slip_bps", [(0, 0), (10, 3)])
def test_single_pair_engine_matches_the_loop(rules, fee_bps, slip_bps):
    """Catches any rule filled at the wrong price or candle (a gap filled at the level instead of the
    open, the take-profit preferred in a two-sided candle, a trail that uses the candle's own high,
    an entry candle skipped, a short's levels not mirrored, re-entry on an unchanged target)."""
    T = 300
    o, h, l, c, rng = candles(T, 1, seed=int(fee_bps) + 7 * len(str(rules)))
    w = targets(rng, T, 1)
    target = hold_forward(w[:, 0])
    atr = pair_atr(h, l, c, rules.atr_period)
    want, exits = loop(o, h, l, c, w, rules, f=fee_bps / 1e4, s=slip_bps / 1e4, atr=atr)
    r = execute_targets(np.arange(T) * H, o[:, 0], c[:, 0], target, cash=1000.0, fee_bps=fee_bps,
                        slippage_bps=slip_bps, timeframe_ms=H, high=h[:, 0], low=l[:, 0], rules=rules)
    np.testing.assert_allclose(r.equity, want, rtol=1e-9)
    assert len(exits) >= 5, "the case must exercise the rules"
    closed = r.trades[r.trades["exit_reason"] != "signal"]
    closed = closed[closed["exit_reason"] != "end"]
    assert list(closed["exit_reason"]) == [e[3] for e in exits]
    assert list(closed["exit_time"] // H) == [e[0] for e in exits]
    side = np.where(closed["side"] == "long", 1.0, -1.0)
    np.testing.assert_allclose(closed["exit_price"], [e[2] for e in exits] * (1 - side * slip_bps / 1e4), rtol=1e-12)
    assert final_equity(o[:, 0], c[:, 0], target, cash=1000.0, fee_bps=fee_bps, slippage_bps=slip_bps,
                        high=h[:, 0], low=l[:, 0], rules=rules) == r.equity[-1]


@pytest.mark.parametrize("rules", RULES[::2], ids=str)
@pytest.mark.parametrize("rebalance", [0, 4])
def test_portfolio_engine_matches_the_loop(rules, rebalance):
    """Catches a rule exit that the portfolio books wrongly: sized or charged unlike a fill, applied
    before the open's fills, a stopped pair brought back by a rebalance, or pairs' exits mixed up."""
    T, N = 200, 3
    o, h, l, c, rng = candles(T, N, seed=rebalance + len(str(rules)))
    w = targets(rng, T, N)
    atr = pair_atr(h, l, c, rules.atr_period)
    want, exits = loop(o, h, l, c, w, rules, f=10 / 1e4, s=2 / 1e4, rebalance=rebalance, atr=atr)
    r = run_portfolio(np.arange(T) * H, o, c, w, cash=1000.0, fee_bps=10, slippage_bps=2, timeframe_ms=H,
                      rebalance=rebalance, high=h, low=l, rules=rules)
    np.testing.assert_allclose(r.equity, want, rtol=1e-9)
    assert len(exits) >= 5
    rule = (r.fills.reason > 0) & (r.fills.reason < EXIT_REASONS.index("end"))   # rule exits, not close-outs
    assert sorted(zip(r.fills.candle[rule].tolist(), r.fills.pair[rule].tolist())) == sorted(e[:2] for e in exits)


@pytest.mark.parametrize("rules", [RULES[4], RULES[6], RULES[8]], ids=str)
def test_portfolio_rules_with_gaps_late_listing_and_an_early_end_match_the_loop(rules):
    """Catches rules that count or check the rows where a pair has no candle (max_hold counts the
    pair's candles; a gap's next open may gap through the stop), or a rule exit and the close-out at
    a pair's end both selling it."""
    T, N = 160, 3
    o, h, l, c, rng = candles(T, N, seed=21)
    for a in (o, h, l, c):
        a[:15, 1] = nan              # pair 1 listed late
        a[110:, 2] = nan             # pair 2 ends early
        a[[40, 41, 42, 77], 0] = nan   # pair 0 has gaps
    w = targets(rng, T, N)
    atr = pair_atr(h, l, c, rules.atr_period)
    want, exits = loop(o, h, l, c, w, rules, f=10 / 1e4, s=2 / 1e4, rebalance=6, atr=atr)
    r = run_portfolio(np.arange(T) * H, o, c, w, cash=1000.0, fee_bps=10, slippage_bps=2, timeframe_ms=H,
                      rebalance=6, high=h, low=l, rules=rules)
    np.testing.assert_allclose(r.equity, want, rtol=1e-9)
    assert len(exits) >= 5
    rule = (r.fills.reason > 0) & (r.fills.reason < EXIT_REASONS.index("end"))   # rule exits, not close-outs
    assert sorted(zip(r.fills.candle[rule].tolist(), r.fills.pair[rule].tolist())) == sorted(e[:2] for e in exits)


@pytest.mark.parametrize("rules", RULES, ids=str)
def test_one_pair_portfolio_equals_the_single_pair_engine(rules):
    """Catches the two engines drifting apart: one rule implementation, the single pair a portfolio of one."""
    T = 250
    o, h, l, c, rng = candles(T, 1, seed=3)
    target = np.nan_to_num(targets(rng, T, 1)[:, 0], nan=0.0)
    one = execute_targets(np.arange(T) * H, o[:, 0], c[:, 0], target, cash=1000.0, fee_bps=10, slippage_bps=2,
                          timeframe_ms=H, high=h[:, 0], low=l[:, 0], rules=rules)
    pf = run_portfolio(np.arange(T) * H, o, c, target[:, None], cash=1000.0, fee_bps=10, slippage_bps=2,
                       timeframe_ms=H, high=h, low=l, rules=rules)
    np.testing.assert_allclose(pf.equity, one.equity, rtol=1e-12)
    assert list(pf.trades["exit_reason"]) == list(one.trades["exit_reason"])


def by_hand(o, h, l, c, target, **rules):
    n = len(o)
    return execute_targets(np.arange(n) * H, np.asarray(o, float), np.asarray(c, float), np.asarray(target, float),
                           cash=1000.0, fee_bps=0.0, slippage_bps=0.0, timeframe_ms=H, high=np.asarray(h, float),
                           low=np.asarray(l, float), rules=Rules(**rules))


def test_a_stop_inside_a_candle_fills_at_the_stop_and_a_gap_at_the_open():
    """Catches a gap filled at the stop price (a fill the market never offered) or a stop filled at the low."""
    #       entry at open 1 (100), stop 95
    inside = by_hand([100, 100, 99, 96], [101, 101, 100, 97], [99, 99, 94, 95], [100, 99, 96, 96], [1, 1, 1, 1],
                     stop_loss=0.05)
    gap = by_hand([100, 100, 90, 96], [101, 101, 92, 97], [99, 99, 89, 95], [100, 99, 91, 96], [1, 1, 1, 1],
                  stop_loss=0.05)
    assert inside.equity[2] == pytest.approx(950.0) and inside.trades["exit_price"].iloc[0] == pytest.approx(95.0)
    assert gap.equity[2] == pytest.approx(900.0) and gap.trades["exit_price"].iloc[0] == 90.0
    assert list(inside.trades["exit_reason"]) == ["stop"] and inside.equity[3] == inside.equity[2]   # flat after


def test_stop_and_take_profit_in_one_candle_is_the_stop():
    """Catches the optimistic reading of a candle whose range spans both levels."""
    r = by_hand([100, 100, 100], [101, 101, 107], [99, 99, 94], [100, 100, 100], [1, 1, 1],
                stop_loss=0.05, take_profit=0.05)
    assert list(r.trades["exit_reason"]) == ["stop"] and r.equity[2] == pytest.approx(950.0)
    up = by_hand([100, 100, 106], [101, 101, 107], [99, 99, 94], [100, 100, 100], [1, 1, 1],
                 stop_loss=0.05, take_profit=0.05)     # opens beyond the take-profit: that is first
    assert list(up.trades["exit_reason"]) == ["take_profit"] and up.equity[2] == pytest.approx(1060.0)


def test_trailing_stop_ratchets_with_the_highs_and_ignores_the_candles_own_high():
    """Catches a trail that does not move up, or one raised by the high of the candle it is checked in."""
    o, h = [100, 100, 105, 115, 118], [101, 101, 110, 120, 131]
    l, c = [99, 99, 104, 112, 107], [100, 100, 108, 118, 110]
    r = by_hand(o, h, l, c, [1] * 5, trailing_stop=0.1)
    # levels: 90 (entry candle), 90.9 (high 101), 99 (110), 108 (120) -> candle 4's low 107 hits 108
    assert list(r.trades["exit_reason"]) == ["trailing"] and r.trades["exit_price"].iloc[0] == pytest.approx(108.0)
    assert r.trades["exit_time"].iloc[0] == 4 * H


def test_a_stop_on_the_entry_candle_and_a_short_stop_above():
    """Catches an entry candle left unchecked, and a short whose stop sits below the entry."""
    r = by_hand([100, 100, 100], [101, 101, 101], [99, 94, 99], [100, 96, 100], [1, 1, 1], stop_loss=0.05)
    assert r.trades["exit_time"].iloc[0] == r.trades["entry_time"].iloc[0] == H
    assert r.equity[1] == pytest.approx(950.0)
    short = by_hand([100, 100, 100, 104], [101, 101, 103, 107], [99, 99, 97, 103], [100, 100, 102, 105],
                    [-1, -1, -1, -1], stop_loss=0.05, take_profit=0.1)
    assert list(short.trades["exit_reason"]) == ["stop"] and short.trades["exit_price"].iloc[0] == pytest.approx(105)
    assert short.equity[3] == pytest.approx(950.0)


def test_max_hold_exits_at_the_open_and_an_unchanged_target_does_not_reenter():
    """Catches an off-by-one in the holding count, and a rule exit undone by the next candle's unchanged target."""
    o = [100, 100, 101, 102, 103, 104, 105, 106]
    r = by_hand(o, np.add(o, 1), np.subtract(o, 1), o, [1, 1, 1, 1, 1, 0.5, 0.5, 0.5], max_hold=2)
    # entry at the open of 1, two candles held (1, 2), out at the open of 3; target 1 kept: flat;
    # the change to 0.5 at the close of 5 re-enters at the open of 6, out again at the open of 8 (past the end)
    assert list(r.trades["exit_reason"]) == ["max_hold", "end"]
    assert r.trades["exit_time"].iloc[0] == 3 * H and r.trades["entry_time"].iloc[1] == 6 * H
    assert (r.position[4:6] == 0).all() and r.position[6] == 0.5   # held into candle 3: out at its open


def test_rules_that_never_fire_leave_the_vectorized_result_bit_for_bit():
    """Catches the rule path changing a run's numbers where no rule acts (the engines keep one fill rule)."""
    o, h, l, c, rng = candles(400, 1, seed=11)
    t = np.nan_to_num(targets(rng, 400, 1)[:, 0])
    kw = dict(cash=1000.0, fee_bps=10, slippage_bps=2, timeframe_ms=H)
    plain = execute_targets(np.arange(400) * H, o[:, 0], c[:, 0], t, **kw)
    ruled = execute_targets(np.arange(400) * H, o[:, 0], c[:, 0], t, high=h[:, 0], low=l[:, 0],
                            rules=Rules(stop_loss=0.999, max_hold=10_000), **kw)
    assert np.array_equal(plain.equity, ruled.equity) and np.array_equal(plain.units, ruled.units)
    assert (plain.trades["exit_reason"].isin(["signal", "end"])).all()
