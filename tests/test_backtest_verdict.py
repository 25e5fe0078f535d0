"""The backtest ends with a verdict: returns before and after costs, fees and slippage in % of
the starting cash, trades and holding time against the label horizon, each baseline; and its
table keeps every label and header whole at 60 and 80 columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from tests.test_backtest_cli import H, T0, candles, make_run  # noqa: F401  (candles is a fixture)


def invoke(*args, columns=200):
    return CliRunner().invoke(app, ["backtest", *map(str, args)], env={"COLUMNS": str(columns)})


def test_verdict_numbers_are_the_stats_and_a_cost_free_rerun(tmp_path, candles):  # noqa: F811
    run = make_run(tmp_path, candles)
    res = invoke("--run", run, "--slippage-bps", 3)
    assert res.exit_code == 0, res.output
    doc = json.loads((run / "backtest" / "test-slip3" / "stats.json").read_text())   # not the run's settings
    v, m = doc["verdict"], doc["model"]
    assert v["return_pct"] == pytest.approx(m["Return [%]"])
    assert v["fees_pct_of_cash"] == pytest.approx(100 * m["Fees Paid [$]"] / 10_000)
    assert v["slippage_pct_of_cash"] > 0 and v["trades"] == m["# Trades"] > 0
    assert v["horizon"] == 1 and set(v["baselines"]) == {"buy_and_hold", "persistence"}
    before = v["return_no_costs_pct"]
    assert before > v["return_pct"]                          # costs only take away
    res = invoke("--run", run, "--fee-bps", 0, "--slippage-bps", 0)
    free = json.loads((run / "backtest" / "test-fee0-slip0" / "stats.json").read_text())["model"]
    assert free["Return [%]"] == pytest.approx(before) and free["Fees Paid [$]"] == 0
    text = " ".join(invoke("--run", run).output.split())
    for needle in ("after costs", "before; fees cost", "% of the starting cash", "held", "label horizon of 1 candles",
                   "Against Buy & Hold", "Against Persistence", "Reading:"):
        assert needle in text, needle


def test_signals_verdict_has_no_horizon(tmp_path, candles):  # noqa: F811
    sig = tmp_path / "rule.csv"
    pd.DataFrame({"timestamp": T0 + np.arange(5, 30) * H, "position": np.tile([1, 0, -1, 0, 1], 5)}).to_csv(sig, index=False)
    res = invoke("--signals", sig, "--data", candles)
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "rule_backtest" / "stats.json").read_text())
    assert doc["verdict"]["horizon"] is None and "label horizon" not in res.output
    assert "Signals:" in res.output


@pytest.mark.parametrize("columns", [60, 80])
def test_backtest_output_never_cuts_a_label_or_header(tmp_path, candles, columns):  # noqa: F811
    run = make_run(tmp_path, candles)
    res = invoke("--run", run, columns=columns)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "…" not in res.output
    table = [line for line in lines if line.startswith(" ") and len(line.strip()) > 0]
    assert table and max(len(line) for line in table) <= columns
    for label in ("Buy & Hold Return, no costs [%]", "Return, no costs [%]", "Slippage Paid [$]", "Persistence",
                  "Buy & Hold", "Model", "Avg. Trade Duration", "Max. Drawdown Duration"):
        assert any(label in line for line in table), label
    caption = " ".join(res.output.split())
    assert "fee 7 bps, slippage 2 bps" in caption and "min hold 0" in caption


def _reading(seed: int, position) -> tuple[float, str]:
    """The after-cost return [%] and the Reading line of `position(candles, rng)` traded (no costs) on
    2,000 hourly candles of a geometric random walk."""
    from cryptotrain.backtest.engine import execute_targets, final_equity
    from cryptotrain.backtest.stats import compute_stats
    from cryptotrain.backtest.verdict import strategy_summary
    from cryptotrain.data.synthetic import synthetic_candles
    from cryptotrain.report.backtest_report import _earning_reading

    rng = np.random.default_rng(seed)
    c = synthetic_candles(2000, seed=seed, sigma=0.006)
    target = position(c, rng)
    args = (c["open"].to_numpy(), c["close"].to_numpy(), target)
    res = execute_targets(c["timestamp"].to_numpy(), *args, cash=10_000, fee_bps=0, slippage_bps=0, timeframe_ms=H)
    stats = compute_stats(res, final_equity(*args, cash=10_000, fee_bps=0, slippage_bps=0))
    return stats["Return [%]"], _earning_reading(strategy_summary(stats, 10_000))


def test_earning_reading_holds_on_noise_and_names_its_null():
    """A random position on a random walk that happens to earn must not read as beating the null: the
    old line said 'the positions earn after costs' on pure noise (+41.76% in a GBM run) with no word
    on luck. Of the noise strategies that earn, at most 1 in 10 may read as 'beyond the null' (the
    interval is 95%); a strategy that knows the next candle's sign does."""
    def noise(c, rng):
        return np.repeat(rng.choice([-1.0, 0.0, 1.0], size=len(c) // 24 + 1), 24)[:len(c)]

    readings = [_reading(seed, noise) for seed in range(40)]
    earning = [text for ret, text in readings if ret > 0]
    assert len(earning) >= 10                                    # enough winners to judge the line
    assert all("null: no return" in t or "beyond the null" in t for t in earning)
    assert sum("beyond the null" in t for t in earning) <= len(earning) // 10, earning

    def foresight(c, rng):   # decided at the close of t, held during t+1: the sign of candle t+1
        nxt = np.sign(np.r_[c["close"].to_numpy()[1:] / c["open"].to_numpy()[1:] - 1.0, 0.0])
        return np.where(rng.random(len(c)) < 0.6, nxt, -nxt)    # right 60% of the time
    ret, text = _reading(0, foresight)
    assert ret > 0 and "beyond the null of no return" in text, text


def test_a_model_that_never_traded_is_not_read_as_losing(tmp_path, candles):  # noqa: F811
    """Catches "the positions lose even before costs" printed for a model whose calls never cleared the
    policy (0.00% before costs, no position ever taken: the 95f LSTM's forecasts within the 24 bp cost)."""
    run = make_run(tmp_path, candles)
    path = run / "eval" / "test" / "predictions.csv"
    pd.read_csv(path).assign(pred_action=0).to_csv(path, index=False)
    text = " ".join(invoke("--run", run).output.split())
    assert "never traded" in text and "no position was ever taken" in text and "lose even before costs" not in text
