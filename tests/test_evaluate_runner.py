"""`cryptotrain evaluate` end to end on a tiny run built directly from a fresh checkpoint."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import config_from_dict, config_to_yaml
from cryptotrain.data.changes import window_counts
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.timestamps import parse_utc
from cryptotrain.models.inference import EVAL_COLUMNS, predict_split, split_loss
from cryptotrain.commands.evaluate import evaluate_command
from cryptotrain.evaluate.scorer import PREDICTION_COLUMNS
from cryptotrain.models import init_params
from cryptotrain.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from cryptotrain.train.rundir import set_latest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_1H = str(REPO / "data/sample/BTC_USDT-1h.csv.gz")
SAMPLE_1M = str(REPO / "data/sample/BTC_USDT-1m.csv.gz")


def tiny_config(tmp_path, **model):
    return config_from_dict({
        "data": {"path": SAMPLE_1H, "last_rows": 700, "window": 6},
        "model": {"hidden_size": 4, "head_sizes": [4], "w_return": 0.1, "l2": 0.01, **model},
        "train": {"batch_size": 16, "runs_dir": str(tmp_path / "runs")}})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run directory with best/last checkpoints of an untrained tiny model and a training log line."""
    tmp = tmp_path_factory.mktemp("evalrun")
    return make_run(tmp, tiny_config(tmp))


def make_run(tmp, cfg, name="20240101T000000Z-tiny", train_state=None):
    ds = build_dataset(cfg)
    params = init_params(cfg.model, ds.n_features, cfg.data.window, np.random.default_rng(0))
    run = tmp / "runs" / name
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(config_to_yaml(cfg))
    ck = Checkpoint(params=params, opt_state={"step": 0, "m": params, "v": params}, config=cfg, normalizer=ds.normalizer,
                    thresholds=ds.thresholds,
                    feature_names=ds.feature_names, fingerprint=ds.fingerprint, data_range=ds.data_range,
                    windows=window_counts(ds), epoch=1,
                    train_state={"eval_columns": EVAL_COLUMNS} if train_state is None else train_state)
    for name in ("best", "last"):
        save_checkpoint(run / "checkpoints" / f"{name}.npz", ck)
    val_loss = split_loss(params, ds, "val", cfg.model, cfg.train.batch_size)[0]
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "val_loss": val_loss}) + "\n")
    set_latest(run)
    return run


def test_outputs_and_same_windows_for_model_and_baselines(run_dir):
    m = evaluate_command(run=run_dir, split="test", checkpoint="best", data=None, as_json=True, console=None)
    out = run_dir / "eval" / "test"
    pred = pd.read_csv(out / "predictions.csv")
    # lightgbm is installed in the test environment (the `lightgbm` extra): both fitted baselines' actions
    assert list(pred.columns) == PREDICTION_COLUMNS + ["linear_action", "lightgbm_action"]
    for b in ("linear", "lightgbm"):
        assert m["baselines"][b]["classification"]["confusion_matrix"] == np.bincount(
            (pred["true_action"] + 1) * 3 + pred[f"{b}_action"] + 1, minlength=9).reshape(3, 3).tolist()
    assert set(pred["pred_action"]) <= {-1, 0, 1} and set(pred["true_action"]) <= {-1, 0, 1}
    assert np.allclose(pred[["p_sell", "p_hold", "p_buy"]].sum(axis=1), 1.0)
    n = len(pred)
    assert m["n_windows"] == n and m["first_ts"] == pred["timestamp"].iloc[0] and m["last_ts"] == pred["timestamp"].iloc[-1]
    for b in m["baselines"].values():
        assert b["classification"]["n"] == n  # same windows as the model
    # persistence is a pure function of the same timestamps' closes: recompute it from the CSV
    cfg = tiny_config(run_dir.parents[1])
    ds = build_dataset(cfg)
    rows = np.searchsorted(ds.timestamps, pred["timestamp"].to_numpy())
    assert (ds.timestamps[rows] == pred["timestamp"].to_numpy()).all()
    last = ds.close[rows] / ds.close[rows - 1] - 1
    expect = np.sign(last) + 1
    assert m["baselines"]["persistence"]["classification"]["confusion_matrix"] == \
        np.bincount((pred["true_action"] + 1) * 3 + expect.astype(int), minlength=9).reshape(3, 3).tolist()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["split"] == "test" and saved["loss"]["l2_included"] is False
    assert {p.name for p in (out / "plots").iterdir()} == {"confusion_matrix.png", "reliability.png",
                                                           "attention_by_lag.png", "attention_heatmap.png"}


def test_val_loss_matches_the_logged_one(run_dir):
    m = evaluate_command(run=run_dir, split="val", checkpoint="last", data=None, as_json=True, console=None)
    assert m["loss"]["matches_training_log"] is True


def test_a_run_logged_before_the_time_columns_is_not_compared(tmp_path):
    """A checkpoint without eval_columns (trained before eval batches put windows in the column of
    their time) logged its val_loss from other batch columns: no bit-for-bit verdict, a note instead."""
    run = make_run(tmp_path, tiny_config(tmp_path), train_state={})
    m = evaluate_command(run=run, split="val", checkpoint="last", data=None, as_json=True, console=None)
    assert m["loss"]["matches_training_log"] is None and m["loss"]["training_log_val_loss"] is None
    assert any("not compared bit for bit" in n for n in m["notes"])


def test_predict_split_is_eval_mode_and_batch_independent(run_dir):
    cfg = tiny_config(run_dir.parents[1], dropout=0.5, head_dropout=0.5, num_layers=2)
    ds = build_dataset(cfg)
    params = init_params(cfg.model, ds.n_features, cfg.data.window, np.random.default_rng(1))
    a = predict_split(params, ds, "test", cfg.model, 7)
    b = predict_split(params, ds, "test", cfg.model, 1000)
    assert a["probs"].shape == (len(ds.splits["test"]), 3) and a["attention"].shape[1] == cfg.data.window
    assert np.allclose(a["probs"], b["probs"], atol=1e-6) and np.allclose(a["pred_return"], b["pred_return"], atol=1e-6)


def _cli(args):
    return CliRunner().invoke(app, ["evaluate", *args])


def test_data_with_other_timeframe_is_exit_2(run_dir):
    res = _cli(["--run", str(run_dir), "--data", SAMPLE_1M])
    assert res.exit_code == 2
    assert "1m candles but the run was trained on 1h" in " ".join(res.output.split())


def test_data_with_missing_column_is_exit_2(run_dir, tmp_path):
    df = pd.read_csv(SAMPLE_1H, nrows=300).drop(columns=["volume"])
    bad = tmp_path / "novol.csv"
    df.to_csv(bad, index=False)
    res = _cli(["--run", str(run_dir), "--data", str(bad)])
    assert res.exit_code == 2 and "missing column(s) volume" in " ".join(res.output.split())


def test_data_scores_another_file_without_overwriting(run_dir, tmp_path):
    other = tmp_path / "newer.csv"
    pd.read_csv(SAMPLE_1H).iloc[-900:-100].to_csv(other, index=False)
    res = _cli(["--run", str(run_dir), "--data", str(other), "--split", "all", "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads((run_dir / "eval" / "newer-all" / "metrics.json").read_text())
    assert m["split"] == "all" and m["data"]["path"] == str(other) and m["n_windows"] > 500
    res = _cli(["--run", str(run_dir), "--split", "all"])
    assert res.exit_code == 2 and "needs --data" in res.output


def test_evaluate_reproduces_the_training_val_loss_exactly(tmp_path):
    from rich.console import Console

    from cryptotrain.commands.train import train_command

    cfg = tiny_config(tmp_path, l2=0.05, dropout=0.2, num_layers=2)  # dropout and l2 must not leak into val
    cfg.train.epochs = 2
    run = train_command(cfg, console=Console(file=io.StringIO()))
    logged = {json.loads(line)["epoch"]: json.loads(line)["val_loss"]
              for line in (run / "metrics.jsonl").read_text().splitlines()}
    for name in ("best", "last"):
        m = evaluate_command(run=run, split="val", checkpoint=name, data=None, as_json=True,
                             console=Console(file=io.StringIO()))
        assert m["loss"]["total"] == logged[m["epoch"]]  # bit for bit
        assert m["loss"]["matches_training_log"] is True


def test_data_after_the_date_splits_scores_its_test_and_all_windows(tmp_path):
    """A run split by dates, then a newer file with no training or validation dates at all."""
    raw = tiny_config(tmp_path).model_dump()
    raw["data"].update(last_rows=None, start="2026-04-01", end="2026-05-10")
    raw["data"]["split"].update(val_start="2026-04-25", test_start="2026-05-02")
    cfg = config_from_dict(raw)
    run = make_run(tmp_path, cfg)
    newer = tmp_path / "newer.csv"
    full = pd.read_csv(SAMPLE_1H)
    full[full["timestamp"] >= parse_utc("2026-05-20")].iloc[:400].to_csv(newer, index=False)
    for split in ("test", "all"):
        res = _cli(["--run", str(run), "--data", str(newer), "--split", split, "--json"])
        assert res.exit_code == 0, res.output
        m = json.loads((run / "eval" / f"newer-{split}" / "metrics.json").read_text())
        assert m["first_ts"] >= parse_utc("2026-05-20") and m["n_windows"] > 300
    res = _cli(["--run", str(run), "--data", str(newer), "--split", "val"])
    assert res.exit_code == 2 and "0 val windows" in " ".join(res.output.split())


def test_prepended_candles_never_move_into_the_test_split(tmp_path):
    """Train on a file, prepend older history to it (fetch --since earlier), evaluate: same test windows."""
    from rich.console import Console

    from cryptotrain.commands.train import train_command

    full = pd.read_csv(SAMPLE_1H)
    path = tmp_path / "BTC_USDT-1h.csv"
    full.iloc[-800:].to_csv(path, index=False)
    cfg = tiny_config(tmp_path)
    cfg.data.path, cfg.data.last_rows, cfg.train.epochs = str(path), None, 1
    quiet = Console(file=io.StringIO())
    run = train_command(cfg, console=quiet)
    before = evaluate_command(run=run, split="test", checkpoint="best", data=None, as_json=True, console=quiet)
    trained = build_dataset(cfg)
    last_label_row = trained.splits["train"].max() + 1 + cfg.labels.horizon   # open[t+1+h] of the last training window

    full.iloc[-1600:].to_csv(path, index=False)   # 800 older candles in front
    after = evaluate_command(run=run, split="test", checkpoint="best", data=None, as_json=True, console=quiet)
    assert after["first_ts"] == before["first_ts"] > trained.timestamps[last_label_row]
    assert after["n_windows"] == before["n_windows"] and after["loss"]["total"] == before["loss"]["total"]
    assert after["data_changed_since_training"] and after["splits_pinned_to_training"]
    assert "pinned to the training dates" in after["warnings"][0]


def test_untrained_heads_get_no_metrics_intervals_or_verdicts(tmp_path, run_dir):
    trained = evaluate_command(run=run_dir, split="test", checkpoint="best", data=None, as_json=True, console=None)
    assert "ic_pearson" in trained["model"]["return"] and "ic_pearson" in trained["bootstrap"]["model"]
    assert "confidence" in trained["model"] and trained["notes"] == []

    run = make_run(tmp_path, tiny_config(tmp_path, w_return=0.0, w_confidence=0.0))
    res = _cli(["--run", str(run)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "return head not trained (model.w_return = 0)" in text and "confidence head not trained" in text
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert "return" not in m["model"] and "confidence" not in m["model"]
    assert set(m["bootstrap"]["model"]) == {"accuracy", "balanced_accuracy", "direction_accuracy", "log_loss"}
    assert set(m["bootstrap"]["baselines"]["persistence"]["diff"]) == {"accuracy", "balanced_accuracy", "direction_accuracy"}
    assert set(m["bootstrap"]["baselines"]["linear"]["diff"]) == {"accuracy", "balanced_accuracy", "direction_accuracy",
                                                                  "log_loss"}
    assert "IC" not in m["verdicts"]["persistence"] and "ic_pearson" in m["baselines"]["persistence"]["return"]
    assert len(m["notes"]) == 2
    pred = pd.read_csv(run / "eval" / "test" / "predictions.csv")
    assert pred["pred_return"].isna().all() and pred["confidence"].notna().all()


@pytest.mark.parametrize("scale,needle", [(np.nan, "non-finite parameters in head.out.W"),
                                          (1e300, "non-finite logits on")])
def test_non_finite_parameters_or_outputs_are_refused(tmp_path, scale, needle):
    from cryptotrain.train.checkpoint import load_checkpoint

    run = make_run(tmp_path, tiny_config(tmp_path, dtype="float64"))
    for name in ("best", "last"):
        path = run / "checkpoints" / f"{name}.npz"
        ck = load_checkpoint(path)
        ck.params["head.out.W"] = ck.params["head.out.W"] * scale   # 1e300: finite weights, logits overflow
        ck.params["head.0.W"] = ck.params["head.0.W"] * (1e10 if np.isfinite(scale) else 1)
        save_checkpoint(path, ck)
    res = _cli(["--run", str(run)])
    assert res.exit_code == 2 and needle in " ".join(res.output.split()), res.output
    assert not (run / "eval" / "test" / "predictions.csv").exists()


def test_data_inside_the_training_period_is_flagged_in_sample(tmp_path, tiny_run):
    """Scoring the run's own file with --data --split all reads candles the model trained on. The
    run: a copy of the session's configs/tiny.yaml run (conftest.py)."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    root = Path(__file__).resolve().parents[1]
    r = CliRunner()
    run = tiny_run
    # a slice of the run's own file (its first 400 training candles and the 400 before them),
    # not all 47,900 candles: the same warning, a fraction of the scoring
    candles = pd.read_csv(root / "data/sample/BTC_USDT-1h.csv.gz")
    start = int(np.searchsorted(candles["timestamp"].to_numpy(), load_checkpoint(
        run / "checkpoints" / "last.npz").data_range["start_ts"]))
    part = tmp_path / "part.csv"
    candles.iloc[start - 400:start + 400].to_csv(part, index=False)
    res = r.invoke(app, ["evaluate", "--run", str(run), "--data", str(part), "--split", "all", "--json"])
    assert res.exit_code == 0, res.output
    warnings = json.loads(res.stdout)["warnings"]
    assert any("in-sample" in w and "end inside the run's training period" in w for w in warnings), warnings


def test_an_untrained_action_head_is_named_so_its_accuracy_is_not_read_as_skill(tmp_path):
    """A return-only regression (w_action = 0, as configs/lstm_attention_95f.yaml) must not present
    the accuracy of its untrained action head as skill without a word."""
    run = make_run(tmp_path, tiny_config(tmp_path, w_action=0.0, w_return=1.0))
    res = _cli(["--run", str(run)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "action head not trained (model.w_action = 0)" in text
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    assert any("action head not trained" in n for n in m["notes"])
    assert not any("return head not trained" in n for n in m["notes"])


def test_a_return_regression_is_judged_by_its_forecasts_calls(tmp_path):
    """w_action = 0: the model's calls are sign(pred_return) where |pred_return| beats a round trip's cost
    (here 2 x (1 + 0.5) bp = 3 bp), not the untrained action head's argmax; its log loss (of those
    untrained probabilities) is left out. Catches direction accuracy, coverage and the edge verdict
    computed on the action head's initialization."""
    cfg = tiny_config(tmp_path, w_action=0.0, w_return=1.0).model_copy(deep=True)
    cfg.backtest.fee_bps, cfg.backtest.slippage_bps = 1.0, 0.5
    run = make_run(tmp_path, cfg)
    res = _cli(["--run", str(run)])
    assert res.exit_code == 0, res.output
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    pred = pd.read_csv(run / "eval" / "test" / "predictions.csv")
    r = pred["pred_return"].to_numpy()
    calls = np.where(np.abs(r) > 3e-4, np.sign(r), 0)
    head = pred["pred_action"].to_numpy()
    assert 0 < (calls != 0).sum() < len(calls) and (calls != head).any()   # the two rules differ on this run
    assert m["model"]["direction"]["n_acted"] == int((calls != 0).sum())
    hits = np.sign(calls[calls != 0]) == np.sign(pred["forward_return"].to_numpy()[calls != 0])
    assert m["model"]["direction"]["accuracy"] == pytest.approx(hits.mean())
    assert m["model"]["classification"]["accuracy"] == pytest.approx(np.mean(calls == pred["true_action"].to_numpy()))
    assert m["model"]["classification"]["log_loss"] is None
    assert any("the model's calls are the return head's" in n and "(3 bp)" in n for n in m["notes"])
