"""compute_stats on a fixed equity series against plain-Python arithmetic; the policy's forward fill."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from cryptotrain.backtest.engine import BacktestResult, Fills
from cryptotrain.backtest.policy import hold_forward, persistence_targets, prediction_actions
from cryptotrain.backtest.stats import compute_stats
from cryptotrain.fileio import to_jsonable
from cryptotrain.backtest.trades import COLUMNS
from cryptotrain.config import BacktestConfig

DAY = 86_400_000
EQUITY = [100.0, 110.0, 99.0, 104.5, 121.0, 110.0]   # daily closes, starting cash 100
PNL = [10.0, -5.0, 20.0, -2.5]
RET = [0.10, -0.05, 0.20, -0.025]


def fixed_result() -> BacktestResult:
    n = len(EQUITY)
    trades = pd.DataFrame({"entry_time": [0, DAY, 2 * DAY, 3 * DAY], "exit_time": [DAY, 2 * DAY, 4 * DAY, 6 * DAY],
                           "entry_price": 1.0, "exit_price": 1.0, "side": "long", "size": 1.0, "pnl": PNL,
                           "return": RET, "fees": 0.5, "duration": [DAY, DAY, 2 * DAY, 3 * DAY], "open": False},
                          columns=COLUMNS)
    empty = np.zeros(0)
    fills = Fills(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, np.array([50.0, 150.0]), np.array([0.5, 1.5]))
    return BacktestResult(np.arange(n, dtype=np.int64) * DAY, np.ones(n), np.array([0, 1, 1, 1, 0, 1.0]),
                          np.zeros(n), np.array(EQUITY), np.array([100.0, 100, 105, 95, 100, 120]), fills, trades,
                          cash=100.0, timeframe_ms=DAY)


def test_stats_on_a_fixed_equity_series_match_hand_values():
    s = compute_stats(fixed_result())
    r = [EQUITY[0] / 100 - 1] + [EQUITY[i] / EQUITY[i - 1] - 1 for i in range(1, len(EQUITY))]
    mean, sd = sum(r) / len(r), statistics.stdev(r)
    downside = math.sqrt(sum(min(x, 0) ** 2 for x in r) / len(r))
    cagr = (110 / 100) ** (365 / 6) - 1                       # 6 days of daily candles
    assert s["Sharpe Ratio"] == pytest.approx(mean / sd * math.sqrt(365), rel=1e-9)
    assert s["Sortino Ratio"] == pytest.approx(mean / downside * math.sqrt(365), rel=1e-9)
    assert s["Return (Ann.) [%]"] == pytest.approx(100 * ((110 / 100) ** (365 / len(r)) - 1), rel=1e-9)
    assert s["Volatility (Ann.) [%]"] == pytest.approx(100 * sd * math.sqrt(365), rel=1e-9)
    assert s["CAGR [%]"] == pytest.approx(100 * cagr, rel=1e-9)
    # drawdowns: 110 -> 99 (-10%), recovered at 121 three days after the peak; 121 -> 110 (-9.09%), open
    assert s["Max. Drawdown [%]"] == pytest.approx(-10.0, rel=1e-12)
    assert s["Avg. Drawdown [%]"] == pytest.approx((-10.0 + 100 * (110 / 121 - 1)) / 2, rel=1e-12)
    assert s["Max. Drawdown Duration"] == pd.Timedelta(days=3)
    assert s["Calmar Ratio"] == pytest.approx(cagr / 0.10, rel=1e-9)
    assert s["Profit Factor"] == pytest.approx(30 / 7.5, rel=1e-12)
    assert s["Win Rate [%]"] == pytest.approx(50.0)
    assert s["# Trades"] == 4
    assert s["Best Trade [%]"] == pytest.approx(20.0) and s["Worst Trade [%]"] == pytest.approx(-5.0)
    assert s["Expectancy [%]"] == pytest.approx(100 * sum(RET) / 4, rel=1e-12)
    assert s["Avg. Trade [%]"] == pytest.approx(100 * (math.prod(1 + x for x in RET) ** 0.25 - 1), rel=1e-9)
    assert s["SQN"] == pytest.approx(2 * statistics.mean(PNL) / statistics.stdev(PNL), rel=1e-9)
    assert s["Max. Trade Duration"] == pd.Timedelta(days=3) and s["Avg. Trade Duration"] == pd.Timedelta(days=1.75)
    assert s["Exposure Time [%]"] == pytest.approx(100 * 4 / 6)
    assert s["Equity Final [$]"] == 110.0 and s["Equity Peak [$]"] == 121.0
    assert s["Return [%]"] == pytest.approx(10.0) and s["Buy & Hold Return, no costs [%]"] == pytest.approx(20.0)
    assert s["Fees Paid [$]"] == pytest.approx(2.0) and s["Turnover"] == pytest.approx(200 / np.mean(EQUITY))
    assert s["Duration"] == pd.Timedelta(days=5)


def test_stats_key_order_and_guards():
    res = fixed_result()
    res.trades = res.trades.iloc[:0]
    res.equity = np.full(6, 100.0)
    s = compute_stats(res)
    assert list(s)[:3] == ["Start", "End", "Duration"] and list(s)[-1] == "Return (Ann.) CI High [%]"
    assert len(s) == 35 and s["Exits by Reason"] == {}
    for key in ("Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "Win Rate [%]", "Profit Factor", "SQN"):
        assert math.isnan(s[key]), key
    doc = to_jsonable(s)
    assert doc["Profit Factor"] is None and doc["# Trades"] == 0 and doc["Start"].startswith("1970-01-01")


def test_policy_hold_keeps_position_threshold_mode_and_sizing():
    act = np.array([0, 1, 0, -1, 1, 0, -1])
    conf = np.array([0.9, 0.8, 0.9, 0.3, 0.6, 0.9, 0.7])
    ls = BacktestConfig(threshold=0.5)
    np.testing.assert_allclose(hold_forward(prediction_actions(act, conf, ls)), [0, 1, 1, 1, 1, 1, -1])
    lo = BacktestConfig(threshold=0.5, mode="long-only")
    np.testing.assert_allclose(hold_forward(prediction_actions(act, conf, lo)), [0, 1, 1, 1, 1, 1, 0])
    cs = BacktestConfig(sizing="confidence", max_exposure=0.5)
    np.testing.assert_allclose(hold_forward(prediction_actions(act, conf, cs)),
                               [0, 0.4, 0.4, -0.15, 0.3, 0.3, -0.35])


def test_persistence_is_the_sign_of_the_last_return():
    close = np.array([10.0, 11, 10, 10, 12])
    np.testing.assert_allclose(persistence_targets(close, BacktestConfig()), [0, 1, -1, 0, 1])
    np.testing.assert_allclose(persistence_targets(close, BacktestConfig(mode="long-only")), [0, 1, 0, 0, 1])


def test_annualized_numbers_of_a_short_profitable_minute_run_do_not_overflow():
    from cryptotrain.backtest.engine import execute_targets

    n = 50
    ts = np.arange(n, dtype=np.int64) * 60_000
    open_ = np.full(n, 100.0)
    open_[10:] = 110.0                      # +10% after the fill: 1.1^10512 overflows a float
    target = np.zeros(n)
    target[5:] = 1.0                         # long from the open of candle 6
    res = execute_targets(ts, open_, open_.copy(), target, cash=10_000.0, fee_bps=0.0, slippage_bps=0.0,
                          timeframe_ms=60_000)
    s = compute_stats(res)
    assert s["Return [%]"] > 9.0
    assert s["Return (Ann.) [%]"] == float("inf") and s["CAGR [%]"] == float("inf")


@pytest.mark.parametrize("width", [80, 60, 50])
def test_stats_table_keeps_every_label_and_header_with_huge_numbers(width):
    from rich.console import Console

    from cryptotrain.report.backtest_report import print_stats_table

    s = compute_stats(fixed_result())
    huge = {k: (v * 1e30 if isinstance(v, float) and math.isfinite(v) else v) for k, v in s.items()}
    huge["Equity Final [$]"] = 987_654_321.5   # just below scientific notation: full digits
    console = Console(width=width, record=True)
    print_stats_table(console, {"Model": huge, "Buy & Hold": huge, "Persistence": huge}, title="t")
    text = console.export_text()
    lines = text.splitlines()
    assert max(map(len, lines)) <= width
    for key in s:   # narrow terminals print the table in parts: labels and numbers whole
        assert any(line.lstrip().startswith(f"{key} ") for line in lines), key
    for header in ("Model", "Buy & Hold", "Persistence"):
        assert header in text, header
    if width >= 60:   # at 50 one value column is wider than what the labels leave: values folded, labels whole
        assert "987,654,321.50" in text and "3.287e+34" in text and "…" not in text


@pytest.mark.parametrize("tf_ms, periods", [(3_600_000, 8760), (60_000, 525_600), (4 * 3_600_000, 2190)],
                         ids=["1h", "1m", "4h"])
def test_annualized_ratios_use_the_candles_per_year_of_the_timeframe(tf_ms, periods):
    """On daily candles sqrt(365) == sqrt(P), so only other timeframes catch a hard-coded 365."""
    res = fixed_result()
    res.timestamps = np.arange(len(EQUITY), dtype=np.int64) * tf_ms
    res.timeframe_ms = tf_ms
    s = compute_stats(res)
    r = [EQUITY[0] / 100 - 1] + [EQUITY[i] / EQUITY[i - 1] - 1 for i in range(1, len(EQUITY))]
    mean, sd = sum(r) / len(r), statistics.stdev(r)
    downside = math.sqrt(sum(min(x, 0) ** 2 for x in r) / len(r))
    assert s["Sharpe Ratio"] == pytest.approx(mean / sd * math.sqrt(periods), rel=1e-9)
    assert s["Sortino Ratio"] == pytest.approx(mean / downside * math.sqrt(periods), rel=1e-9)
    assert s["Volatility (Ann.) [%]"] == pytest.approx(100 * sd * math.sqrt(periods), rel=1e-9)
    log_ann = math.log(110 / 100) * periods / len(r)   # (110/100)^(P/n) - 1 overflows a float for 1m: inf
    assert s["Return (Ann.) [%]"] == pytest.approx(100 * math.expm1(log_ann) if log_ann < 700 else math.inf, rel=1e-9)
