"""The HTML report opened in a real headless Chromium with the network blocked (tests/browser.py):
no request, console error or failed load; every trace of every chart drew what it was given, and
what it was given matches the run's files; zooming one time axis moves the others; the trades table
sorts. A screenshot of each report kind is saved in tmp_path.

Without Chromium the tests skip, saying so; with CI=true a missing Chromium fails them (.ci/run
installs it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.ohlcv import load_ohlcv

import browser as chromium

COUNTS_JS = (Path(__file__).parent / "report_counts.js").read_text()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def browser():
    exe = chromium.find()
    if exe is None:
        why = "no Chromium on this machine (apt-get install -y chromium); the report's browser tests need one"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    b = chromium.Browser.start(exe)
    yield b
    b.close()


def _report(path: Path) -> Path:
    res = CliRunner().invoke(app, ["report", str(path)])
    assert res.exit_code == 0, res.output
    out = path / "report.html"
    assert f"wrote {out}" in res.output and " MB)" in res.output
    return out


def _open(browser, html: Path, shot: Path):
    page = browser.open(html)
    assert page.eval("window.reportReady") is True
    assert page.problems(html) == []   # no request left the file, no console error, nothing failed to load
    page.screenshot(shot)
    assert shot.stat().st_size > 10_000
    return page


def _traces(page) -> dict[str, dict]:
    """name -> trace counts; every trace drew exactly the points it was given (an empty chart fails)."""
    out = {}
    for fid, traces in page.eval(COUNTS_JS).items():
        for t in traces:
            assert t["given"] > 0 and t["drawn"] == t["given"], (fid, t)
            out[t["name"]] = t
    return out


def _linked_zoom_moves(page, first: str, start: str, end: str) -> list:
    """Zoom the chart `first` to [start, end]; the x ranges of every chart of its group after it."""
    page.eval(f"Plotly.relayout(document.getElementById('{first}'), {{'xaxis.range': ['{start}', '{end}']}})"
              ".then(() => new Promise(r => setTimeout(r, 300)))")
    return page.eval("Array.from(document.querySelectorAll('div.chart')).filter(gd => gd.layout.xaxis.type === 'date')"
                     ".map(gd => [gd.id, gd.layout.xaxis.range.map(String)])")


def test_a_runs_report_draws_every_candle_trade_and_point_links_its_time_axes_and_sorts_trades(browser, tiny_run,
                                                                                                tmp_path):
    """Catches a report that fetches anything (a CDN script, a web font), a chart left empty or short
    of its data (a trace dropped, candles or trades lost on the way), a time axis that does not
    follow a zoom on another, a price axis left at the whole split's range after a zoom (flat
    candles), and a trades table that does not sort."""
    for cmd in (["evaluate", "--run", str(tiny_run), "--importance", "groups", "--importance-repeats", "2"],
                ["backtest", "--run", str(tiny_run)]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 0, res.output
        assert f"cryptotrain report {tiny_run}" in res.output.splitlines()[-1]
    html = _report(tiny_run)
    page = _open(browser, html, tmp_path / "run.png")
    eq = pd.read_csv(tiny_run / "backtest" / "test" / "equity.csv")
    trades = pd.read_csv(tiny_run / "backtest" / "test" / "trades.csv")
    rows = [json.loads(s) for s in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    metrics = json.loads((tiny_run / "eval" / "test" / "metrics.json").read_text())
    t = _traces(page)
    n = len(eq)
    assert n < 4000   # short enough to be drawn whole: each count below is the file's
    assert t["BTC/USDT"]["drawn"] == n and t["volume"]["drawn"] == n and t["position long"]["drawn"] == n
    assert t["long entries"]["drawn"] == (trades["side"] == "long").sum() > 0
    assert t["short entries"]["drawn"] == (trades["side"] == "short").sum() > 0
    assert t["exits"]["drawn"] == len(trades)
    for name in ("Model", "Model drawdown", "Buy & Hold", "Persistence", "Logistic"):
        assert t[name]["drawn"] == n, name
    months = eq["timestamp"].to_numpy().astype("datetime64[ms]").astype("datetime64[M]")
    assert t["monthly returns"]["drawn"] == len(np.unique(months))
    assert t["val loss"]["drawn"] == len(rows) and t["train accuracy"]["drawn"] == len(rows)
    assert t["confusion"]["drawn"] == 9
    assert t["windows per bin"]["drawn"] == len(metrics["model"]["confidence"]["reliability"])
    assert t["attention"]["drawn"] == len(metrics["attention"]["by_lag"])
    assert 0 < t["Model rolling Sharpe"]["drawn"] < n   # NaN until its window fills
    assert t["log loss"]["drawn"] == t["balanced accuracy"]["drawn"] == len(metrics["importance"]["rows"]) > 0

    # zoom the candles to the middle third: the equity and rolling Sharpe follow
    ts = eq["timestamp"].to_numpy().astype("datetime64[ms]")
    a, b = (str(ts[n // 3]).replace("T", " "), str(ts[2 * n // 3]).replace("T", " "))
    ranges = _linked_zoom_moves(page, "fig0", a, b)
    assert len(ranges) == 3
    for fid, (lo, hi) in ranges:
        assert lo.startswith(a[:16]) and hi.startswith(b[:16]), (fid, lo, hi, a, b)
    # and the price axis fits the candles now shown (not the whole split's range, which flattens them)
    candles, _ = load_ohlcv(ROOT / "data/sample/BTC_USDT-1h.csv.gz", "1h")
    shown = candles[(candles["timestamp"] >= eq["timestamp"][n // 3]) & (candles["timestamp"] <= eq["timestamp"][2 * n // 3])]
    y_lo, y_hi = page.eval("document.getElementById('fig0').layout.yaxis.range")
    low, high = shown["low"].min(), shown["high"].max()
    assert y_lo <= low and y_hi >= high and (y_hi - y_lo) <= 1.2 * (high - low), (y_lo, y_hi, low, high)

    # the trades table sorts by P&L, up then down
    sorted_pnl = "Array.from(document.querySelectorAll('#trades tbody tr')).map(r => Number(r.cells[6].dataset.v))"
    page.eval("document.querySelectorAll('#trades th')[6].click()")
    up = page.eval(sorted_pnl)
    page.eval("document.querySelectorAll('#trades th')[6].click()")
    down = page.eval(sorted_pnl)
    assert len(up) == len(trades) and np.allclose(up, np.sort(trades["pnl"].to_numpy()))
    assert np.allclose(down, np.sort(trades["pnl"].to_numpy())[::-1])
    assert page.problems(html) == []


TINY = ["-c", str(ROOT / "configs" / "tiny.yaml"), "--set", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}"]


def test_a_walkforward_report_draws_its_folds_stitched_trades_and_links_its_time_axes(browser, tmp_path):
    """Catches a walk-forward report that loses a fold (timeline, table or accuracy), a stitched
    candle or trade, or whose equity does not follow a zoom on the candles."""
    runs = tmp_path / "runs"
    res = CliRunner().invoke(app, ["walkforward", *TINY, "--run-name", "wf", "--set", f"train.runs_dir={runs}",
                                   "--set", "data.last_rows=1200", "--set", "walkforward.train_span=600",
                                   "--set", "walkforward.val_span=200", "--set", "walkforward.test_span=200",
                                   "--set", "walkforward.max_folds=2", "--set", "train.max_batches_per_epoch=4"])
    assert res.exit_code == 0, res.output
    wf = runs / "walkforward-wf"
    assert res.output.splitlines()[-1].endswith(f"cryptotrain report {wf}")
    page = _open(browser, _report(wf), tmp_path / "walkforward.png")
    t = _traces(page)
    plan = json.loads((wf / "plan.json").read_text())
    eq = pd.read_csv(wf / "backtest" / "equity.csv")
    trades = pd.read_csv(wf / "backtest" / "trades.csv")
    assert t["train"]["drawn"] == t["test"]["drawn"] == len(plan["folds"]) == 2
    assert t["model (95% interval)"]["drawn"] == 2
    assert t["exits"]["drawn"] == len(trades) and t["Walk-forward"]["drawn"] == len(eq)
    assert page.eval("document.querySelectorAll('table.sortable')[0].tBodies[0].rows.length") == 2
    ts = eq["timestamp"].to_numpy().astype("datetime64[ms]")
    a, b = str(ts[10]).replace("T", " "), str(ts[100]).replace("T", " ")
    ranges = _linked_zoom_moves(page, page.eval("document.querySelectorAll('div.chart')[2].id"), a, b)
    moved = [r for r in ranges if r[1][0].startswith(a[:16]) and r[1][1].startswith(b[:16])]
    assert len(moved) == 3, ranges   # candles, equity, rolling Sharpe (the timeline is not in the group)


def test_a_sweep_report_draws_every_trial_and_links_the_trials_own_reports(browser, tmp_path):
    """Catches a sweep report that drops a trial from the history, the parameter panels or the
    parallel coordinates, loses the importance warning under 20 trials, or links a trial report
    that does not exist."""
    runs = tmp_path / "runs"
    space = tmp_path / "space.yaml"
    space.write_text("train.lr: {float: [1e-4, 1e-2], log: true}\nmodel.hidden_size: {int: [8, 16], step: 8}\n")
    res = CliRunner().invoke(app, ["sweep", *TINY, "--space", str(space), "--trials", "3", "--pruner", "none",
                                   "--run-name", "sw", "--set", f"train.runs_dir={runs}", "--set", "train.epochs=2",
                                   "--set", "train.max_batches_per_epoch=3"])
    assert res.exit_code == 0, res.output
    sw = runs / "sw"
    assert res.output.splitlines()[-1].endswith(f"cryptotrain report {sw}")
    _report(sw / "trials" / "1")
    html = _report(sw)
    page = _open(browser, html, tmp_path / "sweep.png")
    t = _traces(page)
    assert t["val_loss per complete trial"]["drawn"] == 3 and t["running best"]["drawn"] == 3
    assert t["train.lr"]["drawn"] == t["model.hidden_size"]["drawn"] == 3
    assert sum(name.startswith("trial ") for name in t) == 3   # parallel coordinates: a line per trial
    assert "only 3 complete trials" in page.eval("document.body.innerText")
    links = page.eval("Array.from(document.querySelectorAll('#trials a')).map(a => a.getAttribute('href'))")
    assert links == ["trials/1/report.html"] and (sw / links[0]).is_file()


def test_a_portfolio_report_draws_each_pairs_weights_and_contribution(browser, tmp_path):
    """Catches a portfolio report that drops a pair from the weights or the contribution, weights
    that do not span every candle, or a weights panel that does not follow a zoom on the equity."""
    H, N = 3_600_000, 300
    t0 = 1_699_999_200_000
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for sym in ("BTC_USDT", "ETH_USDT"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
        open_ = np.concatenate(([100.0], close[:-1]))
        pd.DataFrame({"timestamp": t0 + np.arange(N) * H, "open": open_, "high": np.maximum(open_, close) * 1.001,
                      "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1.0}).to_csv(
            data / f"{sym}-1h.csv.gz", index=False)
    rows = [(t0 + t * H, sym, w) for t in range(0, 280, 40) for sym, w in (("BTC_USDT", 0.5), ("ETH_USDT", 0.2 + t / 1000))]
    pd.DataFrame(rows, columns=["timestamp", "symbol", "weight"]).to_csv(tmp_path / "w.csv", index=False)
    res = CliRunner().invoke(app, ["backtest", "--weights", str(tmp_path / "w.csv"), "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "w_backtest"
    assert res.output.splitlines()[-1].endswith(f"cryptotrain report {out}")
    page = _open(browser, _report(out), tmp_path / "portfolio.png")
    t = _traces(page)
    eq = pd.read_csv(out / "equity.csv")
    assert t["BTC_USDT"]["drawn"] == t["ETH_USDT"]["drawn"] == t["Portfolio"]["drawn"] == len(eq)
    assert t["P&L contribution"]["drawn"] == 2
    ts = eq["timestamp"].to_numpy().astype("datetime64[ms]")
    a, b = str(ts[20]).replace("T", " "), str(ts[120]).replace("T", " ")
    ranges = _linked_zoom_moves(page, "fig0", a, b)
    assert len(ranges) == 3 and all(lo.startswith(a[:16]) and hi.startswith(b[:16]) for _, (lo, hi) in ranges), ranges
