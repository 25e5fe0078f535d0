"""Hostile and mistaken input (issue 16): each is one line naming the problem, exit code 2, no hang.

Configs (alias bombs, duplicate keys, a list instead of a mapping, impossible dates, booleans for
numbers, models too big for memory, unsafe names, absurd cash), gradcheck tolerances and signal
files whose column names collide.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import Config, load_config
from cryptotrain.errors import UserError
from cryptotrain.model_memory import estimate_training_memory, n_features
from cryptotrain.train import fit

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.yaml")


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _one_line_exit_2(res, *fragments: str) -> str:
    assert res.exit_code == 2, res.output
    msg = res.output.strip()
    assert "Traceback" not in msg and len(msg.splitlines()) == 1, msg
    for f in fragments:
        assert f in msg, msg
    return msg


def _config_error(text: str, tmp_path: Path, overrides=()) -> str:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(UserError) as exc:
        load_config(p, list(overrides))
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def _bomb(levels: int) -> str:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nmodel:\n  hidden_size: *a{levels - 1}\n"


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bomb_is_refused_in_one_short_line(tmp_path, levels):
    # 9 levels hung until memory ran out; 7 printed a 15-million-character message
    msg = _config_error(_bomb(levels), tmp_path)
    assert "aliases expand to" in msg and len(msg) < 300


def test_error_messages_quote_at_most_80_characters_of_a_value(tmp_path):
    msg = _config_error("model:\n  hidden_size: [" + ", ".join(["123456789"] * 500) + "]\n", tmp_path)
    assert "model.hidden_size" in msg and len(msg) < 250


def test_duplicate_keys_are_refused_naming_the_key_and_both_lines(tmp_path):
    msg = _config_error("model:\n  hidden_size: 8\n  num_layers: 1\n  hidden_size: 16\n", tmp_path)
    assert "key 'hidden_size' is given twice (lines 2 and 4)" in msg


@pytest.mark.parametrize("text, kind", [("- model\n- train\n", "list"), ("42\n", "int")])
def test_a_list_or_scalar_instead_of_a_mapping(tmp_path, text, kind):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    _one_line_exit_2(_cli("train", "--config", str(p)), f"holds a {kind}, not a mapping")


def test_an_empty_config_file_warns(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("# nothing yet\n")
    with pytest.warns(UserWarning, match="is empty: every setting takes its default"):
        assert load_config(p) == Config()


@pytest.mark.parametrize("args, fragments", [
    (["--set", "data.start=2026-02-30"], ["data.start", "'2026-02-30' is not a valid date"]),
    (["--set", "data.split.val_start=2026-13-01", "--set", "data.split.test_start=2026-12-01"],
     ["data.split.val_start", "is not a valid date"]),
    (["--set", "train.seed=-1"], ["train.seed", "greater than or equal to 0"]),
    (["--set", "model.head_sizes=[0]"], ["model.head_sizes.0", "greater than or equal to 1"]),
    (["--set", "model.hidden_size=true"], ["hidden_size needs a number, not the boolean true"]),
    (["--set", "model.head_sizes=[8,false]"], ["head_sizes needs a number, not the boolean"]),
    (["--set", "data.symbol=" + "A" * 300], ["is not a market or exchange name", "..."]),
    (["--set", "backtest.cash=.inf"], ["backtest.cash"]),
    (["--set", "backtest.cash=.nan"], ["backtest.cash"]),
    (["--set", "backtest.cash=1e300"], ["backtest.cash", "less than or equal to 1000000000000"]),
])
def test_config_values_that_used_to_crash_or_pass(args, fragments):
    _one_line_exit_2(_cli("train", "--config", TINY, *args), *fragments)


def test_date_in_the_file_itself(tmp_path):
    msg = _config_error("data:\n  start: 2026-02-30\n", tmp_path)
    assert "data.start" in msg and "not a valid date" in msg


def test_runs_dir_pointing_at_a_file(tmp_path):
    f = tmp_path / "runs"
    f.write_text("not a directory")
    for runs_dir in (f, f / "deeper"):
        _one_line_exit_2(_cli("train", "--config", TINY, "--set", f"train.runs_dir={runs_dir}"),
                         "is a file, not a directory")


def test_a_model_too_big_for_memory_is_refused_with_the_numbers():
    res = _cli("train", "--config", TINY, "--set", "model.hidden_size=200000")
    msg = _one_line_exit_2(res, "too big for this machine", "parameters", "GiB")
    assert "reduce model.hidden_size" in msg


def test_a_config_too_big_for_this_machine_stays_valid_and_fit_refuses_it(tmp_path):
    """Catches the memory check in the Config validator: a config (a run's stored config.yaml, a
    sweep's best.yaml) would stop loading on a machine with less RAM, so `runs show` or evaluate
    could not read a run trained elsewhere; only training it is refused."""

    cfg = load_config(TINY, ["model.hidden_size=200000", f"train.runs_dir={tmp_path}"])
    assert cfg.model.hidden_size == 200000
    with pytest.raises(UserError, match="too big for this machine"):
        fit(cfg)
    assert not any(tmp_path.iterdir())   # refused before a run directory was made


@pytest.mark.parametrize("config", ["tiny.yaml", "gru_attention_1h.yaml", "transformer_1h.yaml"])
def test_the_memory_estimate_counts_the_parameters_of_the_real_model(config):
    """The estimate is a lower-bound sketch, but its parameter count must be close to the model's."""
    from cryptotrain.data.features.basic import feature_names
    from cryptotrain.models import init_params

    cfg = load_config(ROOT / "configs" / config)
    params = init_params(cfg.model, len(feature_names(cfg.features)), cfg.data.window, np.random.default_rng(0))
    actual = sum(v.size for v in params.values())
    assert n_features(cfg.features) <= len(feature_names(cfg.features))
    assert 0.8 * actual <= estimate_training_memory(cfg).parameters <= 1.2 * actual


def test_a_warm_up_longer_than_the_run_warns_in_fit_not_when_a_config_loads(tmp_path):
    """Catches the warm-up warning issued by the config validator as well: evaluate and backtest
    load a trained run's config again and repeated it (tests/test_run_safety.py: fit says it once)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cfg = load_config(TINY, ["train.warmup_steps=100", f"train.runs_dir={tmp_path}"])   # 2 x 10 = 20 steps
    with pytest.warns(UserWarning, match="never leaves the warm-up"):
        fit(cfg)


@pytest.mark.parametrize("tol", ["-1", "nan", "0", "inf"])
def test_gradcheck_refuses_a_tolerance_that_means_nothing(tol):
    _one_line_exit_2(_cli("gradcheck", "--config", TINY, "--tol", tol), "--tol", "must be a relative error in (0, 1)")


def _flat_candles(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """Ten hourly candles at price 1 -> (CSV path, open times)."""
    path = tmp_path / "c.csv"
    ts = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000 + np.arange(10) * 3_600_000
    pd.DataFrame({"timestamp": ts, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0}).to_csv(
        path, index=False)
    return path, ts


def test_signals_with_two_columns_that_both_mean_position(tmp_path):
    candles, ts = _flat_candles(tmp_path)
    sig = tmp_path / "s.csv"
    sig.write_text("timestamp,position,position \n" + "".join(f"{t},1,0\n" for t in ts[:3]))
    _one_line_exit_2(_cli("backtest", "--signals", str(sig), "--data", str(candles)),
                     "columns 'position' and 'position ' both mean 'position'")
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,open,high,low,close,Close,volume\n" + "".join(f"{t},1,1,1,1,1,1\n" for t in ts))
    _one_line_exit_2(_cli("data", "inspect", str(bad)), "columns 'close' and 'Close' both mean 'close'")


def test_signals_in_seconds_are_converted_with_a_warning(tmp_path):
    candles, ts = _flat_candles(tmp_path)
    sig = tmp_path / "s.csv"
    sig.write_text("timestamp,position\n" + "".join(f"{t // 1000},1\n" for t in ts[2:5]))
    res = _cli("backtest", "--signals", str(sig), "--data", str(candles), "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert "timestamps look like seconds since the epoch (not ms); converted to milliseconds" in res.output


@pytest.mark.parametrize("cash", ["inf", "nan", "1e300", "-5"])
def test_backtest_refuses_absurd_cash(tmp_path, cash):
    candles, ts = _flat_candles(tmp_path)
    sig = tmp_path / "s.csv"
    sig.write_text("timestamp,position\n" + "".join(f"{t},1\n" for t in ts[:3]))
    _one_line_exit_2(_cli("backtest", "--signals", str(sig), "--data", str(candles), "--cash", cash), "--cash")


def test_the_largest_cash_allowed_raises_no_numpy_warning(tmp_path):
    """1e300 flooded `overflow encountered in multiply`; at the 1e12 cap every money figure is finite."""
    import json
    import warnings as w

    src = pd.read_csv(ROOT / "data/sample/BTC_USDT-1h.csv.gz").iloc[:600]
    candles = tmp_path / "c.csv"
    src.to_csv(candles, index=False)
    sig = tmp_path / "s.csv"
    pd.DataFrame({"timestamp": src["timestamp"].iloc[10:500], "position": np.tile([1, -1, 0, 0.5, -0.5], 98)}).to_csv(
        sig, index=False)
    with w.catch_warnings(record=True) as caught:
        w.simplefilter("always")
        res = _cli("backtest", "--signals", str(sig), "--data", str(candles), "--cash", "1e12", "--out",
                   str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    assert [str(c.message) for c in caught if issubclass(c.category, RuntimeWarning)] == []
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    assert "overflow" not in res.output
    money = {k: v for k, v in stats["model"].items() if "[$]" in k}
    assert money and all(np.isfinite(v) for v in money.values()), money
