"""The typed config tree: unknown keys with suggestions, type errors, overrides, YAML round trip."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import Config, config_from_yaml_text, config_to_yaml, load_config
from cryptotrain.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def _err(raw: dict | str, overrides=()) -> str:
    with pytest.raises(UserError) as exc:
        if isinstance(raw, str):
            load_config(raw, list(overrides))
        else:
            from cryptotrain.config import config_from_dict

            config_from_dict(raw, "x.yaml")
    return str(exc.value)


def test_unknown_key_suggests_the_closest_name():
    assert _err({"model": {"hiden_size": 3}}) == "x.yaml: unknown key 'hiden_size' in model; did you mean 'hidden_size'?"
    assert "unknown key 'trian' in data.split; did you mean 'train'?" in _err({"data": {"split": {"trian": 0.5}}})
    assert "unknown key 'modle' in config; did you mean 'model'?" in _err({"modle": {}})
    msg = _err({"model": {"zzzzzz": 1}})
    assert "unknown key 'zzzzzz' in model; valid keys:" in msg and "hidden_size" in msg


def test_wrong_type_names_key_expectation_and_value():
    msg = _err({"model": {"hidden_size": "abc"}})
    assert "model.hidden_size" in msg and "integer" in msg and "'abc'" in msg
    msg = _err({"model": {"attention": "sideways"}})
    assert "model.attention" in msg and "'additive'" in msg and "'sideways'" in msg


@pytest.mark.parametrize("override, fragment", [
    ("features.macd=[0,5,3]", "features.macd.0"),
    ("features.rsi=-3", "features.rsi"),
    ("features.volatility=[1]", "features.volatility.0"),
    ("train.betas=[0.9]", "betas must be two values in [0, 1)"),
    ("train.betas=[1.0,0.9]", "betas must be two values in [0, 1)"),
    ("model.class_weights=[1,1,-1]", "class_weights needs 3 values >= 0"),
    ("model.num_heads=3", "num_heads (3) must divide hidden_size"),
    ("data.split.train=0.95", "train + val < 1"),
    ("model.hidden_size", "expected KEY=VALUE"),
    ("hidden_size=3", "needs a section"),
])
def test_bad_values_are_one_line_errors(override, fragment):
    extra = ["model.attention=multihead"] if "num_heads" in override else []
    msg = _err(str(ROOT / "configs/tiny.yaml"), [override, *extra])
    assert fragment in msg and "\n" not in msg


def test_overrides_are_type_checked_and_applied():
    cfg = load_config(str(ROOT / "configs/tiny.yaml"), ["model.hidden_size=128", "train.betas=[0.8,0.9]",
                                                         "data.split.val_start=2026-01-01",
                                                         "data.split.test_start=2026-03-01", "data.start=2025-06-01"])
    assert cfg.model.hidden_size == 128 and cfg.train.betas == [0.8, 0.9]
    # unquoted YAML dates are read as dates; the config keeps them as the ISO strings they mean
    assert cfg.data.split.val_start == "2026-01-01" and cfg.data.start == "2025-06-01"
    assert "model.hidden_size" in _err(str(ROOT / "configs/tiny.yaml"), ["model.hidden_size=1.5"])


def test_round_trip_is_exact(tmp_path):
    cfg = load_config(str(ROOT / "configs/gru_attention_1h.yaml"), ["data.start=2025-01-01", "model.class_weights=[1,2,1]"])
    text = config_to_yaml(cfg)
    again = config_from_yaml_text(text)
    assert again == cfg
    assert config_to_yaml(again) == text
    p = tmp_path / "c.yaml"
    p.write_text(text)
    assert load_config(p) == cfg
    assert set(yaml.safe_load(text)) == {"data", "features", "labels", "model", "train", "backtest", "walkforward",
                                         "evaluate"}


def test_every_shipped_config_loads():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        if not path.name.startswith("space_"):   # sweep search spaces: tests/test_sweep.py loads them
            assert isinstance(load_config(path), Config), path


def test_cli_reports_config_errors_in_one_line_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    res = CliRunner().invoke(app, ["train", "--config", str(bad)])
    assert res.exit_code == 2 and "not valid YAML" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["train", "--config", str(tmp_path / "none.yaml")])
    assert res.exit_code == 2 and "not found" in res.output
    res = CliRunner().invoke(app, ["--debug", "train", "--config", str(tmp_path / "none.yaml")])
    assert isinstance(res.exception, UserError)  # --debug lets the traceback through
