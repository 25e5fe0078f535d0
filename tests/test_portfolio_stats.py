"""Portfolio statistics on the hand-worked three-pair case of test_portfolio_engine."""

from __future__ import annotations

import pytest

from cryptotrain.backtest.portfolio_stats import per_pair_stats, portfolio_stats
from tests.test_portfolio_engine import hand_case


def test_portfolio_and_per_pair_stats_by_hand():
    """Catches a turnover not per calendar year, holdings counted from targets instead of units (C's
    close-out at row 6), a P&L contribution missing a close-out or an open trade's mark, and per-pair
    numbers attributed to the wrong pair. Values from the fills listed in hand_case's comments."""
    r = hand_case()
    r.buy_hold = r.equity
    s = portfolio_stats(r, no_costs=float(r.equity[-1]))
    notional = 500 + 500 + 500 + 500 + 1000 + 406.25       # A, C buys; A sell; B buy; C close-out; A buy
    mean_equity = (4 * 1000 + 1125 + 2 * 1625 + 2 * 1500 + 1906.25) / 10
    assert s["Turnover per Year"] == pytest.approx(notional / mean_equity / (10 / 8760), rel=1e-12)
    assert s["Avg. Holdings"] == pytest.approx((0 + 2 + 1 + 2 + 2 + 2 + 1 + 2 + 2 + 2) / 10)
    assert s["Avg. Net Exposure [%]"] == pytest.approx(s["Avg. Gross Exposure [%]"])   # long only
    assert s["Return [%]"] == pytest.approx(90.625)
    p = per_pair_stats(r)
    assert p["A"]["P&L Contribution [$]"] == pytest.approx(406.25)    # 0 on the first trade, 67.7 units 6 -> 12
    assert p["B"]["P&L Contribution [$]"] == pytest.approx(0.0)       # bought at 20, marked at 20
    assert p["C"]["P&L Contribution [$]"] == pytest.approx(500.0)     # 100 units 5 -> 10
    assert [p[k]["# Trades"] for k in "ABC"] == [2, 1, 1]
    assert [p[k]["Exposure Time [%]"] for k in "ABC"] == [40.0, 70.0, 50.0]
