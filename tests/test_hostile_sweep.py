"""The sweep under concurrent use, a damaged journal and bad specifications (issue 26): each case
through the command line with --debug off (one `error:` line, exit 2, no traceback, nothing left
behind or changed by hash), or through `run_sweep` where the case is what a rerun does."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from cryptotrain.config import load_config
from cryptotrain.errors import UserError
from cryptotrain.orchestration.sweep.search import SweepSettings, run_sweep
from cryptotrain.orchestration.sweep.space import load_space
from tests.hostile_cli import cli, held_lock, one_error, tree_hashes

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
SPACE = "train.lr: {float: [1.0e-4, 1.0e-2], log: true}\n"


def _sets(tmp_path: Path) -> list[str]:
    return [f"train.runs_dir={tmp_path / 'runs'}", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}",
            "train.epochs=1", "train.max_batches_per_epoch=3"]


def _space(tmp_path: Path, text: str = SPACE) -> Path:
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return p


def _sweep(tmp_path: Path, *more, space: str = SPACE):
    sets = [x for s in _sets(tmp_path) for x in ("--set", s)]
    return cli("sweep", "-c", TINY, "--space", _space(tmp_path, space), *sets, "--run-name", "s", *more)


def _library_sweep(tmp_path: Path, trials: int, **settings):
    cfg = load_config(TINY, _sets(tmp_path))
    return run_sweep(cfg, load_space(_space(tmp_path)), tmp_path / "runs" / "s",
                     SweepSettings(trials=trials, **settings))


def _refused_before_anything(res, *words: str) -> None:
    one_error(res, 2, *words)
    assert len(res.output.strip().splitlines()) == 1, res.output


def test_2_a_second_sweep_on_the_same_directory_is_refused_and_changes_nothing(tmp_path):
    """Case 2: two sweeps on one directory: Optuna's UpdateFinishedTrialError in the first, a trained
    trial recorded as failed by the second (and so the wrong trials counted by the DSR)."""
    d = tmp_path / "runs" / "s"
    with held_lock(d, pid=4243, command="sweep"):
        before = tree_hashes(d)
        one_error(_sweep(tmp_path, "--trials", "1"), 2, f"{d} is in use by process 4243", "sweep")
        assert tree_hashes(d) == before and not (d / "trials").exists()


def test_3_a_cut_last_journal_line_is_dropped_with_a_warning_and_the_sweep_goes_on(tmp_path):
    """Case 3: a journal whose last line a kill cut: the rerun appended after the partial line and
    failed with JSONDecodeError, leaving the journal corrupt in its middle for every later run."""
    _library_sweep(tmp_path, 1)
    journal = tmp_path / "runs" / "s" / "study.journal"
    data = journal.read_bytes()
    last = data[:-1].rfind(b"\n") + 1
    journal.write_bytes(data[: last + (len(data) - last) // 2])   # half of the last record, no newline
    with pytest.warns(UserWarning, match=r"study\.journal.*cut off.*trial 0"):
        _, rows = _library_sweep(tmp_path, 2)
    assert [r.state for r in rows] == ["complete", "complete"]
    assert all(json.loads(line) for line in journal.read_bytes().splitlines())
    _, again = _library_sweep(tmp_path, 2)   # and the journal stays usable
    assert [r.state for r in again] == ["complete", "complete"]


def test_5_a_bound_that_is_not_finite_is_refused_before_anything_is_made(tmp_path):
    """Case 5: `{float: [1.0e-3, .inf]}` raised OverflowError after the sweep directory was made, and
    the study it left turned a corrected rerun's first trial into the undrawn base config."""
    _refused_before_anything(_sweep(tmp_path, space="train.lr: {float: [1.0e-3, .inf]}\n"), "finite")
    assert not (tmp_path / "runs").exists()


def test_5_a_running_trial_without_drawn_values_is_failed_not_trained_as_the_base_config(tmp_path):
    """Case 5: a trial left running before its values were drawn was resumed as the base config and
    counted as a search trial."""
    d = tmp_path / "runs" / "s"
    d.mkdir(parents=True)
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(d / "study.journal"))),
                                study_name="sweep")
    study.ask()   # killed here, before `draw`
    _, rows = _library_sweep(tmp_path, 2)
    assert [r.state for r in rows] == ["failed", "complete"] and "drawn" in rows[0].error
    assert not (d / "trials" / "0").exists()


@pytest.mark.parametrize("more, words", [
    (("--storage", "notaurl"), ("--storage notaurl",)),
    (("--workers", "0"), ("--workers",)),
    (("--storage", "sqlite:///no/such/dir/study.db"), ("/no/such/dir", "does not exist")),   # case 16
    (("--storage", "sqlite:///"), ("sqlite:///", "memory")),                                # seen beside
])
def test_9_16_a_refused_storage_or_worker_count_leaves_nothing_behind(tmp_path, more, words):
    """Case 9 (a refused --storage / --workers 0 left the sweep directory and base.yaml behind, pinning
    the config), case 16 (a sqlite path in a missing directory: two lines, one a web link) and
    `sqlite:///` (silently a study in memory, never saved)."""
    _refused_before_anything(_sweep(tmp_path, "--trials", "1", *more), *words)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("damage, words", [
    (lambda lines: [b"this is no journal \xff\x00"], ("study.journal", "line 1")),            # case 10
    (lambda lines: lines[:1] + [b"garbage"] + lines[1:], ("study.journal", "line 2")),       # case 11
])
def test_10_11_a_damaged_journal_is_one_line_naming_it_and_never_written(tmp_path, damage, words):
    """Cases 10 and 11: a journal replaced by junk was refused as "--storage None: Expecting value" and
    a new study record was appended to it; a garbage line in its middle was a JSONDecodeError traceback."""
    _library_sweep(tmp_path, 1)
    journal = tmp_path / "runs" / "s" / "study.journal"
    journal.write_bytes(b"\n".join(damage(journal.read_bytes().splitlines())) + b"\n")
    before = journal.read_bytes()
    line = one_error(_sweep(tmp_path, "--trials", "2"), 2, *words)
    assert "None" not in line
    assert journal.read_bytes() == before


def test_15_a_space_with_low_above_high_keeps_its_examples(tmp_path):
    """Case 15: `[low, high]` in the message was read as rich markup and vanished."""
    one_error(_sweep(tmp_path, space="train.lr: {float: [1.0e-2, 1.0e-4]}\n"), 2,
              "[low, high]", "{float: [1e-4, 1e-2], log: true}")


@pytest.mark.parametrize("spec", ["{int: [8, 16], step: 0}", "{int: [8, 16], step: -8}",
                                  "{float: [0.1, 0.2], step: 0}"])
def test_a_step_that_is_not_positive_is_refused(tmp_path, spec):
    """Seen beside: an int space with `step: 0` silently became step 1."""
    with pytest.raises(UserError, match="step"):
        load_space(_space(tmp_path, f"model.hidden_size: {spec}\n"))


def test_two_sweep_directories_on_one_storage_keep_separate_studies(tmp_path):
    """The rule: every study on a shared --storage was named `sweep`, so a second sweep directory
    continued the first one's study and trained nothing of its own."""
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    cfg = load_config(TINY, _sets(tmp_path))
    space = load_space(_space(tmp_path))
    for name in ("a", "b"):
        _, rows = run_sweep(cfg, space, tmp_path / "runs" / name, SweepSettings(trials=1, storage=url))
        assert [r.state for r in rows] == ["complete"]
        assert (tmp_path / "runs" / name / "trials" / "0" / "trial.json").is_file()
    summaries = optuna.get_all_study_summaries(url)
    assert len(summaries) == 2 and all(s.n_trials == 1 for s in summaries)
