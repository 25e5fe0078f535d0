"""--version, flags shown without a value, defaults in every --help, nothing cut at 80 columns."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cryptotrain import __version__
from cryptotrain.cli import app
from cryptotrain.defaults import BACKTEST
from cryptotrain.config import BacktestConfig

COMMANDS = [["fetch"], ["train"], ["gradcheck"], ["evaluate"], ["backtest"], ["data", "inspect"], []]


def _help(args, columns=80):
    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.output.replace("│", " ")


def test_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"cryptotrain {__version__}"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "root")
def test_help_shows_no_bool_value_and_cuts_nothing(args):
    text = _help(args)
    assert "<bool>" not in text and "…" not in text


def test_debug_is_a_flag_without_a_value(tmp_path):
    res = CliRunner().invoke(app, ["--debug", "evaluate", "--run", str(tmp_path / "nowhere")])
    assert isinstance(res.exception, Exception) and "not a run directory" in str(res.exception)   # traceback mode
    res = CliRunner().invoke(app, ["evaluate", "--run", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_backtest_help_gives_every_default_and_they_are_the_configs():
    cfg = BacktestConfig()
    assert set(BACKTEST) == set(BacktestConfig.model_fields), "a backtest option without its default"
    text = " ".join(_help(["backtest"], columns=200).split())
    for key in BACKTEST:
        value = getattr(cfg, key)
        shown = "none" if value is None else value if isinstance(value, str) else f"{value:g}"
        assert f"backtest.{key} (unset: {shown})" in text, key
    assert "in bps" in text and "SIGNALS_backtest/ beside the signals file" in text


def test_fetch_out_help_is_whole():
    text = " ".join(_help(["fetch"]).split())
    assert "e.g. data/binance/BTC_USDT-1h.parquet" in text


def _every_command(group=None, path=()):
    """Every command path of the app, walked from click's tree (a new command is covered unasked)."""
    import typer.main

    group = group or typer.main.get_command(app)
    yield list(path)
    for name, cmd in getattr(group, "commands", {}).items():
        yield from _every_command(cmd, (*path, name))


def test_every_commands_help_shows_no_bool_value():
    """Catches a bool option written as a plain typer.Option: its --help showed `--force <bool>` /
    `--json <bool>` / `--allow-stale <bool>` though the option takes no value (`--force true` was refused)."""
    paths = list(_every_command())
    assert ["walkforward"] in paths and ["runs", "show"] in paths and ["predict"] in paths
    shown = [" ".join(p) or "root" for p in paths if "<bool>" in _help(p, columns=120)]
    assert shown == [], f"--help of {shown} shows an on/off flag as taking a <bool> value"
