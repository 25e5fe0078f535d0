"""`cryptotrain runs list/show/compare` on real tiny runs: a complete, an interrupted, an evaluated
and a backtested run trained through the CLI, plus damaged copies; output checked against the files."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import Config, config_to_dict
from cryptotrain.runs.index import flatten
from cryptotrain.runs.reader import run_state
from cryptotrain.train.rundir import set_latest

REPO = Path(__file__).resolve().parents[1]
TINY = str(REPO / "configs" / "tiny.yaml")
# newest first; the stamps are set by renaming, since runs trained in one second share a stamp
NAMES = {"backtested": "20240104T000000Z-gru_attention-BTC_USDT-1h-backtested",
         "evaluated": "20240103T000000Z-lstm_attention-BTC_USDT-1h-evaluated",
         "interrupted": "20240102T000000Z-gru_attention-BTC_USDT-1h-interrupted",
         "complete": "20240101T000000Z-gru_attention-BTC_USDT-1h-complete"}


def cli(*args, env=None):
    res = CliRunner().invoke(app, [str(a) for a in args], env=env)
    return res


def ok(*args, env=None):
    res = cli(*args, env=env)
    assert res.exit_code == 0, res.output
    return res


def train(runs: Path, name: str, *sets: str) -> Path:
    ok("train", "-c", TINY, "--set", f"train.runs_dir={runs}", "--set", f"data.path={REPO}/data/sample/BTC_USDT-1h.csv.gz",
       "--run-name", name, *(x for s in sets for x in ("--set", s)))
    made = next(p for p in runs.iterdir() if p.is_dir() and p.name.endswith(f"-{name}"))
    return made.rename(runs / NAMES[name])


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("runs") / "runs"
    train(runs, "complete")
    inter = train(runs, "interrupted", "train.epochs=1")
    # What a kill during epoch 2 of 3 leaves: the config plans 3 epochs, the checkpoint holds 1,
    # and metrics.jsonl ends in a half-written line.
    cfg = yaml.safe_load((inter / "config.yaml").read_text())
    cfg["train"]["epochs"] = 3
    (inter / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    line = (inter / "metrics.jsonl").read_text().splitlines()[0].replace('"epoch": 1', '"epoch": 2')
    with open(inter / "metrics.jsonl", "a") as fh:
        fh.write(line[: len(line) // 2])
    ev = train(runs, "evaluated", "model.type=lstm_attention", "train.epochs=3")
    ok("evaluate", "--run", ev)
    bt = train(runs, "backtested", "model.hidden_size=6")
    ok("backtest", "--run", bt)   # evaluates the test split first
    set_latest(ev)
    return runs


def listing(runs: Path) -> dict:
    return json.loads(ok("runs", "list", "--runs-dir", runs, "--json").output)


def metrics_rows(run: Path) -> list[dict]:
    rows = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def test_list_json_matches_the_files(runs):
    doc = listing(runs)
    assert [r["name"] for r in doc["runs"]] == list(NAMES.values())      # newest first
    assert doc["latest"] == NAMES["evaluated"]
    by = {r["name"]: r for r in doc["runs"]}
    assert [r["latest"] for r in doc["runs"]] == [False, True, False, False]
    for key, name in NAMES.items():
        rec, run = by[name], runs / name
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        with np.load(run / "checkpoints" / "last.npz", allow_pickle=False) as z:
            params = sum(z[k].size for k in z.files if k.startswith("param/"))
            meta = json.loads(str(z["meta"]))
        assert rec["model"] == {"type": cfg["model"]["type"], "params": params}
        assert (rec["symbol"], rec["timeframe"]) == ("BTC/USDT", "1h")
        assert rec["epochs"]["done"] == meta["epoch"] and rec["epochs"]["planned"] == cfg["train"]["epochs"]
        vals = [r["val_loss"] for r in metrics_rows(run)]
        assert rec["best_val_loss"] == min(vals) == meta["train_state"]["best_val_loss"]
    assert by[NAMES["complete"]]["state"] == "complete" and by[NAMES["complete"]]["problems"] == []
    inter = by[NAMES["interrupted"]]
    assert inter["state"] == "interrupted" and inter["epochs"] == {"done": 1, "planned": 3, "best": 1}
    assert any("line 2 is not valid JSON" in p for p in inter["problems"])
    assert inter["evaluation"] is None and inter["backtest"] is None
    for name in (NAMES["evaluated"], NAMES["backtested"]):
        m = json.loads((runs / name / "eval" / "test" / "metrics.json").read_text())
        ev = by[name]["evaluation"]
        assert ev["accuracy"] == m["model"]["classification"]["accuracy"]
        assert ev["balanced_accuracy"] == m["model"]["classification"]["balanced_accuracy"]
        for b, sentence in m["verdicts"].items():   # beaten exactly where evaluate's verdict says so
            assert (b in ev["beats"]) == ("beats it beyond" in sentence)
        assert (ev["edge"], ev["edge_sentence"]) == (m["edge"]["kind"], m["edge"]["sentence"])
    assert by[NAMES["evaluated"]]["backtest"] is None
    stats = json.loads((runs / NAMES["backtested"] / "backtest" / "test" / "stats.json").read_text())
    bt = by[NAMES["backtested"]]["backtest"]
    assert bt["model"]["return_pct"] == stats["model"]["Return [%]"]
    assert bt["model"]["sharpe"] == stats["model"]["Sharpe Ratio"]
    assert bt["buy_and_hold"]["return_pct"] == stats["buy_and_hold"]["Return [%]"]
    assert bt["buy_and_hold"]["sharpe"] == stats["buy_and_hold"]["Sharpe Ratio"]


def test_list_is_the_default_and_keeps_labels_whole_at_80_columns(runs):
    res = ok("runs", "--runs-dir", runs, env={"COLUMNS": "80"})
    lines = res.output.splitlines()
    assert ok("runs", "list", "--runs-dir", runs, env={"COLUMNS": "80"}).output == res.output
    table = [ln for ln in lines if not ln.startswith(("4 run(s)", NAMES["interrupted"] + ":"))]
    assert all(len(ln) <= 80 for ln in table), max(table, key=len)
    assert "…" not in res.output
    for name in NAMES.values():
        assert any(ln.strip() in (name, "* " + name) for ln in lines), name
    assert f"* {NAMES['evaluated']}" in lines
    for word in ("model", "params", "market", "epochs", "state", "best val", "loss", "test acc", "edge",
                 "return [%]", "B&H [%]", "Sharpe", "B&H"):
        assert word in res.output
    stats = json.loads((runs / NAMES["backtested"] / "backtest" / "test" / "stats.json").read_text())
    assert f"{stats['model']['Return [%]']:+.2f}" in res.output
    # the cell under the test accuracy is evaluate's corrected edge claim, not a count of baselines beaten
    # on any metric at an uncorrected 95% (which read 1/3 here and 2/6 on the demo: a claim on noise)
    kind = json.loads((runs / NAMES["evaluated"] / "eval" / "test" / "metrics.json").read_text())["edge"]["kind"]
    row = lines[next(i for i, ln in enumerate(lines) if ln.startswith("lstm_attention")) + 1].split()
    assert row[2:4] == ["complete", kind], res.output        # params, timeframe, state, edge, return, Sharpe
    assert "interrupted" in res.output
    assert NAMES["interrupted"] + ": metrics.jsonl line 2 is not valid JSON" in res.output


def test_list_one_line_per_run_on_a_wide_terminal(runs):
    lines = ok("runs", "--runs-dir", runs, env={"COLUMNS": "200"}).output.splitlines()
    rows = {name: next(ln for ln in lines if name in ln) for name in NAMES.values()}
    assert rows[NAMES["evaluated"]].lstrip().startswith("*")
    assert "lstm_attention" in rows[NAMES["evaluated"]] and "BTC/USDT" in rows[NAMES["evaluated"]]
    acc = json.loads((runs / NAMES["evaluated"] / "eval" / "test" / "metrics.json").read_text())
    assert f"{acc['model']['classification']['accuracy']:.3f}" in rows[NAMES["evaluated"]]


def test_show_config_differences_training_evaluation_backtest_figures(runs):
    run = runs / NAMES["backtested"]
    doc = json.loads(ok("runs", "show", NAMES["backtested"], "--runs-dir", runs, "--json").output)
    own = flatten(yaml.safe_load((run / "config.yaml").read_text()))
    defaults = flatten(config_to_dict(Config()))
    expected = {k: {"value": v, "default": defaults[k]} for k, v in own.items() if v != defaults[k]}
    assert doc["config_vs_defaults"] == expected and doc["config_vs_defaults"]["model.hidden_size"]["value"] == 6
    assert doc["training"]["epochs_logged"] == len(metrics_rows(run)) == 2
    assert doc["training"]["last_train_loss"] == metrics_rows(run)[-1]["train_loss"]
    assert set(doc["evaluations"]) == {"test"} and set(doc["backtests"]) == {"test"}
    assert "eval/test/plots/confusion_matrix.png" in doc["figures"]
    assert "backtest/test/plots/equity.png" in doc["figures"] and "plots/training.png" in doc["figures"]
    assert all((run / f).is_file() for f in doc["figures"])
    text = ok("runs", "show", run, env={"COLUMNS": "100"}).output    # a path works as well as a name
    assert "model.hidden_size" in text and "Return [%]" in text and "equity.png" in text
    verdict = json.loads((run / "eval" / "test" / "metrics.json").read_text())["verdicts"]["persistence"]
    assert verdict.split(":")[0] in text
    latest = ok("runs", "show", "latest", "--runs-dir", runs).output
    assert latest.startswith(NAMES["evaluated"]) and "(runs/latest)" in latest.splitlines()[0]


def test_compare_differing_keys_and_better_values(runs):
    names = [NAMES["complete"], NAMES["evaluated"], NAMES["backtested"]]
    doc = json.loads(ok("runs", "compare", *names, "--runs-dir", runs, "--json").output)
    flats = [flatten(yaml.safe_load((runs / n / "config.yaml").read_text())) for n in names]
    differing = {k for k in flats[0] if len({json.dumps(f[k]) for f in flats}) > 1}
    assert set(doc["config_diff"]) == differing == {"model.type", "train.epochs", "model.hidden_size"}
    assert doc["config_diff"]["model.hidden_size"] == [8, 8, 6]
    vals = doc["metrics"]["best_val_loss"]["values"]
    assert vals == [min(r["val_loss"] for r in metrics_rows(runs / n)) for n in names]
    assert doc["metrics"]["best_val_loss"]["best"] == [names[int(np.argmin(vals))]]
    acc = doc["metrics"]["test_accuracy"]["values"]
    assert acc[0] is None and doc["metrics"]["test_accuracy"]["best"] == (
        [] if acc[1] == acc[2] else [names[1 + int(np.argmax(acc[1:]))]])
    assert doc["metrics"]["return_pct"]["best"] == []     # only one run was backtested
    text = ok("runs", "compare", *names, "--runs-dir", runs, env={"COLUMNS": "80"}).output
    assert f"A = {names[0]} (complete)" in text
    row = next(ln for ln in text.splitlines() if ln.startswith("best val loss"))
    cells = row.split()[3:]
    assert [c for c in cells if c != "*"][int(np.argmin(vals))] == f"{min(vals):.4f}"
    assert row.count("*") == 1 and f"{min(vals):.4f} *" in row
    assert all(len(ln) <= 80 for ln in text.splitlines() if not ln.startswith(("A =", "B =", "C =")))


def tree_hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def damaged_copy(runs: Path, tmp_path: Path) -> Path:
    """Copies of the complete run, each broken in one way a kill, a crash or a hand edit leaves."""
    out = tmp_path / "damaged"
    src = runs / NAMES["complete"]
    for name in ("no-checkpoint", "cut-metrics", "bad-line", "not-object", "no-config", "bad-npz", "bad-eval"):
        shutil.copytree(src, out / name)
    for p in (out / "no-checkpoint" / "checkpoints").iterdir():
        p.unlink()
    log = (out / "cut-metrics" / "metrics.jsonl").read_text()
    (out / "cut-metrics" / "metrics.jsonl").write_text(log[: len(log) - 20])
    (out / "bad-line" / "metrics.jsonl").write_text("{not json\n" + log)
    (out / "not-object" / "metrics.jsonl").write_text("[1, 2]\n42\n" + log)
    (out / "no-config" / "config.yaml").unlink()
    (out / "bad-npz" / "checkpoints" / "last.npz").write_bytes(b"PK\x03\x04 cut")
    (out / "bad-eval" / "eval" / "test").mkdir(parents=True)
    (out / "bad-eval" / "eval" / "test" / "metrics.json").write_text('{"model": ')
    (out / "latest").write_text("cut-metrics\n")
    return out


def test_damaged_runs_are_listed_with_their_state(runs, tmp_path):
    out = damaged_copy(runs, tmp_path)
    res = cli("runs", "--runs-dir", out, "--json")
    assert res.exit_code == 0 and res.exception is None, res.output
    by = {r["name"]: r for r in json.loads(res.output)["runs"]}
    assert by["no-checkpoint"]["state"] == "no checkpoint" and by["no-checkpoint"]["model"]["params"] is None
    assert by["cut-metrics"]["state"] == "complete" and by["cut-metrics"]["latest"]
    assert any("line 2 is not valid JSON" in p for p in by["cut-metrics"]["problems"])
    assert any("line 1 is not valid JSON" in p for p in by["bad-line"]["problems"])
    assert sum("not an epoch record" in p for p in by["not-object"]["problems"]) == 2
    assert by["not-object"]["best_val_loss"] == by["bad-line"]["best_val_loss"] is not None
    assert "config.yaml missing" in by["no-config"]["problems"]
    assert by["no-config"]["epochs"]["planned"] == 2      # read from the checkpoint's stored config
    assert by["bad-npz"]["state"] == "damaged" and any("last.npz cannot be read" in p for p in by["bad-npz"]["problems"])
    assert by["bad-eval"]["evaluation"] is None and any("metrics.json is not valid JSON" in p
                                                         for p in by["bad-eval"]["problems"])
    for name in by:
        for cmd in (["runs", "show", name, "--runs-dir", out], ["runs", "show", name, "--runs-dir", out, "--json"]):
            r = cli(*cmd)
            assert r.exit_code == 0 and r.exception is None, (name, r.output)
    text = ok("runs", "--runs-dir", out, env={"COLUMNS": "80"}).output
    assert "no checkpoint" in text and "damaged" in text and "Traceback" not in text
    r = cli("runs", "compare", *by, "--runs-dir", out)
    assert r.exit_code == 0 and r.exception is None, r.output


def test_reading_never_changes_a_run(runs, tmp_path):
    out = damaged_copy(runs, tmp_path)
    before = tree_hashes(runs), tree_hashes(out)
    for root in (runs, out):
        names = [p.name for p in root.iterdir() if p.is_dir()]
        for json_flag in ([], ["--json"]):
            cli("runs", "--runs-dir", root, *json_flag)
            for n in names:
                cli("runs", "show", n, "--runs-dir", root, *json_flag)
            cli("runs", "compare", *names, "--runs-dir", root, *json_flag)
    assert (tree_hashes(runs), tree_hashes(out)) == before


def test_walkforward_and_sweep_directories_are_one_row_each(runs, tmp_path):
    root = tmp_path / "mixed"
    shutil.copytree(runs / NAMES["complete"], root / NAMES["complete"])
    for k in range(3):   # each fold is a run directory of its own
        shutil.copytree(runs / NAMES["complete"], root / "20240201T000000Z-wf" / "folds" / str(k))
    (root / "20240201T000000Z-wf" / "plan.json").write_text('{"folds": 3}')
    (root / "20240301T000000Z-sweep" / "trials" / "0").mkdir(parents=True)
    (root / "20240301T000000Z-sweep" / "sweep.json").write_text("{")
    rows = json.loads(ok("runs", "--runs-dir", root, "--json").output)["runs"]
    assert [(r["name"], r["kind"]) for r in rows] == [("20240301T000000Z-sweep", "sweep"),
                                                      ("20240201T000000Z-wf", "walkforward"),
                                                      (NAMES["complete"], "run")]
    assert rows[1]["members"] == 3 and rows[0]["members"] == 1
    assert any("sweep.json is not valid JSON" in p for p in rows[0]["problems"])
    text = ok("runs", "--runs-dir", root, env={"COLUMNS": "80"}).output
    assert "walkforward" in text and "folds: 3" in text and "sweep" in text


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_runs_dir_is_one_line_exit_2(tmp_path, kind):
    path = tmp_path / "nowhere"
    if kind == "file":
        path.write_text("x")
    for cmd in (["runs"], ["runs", "list"], ["runs", "list", "--json"]):
        res = cli(*cmd, "--runs-dir", path)
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
        assert str(path) in res.output and ("does not exist" if kind == "missing" else "is a file") in res.output


def test_unknown_run_and_single_compare_exit_2(runs):
    res = cli("runs", "show", NAMES["complete"][:-1], "--runs-dir", runs)
    assert res.exit_code == 2 and f"did you mean {NAMES['complete']}" in res.output
    res = cli("runs", "compare", NAMES["complete"], "--runs-dir", runs)
    assert res.exit_code == 2 and "at least two runs" in res.output


def test_run_state():
    ck = {"epoch": 3, "train_state": {"bad_epochs": 2}}
    assert run_state(ck, planned=10, patience=2, damaged=False) == "stopped early"
    assert run_state(ck, planned=10, patience=5, damaged=False) == "interrupted"
    assert run_state(ck, planned=3, patience=2, damaged=False) == "complete"
    assert run_state(None, planned=3, patience=2, damaged=True) == "damaged"
    assert run_state(None, planned=3, patience=2, damaged=False) == "no checkpoint"


def test_options_before_the_subcommand_apply_to_it(runs):
    res = ok("runs", "--runs-dir", runs, "--json", "show", NAMES["complete"])
    assert json.loads(res.output)["name"] == NAMES["complete"]
    assert json.loads(ok("runs", "--runs-dir", runs, "list", "--json").output)["latest"] == NAMES["evaluated"]


def test_a_kill_between_best_and_last_is_read_from_best(runs, tmp_path):
    run = tmp_path / "r" / NAMES["complete"]
    shutil.copytree(runs / NAMES["complete"], run)
    (run / "checkpoints" / "last.npz").unlink()
    rec = json.loads(ok("runs", "show", run, "--json").output)
    with np.load(run / "checkpoints" / "best.npz", allow_pickle=False) as z:
        epoch = json.loads(str(z["meta"]))["epoch"]
    assert rec["epochs"]["done"] == epoch and rec["state"] != "no checkpoint"
    assert "checkpoints/last.npz missing; epochs read from best.npz" in rec["problems"]


def test_results_of_a_rewritten_checkpoint_are_marked_stale(runs, tmp_path):
    run = tmp_path / "r" / NAMES["backtested"]
    shutil.copytree(runs / NAMES["backtested"], run)
    assert json.loads(ok("runs", "show", run, "--json").output)["evaluation"]["stale"] is None
    # what a resumed or retrained run leaves: best.npz is another file than the one evaluated
    shutil.copy(run / "checkpoints" / "last.npz", run / "checkpoints" / "best.npz")
    (run / "checkpoints" / "best.npz").write_bytes((run / "checkpoints" / "best.npz").read_bytes() + b"\0")
    rec = json.loads(ok("runs", "show", run, "--json").output)
    assert "was rewritten" in rec["evaluation"]["stale"] and "was rewritten" in rec["backtest"]["stale"]
    assert any(p.startswith("eval/test is stale") for p in rec["problems"])
    assert any(p.startswith("backtest/test is stale") for p in rec["problems"])


def test_an_empty_runs_dir(tmp_path):
    assert "no runs in" in ok("runs", "--runs-dir", tmp_path).output
    assert json.loads(ok("runs", "--runs-dir", tmp_path, "--json").output) == {
        "runs_dir": str(tmp_path), "latest": None, "runs": []}
