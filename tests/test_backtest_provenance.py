"""Backtest names the checkpoint behind the predictions it trades, and re-runs evaluate when
that checkpoint was rewritten since (stale predictions)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.train.checkpoint import load_checkpoint, save_checkpoint
from test_evaluate_runner import make_run, tiny_config


def invoke(*args):
    res = CliRunner().invoke(app, [*map(str, args)])
    return res, " ".join(res.output.split())


def test_backtest_records_the_checkpoint_and_re_evaluates_stale_predictions(tmp_path):
    run = make_run(tmp_path, tiny_config(tmp_path))
    res, _ = invoke("evaluate", "--run", run, "--checkpoint", "last", "--json")
    assert res.exit_code == 0, res.output
    prov = json.loads((run / "eval" / "test" / "metrics.json").read_text())["provenance"]
    assert prov["checkpoint"] == "last" and prov["epoch"] == 1 and len(prov["checkpoint_sha256"]) == 64

    res, text = invoke("backtest", "--run", run)
    assert res.exit_code == 0, res.output
    assert "predictions of the last checkpoint, epoch 1, step 0" in text and "stale" not in text
    doc = json.loads((run / "backtest" / "test" / "stats.json").read_text())
    assert doc["predictions"] == prov

    ck = load_checkpoint(run / "checkpoints" / "last.npz")   # a resume wrote a newer last.npz
    ck.epoch, ck.global_step = 2, 40
    save_checkpoint(run / "checkpoints" / "last.npz", ck)
    res, text = invoke("backtest", "--run", run)
    assert res.exit_code == 0, res.output
    assert "stale predictions" in text and "last checkpoint, epoch 2, step 40" in text
    doc = json.loads((run / "backtest" / "test" / "stats.json").read_text())
    assert doc["predictions"]["epoch"] == 2 and doc["predictions"]["checkpoint"] == "last"

    metrics = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    del metrics["provenance"]                                 # written by an older evaluate
    (run / "eval" / "test" / "metrics.json").write_text(json.dumps(metrics))
    res, text = invoke("backtest", "--run", run)
    assert res.exit_code == 0 and "does not say which checkpoint made predictions.csv" in text
    assert "predictions" not in json.loads((run / "backtest" / "test" / "stats.json").read_text())
