"""Walk-forward in process: the plan, folds as ordinary runs, stitching, honesty (no leakage across
folds, normalizer and thresholds from each fold's training rows alone, embargoed test candles),
resume, refusal of a changed config or data, a failed fold, and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.labels import forward_returns, label_thresholds
from cryptotrain.data.normalize import Normalizer
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.splits import rows_used
from cryptotrain.errors import UserError
from cryptotrain.evaluate.eval_data import load_eval_dataset
from cryptotrain.orchestration.walkforward.run import walk_forward
from cryptotrain.orchestration.walkforward.plan import make_plan
from cryptotrain.train.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
N = 1200
SPANS = ["walkforward.train_span=600", "walkforward.val_span=200", "walkforward.test_span=200",
         "walkforward.max_folds=2", "train.max_batches_per_epoch=4"]
PRED = ["p_sell", "p_hold", "p_buy", "pred_action", "confidence", "pred_return"]


def write_candles(path: Path, df: pd.DataFrame) -> Path:
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    df, _ = load_ohlcv(ROOT / "data/sample/BTC_USDT-1h.csv.gz", "1h")
    return df.iloc[-N:].reset_index(drop=True)[["timestamp", "open", "high", "low", "close", "volume"]]


def config(data: Path, runs: Path, *extra: str):
    return load_config(ROOT / "configs/tiny.yaml", [f"data.path={data}", "data.last_rows=null",
                                                    f"train.runs_dir={runs}", *SPANS, *extra])


@pytest.fixture(scope="module")
def base(tmp_path_factory, candles):
    tmp = tmp_path_factory.mktemp("wf")
    data = write_candles(tmp / "candles.csv", candles)
    cfg = config(data, tmp / "runs")
    wf = tmp / "runs" / "walkforward-wf"
    res = walk_forward(cfg, wf)
    return tmp, data, cfg, wf, res


def test_plan_parts_follow_each_other_with_the_embargo(tmp_path, candles):
    cfg = config(write_candles(tmp_path / "c.csv", candles), tmp_path, "walkforward.max_folds=null")
    folds, _, header = make_plan(cfg)
    assert len(folds) == 2 and header["embargo"] == cfg.labels.horizon + 1
    T, h = cfg.data.window, cfg.labels.horizon
    for f in folds:
        r = f.rows
        assert r["train"][1] == r["val"][0] and r["val"][1] == r["test"][0] - (T - 1)
        assert r["data"] == [r["train"][0], r["test"][1] + h + 1]
        assert f.windows["test"] == r["test"][1] - r["test"][0]      # every test candle is scored
    assert folds[0].rows["test"][1] == folds[1].rows["test"][0]       # test parts tile, no overlap
    assert folds[1].rows["test"][1] == N - 1 - h                      # cut where labels end
    sliding = make_plan(config(tmp_path / "c.csv", tmp_path, "walkforward.mode=sliding"))[0]
    assert [f.rows["train"][1] - f.rows["train"][0] for f in sliding] == [600, 600]


@pytest.mark.parametrize("sets, words", [
    (["walkforward.train_span=5000"], ["too little data for the first fold", "1200 candles", "5000"]),
    (["walkforward.step=100"], ["step 100 is shorter than test_span 200"]),
    (["walkforward.test_span=null"], ["walkforward.test_span"]),
    (["walkforward.embargo=1"], ["walkforward.embargo = 1 is below labels.horizon + 1 = 3"]),
])
def test_bad_plans_name_the_numbers(tmp_path, candles, sets, words):
    cfg = config(write_candles(tmp_path / "c.csv", candles), tmp_path, *sets)
    with pytest.raises(UserError) as err:
        make_plan(cfg)
    for w in words:
        assert w in str(err.value)


def test_unknown_walkforward_key_suggests_the_closest(tmp_path):
    with pytest.raises(UserError, match="did you mean 'test_span'"):
        load_config(ROOT / "configs/tiny.yaml", ["walkforward.tset_span=200"])


def test_stitched_candles_are_unique_and_after_their_models_data_plus_embargo(base):
    tmp, data, cfg, wf, res = base
    assert res.failed == {} and res.reused == []
    pred = pd.read_csv(wf / "predictions.csv")
    ts = pred["timestamp"].to_numpy()
    assert (np.diff(ts) > 0).all() and sorted(set(pred["fold"])) == [1, 2]
    for k in (1, 2):
        ck = load_checkpoint(wf / "folds" / str(k) / "checkpoints" / "best.npz")
        ds = load_eval_dataset(ck, None, "test")
        rows = np.searchsorted(ds.timestamps, ts[pred["fold"] == k])
        assert (ds.timestamps[rows] == ts[pred["fold"] == k]).all()
        last_seen = max(ds.splits["train"].max(), ds.splits["val"].max())
        # the last label a model learned from reads row last_seen + 1 + h: no scored window may contain it
        assert rows.min() - (cfg.data.window - 1) > last_seen + 1 + cfg.labels.horizon
        assert rows.min() - last_seen > ds.embargo
        fold_pred = pd.read_csv(wf / "folds" / str(k) / "eval" / "test" / "predictions.csv")
        assert np.array_equal(fold_pred[PRED].to_numpy(), pred.loc[pred["fold"] == k, PRED].to_numpy(),
                              equal_nan=True)
    m = json.loads((wf / "metrics.json").read_text())
    assert [r["fold"] for r in m["folds"]] == [1, 2] and m["missing"] == []
    assert m["n_windows"] == len(pred) and "bootstrap" in m and "majority" in m["baselines"]
    stats = json.loads((wf / "backtest" / "stats.json").read_text())
    assert {"model", "buy_and_hold", "persistence"} <= set(stats)
    assert all((wf / "plots" / p).is_file() for p in ("equity_folds.png", "fold_accuracy.png", "timeline.png"))
    assert json.loads((wf / "folds" / "1" / "worker.json").read_text())["blas_threads"] >= 1


def test_each_folds_normalizer_and_thresholds_come_from_its_training_rows_alone(base, candles):
    tmp, data, cfg, wf, res = base
    for f in res.plan["folds"]:
        a, v = f["rows"]["train"]
        train_only = candles.iloc[a:v].reset_index(drop=True)       # nothing after the training part exists
        X, _ = compute_features(train_only, cfg.features, 3_600_000, dtype=np.float32)
        ck = load_checkpoint(wf / "folds" / str(f["fold"]) / "checkpoints" / "best.npz")
        ends = load_eval_dataset(ck, None, "test").splits["train"]
        alone = Normalizer.fit(X[rows_used(ends, cfg.data.window, len(X))], cfg.features.normalizer)
        assert np.array_equal(alone.center, ck.normalizer.center) and np.array_equal(alone.scale, ck.normalizer.scale)
        ret = forward_returns(train_only["open"].to_numpy(), cfg.labels.horizon)
        assert tuple(label_thresholds(ret[ends], cfg.labels)) == tuple(ck.thresholds)


def test_candles_after_fold_1_test_part_change_nothing_of_fold_1(base, candles, tmp_path):
    _, _, cfg0, wf0, res0 = base
    end = res0.plan["folds"][0]["rows"]["test"][1]
    rng = np.random.default_rng(7)
    df = candles.copy()
    n = len(df) - end
    close = df["close"].iloc[end - 1] * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = np.r_[df["close"].iloc[end - 1], close[:-1]]
    df.loc[end:, "open"], df.loc[end:, "close"] = open_, close
    df.loc[end:, "high"] = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    df.loc[end:, "low"] = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    df.loc[end:, "volume"] = rng.uniform(1, 1000, n)
    cfg = config(write_candles(tmp_path / "random_tail.csv", df), tmp_path / "runs")
    res = walk_forward(cfg, tmp_path / "runs" / "wf")
    a = pd.read_csv(wf0 / "predictions.csv")
    b = pd.read_csv(tmp_path / "runs" / "wf" / "predictions.csv")
    assert np.array_equal(a.loc[a.fold == 1, PRED].to_numpy(), b.loc[b.fold == 1, PRED].to_numpy(), equal_nan=True)
    assert not np.array_equal(a.loc[a.fold == 2, PRED].to_numpy(), b.loc[b.fold == 2, PRED].to_numpy())
    for name in ("best.npz", "last.npz"):
        c0 = load_checkpoint(wf0 / "folds" / "1" / "checkpoints" / name)
        c1 = load_checkpoint(tmp_path / "runs" / "wf" / "folds" / "1" / "checkpoints" / name)
        assert np.array_equal(c0.normalizer.center, c1.normalizer.center)
        assert np.array_equal(c0.normalizer.scale, c1.normalizer.scale) and c0.thresholds == c1.thresholds
        assert all(np.array_equal(c0.params[k], c1.params[k]) for k in c0.params)
    assert res.failed == {}


def test_rerun_reuses_folds_and_refuses_a_changed_config_or_data(base, tmp_path, candles):
    tmp, data, cfg, wf, _ = base
    copy = tmp_path / "wf"
    shutil.copytree(wf, copy)
    before = {p: (copy / p).read_bytes() for p in ("predictions.csv", "backtest/stats.json")}
    metrics = json.loads((copy / "metrics.json").read_text())
    res = walk_forward(cfg, copy)
    assert res.reused == [1, 2]
    assert {p: (copy / p).read_bytes() for p in before} == before
    assert json.loads((copy / "metrics.json").read_text()) == {**metrics, "run": str(copy)}
    with pytest.raises(UserError, match="another config .*model.hidden_size.*--run-name.*--force"):
        walk_forward(cfg.model_copy(update={"model": cfg.model.model_copy(update={"hidden_size": 4})}), copy)
    changed = candles.copy()
    changed.loc[100, "volume"] += 1.0                                 # inside fold 1's training part
    shutil.copy(data, tmp_path / "orig.csv")
    try:
        write_candles(data, changed)
        with pytest.raises(UserError, match="candles of fold 1 changed"):
            walk_forward(cfg, copy)
    finally:
        shutil.copy(tmp_path / "orig.csv", data)


def test_a_failed_fold_is_reported_and_the_others_finish(base, tmp_path):
    tmp, data, cfg, wf, _ = base
    out = tmp_path / "runs" / "walkforward-broken"
    yaml_path = tmp_path / "broken.yaml"
    yaml_path.write_text((ROOT / "configs/tiny.yaml").read_text())
    sets = [f"data.path={data}", "data.last_rows=null", f"train.runs_dir={tmp_path / 'runs'}", *SPANS,
            "walkforward.test_span=100", "walkforward.max_folds=3"]          # fold 2 lies between 1 and 3
    args = ["walkforward", "--config", str(yaml_path), *sum((["--set", s] for s in sets), [])]
    (out / "folds").mkdir(parents=True)                               # folds there but no walkforward.json
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 2 and "--force" in r.output
    shutil.rmtree(out)
    # the plan first, then the folds line by line (not a terminal), then the verdict
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert r.output.index("Walk-forward plan") < r.output.index("fold 1: started") < r.output.index("Per fold")
    (out / "folds" / "2" / "fold.json").unlink()
    (out / "folds" / "2" / "checkpoints" / "last.npz").write_bytes(b"not a checkpoint")  # fold 2 cannot resume
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 1 and "fold 2 failed" in r.output
    m = json.loads((out / "metrics.json").read_text())
    assert [f["fold"] for f in m["folds"]] == [1, 3] and m["missing"][0]["fold"] == 2
    assert any("test period" in w and "missing" in w for w in m["warnings"])
    assert "missing" in r.output
    # the missing test period is traded flat, not with fold 1's last position
    gap = json.loads((out / "plan.json").read_text())["folds"][1]
    eq = pd.read_csv(out / "backtest" / "equity.csv")
    inside = (eq["timestamp"] > gap["first_ts"]["test"]) & (eq["timestamp"] <= gap["last_ts"]["test"])
    assert inside.sum() > 50 and (eq.loc[inside, "position"] == 0).all()
    assert (eq.loc[eq["timestamp"] < gap["first_ts"]["test"], "position"] != 0).any()


def test_evaluate_and_backtest_accept_a_walkforward_directory(base):
    _, _, _, wf, _ = base
    r = CliRunner().invoke(app, ["evaluate", "--run", str(wf), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["kind"] == "walkforward"
    default = (wf / "backtest" / "stats.json").read_bytes()
    r = CliRunner().invoke(app, ["backtest", "--run", str(wf), "--fee-bps", "0"])
    assert r.exit_code == 0 and "Walk-forward" in r.output
    # other settings never replace the walk-forward's own backtest (issue 24): they get their own directory
    assert json.loads((wf / "backtest-fee0" / "stats.json").read_text())["settings"]["fee_bps"] == 0
    assert (wf / "backtest" / "stats.json").read_bytes() == default


def test_warm_start_begins_each_fold_from_the_previous_folds_best_parameters(base, tmp_path):
    from cryptotrain.orchestration.walkforward.plan import make_plan as plan_of
    from cryptotrain.train.trainer import fit

    _, data, cfg0, wf0, _ = base
    cfg = config(data, tmp_path / "runs", "walkforward.warm_start=true", "walkforward.warm_epochs=1")
    res = walk_forward(cfg, tmp_path / "runs" / "warm")
    assert res.failed == {}
    fold2 = tmp_path / "runs" / "warm" / "folds" / "2"
    assert len((fold2 / "metrics.jsonl").read_text().splitlines()) == 1      # warm_epochs
    # the same fold trained by hand from fold 1's best parameters gives the same bits
    fold2_cfg = plan_of(cfg)[1][1]
    best1 = load_checkpoint(tmp_path / "runs" / "warm" / "folds" / "1" / "checkpoints" / "best.npz").params
    fit(fold2_cfg, tmp_path / "by_hand", start_params=best1)
    warm, by_hand = (load_checkpoint(d / "checkpoints" / "last.npz").params for d in (fold2, tmp_path / "by_hand"))
    assert all(np.array_equal(warm[k], by_hand[k]) for k in warm)
    cold = load_checkpoint(wf0 / "folds" / "2" / "checkpoints" / "last.npz").params
    assert not all(np.array_equal(warm[k], cold[k]) for k in warm)


def test_the_stitched_report_has_the_fitted_baselines_and_each_fold_its_trading(base):
    """Catches a walk-forward that reports less than a single run: the stitched windows get the fitted
    baselines (logistic/ridge, LightGBM) with their verdicts, from each fold's own fit (the actions
    evaluate wrote per fold); the stitched backtest trades them and reads its result as run mode does;
    each fold row has its return, Sharpe and trades, and the fold returns compound to the stitched one."""
    from cryptotrain.orchestration.walkforward.stitch import add_fold_trading, backtest_stitched

    _, _, _, wf, _ = base
    traded = backtest_stitched(wf)              # the config's settings, into backtest/
    plan = json.loads((wf / "plan.json").read_text())
    m = add_fold_trading(wf, json.loads((wf / "metrics.json").read_text()), plan)
    assert {"linear", "lightgbm", "rate_matched"} <= set(m["baselines"]) and "linear" in m["verdicts"]
    assert m["edge"]["tests"]["sign"]["m"] >= 1 and "Holm over" in m["edge"]["sentence"]
    folds = [pd.read_csv(wf / "folds" / str(r["fold"]) / "eval" / "test" / "predictions.csv") for r in m["folds"]]
    stitched = pd.read_csv(wf / "predictions.csv")
    assert (stitched["linear_action"].to_numpy() == np.concatenate([f["linear_action"] for f in folds])).all()
    stats = json.loads((wf / "backtest" / "stats.json").read_text())
    assert {"linear", "lightgbm"} <= set(stats) and "verdict" in stats and "linear" in stats["verdict"]["baselines"]
    assert traded.verdict == stats["verdict"] and stats["settings"]["fee_bps"] == base[2].backtest.fee_bps
    assert m["fold_trading_settings"] == stats["settings"]
    eq = pd.read_csv(wf / "backtest" / "equity.csv")
    trades = pd.read_csv(wf / "backtest" / "trades.csv")
    tests = [(f["first_ts"]["test"], f["last_ts"]["test"]) for f in plan["folds"]]
    assert all(b[0] - a[1] == 3_600_000 for a, b in zip(tests, tests[1:]))   # test parts follow each other
    growth = np.prod([1 + r["return_pct"] / 100 for r in m["folds"]])
    assert growth == pytest.approx(eq["equity"].iloc[-1] / eq["equity"].iloc[0], rel=1e-9)
    assert sum(r["trades"] for r in m["folds"]) == len(trades)
    assert all(r["sharpe"] is None or np.isfinite(r["sharpe"]) for r in m["folds"])
