"""`cryptotrain predict` on tiny trained runs: the same bits as evaluate's predictions.csv, the
policy's target position, and every refusal (exit code 2, one line)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cryptotrain import blas, fit, load_config
from cryptotrain.cli import app
from cryptotrain.config import BacktestConfig, ModelConfig
from cryptotrain.data.dataset import iso_utc
from cryptotrain.data.ohlcv import load_ohlcv, write_ohlcv
from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import score
from cryptotrain.predict import predict, target_position
from cryptotrain.train.checkpoint import load_checkpoint

REPO = Path(__file__).resolve().parents[1]
SAMPLE_1H = REPO / "data/sample/BTC_USDT-1h.csv.gz"
SAMPLE_1M = REPO / "data/sample/BTC_USDT-1m.csv.gz"
HOUR = 3_600_000
runner = CliRunner()


def _train(tmp, *overrides):
    cfg = load_config(REPO / "configs/tiny.yaml", [f"data.path={SAMPLE_1H}", f"train.runs_dir={tmp / 'runs'}",
                                                   *overrides])
    return fit(cfg, tmp / "run").run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny run (return head trained) and its test-split predictions.csv, values read as Python floats."""
    run = _train(tmp_path_factory.mktemp("predict"), "model.w_return=0.1")
    score(run, split="test")
    return run, _read_predictions(run / "eval" / "test" / "predictions.csv")


def _read_predictions(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [{k: (float(v) if v != "" else None) for k, v in row.items()} for row in csv.DictReader(fh)]


def _cli(*args):
    res = runner.invoke(app, ["predict", *map(str, args)])
    return res, (json.loads(res.stdout) if res.exit_code == 0 and "--json" in args else None)


def _assert_same_as_row(out: dict, row: dict) -> None:
    assert out["decision"]["timestamp"] == int(row["timestamp"])
    assert out["fill"]["timestamp"] == int(row["timestamp"]) + HOUR
    assert out["decision"]["close"] == row["close"]
    for key in ("p_sell", "p_hold", "p_buy", "confidence", "pred_return"):
        assert out[key] == row[key], (key, out[key], row[key])     # bit for bit (repr round trip)
    assert out["pred_action"] == int(row["pred_action"])


def test_evaluate_and_predict_run_at_the_thread_count_training_recorded(tmp_path):
    """OpenBLAS rounds by the thread count (with its Haswell kernels, H = 64 and B = 64 products
    differ between 1 and 2 threads in most batch columns): a run trained with one count is scored
    and predicted with it (blas.limited), whatever count the scoring process has."""
    from threadpoolctl import threadpool_limits

    default = blas.threads_in_force()
    other = 2 if default == 1 else 1
    with threadpool_limits(limits=other):      # as a walk-forward fold on a 1-thread Ray worker
        run_dir = _train(tmp_path, "model.hidden_size=64", "model.head_sizes=[64]", "train.batch_size=64",
                         "train.epochs=1")
        score(run_dir, split="test")
    assert load_checkpoint(run_dir / "checkpoints" / "best.npz").train_state["blas_threads"] == other
    rows = _read_predictions(run_dir / "eval" / "test" / "predictions.csv")
    again = score(run_dir, split="test")       # at the default count: the same file
    assert _read_predictions(again.out_dir / "predictions.csv") == rows
    for i in range(len(rows) // 2, len(rows) // 2 + 12):
        res, out = _cli("--run", run_dir, "--at", iso_utc(int(rows[i]["timestamp"])), "--json")
        assert res.exit_code == 0, res.output
        _assert_same_as_row(out, rows[i])


def test_json_equals_predictions_csv_bit_for_bit(run):
    run_dir, rows = run
    # first window, last window (evaluate's short, padded last batch), and a run of batch_size windows
    # in between: one in every batch column (BLAS rounds a column by its position; with OpenBLAS's
    # Haswell kernels columns 8 to B-9 of a batch get other bits than column 0: models/inference.window_slots)
    B = load_config(REPO / "configs/tiny.yaml").train.batch_size
    for i in (0, 1, *range(len(rows) // 3, len(rows) // 3 + B), len(rows) - 2, len(rows) - 1):
        res, out = _cli("--run", run_dir, "--at", iso_utc(int(rows[i]["timestamp"])), "--json")
        assert res.exit_code == 0, res.output
        _assert_same_as_row(out, rows[i])
        assert out["features"]["from_evaluate_start"] is False   # the converged-tail path, not the whole file
        assert out["features"]["rows_processed"] < 3000
    assert set(out) == {"run", "walkforward", "checkpoint", "data", "decision", "fill", "p_sell", "p_hold", "p_buy",
                        "pred_action", "action", "confidence", "confidence_trained", "pred_return", "position",
                        "features"}
    assert out["action"] == ("sell", "hold", "buy")[out["pred_action"] + 1]
    ck = out["checkpoint"]
    assert ck["name"] == "best" and ck["epoch"] >= 1 and len(ck["sha256"]) == 64
    meta = json.loads((run_dir / "eval" / "test" / "metrics.json").read_text())["provenance"]
    assert ck["sha256"] == meta["checkpoint_sha256"] and ck["epoch"] == meta["epoch"]


def test_alpha158_and_context_features_equal_predictions_csv_bit_for_bit(tmp_path):
    """alpha158 groups (sums, means, stds and correlations window-local: the short-tail path) and 4h context
    features, scored alone, give evaluate's bits from a short tail; so does a 4h RSI (its memory, ~2400 1h
    candles, reaches back to evaluate's start in this short file)."""
    for groups, context_set in (("[kbar,roc,std,ma,vma,wvma,sump,beta,rsqr,qtlu,corr,cord,returns]", "[kbar,roc,std,rsv]"),
                                ("[kbar,corr]", "[rsi]")):
        run_dir = _train(tmp_path / groups.strip("[]").replace(",", "_"), f"features.set={groups}",
                         "features.windows=[5,10]", "features.context=[4h]", "features.context_windows=[5]",
                         f"features.context_set={context_set}")
        rows = _read_predictions(score(run_dir, split="test").out_dir / "predictions.csv")
        for i in (0, len(rows) // 2, len(rows) - 1):
            res, out = _cli("--run", run_dir, "--at", iso_utc(int(rows[i]["timestamp"])), "--json")
            assert res.exit_code == 0, res.output
            _assert_same_as_row(out, rows[i])
            if context_set == "[kbar,roc,std,rsv]":
                assert out["features"]["from_evaluate_start"] is False, groups   # no EMA: the short tail


def test_parquet_tail_and_whole_file_start_match_evaluate_data(run, tmp_path):
    """A Parquet file read by row groups; windows near its first row come from evaluate's own start."""
    run_dir, _ = run
    df = load_ohlcv(SAMPLE_1H)[0].iloc[-1500:]
    path = tmp_path / "BTC_USDT-1h.parquet"
    write_ohlcv(df, path)
    import pyarrow.parquet as pq
    pq.write_table(pq.read_table(path), path, row_group_size=100)   # many row groups
    ev = score(run_dir, split="all", data=path)
    rows = _read_predictions(ev.out_dir / "predictions.csv")
    starts = []
    for i in (0, 5, len(rows) - 1):
        res, out = _cli("--run", run_dir, "--data", path, "--at", iso_utc(int(rows[i]["timestamp"])), "--json")
        assert res.exit_code == 0, res.output
        _assert_same_as_row(out, rows[i])
        starts.append(out["features"]["from_evaluate_start"])
    assert starts[0] is True and starts[-1] is False


def test_default_is_the_last_closed_candle_and_stale_data_is_refused(run):
    run_dir, _ = run
    last = int(load_ohlcv(SAMPLE_1H)[0]["timestamp"].iloc[-1])
    fresh = predict(run_dir, now_ms=last + HOUR + 5).result      # the last candle just closed
    assert fresh["decision"]["timestamp"] == last and fresh["fill"]["timestamp"] == last + HOUR
    still_open = predict(run_dir, now_ms=last + HOUR // 2).result  # the last candle is still open
    assert still_open["decision"]["timestamp"] == last - HOUR
    with pytest.raises(UserError, match=r"closed 1 h ago .*cryptotrain fetch.*--allow-stale"):
        predict(run_dir, now_ms=last + 2 * HOUR)
    # the sample is months old by the wall clock: the CLI refuses it unless --allow-stale
    res, _ = _cli("--run", run_dir)
    assert res.exit_code == 2 and "ago" in res.output and "--allow-stale" in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    res, out = _cli("--run", run_dir, "--allow-stale", "--json")
    assert res.exit_code == 0 and out["decision"]["timestamp"] == last and out["pred_return"] is not None
    res, _ = _cli("--run", run_dir, "--allow-stale")
    assert res.exit_code == 0 and "decision candle" in res.stdout and "position" in res.stdout


def _refused(res, *parts):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for p in parts:
        assert p in res.output, (p, res.output)


def test_refusals(run, tmp_path):
    run_dir, rows = run
    df = load_ohlcv(SAMPLE_1H)[0].iloc[-400:].reset_index(drop=True)
    _refused(_cli("--run", run_dir, "--at", "2021-02-11T03:30")[0], "no candle opens at 2021-02-11T03:30",
             "give the open time of a candle")
    _refused(_cli("--run", run_dir, "--data", SAMPLE_1M, "--allow-stale")[0], "1m candles", "trained on 1h")
    _refused(_cli("--run", run_dir, "--checkpoint", "middle")[0], "use best or last")
    gap = df.drop(index=[390]).reset_index(drop=True)              # missing candle inside the last window (16)
    write_ohlcv(gap, tmp_path / "gap.csv")
    _refused(_cli("--run", run_dir, "--data", tmp_path / "gap.csv", "--allow-stale")[0], "spans a gap",
             "1 missing")
    warm = df.drop(index=[370]).reset_index(drop=True)             # gap before the window, inside the warm-up
    write_ohlcv(warm, tmp_path / "warm.csv")
    _refused(_cli("--run", run_dir, "--data", tmp_path / "warm.csv", "--allow-stale")[0], "too little history",
             "need 35 contiguous candles", "has 29")
    first = iso_utc(int(df["timestamp"].iloc[20]))                 # 21 candles after the file's start
    _refused(_cli("--run", run_dir, "--data", tmp_path / "warm.csv", "--at", first)[0], "need 35 contiguous")


def test_symbol_in_file_name_warns(run, tmp_path):
    run_dir, rows = run
    path = tmp_path / "ETH_USDT-1h.csv"
    write_ohlcv(load_ohlcv(SAMPLE_1H)[0].iloc[-2000:], path)
    with pytest.warns(UserWarning, match="looks like ETH_USDT candles but the run was trained on BTC/USDT"):
        predict(run_dir, data=path, allow_stale=True)


def test_target_position_follows_the_backtest_policy():
    b = BacktestConfig(mode="long-short", threshold=0.6, sizing="confidence", max_exposure=0.5)
    assert target_position(1, 0.8, b)["target"] == pytest.approx(0.4)
    assert target_position(-1, 0.8, b)["target"] == pytest.approx(-0.4)
    low = target_position(1, 0.5, b)
    assert low["target"] is None and "keep the current position" in low["rule"] and "below the threshold" in low["rule"]
    hold = target_position(0, 0.99, b)
    assert hold["target"] is None and "model says hold" in hold["rule"]
    flat = target_position(-1, 0.9, BacktestConfig(mode="long-only"))
    assert flat["target"] == 0.0 and "flat" in flat["rule"]
    assert flat["policy"] == {"mode": "long-only", "threshold": 0.0, "sizing": "fixed", "max_exposure": 1.0}


def test_target_position_of_a_return_regression_is_the_backtests_rule():
    """model.w_action = 0: the backtest trades sign(pred_return) beyond a round trip's cost (24 bp at the
    default 10 + 2 bps), so predict must too, whatever the untrained action head says."""
    b, m = BacktestConfig(mode="long-short"), ModelConfig(w_action=0.0, w_return=1.0, w_confidence=0.0)
    up = target_position(-1, 0.1, b, 0.003, m)
    assert up["target"] == 1.0 and "24 bp" in up["policy"]["signal"]
    assert target_position(1, 0.9, b, -0.0025, m)["target"] == -1.0
    small = target_position(1, 0.9, b, 0.002, m)
    assert small["target"] is None and "does not beat a round trip's cost" in small["rule"]
    assert target_position(1, 0.9, b, 0.002)["target"] == 1.0     # a classifier: its action head
