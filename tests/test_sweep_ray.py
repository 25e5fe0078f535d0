"""The sweep on a real local Ray (2 CPUs, the session's: tests/conftest.py; the sweeps find it): trials
run two at a time, a failing trial does not stop the sweep, and a worker killed in the middle of a trial is
retried from the trial's checkpoint with the numbers of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from cryptotrain.config import config_to_dict, load_config  # noqa: E402
from cryptotrain.orchestration import Job, run_jobs  # noqa: E402
from cryptotrain.orchestration.sweep.search import SweepSettings, run_sweep  # noqa: E402
from cryptotrain.orchestration.sweep.space import load_space  # noqa: E402
from cryptotrain.orchestration.sweep.trial import train_trial  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _cfg(tmp_path):
    return load_config(ROOT / "configs" / "tiny.yaml",
                       [f"train.runs_dir={tmp_path / 'runs'}", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}",
                        "train.epochs=3", "train.max_batches_per_epoch=3"])


def _space(tmp_path, text):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return load_space(p)


def test_a_failing_trial_does_not_stop_the_sweep_on_ray(local_ray, tmp_path):
    # a window of 2900 candles leaves no training window: fit's own UserError, raised in the worker
    space = _space(tmp_path, "data.window: {choice: [16, 2900]}\ntrain.lr: {float: [1e-4, 1e-2], log: true}\n")
    starts = []
    study, rows = run_sweep(_cfg(tmp_path), space, tmp_path / "runs" / "f", SweepSettings(trials=4, workers=2),
                            on_event=lambda e: starts.append(e.data["pid"]) if e.kind == "start" else None)
    states = {r.number: r.state for r in rows}
    assert len(rows) == 4 and "failed" in states.values() and "complete" in states.values(), states
    for r in rows:
        assert (r.state == "failed") == (r.values["data.window"] == 2900)
        if r.state == "failed":
            assert r.error.startswith("UserError: ") and "0 train windows" in r.error
    assert len(set(starts)) == 2   # both Ray workers ran trials


def test_a_killed_worker_resumes_its_trial_with_the_numbers_of_an_uninterrupted_run(local_ray, tmp_path):
    space = _space(tmp_path, "train.lr: {float: [1e-4, 1e-2], log: true}\n")
    pids, events = {}, []

    def kill_after_epoch_1(e):
        events.append((e.kind, e.attempt))
        if e.kind == "start":
            pids[e.key] = e.data["pid"]
        if e.kind == "progress" and e.attempt == 1 and e.data["epoch"] == 1:
            os.kill(pids[e.key], signal.SIGKILL)

    sweep_dir = tmp_path / "runs" / "k"
    study, [row] = run_sweep(_cfg(tmp_path), space, sweep_dir, SweepSettings(trials=1, workers=2, pruner="none"),
                             on_event=kill_after_epoch_1)
    assert row.state == "complete" and ("retry", 2) in events and ("start", 2) in events
    killed = json.loads((sweep_dir / "trials" / "0" / "trial.json").read_text())
    cfg = load_config(sweep_dir / "trials" / "0" / "config.yaml")
    [whole] = run_jobs([Job("0", tmp_path / "whole", {"config": config_to_dict(cfg)})], train_trial, blas_threads=1)
    assert killed["blas_threads"] == whole.value["blas_threads"] == 1
    for key in ("val_losses", "best_val_loss", "best_epoch", "val_sharpe", "val_sharpe_candle"):
        assert killed[key] == whole.value[key], key
    assert study.best_trial.value == whole.value["best_val_loss"]
