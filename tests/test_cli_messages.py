"""Messages printed through rich keep their square brackets: rich reads `[ray]` or `[alpha158,tme]`
as markup and drops it unless the text is escaped (or printed with markup off)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.evaluate import fitted_baselines
from test_evaluate_runner import make_run, tiny_config

REPO = Path(__file__).resolve().parents[1]


def _run(args):
    res = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    return res.exit_code, " ".join(res.output.split())


def test_a_set_override_with_a_list_is_quoted_whole(monkeypatch):
    """Catches the error line quoting `--set features.set=[alpha158,tme]` as `features.set=:`."""
    monkeypatch.chdir(REPO)
    code, out = _run(["train", "-c", "configs/tiny.yaml", "--set", "features.set=[alpha158,tme]"])
    assert code == 2 and "--set features.set=[alpha158,tme]: invalid features.set" in out, out


@pytest.mark.parametrize("command", [
    ["sweep", "-c", "configs/tiny.yaml", "--space", "configs/space_small.yaml", "--trials", "2"],
    ["walkforward", "-c", "configs/walkforward_1h.yaml"]], ids=["sweep", "walkforward"])
def test_the_missing_ray_hint_is_the_whole_install_command(command, monkeypatch, tmp_path):
    """Catches the hint printed as `pip install -e "."` (rich ate `[ray]`): the user got a command
    that installs the core again and still has no Ray."""
    monkeypatch.chdir(REPO)
    monkeypatch.setitem(sys.modules, "ray", None)   # an environment without Ray (as after `make demo`)
    monkeypatch.delitem(sys.modules, "cryptotrain.orchestration.executor.ray_backend", raising=False)
    code, out = _run([*command, "--workers", "2", "--set", f"train.runs_dir={tmp_path}"])
    assert code == 2, out
    assert 'error: --workers 2 needs Ray, which is not installed: ' in out
    assert out.endswith(' -m pip install -e ".[ray]"'), out


def test_the_missing_lightgbm_note_is_the_whole_install_command(monkeypatch, tmp_path):
    """Catches evaluate's note printed as `(pip install -e ".")`: rich ate `[lightgbm]`."""
    monkeypatch.chdir(REPO)
    run = make_run(tmp_path, tiny_config(tmp_path))
    monkeypatch.setattr(fitted_baselines, "lightgbm_available", lambda: False)
    code, out = _run(["evaluate", "--run", str(run)])
    assert code == 0, out
    assert 'note: LightGBM baseline skipped: lightgbm is not installed (' in out
    assert ' -m pip install -e ".[lightgbm]")' in out, out


def test_return_rmse_is_in_one_labeled_unit_everywhere(monkeypatch, tmp_path):
    """Catches evaluate printing the return RMSE in three units in one output: 0.00958 (r_t) in the
    summary table, an unlabeled +95.79 (bp; rich ate the `[bp]`) in the interval table and
    -1.02e-03 (r_t) in the verdict sentences."""
    import re

    run = make_run(tmp_path, tiny_config(tmp_path))   # w_return > 0: the return head is scored
    res = CliRunner().invoke(app, ["evaluate", "--run", str(run)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    # every return RMSE / MAE followed by a number (a verdict may also name the metric alone)
    mentions = re.findall(r"return (?:RMSE|MAE)\S*(?: \[\w+\])? +[-+]?\d[^\s;]*", res.output)
    assert len(mentions) >= 4, res.output          # summary rows, interval rows, verdicts
    assert all(re.match(r"return (RMSE|MAE) \[bp\] ", m) for m in mentions), mentions
    assert not re.search(r"RMSE \[bp\][^;\n]*e-0", res.output)   # no r_t units in scientific notation
    summary = float(re.search(r"^ *return RMSE \[bp\] +([\d.]+)", res.output, re.M).group(1))
    interval = float(re.search(r"model return RMSE \[bp\] +\+?([\d.]+)", res.output).group(1))
    assert 10 < summary < 10_000 and summary == pytest.approx(interval, abs=0.01)   # the same number, in bp


def test_the_quick_start_and_make_demo_name_the_extras_walkforward_and_sweep_need():
    """Catches a quick start whose `make demo` installs the core only and never says that parallel
    walk-forward and sweep need the ray extra (the walkforward config's own command uses --workers 2)."""
    readme = (REPO / "README.md").read_text()
    quick = readme[readme.index("## Quick start"):readme.index("\n## ", readme.index("## Quick start") + 1)]
    assert "`make demo` installs the core only" in quick
    assert "| `ray` | `walkforward` and `sweep` with `--workers N` > 1" in quick
    assert '.venv/bin/python -m pip install -e ".[ray,lightgbm]"' in quick
    demo = (REPO / "Makefile").read_text().split("\ndemo:")[1].split("\n\n")[0]
    assert "need the ray extra" in demo and '-m pip install -e \\".[ray,lightgbm]\\"' in demo
