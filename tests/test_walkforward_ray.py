"""Walk-forward folds on a real local Ray (2 CPUs, started once for the session: tests/conftest.py): a fold trained
on a Ray worker gives the same bits as the same fold trained alone in process with the same BLAS
thread count, and a fold whose worker is killed mid-training resumes from its checkpoint and ends
bit-identical to the uninterrupted fold."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

from cryptotrain.config import load_config  # noqa: E402
from cryptotrain.orchestration.walkforward.run import walk_forward  # noqa: E402
from cryptotrain.train.checkpoint import load_checkpoint  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SETS = ["data.last_rows=1200", "walkforward.train_span=600", "walkforward.val_span=200",
        "walkforward.test_span=200", "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "train.epochs=3"]


@pytest.fixture
def executor(local_ray):
    return local_ray   # the session's Ray (tests/conftest.py): walk_forward's run_jobs uses it as it is


def _cfg(tmp_path: Path):
    return load_config(ROOT / "configs/tiny.yaml", [f"train.runs_dir={tmp_path}", *SETS])


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> Path:
    """The folds trained one after another in this process with 1 BLAS thread: the reference."""
    tmp = tmp_path_factory.mktemp("alone")
    assert walk_forward(_cfg(tmp), tmp / "wf", workers=1, blas_threads=1).failed == {}
    return tmp / "wf"


def _same_folds(a: Path, b: Path) -> None:
    assert (a / "predictions.csv").read_bytes() == (b / "predictions.csv").read_bytes()
    for k in (1, 2):
        for name in ("best.npz", "last.npz"):
            ca = load_checkpoint(a / "folds" / str(k) / "checkpoints" / name)
            cb = load_checkpoint(b / "folds" / str(k) / "checkpoints" / name)
            assert ca.epoch == cb.epoch and all(np.array_equal(ca.params[p], cb.params[p]) for p in ca.params)


def test_folds_on_ray_equal_folds_trained_alone_with_the_same_thread_count(executor, alone, tmp_path):
    on_ray = walk_forward(_cfg(tmp_path), tmp_path / "ray", workers=2)
    assert on_ray.failed == {}
    for d in (tmp_path / "ray", alone):
        assert [json.loads((d / "folds" / str(k) / "worker.json").read_text())["blas_threads"]
                for k in (1, 2)] == [1, 1]
    _same_folds(tmp_path / "ray", alone)


def test_a_fold_whose_worker_is_killed_resumes_and_ends_bit_identical(executor, alone, tmp_path):
    cfg = _cfg(tmp_path)
    pids, events = {}, []

    def kill_fold_1_at_epoch_2(event):
        events.append((event.kind, event.key, event.attempt))
        if event.kind == "start":
            pids[event.key] = event.data["pid"]
        if event.kind == "progress" and event.key == "fold-1" and event.attempt == 1 and event.data["epoch"] == 2:
            os.kill(pids["fold-1"], signal.SIGKILL)   # epoch 1's checkpoint is on disk, epoch 2's is not

    killed = walk_forward(cfg, tmp_path / "killed", workers=2, on_event=kill_fold_1_at_epoch_2)
    assert killed.failed == {}
    assert ("retry", "fold-1", 2) in events and ("finish", "fold-1", 2) in events
    assert json.loads((tmp_path / "killed" / "folds" / "1" / "worker.json").read_text())["attempt"] == 2
    _same_folds(tmp_path / "killed", alone)
