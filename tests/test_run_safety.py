"""Run directories under bad conditions, through the CLI: checkpoints that do not belong or are
not checkpoints, edited metrics logs, runs/latest and failed starts, read-only and full file
systems, missing paths, changed data, another runs directory, a warm-up longer than the run,
Ctrl-C. Each case: the exit code and the one line the user reads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.train.rundir import set_latest
from cryptotrain.train.trainer import TrainCallbacks, fit

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.yaml")
runner = CliRunner()
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


def _train(runs: Path, *extra: str):
    return runner.invoke(app, ["train", "--config", TINY, "--set", f"train.runs_dir={runs}", *extra])


def _runs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


@pytest.fixture(scope="module")
def gru_and_lstm(tiny_trained, tmp_path_factory) -> tuple[Path, Path]:
    """The session's tiny GRU run (tests/conftest.py) and the same config as an LSTM."""
    root = tmp_path_factory.mktemp("runs")
    assert _train(root / "lstm", "--set", "model.type=lstm_attention").exit_code == 0
    return tiny_trained, _runs(root / "lstm")[0]


@pytest.fixture()
def run(tiny_run) -> Path:
    return tiny_run


# ------------------------------------------------------------------ checkpoints
def test_a_checkpoint_of_another_model_type_is_refused_before_anything_is_written(run, gru_and_lstm):
    shutil.copy(gru_and_lstm[1] / "checkpoints" / "last.npz", run / "checkpoints" / "last.npz")
    shutil.copy(gru_and_lstm[1] / "checkpoints" / "best.npz", run / "checkpoints" / "best.npz")
    metrics = (run / "metrics.jsonl").read_text()
    for args in (["train", "--resume", str(run)], ["evaluate", "--run", str(run), "--checkpoint", "last"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert "does not belong to this run" in res.output and "lstm_attention" in res.output, res.output
    assert (run / "metrics.jsonl").read_text() == metrics and len(metrics.splitlines()) == 2


def _rewrite(path: Path, edit) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta = edit(meta, arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _drop(key):
    def edit(meta, arrays):
        del arrays[key]
        return meta
    return edit


def _reshape(key):
    def edit(meta, arrays):
        arrays[key] = np.zeros(arrays[key].shape[:-1] + (arrays[key].shape[-1] + 1,))
        return meta
    return edit


@pytest.mark.parametrize("edit, needle", [
    (lambda m, a: [m], "metadata is a list"),
    (lambda m, a: {k: v for k, v in m.items() if k != "feature_names"}, "feature_names missing"),
    (lambda m, a: {**m, "epoch": "abc"}, 'epoch is "abc"'),
    (lambda m, a: {**m, "thresholds": [1]}, "thresholds"),
    (_drop("param/head.out.W"), "head.out.W missing"),
    (_reshape("param/head.out.W"), "param/head.out.W has shape"),
    (_drop("opt/v/head.out.W"), "opt/v/head.out.W missing"),
], ids=["meta-list", "missing-key", "epoch-abc", "thresholds", "missing-param", "wrong-shape", "missing-moment"])
def test_a_damaged_checkpoint_is_one_line(run, edit, needle):
    with np.load(run / "checkpoints/last.npz") as z:
        assert "param/head.out.W" in z.files, sorted(z.files)   # the parameter the cases edit
    _rewrite(run / "checkpoints" / "last.npz", edit)
    for args in (["train", "--resume", str(run)], ["evaluate", "--run", str(run), "--checkpoint", "last"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, res.output
        assert "not a valid cryptotrain checkpoint" in res.output and needle in res.output, res.output
        assert "Traceback" not in res.output


# ------------------------------------------------------------------ metrics log
def test_a_metrics_line_that_is_not_an_object(run):
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write("[1, 2]\n")
    res = runner.invoke(app, ["train", "--resume", str(run)])
    assert res.exit_code == 2 and "line 3 is a JSON list" in res.output, res.output
    res = runner.invoke(app, ["evaluate", "--run", str(run), "--split", "val"])   # informational: skipped
    assert res.exit_code == 0, res.output
    assert "line 3 is a JSON list, not an epoch row; line skipped" in res.output


# ------------------------------------------------------------------ latest and failed starts
@pytest.fixture()
def good(tiny_trained, tmp_path) -> Path:
    """A good run already in the runs directory tmp_path, latest on it: a copy of the session's tiny
    run (tests/conftest.py) instead of a training of its own."""
    run = tmp_path / tiny_trained.name
    shutil.copytree(tiny_trained, run)
    set_latest(run)
    return run


def test_latest_moves_only_once_the_new_run_has_a_checkpoint(tmp_path, good):
    assert _runs(tmp_path) == [good]
    seen = []

    def on_epoch(row, first):   # called after the metrics line, before the checkpoints
        seen.append((tmp_path / "latest").read_text().strip())

    cfg = load_config(TINY, [f"train.runs_dir={tmp_path}", "train.epochs=2"])
    result = fit(cfg, callbacks=TrainCallbacks(on_epoch=on_epoch))
    assert seen == [good.name, result.run_dir.name]
    assert (tmp_path / "latest").read_text().strip() == result.run_dir.name


@pytest.mark.parametrize("setting, code, needle", [
    ("train.lr=.inf", 2, "train.lr"),
    ("model.head_sizes=[0]", 2, "head_sizes"),
    ("train.lr=1e39", 1, "no checkpoint was written"),          # fails inside the first epoch
], ids=["lr-inf", "head-0", "nan-in-first-epoch"])
def test_a_failed_start_leaves_no_run_and_latest_on_the_good_one(tmp_path, good, setting, code, needle):
    assert _runs(tmp_path) == [good]
    res = _train(tmp_path, "--set", setting, "--set", "train.clip_norm=null")
    assert res.exit_code == code and needle in res.output, res.output
    assert _runs(tmp_path) == [good] and (tmp_path / "latest").read_text().strip() == good.name
    assert runner.invoke(app, ["evaluate", "--run", str(tmp_path / "latest")]).exit_code == 0


def test_resume_of_a_directory_that_does_not_exist(tmp_path):
    res = runner.invoke(app, ["train", "--resume", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output and "never finished" not in res.output


# ------------------------------------------------------------------ read-only and full file systems
def _mount_tmpfs(path: Path, options: str) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        # only root (or CAP_SYS_ADMIN) mounts; chmod cannot stand in under root, which writes anyway
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()[:80]})")


@pytest.fixture()
def mounted(tmp_path):
    mounts = []

    def mount(name: str, options: str) -> Path:
        path = tmp_path / name
        _mount_tmpfs(path, options)
        mounts.append(path)
        return path

    yield mount
    for path in mounts:
        subprocess.run(["umount", str(path)], check=False)


def test_a_read_only_runs_directory_is_one_line_exit_2(mounted):
    ro = mounted("ro", "ro,size=1m")
    res = _train(ro)
    assert res.exit_code == 2, res.output
    assert "read-only file system" in res.output and str(ro) in res.output and "Traceback" not in res.output
    assert list(ro.iterdir()) == []


def test_a_full_disk_is_one_line_exit_1_and_no_file_half_written(mounted):
    full = mounted("full", "size=48k")   # config and metrics fit, the first checkpoint pair does not
    res = _train(full)
    assert res.exit_code == 1, res.output
    assert "no space left on the device" in res.output and "Traceback" not in res.output
    assert not list(full.rglob("*.tmp")) and not list(full.rglob(".*.tmp"))
    assert _runs(full) == []         # no checkpoint was completed: no run left behind


def test_a_disk_that_fills_at_the_figure_keeps_the_checkpoints(mounted):
    """Room for the checkpoints but not for plots/training.png: exit 1 naming the file, the run and
    its checkpoints stay (latest points at it), nothing half-written, and it resumes."""
    full = mounted("full", "size=100k")
    res = _train(full, "--set", "train.epochs=1")
    assert res.exit_code == 1, res.output
    assert "training.png" in res.output and "no space left" in res.output, res.output
    (run,) = _runs(full)
    assert (full / "latest").read_text().strip() == run.name
    assert not list(full.rglob(".*.tmp"))
    from cryptotrain.train.checkpoint import load_checkpoint

    assert load_checkpoint(run / "checkpoints" / "last.npz").epoch == 1


# ------------------------------------------------------------------ paths and data
def test_the_bundled_configs_work_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["train", "--config", TINY, "--set", "train.epochs=1"])
    assert res.exit_code == 0, res.output
    cfg = tmp_path / "my.yaml"
    cfg.write_text(Path(TINY).read_text().replace("data/sample/BTC_USDT-1h.csv.gz", "nowhere/x.csv"))
    res = runner.invoke(app, ["train", "--config", str(cfg)])
    assert res.exit_code == 2 and f"looked for {tmp_path / 'nowhere/x.csv'}" in res.output, res.output


def test_a_truncated_data_file_is_described_in_windows_and_time(tmp_path):
    data = tmp_path / "candles.csv"
    pd.read_csv(ROOT / "data/sample/BTC_USDT-1h.csv.gz").tail(3000).to_csv(data, index=False)
    assert _train(tmp_path / "runs", "--set", f"data.path={data}", "--set", "train.epochs=1").exit_code == 0
    (run,) = _runs(tmp_path / "runs")
    pd.read_csv(data).head(2500).to_csv(data, index=False)
    res = runner.invoke(app, ["train", "--resume", str(run)])
    assert res.exit_code == 2, res.output
    assert "rows 3000 -> 2500" in res.output and "gone" in res.output and "windows" in res.output, res.output
    assert "test" in res.output.split("windows", 1)[1]
    res = runner.invoke(app, ["evaluate", "--run", str(run), "--split", "val"])
    assert res.exit_code == 0 and "rows 3000 -> 2500" in res.output and "windows" in res.output, res.output


def test_another_runs_directory_is_named_and_latest_says_which_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["train", "--config", TINY, "--set", "train.epochs=1"]).exit_code == 0
    (old,) = _runs(tmp_path / "runs")
    res = runner.invoke(app, ["train", "--config", TINY, "--set", "train.epochs=1", "--set", "train.runs_dir=other"])
    (new,) = _runs(tmp_path / "other")
    assert f"evaluate it with: cryptotrain evaluate --run {Path('other') / new.name}" in res.output, res.output
    res = runner.invoke(app, ["evaluate"])
    assert res.exit_code == 0 and f"run {Path('runs') / old.name} (from runs/latest" in res.output, res.output


# ------------------------------------------------------------------ warm-up, Ctrl-C
def test_a_warm_up_longer_than_the_run_warns_once(tmp_path):
    cfg = load_config(TINY, [f"train.runs_dir={tmp_path}", "train.epochs=1", "train.max_batches_per_epoch=null",
                             "train.batch_size=1024", "train.warmup_steps=50", "train.schedule=cosine"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(cfg)
    lines = [str(w.message) for w in caught if "warmup_steps" in str(w.message)]
    assert len(lines) == 1 and "batches per epoch x 1 epochs" in lines[0], lines
    with warnings.catch_warnings(record=True) as caught:   # fit says it; loading the config does not
        warnings.simplefilter("always")
        cfg = load_config(TINY, [f"train.runs_dir={tmp_path}", "train.epochs=1", "train.warmup_steps=50"])
        fit(cfg)
    assert len([w for w in caught if "warmup_steps" in str(w.message)]) == 1


def test_ctrl_c_during_train_names_the_resume_command(tmp_path):
    cmd = [sys.executable, "-m", "cryptotrain.cli", "train", "--config", TINY, "--set", f"train.runs_dir={tmp_path}",
           "--set", "train.epochs=50", "--set", "train.batch_size=2", "--set", "train.max_batches_per_epoch=null"]
    proc = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob("*/checkpoints/last.npz")):
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    (run,) = _runs(tmp_path)
    assert proc.returncode == 130, err
    assert f"cryptotrain train --resume {run}" in err and "Traceback" not in err, err
