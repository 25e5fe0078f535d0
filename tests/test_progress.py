"""Long steps say what they are doing: evaluate reports its steps through a callback and the
command shows them (a bar with ETA on a terminal, plain lines in a log); train forecasts the
epoch time after its first batches."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cryptotrain.evaluate.scorer import score
from cryptotrain.report.progress import EpochEstimate, StepProgress
from test_evaluate_runner import make_run, tiny_config


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _plain() -> Console:
    return Console(file=io.StringIO(), width=200)   # not a terminal: plain lines


def test_every_evaluate_step_reports_its_progress_to_the_end(tmp_path):
    """Catches `evaluate --importance groups` running for minutes without a word: the scorer must
    report importance, baseline fitting and the bootstrap through on_progress, each up to its total."""
    run = make_run(tmp_path, tiny_config(tmp_path))
    events = []
    score(run, importance="groups", importance_repeats=2, on_progress=lambda *e: events.append(e))
    last = {step: (done, total) for step, done, total in events}
    assert set(last) == {"scoring the test split", "fitting baselines", "bootstrap intervals",
                         "permutation importance"}
    assert all(done == total for done, total in last.values()), last
    n_groups = len(score(run, importance="groups", importance_repeats=2).report["importance"]["rows"])
    assert last["permutation importance"][1] == 1 + 2 * n_groups     # one forward pass per group and repeat
    steps = [d for s, d, _ in events if s == "permutation importance"]
    assert steps == list(range(len(steps)))                          # every pass, in order, from 0


def test_plain_progress_speaks_only_for_steps_over_two_seconds_with_an_eta():
    """Catches a log that stays silent for the minutes a long step takes (or one flooded with
    lines for steps that take no time)."""
    clock, console = Clock(), _plain()
    with StepProgress(console, clock=clock) as on_progress:
        on_progress("fitting baselines", 0, 2)
        clock.t = 1.0
        on_progress("fitting baselines", 2, 2)                       # 1 s: nothing to say
        for k in range(0, 11):
            clock.t = 1.0 + 3.0 * k
            on_progress("permutation importance", k, 10)
    lines = console.file.getvalue().splitlines()
    assert lines[0] == "permutation importance: 1/10 after 3 s, about 27 s left"
    assert lines[-1] == "permutation importance: done in 30.0 s"
    assert not any("baselines" in line for line in lines)
    assert lines[1:3] == ["permutation importance: 5/10 after 15 s, about 15 s left",   # every 10 s at most
                          "permutation importance: 9/10 after 27 s, about 3 s left"] and len(lines) == 4


def test_train_forecasts_the_epoch_time_after_its_first_batches():
    """Catches a train that says how many batches an epoch has but not how long it will take."""
    clock, console = Clock(), _plain()
    est = EpochEstimate(console, after=5, clock=clock)
    for seen in range(1, 9):
        clock.t = 2.0 + 0.1 * seen   # the first batch (ending at 2.1 s) pays a 2 s warm-up, not counted
        est.batch(seen, n_batches=100, epochs_left=3)
    text = console.file.getvalue()
    assert text.count("about") == 2 and text.startswith("about 10 s per epoch (100 batches at 100 ms, timed on "
                                                        "batches 2 to 6;")
    assert "about 0.5 min for the 3 epoch(s) left" in text
    quick = EpochEstimate(_plain(), after=5, clock=Clock())   # an epoch under 2 s: no forecast
    for seen in range(1, 7):
        quick.batch(seen, n_batches=100, epochs_left=3)
    assert quick.console.file.getvalue() == ""


@pytest.mark.parametrize("as_json", [True, False])
def test_evaluate_json_stays_pure_json_with_progress(tmp_path, as_json):
    """--json output is data: the progress display must not print into it."""
    import json

    from typer.testing import CliRunner

    from cryptotrain.cli import app

    run = make_run(tmp_path, tiny_config(tmp_path))
    res = CliRunner().invoke(app, ["evaluate", "--run", str(run), *(["--json"] if as_json else [])])
    assert res.exit_code == 0, res.output
    if as_json:
        assert json.loads(res.output)["split"] == "test"
