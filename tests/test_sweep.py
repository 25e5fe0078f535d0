"""The sweep in this process: the space is checked before anything runs, trials are run
directories trained by fit, a rerun continues, best.yaml reproduces the best trial to the bit,
a draw the config rejects is a failed trial with the config's message, all failing exits 1,
the test split is read only at the end, and a driver killed with SIGKILL is resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.errors import RunFailure, UserError
from cryptotrain import blas
from cryptotrain.orchestration.sweep.search import SweepSettings, run_sweep
from cryptotrain.orchestration.sweep.results import final_test, write_outputs
from cryptotrain.orchestration.sweep.space import check_keys, load_space
from cryptotrain.orchestration.sweep.storage import study_name
from cryptotrain.train import TrainCallbacks, fit

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["train.epochs=3", "train.max_batches_per_epoch=3"]


def _cfg(tmp_path, *more):
    return load_config(ROOT / "configs" / "tiny.yaml",
                       [f"train.runs_dir={tmp_path / 'runs'}", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}",
                        *SMALL, *more])


def _space(tmp_path, text):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return p


def test_space_keys_are_checked_against_the_config_tree(tmp_path):
    cfg = _cfg(tmp_path)
    space = load_space(_space(tmp_path, "model.hiden_size: {int: [8, 16], step: 8}\n"))
    with pytest.raises(UserError, match="model.hiden_size is not a config key; did you mean model.hidden_size"):
        check_keys(space, cfg, "space.yaml")
    for bad, message in [("train.lr: {float: [1e-2, 1e-4]}", "low <= high"),
                         ("train.lr: {float: [0, 1e-2], log: true}", "log needs low > 0"),
                         ("train.lr: {uniform: [0, 1]}", "exactly one of float, int, choice"),
                         ("model.hidden_size: {int: [8, 16], stp: 8}", "unknown option 'stp'")]:
        with pytest.raises(UserError, match=message):
            load_space(_space(tmp_path, bad + "\n"))
    shipped = load_space(ROOT / "configs" / "space_small.yaml")
    check_keys(shipped, cfg, "configs/space_small.yaml")
    assert shipped["train.lr"].log and shipped["model.hidden_size"].step == 8


def test_the_cli_names_an_unknown_key_in_one_line_and_runs_nothing(tmp_path):
    space = _space(tmp_path, "train.learning_rate: {float: [1e-4, 1e-2], log: true}\n")
    res = CliRunner().invoke(app, ["sweep", "--config", str(ROOT / "configs/tiny.yaml"), "--space", str(space),
                                   "--set", f"train.runs_dir={tmp_path / 'runs'}"])
    assert res.exit_code == 2, res.output
    assert "train.learning_rate is not a config key" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "runs").exists()


def test_fit_stops_when_on_epoch_asks_and_keeps_its_checkpoints(tmp_path):
    cfg = _cfg(tmp_path)
    stopped = fit(cfg, tmp_path / "run", callbacks=TrainCallbacks(on_epoch=lambda row, first: row["epoch"] == 1))
    assert stopped.stopped_on_request and stopped.last_epoch == 1 and len(stopped.rows) == 1
    assert (tmp_path / "run" / "checkpoints" / "last.npz").is_file()
    whole = fit(cfg, tmp_path / "whole")
    resumed = fit(None, resume=tmp_path / "run")
    assert not resumed.stopped_on_request and resumed.last_epoch == 3
    assert [r["val_loss"] for r in resumed.rows] == [r["val_loss"] for r in whole.rows]


def test_a_sweep_runs_continues_and_its_best_yaml_reproduces_the_best_trial(tmp_path):
    cfg = _cfg(tmp_path)
    space = load_space(_space(tmp_path, "train.lr: {float: [1e-4, 1e-2], log: true}\n"
                                        "model.hidden_size: {int: [8, 16], step: 8}\n"))
    sweep_dir = tmp_path / "runs" / "s"
    s = SweepSettings(trials=2, pruner="none")
    study, rows = run_sweep(cfg, space, sweep_dir, s)
    assert [r.state for r in rows] == ["complete", "complete"]
    first = {r.number: (Path(r.directory) / "trial.json").stat().st_mtime_ns for r in rows}
    # every trial is a run directory whose config.yaml holds its drawn values; no test split yet
    for r in rows:
        stored = load_config(Path(r.directory) / "config.yaml")
        assert stored.train.lr == r.values["train.lr"] and stored.model.hidden_size == r.values["model.hidden_size"]
        assert (Path(r.directory) / "backtest" / "val" / "stats.json").is_file()
    assert not list(sweep_dir.rglob("test"))

    s.trials = 3   # the same command with a larger budget continues the study
    study, rows = run_sweep(cfg, space, sweep_dir, s)
    assert [r.number for r in rows] == [0, 1, 2] and all(r.state == "complete" for r in rows)
    assert {n: (sweep_dir / "trials" / str(n) / "trial.json").stat().st_mtime_ns for n in first} == first
    assert len({r.values["train.lr"] for r in rows}) == 3   # the continued sampler does not redraw trial 0

    summary = write_outputs(sweep_dir, study, rows, list(space), s)
    assert "selects by validation loss" in summary["pbo"]["note"]   # PBO would judge a selection not made
    lines = (sweep_dir / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("number,state,train.lr,model.hidden_size,best_val_loss") and len(lines) == 4
    assert all((sweep_dir / "plots" / f).is_file() for f in ("history.png", "objective_vs_params.png"))
    final = final_test(sweep_dir, study, summary)
    best = summary["best"]
    assert best["value"] == min(r.best_val_loss for r in rows)
    assert list(sweep_dir.rglob("eval/test")) == [sweep_dir / "trials" / str(best["number"]) / "eval" / "test"]
    saved = json.loads((sweep_dir / "sweep.json").read_text())
    assert saved["counts"]["complete"] == 3 and saved["final"]["n_complete"] == 3
    assert saved["final"]["n_tried"] == 3 and saved["final"]["n_sharpes"] == 3 and saved["final"]["periods_per_year"] == 8760
    assert 0.0 <= saved["final"]["dsr"] <= 1.0 and "multiple-testing correction" in final["final"]["sentence"]

    again = fit(load_config(sweep_dir / "best.yaml"), tmp_path / "again")   # same thread count: same bits
    assert again.best_val_loss == best["value"]


def test_a_draw_the_config_rejects_fails_with_its_message_and_all_failing_exits_1(tmp_path):
    cfg = _cfg(tmp_path)
    space = _space(tmp_path, "model.attention: {choice: [multihead]}\nmodel.num_heads: {choice: [3, 5]}\n")
    with pytest.raises(RunFailure, match=r"all 2 trials failed; the first: .*num_heads \(\d\) must divide hidden_size \(8\)"):
        run_sweep(cfg, load_space(space), tmp_path / "runs" / "bad", SweepSettings(trials=2))
    res = CliRunner().invoke(app, ["sweep", "--config", str(ROOT / "configs/tiny.yaml"), "--space", str(space),
                                   "--trials", "2", "--run-name", "bad2",
                                   "--set", f"train.runs_dir={tmp_path / 'runs'}"])
    assert res.exit_code == 1 and "must divide hidden_size" in res.output, res.output


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_driver_is_resumed_without_rerunning_or_losing_a_trial(tmp_path, workers):
    if workers > 1:
        pytest.importorskip("ray")   # the command starts (and, killed, abandons) its own local Ray
    space = _space(tmp_path, "train.lr: {float: [1e-4, 1e-2], log: true}\n")
    cmd = [sys.executable, "-m", "cryptotrain.cli", "sweep", "--config", str(ROOT / "configs/tiny.yaml"),
           "--space", str(space), "--trials", "3", "--pruner", "none", "--run-name", "k", "--workers", str(workers),
           "--set", f"train.runs_dir={tmp_path / 'runs'}", "--set", "train.epochs=4",
           "--set", "train.max_batches_per_epoch=3"]
    trials = tmp_path / "runs" / "k" / "trials"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    second = trials / "1" / "checkpoints" / "last.npz"
    deadline = time.monotonic() + 300
    while not second.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)   # trial 1 in the middle of its epochs (and trial 0, on Ray, maybe)
    proc.wait()
    assert not (trials / "1" / "trial.json").is_file()
    done = {p.parent.name: p.stat().st_mtime_ns for p in trials.glob("*/trial.json")}
    assert workers == 2 or list(done) == ["0"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert {k: (trials / k / "trial.json").stat().st_mtime_ns for k in done} == done   # not run again
    rows = (trials.parent / "trials.csv").read_text().splitlines()[1:]
    assert [r.split(",")[:2] for r in rows] == [["0", "complete"], ["1", "complete"], ["2", "complete"]]
    resumed = [json.loads(line) for line in (trials / "1" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in resumed] == [1, 2, 3, 4]
    threads = json.loads((trials / "1" / "trial.json").read_text())["blas_threads"]
    with blas.limited(threads):   # the thread count the trial ran with (1 on a Ray worker)
        whole = fit(load_config(trials / "1" / "config.yaml"), tmp_path / "whole")
    assert [r["val_loss"] for r in resumed] == [r["val_loss"] for r in whole.rows]


def test_an_rdb_storage_url_holds_the_study_and_a_bad_one_is_one_line(tmp_path):
    import optuna

    cfg = _cfg(tmp_path, "train.epochs=1")
    space = load_space(_space(tmp_path, "train.lr: {float: [1e-4, 1e-2], log: true}\n"))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study, [row] = run_sweep(cfg, space, tmp_path / "runs" / "db", SweepSettings(trials=1, storage=url))
    assert row.state == "complete" and not (tmp_path / "runs" / "db" / "study.journal").exists()
    stored = optuna.load_study(study_name=study_name(tmp_path / "runs" / "db", url), storage=url)
    assert [t.state.name for t in stored.trials] == ["COMPLETE"] and stored.best_value == row.best_val_loss
    with pytest.raises(UserError, match="--storage nosuchdb://x"):
        run_sweep(cfg, space, tmp_path / "runs" / "db2", SweepSettings(trials=1, storage="nosuchdb://x"))


def test_the_val_sharpe_objective_is_maximized_and_cannot_change_mid_sweep(tmp_path):
    cfg = _cfg(tmp_path, "train.epochs=1")
    space = load_space(_space(tmp_path, "train.lr: {float: [1e-4, 1e-2], log: true}\n"))
    sweep_dir = tmp_path / "runs" / "sh"
    study, rows = run_sweep(cfg, space, sweep_dir, SweepSettings(trials=2, objective="val_sharpe"))
    complete = [r for r in rows if r.state == "complete"]
    assert complete and study.best_value == max(r.val_sharpe for r in complete)
    with pytest.raises(UserError, match="started with the other objective"):
        run_sweep(cfg, space, sweep_dir, SweepSettings(trials=3, objective="val_loss"))
    with pytest.raises(UserError, match="was started from another config"):
        run_sweep(_cfg(tmp_path, "train.epochs=2"), space, sweep_dir, SweepSettings(trials=3, objective="val_sharpe"))


def test_pruning_stops_trials_early_but_never_on_their_last_epoch(tmp_path):
    cfg = _cfg(tmp_path, "train.epochs=2")
    space = load_space(_space(tmp_path, "train.lr: {float: [1e-5, 1e-1], log: true}\n"))
    study, rows = run_sweep(cfg, space, tmp_path / "runs" / "p", SweepSettings(trials=5, warmup=0))
    assert {"complete", "pruned"} <= {r.state for r in rows}
    for r in rows:
        epochs = len(study.trials[r.number].intermediate_values)
        assert (r.state, epochs) in (("complete", 2), ("pruned", 1)), (r.state, epochs)
        if r.state == "pruned":   # stopped after epoch 1, its checkpoint kept, never backtested
            assert (Path(r.directory) / "checkpoints" / "last.npz").is_file()
            assert not (Path(r.directory) / "backtest").exists()
