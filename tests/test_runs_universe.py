"""`runs list / show / compare` of universe runs (issue 33): the pair count and the policy in the list, the
pairs and the per-pair table in show, the portfolio's benchmarks and turnover in show and compare."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from cryptotrain.backtest import universe_backtest
from cryptotrain.cli import app
from test_predict_universe import trained  # noqa: F401  the tiny universe run (topk k 1, long-only), evaluated


@pytest.fixture(scope="module")
def backtested(trained):  # noqa: F811
    data_dir, run = trained
    universe_backtest.run(run)
    return run


def test_list_show_compare_name_pairs_policy_and_portfolio(backtested, tmp_path):
    """list: "3 pairs, topk"; show: the pairs, the per-pair table with each pair's windows, the equal-weight
    and momentum columns; compare of two universe runs: pairs, Rank IC, policy, turnover and the benchmarks' returns
    (catches a reader that drops the universe's keys: the rows would be missing or dashes)."""
    runs = backtested.parent
    r = CliRunner().invoke(app, ["runs", "list", "--runs-dir", str(runs)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "3 pairs, topk" in r.output
    r = CliRunner().invoke(app, ["runs", "show", str(backtested)], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "pairs: BTC/USDT, ETH/USDT, SOL/USDT; backtest.policy topk" in r.output
    assert "Per pair eval/test" in r.output and "Equal weight" in r.output and "Momentum" in r.output
    r = CliRunner().invoke(app, ["runs", "show", str(backtested), "--json"])
    doc = json.loads(r.output)
    per_pair = doc["evaluation"]["per_pair"]
    metrics = json.loads((backtested / "eval" / "test" / "metrics.json").read_text())["per_pair"]
    assert {s: v["windows"] for s, v in per_pair.items()} == {s: v["windows"] for s, v in metrics.items()}
    assert doc["backtest"]["turnover_per_year"] > 0
    other = runs / (backtested.name + "-copy")
    shutil.copytree(backtested, other)
    r = CliRunner().invoke(app, ["runs", "compare", str(backtested), str(other), "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)["metrics"]
    assert m["n_pairs"]["values"] == [3, 3] and m["policy"]["values"] == ["topk", "topk"]
    rank_ic = json.loads((backtested / "eval" / "test" / "metrics.json").read_text())["cross_section"]["rank_ic"]
    assert m["test_rank_ic"]["values"] == [rank_ic["value"]] * 2
    assert m["equal_weight_return_pct"]["values"][0] is not None and m["momentum_return_pct"]["values"][0] is not None
