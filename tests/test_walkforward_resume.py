"""`cryptotrain walkforward` killed with SIGKILL while its folds train, then run again: the final
predictions.csv, metrics.json (but for the directory name and the measured training seconds) and
backtest stats equal those of an uninterrupted run; for one pair and for a universe of three tiny
pairs (tests/test_universe.py's, traded by topk)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETS = ["data.last_rows=1200", "walkforward.train_span=600", "walkforward.val_span=200",
        "walkforward.test_span=200", "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "train.epochs=6",
        "train.patience=10"]


def _command(runs: Path, config: Path = ROOT / "configs/tiny.yaml", sets: list[str] = SETS) -> list[str]:
    flags = sum((["--set", s] for s in [*sets, f"train.runs_dir={runs}"]), [])
    return [sys.executable, "-m", "cryptotrain.cli", "walkforward", "--config", str(config), *flags]


def _run(runs: Path, *config) -> None:
    done = subprocess.run(_command(runs, *config), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def _metrics(wf: Path) -> dict:
    m = json.loads((wf / "metrics.json").read_text())
    m.pop("run")
    for row in m["folds"]:
        row.pop("train_seconds")      # wall time measured by the epochs: differs between any two runs
    return m


def _universe(tmp: Path) -> tuple[Path, list[str]]:
    from tests.test_universe import TINY, make_universe
    path = tmp / "universe.yaml"
    path.write_text(TINY.format(dir=make_universe(tmp / "data"), runs=tmp / "unused"))
    return path, ["walkforward.train_span=900", "walkforward.val_span=300", "walkforward.test_span=300",
                  "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "train.epochs=6", "train.patience=10",
                  "backtest.policy=topk", "backtest.k=1"]


@pytest.mark.parametrize("kind", ["one pair", "universe"])
def test_killed_walkforward_resumes_to_the_uninterrupted_result(tmp_path, kind):
    config = _universe(tmp_path) if kind == "universe" else (ROOT / "configs/tiny.yaml", SETS)
    name = "walkforward-universe" if kind == "universe" else "walkforward-tiny"
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    wf = killed / name
    proc = subprocess.Popen(_command(killed, *config), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        # kill once fold 1 has a checkpoint and before it has finished (epoch 6 of 6)
        while not (wf / "folds" / "1" / "checkpoints" / "last.npz").is_file():
            assert proc.poll() is None and time.monotonic() < deadline, "walkforward ended before it could be killed"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (wf / "folds" / "1" / "fold.json").exists() and not (wf / "predictions.csv").exists()
    _run(killed, *config)
    _run(whole, *config)
    other = whole / name
    assert (wf / "predictions.csv").read_bytes() == (other / "predictions.csv").read_bytes()
    assert _metrics(wf) == _metrics(other)
    assert (wf / "backtest" / "stats.json").read_bytes() == (other / "backtest" / "stats.json").read_bytes()
