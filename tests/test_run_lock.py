"""One writer per run directory (dirlock.py) and outputs written as one unit (outdir.py), with
real processes: a second writer while one holds the lock, a lock left by a killed process, a
writer killed between its files, temporary files of dead writers, `backtest --out` over a
user's own files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.dirlock import LOCK_FILE, dir_lock, holder
from cryptotrain.fileio import atomic_write_text
from cryptotrain.outdir import MARKER

ROOT = Path(__file__).resolve().parents[1]
TINY = str(ROOT / "configs" / "tiny.yaml")
runner = CliRunner()
ENV = dict(os.environ, PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def trained(tiny_trained, tmp_path_factory) -> Path:
    """The session's tiny run (tests/conftest.py), copied once for this module and evaluated."""
    run = tmp_path_factory.mktemp("trained") / tiny_trained.name
    shutil.copytree(tiny_trained, run)
    assert runner.invoke(app, ["evaluate", "--run", str(run)]).exit_code == 0
    return run


@pytest.fixture()
def run(trained, tmp_path) -> Path:
    dst = tmp_path / "runs" / trained.name
    shutil.copytree(trained, dst)
    return dst


def _hold_lock(directory: Path) -> subprocess.Popen:
    """Another process holding the directory's lock until killed."""
    code = ("import sys, time\nfrom cryptotrain.dirlock import dir_lock\n"
            f"with dir_lock({str(directory)!r}, 'train'):\n    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_exits_2_naming_the_pid_and_readers_are_not_blocked(run):
    metrics_before = (run / "metrics.jsonl").read_text()
    proc = _hold_lock(run)
    try:
        assert holder(run)["pid"] == proc.pid
        for args in (["train", "--resume", str(run)], ["evaluate", "--run", str(run)],
                     ["backtest", "--run", str(run)]):
            res = runner.invoke(app, args)
            assert res.exit_code == 2, (args, res.output)
            assert f"in use by process {proc.pid}" in res.output and "Traceback" not in res.output
        assert (run / "metrics.jsonl").read_text() == metrics_before   # the refused resume wrote nothing
    finally:
        proc.kill()
        proc.wait()
    # the kernel dropped the dead holder's lock: the file it left is stale and taken over
    assert (run / LOCK_FILE).exists() and holder(run) is None
    res = runner.invoke(app, ["evaluate", "--run", str(run), "--split", "val"])
    assert res.exit_code == 0, res.output
    assert not (run / LOCK_FILE).exists()   # released on exit


def test_two_resumes_at_once_one_is_refused(run):
    """The issue's case: two `train --resume` of the same run; the metrics must not get doubled epochs."""
    ck = run / "checkpoints" / "last.npz"
    from cryptotrain.train import checkpoint as ckmod

    c = ckmod.load_checkpoint(ck)
    c.config.train.epochs = 40
    c.config.train.max_batches_per_epoch = None   # long epochs: the first resume is still running
    c.config.train.batch_size = 2
    ckmod.save_checkpoint(ck, c)
    cmd = [sys.executable, "-m", "cryptotrain.cli", "train", "--resume", str(run)]
    first = subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while holder(run) is None and time.time() < deadline and first.poll() is None:
            time.sleep(0.05)
        assert holder(run) is not None, first.stderr.read() if first.poll() is not None else "no lock in time"
        second = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"in use by process {first.pid}" in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    epochs = [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert epochs == sorted(set(epochs))


def test_the_lock_is_reentrant_in_one_process_and_exclusive_across(tmp_path):
    with dir_lock(tmp_path, "backtest"):
        with dir_lock(tmp_path, "evaluate"):     # backtest running evaluate first
            assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert (tmp_path / LOCK_FILE).exists()
    assert not (tmp_path / LOCK_FILE).exists()


def _kill_inside(function: str, args: list[str]) -> subprocess.CompletedProcess:
    """Run the CLI in a child whose `function` (module.attr) SIGKILLs it when called: a kill at
    exactly that point of the writing."""
    module, attr = function.rsplit(".", 1)
    code = ("import os, signal, sys, importlib\n"
            f"m = importlib.import_module({module!r})\n"
            f"setattr(m, {attr!r}, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))\n"
            "from cryptotrain.cli import app\n"
            f"sys.argv = ['cryptotrain'] + {args!r}\napp()\n")
    return subprocess.run([sys.executable, "-c", code], env=ENV, cwd=ROOT, capture_output=True, text=True)


def test_a_backtest_killed_between_its_files_leaves_the_old_outputs_whole(run):
    out = run / "backtest" / "test"
    assert runner.invoke(app, ["backtest", "--run", str(run), "--fee-bps", "10"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in (out / "stats.json", out / "equity.csv", out / "plots" / "equity.png")}
    # the figure is written after stats.json, equity.csv and trades.csv: kill there with new settings
    # (--out: other settings than the run's would otherwise write their own backtest/test-fee50/)
    res = _kill_inside("cryptotrain.backtest.run_outputs.atomic_write_bytes",
                       ["backtest", "--run", str(run), "--fee-bps", "50", "--out", str(out)])
    assert res.returncode == -signal.SIGKILL, res.stderr
    after = {p.name: p.read_bytes() for p in (out / "stats.json", out / "equity.csv", out / "plots" / "equity.png")}
    assert after == before     # old settings everywhere, nothing of the killed run mixed in
    assert json.loads((out / "stats.json").read_text())["settings"]["fee_bps"] == 10
    leftovers = [p for p in out.parent.iterdir() if p.name.startswith(".test.")]
    assert leftovers                                   # the killed writer's directory ...
    assert runner.invoke(app, ["backtest", "--run", str(run), "--fee-bps", "50", "--out", str(out)]).exit_code == 0
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".test.")]   # ... gone at the next write
    assert json.loads((out / "stats.json").read_text())["settings"]["fee_bps"] == 50


def test_an_evaluate_killed_while_drawing_leaves_predictions_and_metrics_of_one_run(run):
    out = run / "eval" / "test"
    before = {n: (out / n).read_bytes() for n in ("predictions.csv", "metrics.json")}
    res = _kill_inside("cryptotrain.evaluate.scorer.write_eval_plots",
                       ["evaluate", "--run", str(run), "--checkpoint", "last"])
    assert res.returncode == -signal.SIGKILL, res.stderr
    assert {n: (out / n).read_bytes() for n in ("predictions.csv", "metrics.json")} == before
    assert not list(out.glob(".predictions.csv.*.tmp"))


def test_temporary_files_of_dead_writers_are_removed_at_the_next_write(tmp_path):
    target = tmp_path / "predictions.csv"
    code = ("import os, signal\nfrom cryptotrain.fileio import atomic_path\n"
            f"with atomic_path({str(target)!r}, suffix='.csv') as tmp:\n"
            "    tmp.write_text('half')\n    os.kill(os.getpid(), signal.SIGKILL)\n")
    for _ in range(3):
        subprocess.run([sys.executable, "-c", code], env=ENV, cwd=ROOT)
    # each killed writer removed its dead predecessor's file: one left, not three
    assert len(list(tmp_path.glob(".predictions.csv.*.tmp"))) == 1
    alive = tmp_path / f".predictions.csv.{os.getpid()}.abcd1234.csv.tmp"   # a writer still running
    alive.write_text("busy")
    atomic_write_text(target, "ok\n")
    assert sorted(tmp_path.glob(".predictions.csv.*.tmp")) == [alive]
    assert target.read_text() == "ok\n"


def test_backtest_out_never_overwrites_files_it_did_not_write(run, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "equity.csv").write_text("my own equity\n")
    (mine / "trades.csv").write_text("my own trades\n")
    res = runner.invoke(app, ["backtest", "--run", str(run), "--out", str(mine)])
    assert res.exit_code == 2 and "did not write" in res.output and "equity.csv" in res.output, res.output
    assert (mine / "equity.csv").read_text() == "my own equity\n" and sorted(p.name for p in mine.iterdir()) == [
        "equity.csv", "trades.csv"]
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    res = runner.invoke(app, ["backtest", "--run", str(run), "--out", str(a_file)])
    assert res.exit_code == 2 and "not a directory" in res.output and "Traceback" not in res.output
    fresh = tmp_path / "fresh"
    for fee in ("5", "7"):                       # new, then its own earlier output: both fine
        res = runner.invoke(app, ["backtest", "--run", str(run), "--out", str(fresh), "--fee-bps", fee])
        assert res.exit_code == 0, res.output
    assert json.loads((fresh / "stats.json").read_text())["settings"]["fee_bps"] == 7
    assert (fresh / MARKER).is_file()
    (fresh / "my_notes.txt").write_text("added by hand")   # a file the command did not write
    res = runner.invoke(app, ["backtest", "--run", str(run), "--out", str(fresh)])
    assert res.exit_code == 2 and "my_notes.txt" in res.output
    assert (fresh / "my_notes.txt").read_text() == "added by hand"
