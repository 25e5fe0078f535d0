"""`backtest --grid`: every combination is the backtest its settings give, the table is sorted, the
count, DSR and PBO are those of the combinations tried; bad grids are one line and exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.backtest.deflated_sharpe import backtest_candle_stats, deflated_sharpe
from cryptotrain.backtest.pbo import pbo
from cryptotrain.cli import app

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H
N = 400


def frame(rng, n):
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    return pd.DataFrame({"timestamp": T0 + np.arange(n) * H, "open": open_,
                         "high": np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.004, n))),
                         "low": np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.004, n))),
                         "close": close, "volume": 1.0})


@pytest.fixture
def signals(tmp_path):
    rng = np.random.default_rng(5)
    frame(rng, N).to_csv(tmp_path / "BTC_USDT-1h.csv", index=False)
    pos = np.repeat(rng.choice([-1.0, 0.0, 1.0], N // 8), 8)[: N - 1]
    pd.DataFrame({"timestamp": T0 + np.arange(N - 1) * H, "position": pos}).to_csv(tmp_path / "sig.csv", index=False)
    return tmp_path / "sig.csv", tmp_path / "BTC_USDT-1h.csv"


def invoke(*args):
    return CliRunner().invoke(app, ["backtest", *map(str, args)])


GRID = "fee_bps=0,10 stop_loss=0,0.01,0.02 max_hold=0,5"


def test_each_combination_is_the_backtest_its_settings_give(tmp_path, signals):
    """Catches a grid that trades every combination with the base settings (or another's), mislabels
    rows, or sorts them wrongly: each row must equal `backtest --set` with its values."""
    sig, data = signals
    res = invoke("--signals", sig, "--data", data, "--grid", GRID, "--mode", "long-only")
    assert res.exit_code == 0, res.output
    (out,) = tmp_path.glob("sig_backtest-grid-*")
    grid = pd.read_csv(out / "grid.csv")
    assert len(grid) == 12 and list(grid["rank"]) == list(range(1, 13))
    assert (np.diff(grid["Sharpe Ratio"].to_numpy()) <= 0).all()
    equity = pd.read_csv(out / "grid_equity.csv")
    for row in grid.iloc[[0, 5, 11]].to_dict("records"):
        single = tmp_path / f"single{row['rank']}"
        sets = [f"backtest.{k}={row[k]}" for k in ("fee_bps", "stop_loss", "max_hold")]
        r = invoke("--signals", sig, "--data", data, "--mode", "long-only", "--out", single,
                   *[a for s in sets for a in ("--set", s)])
        assert r.exit_code == 0, r.output
        stats = json.loads((single / "stats.json").read_text())["model"]
        assert stats["Return [%]"] == row["Return [%]"] and stats["# Trades"] == row["# Trades"]
        assert np.array_equal(pd.read_csv(single / "equity.csv")["equity"], equity[row["combination"]])
    assert (grid["Exits by Reason"].str.contains("max_hold")).any() and grid["Exits by Reason"].str.contains("stop").any()
    assert "Deflated Sharpe ratio of the best of 12 combinations tried" in res.output
    assert "Probability of backtest overfitting" in res.output


def test_count_dsr_and_pbo_are_those_of_the_combinations_tried(tmp_path, signals):
    """Catches a DSR deflated by the wrong count (or not at all) and a PBO on other returns than the grid's."""
    sig, data = signals
    res = invoke("--signals", sig, "--data", data, "--grid", GRID, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    (out,) = tmp_path.glob("sig_backtest-grid-*")
    assert doc == json.loads((out / "grid.json").read_text())
    assert doc["combinations_tried"] == 12 == doc["deflated_sharpe"]["n_trials"]
    eq = pd.read_csv(out / "grid_equity.csv").drop(columns="timestamp").to_numpy()
    prev = np.vstack([np.full((1, 12), 10_000.0), eq[:-1]])
    r = eq / prev - 1.0
    assert doc["pbo"]["pbo"] == pytest.approx(pbo(r).pbo, abs=1e-12)
    best = list(pd.read_csv(out / "grid_equity.csv").columns[1:]).index(doc["best"]["combination"])

    class Eq:
        def __init__(self, e):
            self.equity, self.cash = e, 10_000.0

    cs = [backtest_candle_stats(Eq(eq[:, i])) for i in range(12)]
    want = deflated_sharpe(cs[best]["sharpe"], [c["sharpe"] for c in cs], cs[best]["n"], cs[best]["skew"],
                           cs[best]["kurtosis"], n_trials=12)["dsr"]
    assert doc["deflated_sharpe"]["dsr"] == pytest.approx(want, rel=1e-9)
    one = deflated_sharpe(cs[best]["sharpe"], [cs[best]["sharpe"]], cs[best]["n"], cs[best]["skew"],
                          cs[best]["kurtosis"], n_trials=1)["dsr"]
    assert doc["deflated_sharpe"]["dsr"] < one      # choosing among 12 costs something


def test_grid_on_weights_equals_the_portfolio_backtest(tmp_path):
    """Catches a portfolio grid that ignores rebalance or the rules in its combinations."""
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(1)
    for sym in ("BTC_USDT", "ETH_USDT"):
        frame(rng, N).to_csv(d / f"{sym}-1h.csv", index=False)
    w = pd.DataFrame({"timestamp": T0 + np.arange(0, N - 1, 10) * H})
    w["BTC_USDT"] = rng.choice([0.0, 0.5], len(w))
    w["ETH_USDT"] = rng.choice([0.0, -0.5, 0.5], len(w))
    w.to_csv(tmp_path / "w.csv", index=False)
    res = invoke("--weights", tmp_path / "w.csv", "--data-dir", d, "--grid", "rebalance=0,4 trailing_stop=0,0.01")
    assert res.exit_code == 0, res.output
    (out,) = tmp_path.glob("w_backtest-grid-*")
    grid = pd.read_csv(out / "grid.csv").set_index("combination")
    r = invoke("--weights", tmp_path / "w.csv", "--data-dir", d, "--rebalance", 4, "--set",
               "backtest.trailing_stop=0.01", "--out", tmp_path / "one")
    assert r.exit_code == 0, r.output
    stats = json.loads((tmp_path / "one" / "stats.json").read_text())["portfolio"]
    assert grid.loc["rebalance=4 trailing_stop=0.01", "Return [%]"] == stats["Return [%]"]
    assert "trailing" in stats["Exits by Reason"]


@pytest.mark.parametrize("grid,words", [
    ("fee_bps", "KEY=V1,V2"), ("fee_bps=1,,2", "KEY=V1,V2"), ("fee_bps=1 fee_bps=2", "given twice"),
    ("fee_bpz=1,2", "fee_bps"), ("fee_bps=1,x", "fee_bps"), ("stop_loss=0.1 stop_loss_atr=0,2", "not both"),
    ("fee_bps=5,5", "repeated"), ("slippage_bps=1,2", "also set")])
def test_a_bad_grid_is_one_line_and_exit_2_with_nothing_written(tmp_path, signals, grid, words):
    """Catches a traceback or a half-written directory on a typo in the grid."""
    sig, data = signals
    res = invoke("--signals", sig, "--data", data, "--grid", grid, "--slippage-bps", 1)
    assert res.exit_code == 2, res.output
    assert words in res.output and "Traceback" not in res.output
    assert not list(tmp_path.glob("sig_backtest*"))


def test_json_needs_grid_and_sort_names_a_statistic(tmp_path, signals):
    sig, data = signals
    assert invoke("--signals", sig, "--data", data, "--json").exit_code == 2
    res = invoke("--signals", sig, "--data", data, "--grid", "fee_bps=0,10", "--grid-sort", "sharp")
    assert res.exit_code == 0 and "sorted by Sharpe Ratio" in res.output, res.output
    bad = invoke("--signals", sig, "--data", data, "--grid", "fee_bps=0,10", "--grid-sort", "return")
    assert bad.exit_code == 2 and "give the full name" in bad.output


def test_grid_on_a_run_writes_beside_its_backtest_and_trades_its_predictions(tiny_run):
    """Catches a run-mode grid that writes over the run's own backtest/test/ or trades other decisions
    than the run's predictions (its combination with the run's settings must be the run's backtest)."""
    assert CliRunner().invoke(app, ["backtest", "--run", str(tiny_run)]).exit_code == 0
    own = tiny_run / "backtest" / "test" / "stats.json"
    before = own.read_bytes()
    res = invoke("--run", tiny_run, "--grid", "fee_bps=10,20 max_hold=0,3")
    assert res.exit_code == 0, res.output
    (out,) = (tiny_run / "backtest").glob("test-grid-*")
    assert own.read_bytes() == before
    grid = pd.read_csv(out / "grid.csv").set_index("combination")
    base = json.loads(before)["model"]
    assert grid.loc["fee_bps=10 max_hold=0", "Return [%]"] == base["Return [%]"]
    assert grid.loc["fee_bps=20 max_hold=0", "Return [%]"] < base["Return [%]"] or base["# Trades"] == 0


def test_grid_on_a_walkforward_directory_is_one_line(tmp_path):
    """Catches --grid falling into the run-mode path on a walk-forward directory (a confusing error there)."""
    (tmp_path / "wf" / "folds").mkdir(parents=True)
    res = invoke("--run", tmp_path / "wf", "--grid", "fee_bps=1,2")
    assert res.exit_code == 2 and "walk-forward" in res.output and "Traceback" not in res.output
