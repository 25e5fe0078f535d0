"""`cryptotrain report` without a browser: the numbers the report computes (rolling Sharpe ratio,
monthly returns, merged candles) against plain references, bad input as one line with exit code
2 and nothing written, user text escaped, and no reference to anything outside the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.report.html.arrays import merge_candles
from cryptotrain.report.html.run_sections import monthly_returns, rolling_sharpe

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def test_rolling_sharpe_is_the_whole_span_formula_on_each_window():
    """Catches an off-by-one window, a population instead of a sample deviation, or a window that
    reaches into the future (each value must use only candles up to its own)."""
    rng = np.random.default_rng(1)
    equity = 10_000 * np.cumprod(1 + rng.normal(0.0002, 0.01, 500))
    got = rolling_sharpe(equity, 48, 8760.0)
    r = pd.Series(np.concatenate([[0.0], equity[1:] / equity[:-1] - 1]))
    want = (r.rolling(48).mean() / r.rolling(48).std(ddof=1) * np.sqrt(8760.0)).to_numpy()
    assert np.isnan(got[:47]).all() and np.allclose(got[47:], want[47:], rtol=1e-9)
    changed = equity.copy()
    changed[300:] *= 1.5   # the future changes: nothing before it may move
    assert np.array_equal(rolling_sharpe(changed, 48, 8760.0)[:300], got[:300], equal_nan=True)


def test_monthly_returns_chain_to_the_total_and_sit_in_their_month():
    """Catches a month compared with the wrong previous month (or the first with anything but the
    starting cash), and a return put in the wrong row or column of the heatmap."""
    time = np.arange(np.datetime64("2025-11-15"), np.datetime64("2026-02-10"), np.timedelta64(1, "h"))
    ms = time.astype("datetime64[ms]").astype(np.int64)
    equity = 10_000 * np.cumprod(np.full(len(ms), 1.0001))
    years, names, grid = monthly_returns(ms, equity, 10_000.0)
    assert years == [2025, 2026] and names[0] == "Jan"
    filled = ~np.isnan(grid)
    assert filled.sum() == 4 and filled[0, 10] and filled[0, 11] and filled[1, 0] and filled[1, 1]
    assert np.isclose(np.prod(1 + grid[filled] / 100), equity[-1] / 10_000)
    dec = (time >= np.datetime64("2025-12-01")) & (time < np.datetime64("2026-01-01"))
    assert np.isclose(grid[0, 11], 100 * (1.0001 ** dec.sum() - 1))


def test_merged_candles_keep_every_high_and_low():
    """Catches a merge that samples candles (a spike between samples vanishes) instead of taking
    each group's highest high and lowest low, or that shifts opens and closes."""
    rng = np.random.default_rng(2)
    n = 20_001
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    c = {"time": np.arange(n) * 60_000, "open": close * 0.999, "high": close * 1.001, "low": close * 0.998,
         "close": close, "volume": np.ones(n), "position": np.sign(rng.normal(size=n))}
    c["high"][12_345] *= 1.5   # one spike
    drawn, step = merge_candles(c, 8000)
    assert step == 3 and len(drawn["time"]) <= 8000
    assert drawn["high"].max() == c["high"].max() and drawn["low"].min() == c["low"].min()
    assert drawn["open"][0] == c["open"][0] and drawn["close"][-1] == c["close"][-1]
    assert drawn["volume"].sum() == n and np.all(np.abs(drawn["position"]) <= 1)
    same, one = merge_candles(c, n)
    assert one == 1 and same is c


def test_train_ends_with_the_report_command_of_its_run(tmp_path):
    """Catches train (like evaluate, backtest, walkforward and sweep: the browser tests) not naming
    the report that shows its run, or naming another directory."""
    res = runner.invoke(app, ["train", "-c", str(ROOT / "configs" / "tiny.yaml"), "--set", f"train.runs_dir={tmp_path}",
                              "--set", "train.epochs=1", "--set", "train.max_batches_per_epoch=2"])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert res.output.splitlines()[-1] == f"see it all in one page: cryptotrain report {run}"


def test_bad_targets_are_one_line_exit_2_and_write_nothing(tmp_path, tiny_run):
    """Catches a traceback or a half-written file on a path that is not a run, a bad --split or an
    --out that is a directory."""
    (tmp_path / "empty").mkdir()
    for args, words in ((["report", str(tmp_path / "nowhere")], "not a run directory"),
                        (["report", str(tmp_path / "empty")], "not a run, walk-forward, sweep or portfolio"),
                        (["report", str(tiny_run), "--split", "train"], "use test or val"),
                        (["report", str(tiny_run), "--out", str(tmp_path)], "is a directory")):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and words in res.output and "Traceback" not in res.output, res.output
        assert len(res.output.strip().splitlines()) <= 2, res.output
    assert not list(tmp_path.rglob("*.html"))


def test_a_run_without_evaluation_says_what_is_missing_and_user_text_is_escaped(tmp_path, tiny_trained):
    """Catches a run directory's name written into the page as HTML (a name with < > & would break
    the page or run a script), a report that fails on a run not evaluated yet, and a page that
    points at anything outside itself (a script or style by URL)."""
    run = tmp_path / "a<b>&c"
    shutil.copytree(tiny_trained, run)
    res = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r.html").read_text()
    assert "a&lt;b&gt;&amp;c" in html and "a<b>&c" not in html
    assert f"cryptotrain evaluate --run {run}".replace("<", "&lt;").replace(">", "&gt;").replace("&c", "&amp;c") in html
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(https?:)?//", html)
    assert html.count("<script") == 3   # plotly.js, the figures (JSON), the page's own script


def test_a_backtest_of_other_predictions_is_named_and_a_nan_in_the_log_draws_as_a_gap(tiny_run, tmp_path):
    """Catches a report that shows a backtest beside an evaluation whose predictions it did not
    trade (evaluate ran again after it) without saying so, and one that fails on a NaN in the
    training log (JSON has no NaN)."""
    for cmd in (["evaluate", "--run", str(tiny_run)], ["backtest", "--run", str(tiny_run)]):
        assert runner.invoke(app, cmd).exit_code == 0
    stats = tiny_run / "backtest" / "test" / "stats.json"
    doc = json.loads(stats.read_text())
    doc["predictions"]["predictions_sha256"] = "0" * 64
    stats.write_text(json.dumps(doc))
    log = tiny_run / "metrics.jsonl"
    rows = [json.loads(s) for s in log.read_text().splitlines()]
    rows[0]["val_accuracy"] = float("nan")
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = runner.invoke(app, ["report", str(tiny_run)])
    assert res.exit_code == 0, res.output
    html = (tiny_run / "report.html").read_text()
    assert "the backtest traded other predictions than the evaluation shown here" in html
    assert "NaN" not in html.split('id="figures">')[1].split("</script>")[0]
