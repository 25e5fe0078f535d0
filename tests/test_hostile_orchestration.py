"""Walk-forward, runs, predict, train --resume and evaluate under concurrent use, damaged state and
bad specifications (issue 26): each case is run through the command line with --debug off and must
end in one `error:` line (exit 2, no traceback) or, for the reading commands, a row that says what
is wrong; files the case names are checked unchanged by hash."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from cryptotrain.config import load_config
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.timestamps import format_utc
from cryptotrain.dirlock import holder
from cryptotrain.orchestration.walkforward.run import walk_forward
from tests.hostile_cli import cli, held_lock, one_error, tree_hashes

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
SAMPLE = ROOT / "data/sample/BTC_USDT-1h.csv.gz"
SPANS = ["walkforward.train_span=600", "walkforward.val_span=200", "walkforward.test_span=200",
         "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "train.epochs=1", "data.last_rows=null"]


@pytest.fixture(scope="module")
def wf(tmp_path_factory):
    """A finished two-fold walk-forward (runs/walkforward-a) and the --set options that made it."""
    tmp = tmp_path_factory.mktemp("hostile_wf")
    df, _ = load_ohlcv(SAMPLE, "1h")
    df.iloc[-1200:][["timestamp", "open", "high", "low", "close", "volume"]].to_csv(tmp / "BTC_USDT-1h.csv", index=False)
    sets = [f"data.path={tmp / 'BTC_USDT-1h.csv'}", f"train.runs_dir={tmp / 'runs'}", *SPANS]
    res = cli("walkforward", "-c", TINY, *_sets(sets), "--run-name", "a")
    assert res.exit_code == 0, res.output
    return tmp / "runs", sets


def _sets(sets: list[str]) -> list[str]:
    return [x for s in sets for x in ("--set", s)]


def _copy(runs: Path, name: str) -> Path:
    """runs/walkforward-a as runs/walkforward-NAME: the same config, so the same command with --run-name NAME."""
    dst = runs / f"walkforward-{name}"
    shutil.copytree(runs / "walkforward-a", dst)
    return dst


def _wf(sets, name, *more):
    return cli("walkforward", "-c", TINY, *_sets(sets), "--run-name", name, *more)


def test_1_a_second_walkforward_on_the_same_directory_is_refused_and_changes_nothing(wf):
    """Case 1: only folds were locked, so a second walkforward on the directory ran beside the first
    (stitching a partial predictions.csv, or with --force deleting the first one's folds)."""
    runs, sets = wf
    d = _copy(runs, "c")
    before = tree_hashes(d)
    with held_lock(d, pid=4242, command="walkforward"):
        for more in ((), ("--force",)):
            one_error(_wf(sets, "c", *more), 2, f"{d} is in use by process 4242", "walkforward")
            assert tree_hashes(d) == before


def test_1_walkforward_holds_its_directory_for_its_whole_life(wf):
    """Case 1: the walk-forward directory itself is locked (naming the command) while the command runs."""
    runs, sets = wf
    d = _copy(runs, "held")
    seen = []
    walk_forward(load_config(TINY, sets), d, on_plan=lambda plan: seen.append(holder(d)))
    assert seen and seen[0] is not None and seen[0]["pid"] == os.getpid() and seen[0]["command"] == "walkforward"
    assert holder(d) is None


def test_4_a_step_in_hours_shorter_than_a_test_span_in_candles_is_refused(wf):
    """Case 4: step 1h against test_span 200 (candles) was not compared, and 582 one-candle folds started."""
    runs, sets = wf
    one_error(_wf(sets + ["walkforward.step=1h"], "step"), 2, "step 1h is shorter than test_span 200")
    assert not (runs / "walkforward-step").exists()


def test_6_an_address_where_nothing_listens_fails_fast_in_one_line(wf):
    """Case 6: --address HOST:PORT with nothing listening hung for more than five minutes (real Ray client)."""
    runs, sets = wf
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    res = _wf(sets, "addr", "--address", f"127.0.0.1:{port}")
    assert time.monotonic() - started < 15
    one_error(res, 2, f"127.0.0.1:{port}", "no --address")


@pytest.mark.parametrize("name, damage", [("walkforward.json", "cut"), ("folds/1/fold.json", "cut"),
                                          ("walkforward.json", "[]")])
def test_12_a_cut_state_file_is_one_line_naming_it_and_the_rebuild(wf, name, damage):
    """Case 12: walkforward.json (or a fold's fold.json) cut in half by a kill: JSONDecodeError traceback
    (and valid JSON of the wrong shape, an edit: a KeyError or TypeError traceback)."""
    runs, sets = wf
    d = _copy(runs, f"cut{len(name)}{len(damage)}")
    text = (d / name).read_text()
    (d / name).write_text(text[: len(text) // 2] if damage == "cut" else damage)
    before = tree_hashes(d)
    line = one_error(_wf(sets, d.name.split("-", 1)[1]), 2, str(d / name))
    assert "rerun" in line or "--force" in line
    assert tree_hashes(d) == before


def test_13_workers_0_is_one_line_and_makes_no_directory(wf):
    """Case 13: `walkforward --workers 0` printed Typer's usage box instead of one line."""
    runs, sets = wf
    res = _wf(sets, "w0", "--workers", "0")
    one_error(res, 2, "--workers")
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert not (runs / "walkforward-w0").exists()


def test_14_train_resume_of_a_walkforward_directory_says_what_to_run(wf):
    """Case 14: `train --resume WF_DIR` said the run "never finished an epoch"."""
    runs, _ = wf
    line = one_error(cli("train", "--resume", runs / "walkforward-a"), 2, "walk-forward", "cryptotrain walkforward")
    assert "never finished" not in line


def test_18_compare_of_a_walkforward_and_a_sweep_is_refused_in_one_line(tmp_path):
    """Case 18: `runs compare WF_DIR SWEEP_DIR` exited 0 with "Config keys that differ (0)" and dashes."""
    (tmp_path / "wf" / "folds").mkdir(parents=True)
    (tmp_path / "wf" / "plan.json").write_text("{}")
    (tmp_path / "sw" / "trials").mkdir(parents=True)
    one_error(cli("runs", "compare", tmp_path / "wf", tmp_path / "sw"), 2, "walk-forward", "sweep")


def _runs_dir(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    (runs / "good").mkdir(parents=True)
    shutil.copyfile(TINY, runs / "good" / "config.yaml")
    return runs


def test_7_an_unreadable_run_is_a_row_and_nothing_is_written(tmp_path, monkeypatch):
    """Case 7: one unreadable run directory failed the whole listing with "cannot write ... plan.json"."""
    runs = _runs_dir(tmp_path)
    bad = runs / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text("x: 1\n")
    before = tree_hashes(runs)
    # what chmod 000 does for a user who is not root (the tests may run as root, who reads anything)
    real_stat, real_listdir = os.stat, os.listdir

    def denied(path):
        p = os.fspath(path)
        return p.startswith(str(bad) + os.sep)

    def stat(path, *a, **k):
        if denied(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_stat(path, *a, **k)

    def listdir(path="."):
        if os.fspath(path) == str(bad):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "listdir", listdir)
    res = cli("runs", "list", "--runs-dir", runs, "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)["runs"]}
    assert set(rows) == {"good", "bad"} and rows["bad"]["state"] == "unreadable"
    assert any("Permission denied" in p for p in rows["bad"]["problems"])
    res = cli("runs", "list", "--runs-dir", runs)
    assert res.exit_code == 0 and "cannot write" not in res.output and "unreadable" in res.output, res.output
    res = cli("runs", "show", "bad", "--runs-dir", runs)
    assert res.exit_code == 0 and "unreadable" in res.output, res.output
    monkeypatch.undo()
    assert tree_hashes(runs) == before


def test_8_a_config_that_is_not_utf8_is_a_problem_of_its_run_only(tmp_path):
    """Case 8: non-UTF-8 bytes in one run's config.yaml crashed `runs list` and `runs show` (UnicodeDecodeError)."""
    runs = _runs_dir(tmp_path)
    (runs / "latin").mkdir()
    (runs / "latin" / "config.yaml").write_bytes(b"model:\n  type: gr\xfc_attention\n")
    (runs / "latin" / "checkpoints").mkdir()
    res = cli("runs", "list", "--runs-dir", runs, "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)["runs"]}
    assert set(rows) == {"good", "latin"}
    assert any("config.yaml" in p and "UTF-8" in p for p in rows["latin"]["problems"]), rows["latin"]
    for args in (("runs", "list"), ("runs", "show", "latin"), ("runs", "show", "latin", "--json")):
        res = cli(*args, "--runs-dir", runs)
        assert res.exit_code == 0 and "UTF-8" in res.output, res.output


@pytest.fixture
def run(tiny_trained) -> Path:
    """The session's tiny run (conftest.py): both tests below are refused before anything is written."""
    return tiny_trained


def test_17_predict_at_the_files_first_candle_says_too_little_history(run, tmp_path):
    """Case 17: `predict --at` the file's first candle said "spans a gap (... -1 missing candles)"."""
    df, _ = load_ohlcv(SAMPLE, "1h")
    path = tmp_path / "BTC_USDT-1h.csv"
    df.iloc[-400:][["timestamp", "open", "high", "low", "close", "volume"]].to_csv(path, index=False)
    first = format_utc(int(df["timestamp"].iloc[-400]))
    line = one_error(cli("predict", "--run", run, "--data", path, "--at", first), 2, "too little history")
    assert "gap" not in line and "missing candles" not in line


def test_importance_repeats_has_an_upper_bound(run):
    """Seen beside: `--importance-repeats 100000000` was accepted (hours of permutations, no bound)."""
    one_error(cli("evaluate", "--run", run, "--importance", "features", "--importance-repeats", "100000000"),
              2, "--importance-repeats 100000000", "at most")
