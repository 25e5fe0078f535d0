"""Permutation importance (evaluate/importance.py): a feature the model ignores by construction has
zero drop, one it reads does not; the block permutation; groups; the --importance option."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.dataset import build_dataset
from cryptotrain.config import FeaturesConfig
from cryptotrain.data.features.basic import feature_groups, feature_names
from cryptotrain.evaluate.importance import block_permutation, column_groups, permutation_importance
from cryptotrain.models import init_params
from test_evaluate_runner import make_run, tiny_config


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    cfg = tiny_config(tmp_path_factory.mktemp("imp"), dtype="float64")
    ds = build_dataset(cfg)
    params = init_params(cfg.model, ds.n_features, cfg.data.window, np.random.default_rng(0))
    params = {k: v * (4.0 if k == "rnn.0.Wx" else 1.0) for k, v in params.items()}  # inputs matter visibly
    return cfg, ds, params


def test_a_feature_with_zero_input_weights_has_zero_drop(tiny):
    cfg, ds, params = tiny
    ignored = 2
    params = dict(params)
    params["rnn.0.Wx"] = params["rnn.0.Wx"].copy()
    params["rnn.0.Wx"][ignored, :] = 0.0                                  # (F, 3H): the model never reads it
    val = ds.splits["val"]
    imp = permutation_importance(params, ds, val, cfg.model, 16, repeats=2, seed=0, n_resamples=50)
    rows = {r["name"]: r for r in imp["rows"]}
    zero = rows[ds.feature_names[ignored]]
    for key in ("log_loss", "balanced_accuracy"):
        assert zero[key] == {"value": 0.0, "lo": 0.0, "hi": 0.0}
    # the features it does read move the log loss (so the zero above is not a broken permutation)
    assert sum(abs(r["log_loss"]["value"]) > 1e-6 for r in imp["rows"]) >= ds.n_features // 2
    assert imp["n_windows"] == len(val) and len(imp["rows"]) == ds.n_features


def test_importance_is_seeded(tiny):
    cfg, ds, params = tiny
    a = permutation_importance(params, ds, ds.splits["val"], cfg.model, 16, by="groups", repeats=1, seed=3,
                               n_resamples=20)
    b = permutation_importance(params, ds, ds.splits["val"], cfg.model, 64, by="groups", repeats=1, seed=3,
                               n_resamples=20)
    assert [r["name"] for r in a["rows"]] == [r["name"] for r in b["rows"]]
    for ra, rb in zip(a["rows"], b["rows"]):
        assert ra["log_loss"]["value"] == pytest.approx(rb["log_loss"]["value"], abs=1e-12)


def test_block_permutation_moves_whole_blocks():
    perm = block_permutation(23, 5, np.random.default_rng(1))
    assert sorted(perm) == list(range(23))
    where = np.argsort(perm)                                             # output position of each window
    for k in range(0, 23, 5):                                            # each block stays whole and in order
        np.testing.assert_array_equal(np.diff(where[k:k + 5]), 1)
    assert not (perm == np.arange(23)).all()


def test_groups_are_the_configs_feature_groups_with_context():
    fcfg = FeaturesConfig(set=["returns", "kbar", "time"], context=["4h"], context_set=["roc"])
    names = feature_names(fcfg)
    groups = column_groups(names, feature_groups(fcfg))
    assert list(groups) == ["returns", "kbar", "time", "4h_roc"]
    assert sorted(i for cols in groups.values() for i in cols) == list(range(len(names)))
    assert all(names[i].startswith("4h_") for i in groups["4h_roc"])


def test_groups_by_name_when_the_config_does_not_match():
    names = ["ret_1", "ret_4", "body", "macd", "macd_signal", "bb_pctb_20", "bb_width_20", "log_volume",
             "volume_z_20", "hour_sin", "ROC5", "ROC10"]
    assert column_groups(names, {"returns": ["ret_1"]}) == {"ret": [0, 1], "body": [2], "macd": [3, 4], "bb": [5, 6],
                                                            "volume": [7, 8], "hour": [9], "ROC": [10, 11]}


def test_cli_importance_groups_writes_table_plot_and_metrics(tmp_path):
    run = make_run(tmp_path, tiny_config(tmp_path))
    res = CliRunner().invoke(app, ["evaluate", "--run", str(run), "--importance", "groups",
                                   "--importance-repeats", "1"])
    assert res.exit_code == 0, res.output
    assert "Permutation importance by group on the val split" in " ".join(res.output.split())
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert m["importance"]["by"] == "groups" and m["importance"]["rows"]
    assert (run / "eval" / "test" / "plots" / "importance.png").stat().st_size > 5_000
    bad = CliRunner().invoke(app, ["evaluate", "--run", str(run), "--importance", "columns"])
    assert bad.exit_code == 2 and "--importance 'columns': use features or groups" in bad.output
