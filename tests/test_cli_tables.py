"""No table cell is cut with `…` when the output is piped or the terminal is narrow: every command
that prints a table is run at COLUMNS=60 and COLUMNS=80 (CliRunner's output is not a terminal)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE = f"data.path={REPO / 'data/sample/BTC_USDT-1h.csv.gz'}"
WF = ["walkforward.train_span=600", "walkforward.val_span=200", "walkforward.test_span=200",
      "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "data.last_rows=1300"]


def cli(*args, columns=200):
    res = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})
    assert res.exit_code == 0, res.output
    return res.output


def _sets(*sets):
    return [x for s in sets for x in ("--set", s)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two tiny runs (one evaluated and backtested), a two-fold walk-forward and a two-trial sweep."""
    runs = tmp_path_factory.mktemp("tables") / "runs"
    base = _sets(f"train.runs_dir={runs}", SAMPLE)
    for name in ("a", "b"):
        cli("train", "-c", REPO / "configs/tiny.yaml", "--run-name", name, *base)
    cli("evaluate", "--run", runs / "latest")
    cli("backtest", "--run", runs / "latest")
    cli("walkforward", "-c", REPO / "configs/tiny.yaml", "--run-name", "wf", *base, *_sets(*WF))
    cli("sweep", "-c", REPO / "configs/tiny.yaml", "--space", REPO / "configs/space_small.yaml", "--trials", "2",
        "--run-name", "sweep-s", *base, *_sets("train.epochs=1", "train.max_batches_per_epoch=3"))
    return runs


def _commands(runs: Path) -> dict[str, list]:
    a, b = (next(runs.glob(f"*-{n}")) for n in ("a", "b"))
    wf, base = runs / "walkforward-wf", _sets(f"train.runs_dir={runs}", SAMPLE)
    return {
        "evaluate": ["evaluate", "--run", b],
        "evaluate walk-forward": ["evaluate", "--run", wf],
        "backtest": ["backtest", "--run", b],
        "backtest walk-forward": ["backtest", "--run", wf],
        "walkforward (resumed)": ["walkforward", "-c", REPO / "configs/tiny.yaml", "--run-name", "wf", *base,
                                  *_sets(*WF)],
        "sweep (finished)": ["sweep", "-c", REPO / "configs/tiny.yaml", "--space", REPO / "configs/space_small.yaml",
                             "--trials", "2", "--run-name", "sweep-s", *base,
                             *_sets("train.epochs=1", "train.max_batches_per_epoch=3")],
        "runs list": ["runs", "--runs-dir", runs, "list"],
        "runs show": ["runs", "--runs-dir", runs, "show", b.name],
        "runs show walk-forward": ["runs", "--runs-dir", runs, "show", wf],
        "runs show sweep": ["runs", "--runs-dir", runs, "show", runs / "sweep-s"],
        "runs compare": ["runs", "--runs-dir", runs, "compare", a.name, b.name],
        "data inspect": ["data", "inspect", REPO / "data/sample/BTC_USDT-1h.csv.gz"],
        "gradcheck": ["gradcheck", "-c", REPO / "configs/tiny.yaml"],
        "predict": ["predict", "--run", b, "--allow-stale"],
    }


@pytest.mark.parametrize("columns", [60, 80])
def test_no_table_cell_is_cut_when_piped_or_narrow(runs, columns):
    """Catches `evaluate --run WF_DIR | cat` printing the walk-forward plan and per-fold tables with
    `2023-10-01T00:…` cells (they were plain rich tables, squeezed to the width instead of split)."""
    cut = {}
    for name, args in _commands(runs).items():
        out = cli(*args, columns=columns)
        lines = [line for line in out.splitlines() if "…" in line]
        if lines:
            cut[name] = lines[:3]
    assert cut == {}, f"cells cut with … at COLUMNS={columns}: {cut}"


def test_runs_show_of_a_walkforward_directory_shows_its_folds(runs):
    """Catches `runs show WF_DIR` printing only the directory's name and path."""
    out = " ".join(cli("runs", "--runs-dir", runs, "show", "walkforward-wf").split())
    plan = json.loads((runs / "walkforward-wf" / "plan.json").read_text())
    metrics = json.loads((runs / "walkforward-wf" / "metrics.json").read_text())
    assert "Folds: 2" in out and "stitched test parts: " in out and "stitched backtest: Return [%]" in out
    for fold, scores in zip(plan["folds"], metrics["folds"]):
        assert f"{fold['dates']['test'][0]} .. {fold['dates']['test'][1]}" in out
        assert f"{scores['accuracy']:.3f}" in out
    doc = json.loads(cli("runs", "--runs-dir", runs, "--json", "show", "walkforward-wf"))
    folds = doc["walkforward"]["folds"]
    assert [f["fold"] for f in folds] == [1, 2] and all(f["done"] for f in folds)


def test_runs_show_of_a_sweep_directory_shows_its_trials_and_best(runs):
    """Catches `runs show SWEEP_DIR` printing only the directory's name and path."""
    out = " ".join(cli("runs", "--runs-dir", runs, "show", "sweep-s").split())
    best = json.loads((runs / "sweep-s" / "sweep.json").read_text())["best"]
    assert "trials: 2 complete" in out and "Trials (trials.csv)" in out and "model.hidden_size" in out
    assert f"best: trial {best['number']} (val_loss {best['value']:.6g})" in out and "deflated Sharpe ratio" in out
    doc = json.loads(cli("runs", "--runs-dir", runs, "--json", "show", "sweep-s"))
    assert [t["number"] for t in doc["sweep"]["trials"]] == [0, 1]


def test_runs_compare_shows_different_numbers_differently():
    """Catches compare rounding two different validation losses to the same 1.1501 while marking
    one of them better."""
    import io

    from rich.console import Console

    from cryptotrain.report.runs_report import print_compare

    doc = {"runs": ["a", "b"], "states": ["complete", "complete"], "config_diff": {}, "problems": {},
           "metrics": {"best_val_loss": {"label": "best val loss", "values": [1.150123, 1.150148], "best_index": [0]},
                       "return_pct": {"label": "Return [%]", "values": [2.5, 2.5], "best_index": []}}}
    console = Console(file=io.StringIO(), width=120)
    print_compare(console, doc)
    text = console.file.getvalue()
    assert "1.15012 *" in text and "1.15015" in text   # one more decimal than .4f, just enough
    assert text.count("+2.50") == 2                    # equal values keep the base precision
