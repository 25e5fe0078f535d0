"""The pipeline as a library: fit, score and run_backtest print nothing, report through callbacks
and return what they did; the package's names load lazily; a checkpoint of an older format is refused."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cryptotrain import fit, load_config, run_backtest, score
from cryptotrain.errors import UserError
from cryptotrain.train import TrainCallbacks
from cryptotrain.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def _cfg(tmp_path):
    return load_config(ROOT / "configs" / "tiny.yaml",
                       [f"train.runs_dir={tmp_path / 'runs'}", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}",
                        "train.epochs=2", "train.max_batches_per_epoch=3"])


def test_fit_score_backtest_are_quiet_and_return_results(tmp_path, capfd):
    epochs, plans = [], []
    trained = fit(_cfg(tmp_path), callbacks=TrainCallbacks(
        on_start=plans.append, on_epoch=lambda row, first: epochs.append((row["epoch"], first))))
    assert epochs == [(1, True), (2, False)] and plans[0].run_dir == trained.run_dir and plans[0].resumed_after is None
    assert trained.epochs_run == 2 and trained.last_epoch == 2 and not trained.stopped_early
    assert trained.best_val_loss == min(r["val_loss"] for r in trained.rows)
    assert (tmp_path / "runs" / "latest").read_text().strip() == trained.run_dir.name
    evaluated = score(trained.run_dir, split="test")
    assert evaluated.metrics["epoch"] == trained.best_epoch
    assert len(evaluated.predictions) == evaluated.metrics["model"]["classification"]["n"]
    assert all(f.is_file() for f in evaluated.files)
    messages = []
    traded = run_backtest(trained.run_dir, split="test", on_message=lambda level, text: messages.append(text))
    assert set(traded.stats) == {"model", "buy_and_hold", "persistence", "linear", "lightgbm"} and messages == []
    assert json.loads((traded.out_dir / "stats.json").read_text())["model"]["# Trades"] == traded.stats["model"]["# Trades"]
    out, err = capfd.readouterr()
    assert out == "" and err == "", (out, err)


def test_explicit_run_dir_leaves_latest_alone_and_resume_reports_nothing_to_do(tmp_path):
    cfg = _cfg(tmp_path)
    run_dir = tmp_path / "fold-1"
    trained = fit(cfg, run_dir)
    assert trained.run_dir == run_dir and (run_dir / "checkpoints" / "last.npz").is_file()
    assert not (tmp_path / "runs" / "latest").exists()
    again = fit(None, resume=run_dir)
    assert again.epochs_run == 0 and again.last_epoch == 2 and again.rows == trained.rows


def test_a_checkpoint_of_an_older_format_is_refused_in_one_line(tmp_path, tiny_trained):
    """Catches a compatibility shim coming back: a format-1 checkpoint of an earlier development
    version (no format key, or format 1, maybe without data_range / windows) must be refused with
    one line saying so, not half-read with made-up defaults. The checkpoint: the session's tiny run
    (conftest.py, read only; the old-format copies go to tmp_path)."""
    path = tiny_trained / "checkpoints" / "last.npz"
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    for old_meta in ({k: v for k, v in meta.items() if k not in ("format", "windows")},
                     {**meta, "format": "cryptotrain-checkpoint/1"}):
        arrays["meta"] = np.array(json.dumps(old_meta))
        old = tmp_path / "old.npz"
        np.savez(old, **arrays)
        with pytest.raises(UserError) as err:
            load_checkpoint(old)
        assert "written by an older cryptotrain" in str(err.value) and "retrain" in str(err.value)
        assert "\n" not in str(err.value)
    assert load_checkpoint(path).epoch == 2


def test_importing_the_package_loads_no_numpy():
    code = "import sys, cryptotrain; cryptotrain.load_config; print('numpy' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
