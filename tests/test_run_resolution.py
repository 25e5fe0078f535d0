"""One rule for naming a run (train/rundir.find_run), used by evaluate, backtest, predict and `runs`.

Directories here are bare stand-ins (a config.yaml file, plan.json, trials/): the rule looks only
at what a directory holds, never inside the files.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.errors import UserError
from cryptotrain.runs.index import resolve
from cryptotrain.train.rundir import resolve_run

RUN = "20240101T000000Z-gru_attention-BTC_USDT-1h-demo"


@pytest.fixture
def runs(tmp_path):
    root = tmp_path / "runs"
    (root / RUN).mkdir(parents=True)
    (root / RUN / "config.yaml").write_text("{}\n")
    (root / "latest").write_text(RUN + "\n")
    wf = root / "walkforward-demo"
    (wf / "folds" / "0").mkdir(parents=True)
    (wf / "plan.json").write_text("{}")
    (root / "sweep-demo" / "trials" / "3").mkdir(parents=True)
    return root


def test_every_way_of_naming_a_run_gives_the_same_directory(runs):
    """Catches the two rule sets of before: evaluate/backtest/predict took only a path (a name
    that `runs show` accepts was "not a run directory" to them)."""
    want = runs / RUN
    for given in (None, "latest", runs / "latest", RUN, runs / RUN):
        assert resolve_run(given, runs) == want, given
        assert resolve(str(given) if given is not None else "latest", runs) == want, given


def test_a_near_miss_name_is_refused_with_the_closest_name(runs):
    with pytest.raises(UserError, match=f"not a run directory, nor a run name in {runs}; did you mean {RUN}"):
        resolve_run(RUN[:-1], runs)


@pytest.mark.parametrize("name, what, sub", [("walkforward-demo", "walk-forward", "folds"),
                                             ("sweep-demo", "sweep", "trials")])
def test_a_walkforward_or_sweep_dir_where_one_run_is_wanted_names_what_to_pass(runs, name, what, sub):
    """Catches "not a run directory (no config.yaml)" for a walk-forward or sweep directory, which
    did not say what the directory is nor that its folds / trials are runs."""
    with pytest.raises(UserError, match=f"is a {what} directory, not a single run; pass .*{sub}/N, e.g. "):
        resolve_run(runs / name, runs)
    assert resolve(name, runs) == runs / name   # `runs show` shows every kind


def test_predict_on_a_sweep_dir_is_one_line_exit_2(runs):
    res = CliRunner().invoke(app, ["predict", "--run", str(runs / "sweep-demo")])
    assert res.exit_code == 2 and "is a sweep directory, not a single run" in res.output
    assert "Traceback" not in res.output
