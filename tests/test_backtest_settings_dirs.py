"""A backtest with other settings than the run's writes beside the run's own backtest, never over it."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cryptotrain.cli import app
from test_evaluate_runner import make_run, tiny_config


def _cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def _settings(d):
    return json.loads((d / "stats.json").read_text())["settings"]


def test_other_settings_write_their_own_directory_and_runs_show_lists_it(tmp_path):
    """Catches `backtest --run R --fee-bps 5` silently replacing backtest/test/, the run's default
    backtest (which `runs list` and `runs show` report as the run's)."""
    run = make_run(tmp_path, tiny_config(tmp_path))
    _cli("backtest", "--run", run)
    default = run / "backtest" / "test"
    before = (default / "stats.json").read_bytes()
    assert _settings(default)["fee_bps"] == 10

    out = _cli("backtest", "--run", run, "--fee-bps", "5")
    assert f"wrote {run}/backtest/test-fee5/stats.json" in " ".join(out.split())
    assert _settings(run / "backtest" / "test-fee5")["fee_bps"] == 5
    assert (default / "stats.json").read_bytes() == before   # the run's own backtest is untouched

    _cli("backtest", "--run", run, "--fee-bps", "5", "--mode", "long-only")
    assert _settings(run / "backtest" / "test-fee5-long-only")["mode"] == "long-only"
    _cli("backtest", "--run", run, "--fee-bps", "10")   # the run's own value: the default directory
    assert sorted(p.name for p in (run / "backtest").iterdir() if not p.name.startswith(".")) == \
        ["test", "test-fee5", "test-fee5-long-only"]

    _cli("backtest", "--run", run, "--fee-bps", "3", "--out", tmp_path / "mine")   # --out in run mode
    assert _settings(tmp_path / "mine")["fee_bps"] == 3 and not (run / "backtest" / "test-fee3").exists()

    shown = _cli("runs", "show", run)
    assert "Backtest backtest/test-fee5 " in shown and "Backtest backtest/test-fee5-long-only " in shown
    assert "stale" not in shown


def test_out_help_says_it_works_in_both_modes():
    """Catches --out documented as `for --signals` only, though run mode takes it too."""
    text = " ".join(CliRunner().invoke(app, ["backtest", "--help"], env={"COLUMNS": "200"}).output.replace("│", " ")
                    .split())
    assert "Output directory, in both modes" in text and "RUN/backtest/SPLIT-<settings that differ>/" in text
