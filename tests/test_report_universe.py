"""The report of a universe run (three pairs cut from data/sample, tests/test_universe.py's fixtures),
opened in headless Chromium with the network blocked (tests/browser.py): the per-pair table has a row
per pair of metrics.json, the Rank IC and score-group charts draw a point per timestamp of the
cross-section computed from predictions.csv, the portfolio sections draw the universe backtest's
files, and a zoom on the equity moves the cross-section's time axes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from test_report_browser import _linked_zoom_moves, _open, _report, _traces, browser  # noqa: F401 (fixture)
from test_universe import config, make_universe
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.commands.report_universe import cross_data
from cryptotrain.train.trainer import fit


@pytest.fixture(scope="module")
def universe_run(tmp_path_factory):
    """A tiny universe run, evaluated and backtested on its test split through the CLI (its default policy, independent)."""
    tmp = tmp_path_factory.mktemp("report_universe")
    run = fit(config(tmp, make_universe(tmp / "data"))).run_dir
    res = CliRunner().invoke(app, ["backtest", "--run", str(run)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1].endswith(f"cryptotrain report {run}")   # the run's report shows it
    return run


def test_the_cross_section_is_the_mean_rank_ic_evaluate_saved(universe_run):
    """Catches a per-timestamp Rank IC drawn from another score than evaluate ranked, on other
    timestamps, or not the Spearman correlation across the pairs in predictions.csv."""
    ev = universe_run / "eval" / "test"
    cs = json.loads((ev / "metrics.json").read_text())["cross_section"]
    c = cross_data(ev / "predictions.csv", cs)
    assert len(c["time"]) == cs["n_timestamps"] and c["groups"].shape == (len(c["time"]), cs["quantiles"])
    assert np.nanmean(c["rank_ic"]) == pytest.approx(cs["rank_ic"]["value"], rel=1e-9)
    pred = pd.read_csv(ev / "predictions.csv")
    t = c["time"][len(c["time"]) // 2]
    g = pred[pred["timestamp"] == t]
    assert c["rank_ic"][len(c["time"]) // 2] == pytest.approx(spearmanr(g["pred_return"], g["forward_return"])[0])


def test_a_universe_report_draws_per_pair_cross_section_and_portfolio(browser, universe_run, tmp_path):  # noqa: F811
    """Catches `report UNIVERSE_RUN` read as one pair (no per-pair table, no portfolio), a Rank IC or
    score-group chart missing timestamps of the cross-section, a group or the spread missing, the
    momentum benchmark dropped from the equity, a pair's short weights stacked with the long ones, and
    cross-section charts that do not follow a zoom."""
    ev = universe_run / "eval" / "test"
    m = json.loads((ev / "metrics.json").read_text())
    page = _open(browser, _report(universe_run), tmp_path / "universe.png")
    t = _traces(page)
    n = m["cross_section"]["n_timestamps"]
    q = m["cross_section"]["quantiles"]
    assert t["Rank IC per timestamp"]["drawn"] == t["cumulative Rank IC"]["drawn"] == n
    assert t["spread top - bottom"]["drawn"] == n
    assert sum(name.endswith(f" of {q})") and t[name]["drawn"] == n for name in t) == q
    bt = universe_run / "backtest" / "test"
    eq = pd.read_csv(bt / "equity.csv")
    assert t["Portfolio"]["drawn"] == t["Momentum"]["drawn"] == t["Equal weight"]["drawn"] == len(eq)
    w = pd.read_csv(bt / "weights.csv")
    for sym in ("BTC_USDT", "ETH_USDT", "SOL_USDT"):
        assert t[sym]["drawn"] == len(eq), sym                      # weights over time, a line per pair
        short = (w.loc[w["symbol"] == sym, "weight"] < 0).any()     # and its short part below 0, apart
        assert (f"{sym} (short)" in t) == short and (not short or t[f"{sym} (short)"]["drawn"] == len(eq)), sym
    assert t["P&L contribution"]["drawn"] == 3
    rows = page.eval("Array.from(document.querySelectorAll('#per-pair tbody tr')).map(r => r.cells[0].textContent)")
    assert rows == list(m["per_pair"])
    text = page.eval("document.body.innerText")
    assert m["cross_section"]["edge"]["sentence"] in text
    ts = eq["timestamp"].to_numpy().astype("datetime64[ms]")
    a, b = str(ts[20]).replace("T", " "), str(ts[120]).replace("T", " ")
    ranges = dict(_linked_zoom_moves(page, "fig0", a, b))
    assert len(ranges) >= 5 and all(lo.startswith(a[:16]) and hi.startswith(b[:16]) for lo, hi in ranges.values()), ranges


def test_a_universe_run_without_its_backtest_names_the_command(universe_run, tmp_path):
    """Catches a universe run without backtest/<split>/ failing the report (or read as one pair's
    run) instead of showing its evaluation and naming the backtest command."""
    from cryptotrain.commands.report import build_report

    run = tmp_path / universe_run.name
    shutil.copytree(universe_run, run, ignore=shutil.ignore_patterns("backtest"))
    text = build_report(run, "test")
    assert f"no portfolio backtest of the test split: `cryptotrain backtest --run {run} --split test`" in text
    assert "Cross-sectional Rank IC over time" in text and 'id="per-pair"' in text
