"""`cryptotrain backtest` through the CLI: signals mode, run mode, and bad inputs -> exit 2."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import Config, config_to_yaml

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H
N = 40


@pytest.fixture()
def candles(tmp_path):
    rng = np.random.default_rng(0)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
    open_ = np.concatenate(([100.0], close[:-1]))
    df = pd.DataFrame({"timestamp": T0 + np.arange(N) * H, "open": open_, "high": np.maximum(open_, close) * 1.001,
                       "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1.0})
    path = tmp_path / "BTC_USDT-1h.csv"
    df.to_csv(path, index=False)
    return path


def invoke(*args):
    return CliRunner().invoke(app, ["backtest", *map(str, args)])


def write_signals(path, ts, pos):
    pd.DataFrame({"timestamp": ts, "position": pos}).to_csv(path, index=False)
    return path


def test_signals_mode_writes_all_outputs(tmp_path, candles):
    sig = write_signals(tmp_path / "rule.csv", T0 + np.arange(5, 30) * H, np.tile([1, 1, -1, 0, 0.5], 5))
    res = invoke("--signals", sig, "--data", candles, "--fee-bps", 5)
    assert res.exit_code == 0, res.output
    out = tmp_path / "rule_backtest"
    doc = json.loads((out / "stats.json").read_text())
    assert set(doc) == {"model", "buy_and_hold", "persistence", "settings", "verdict"} and doc["settings"]["fee_bps"] == 5
    eq = pd.read_csv(out / "equity.csv")
    assert list(eq.columns) == ["timestamp", "price", "position", "equity", "drawdown", "buy_hold_equity"]
    assert len(eq) == 26 and eq["timestamp"].iloc[0] == T0 + 5 * H     # first signal .. last signal + 1 candle
    assert doc["model"]["Equity Final [$]"] == pytest.approx(eq["equity"].iloc[-1])
    trades = pd.read_csv(out / "trades.csv")
    assert len(trades) == doc["model"]["# Trades"] > 0
    assert (out / "plots" / "equity.png").stat().st_size > 10_000
    assert "Sharpe Ratio" in res.output and "Persistence" in res.output


def test_iso_timestamps_and_custom_out(tmp_path, candles):
    iso = pd.to_datetime(T0 + np.array([3, 9]) * H, unit="ms").strftime("%Y-%m-%dT%H:%M")
    sig = write_signals(tmp_path / "iso.csv", iso, [1, 0])
    res = invoke("--signals", sig, "--data", candles, "--out", tmp_path / "elsewhere", "--mode", "long-only")
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "elsewhere" / "stats.json").read_text())
    assert doc["model"]["# Trades"] == 1 and doc["settings"]["mode"] == "long-only"


@pytest.mark.parametrize("rows,needle", [
    ("timestamp,pos\n{t0},1\n", "missing column(s) position"),
    ("timestamp,position\n{t0},1.5\n", "outside [-1, 1]"),
    ("timestamp,position\n{t0},\n", "missing (NaN) at line 2"),
    ("timestamp,position\n{t0},abc\n", "not a number"),
    ("timestamp,position\n{t1},1\n{t0},0\n", "not sorted at line 3"),
    ("timestamp,position\n{t0},1\n{t0},0\n", "duplicate timestamp at line 3"),
    ("timestamp,position\n{off},1\n", "not a candle open time"),
    ("", "empty"),
])
def test_bad_signal_files_exit_2_with_a_clear_message(tmp_path, candles, rows, needle):
    sig = tmp_path / "bad.csv"
    sig.write_text(rows.format(t0=T0 + 2 * H, t1=T0 + 3 * H, off=T0 + 2 * H + 5, sec=(T0 + 2 * H) // 1000))
    res = invoke("--signals", sig, "--data", candles)
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


def test_option_errors_exit_2(tmp_path, candles):
    sig = write_signals(tmp_path / "ok.csv", [T0 + H], [1])
    res = invoke("--signals", sig)
    assert res.exit_code == 2 and "--signals needs --data" in res.output
    res = invoke("--signals", sig, "--data", candles, "--mode", "sideways")
    assert res.exit_code == 2 and "--mode" in res.output and "long-only" in res.output
    res = invoke("--signals", sig, "--data", candles, "--max-exposure", 2)
    assert res.exit_code == 2 and "--max-exposure" in res.output


def make_run(tmp_path, candles, with_predictions=True, model=None):
    run = tmp_path / "runs" / "20240101T000000Z-gru_attention-BTC_USDT-1h"
    (run / "eval" / "test").mkdir(parents=True)
    cfg = Config.model_validate({"data": {"path": str(candles), "timeframe": "1h"}, "backtest": {"fee_bps": 7},
                                 "model": model or {}})
    (run / "config.yaml").write_text(config_to_yaml(cfg))
    if with_predictions:
        rng = np.random.default_rng(1)
        t = np.arange(20, 35)
        pd.DataFrame({"timestamp": T0 + t * H, "close": 1.0, "p_sell": 0.2, "p_hold": 0.3, "p_buy": 0.5,
                      "pred_action": rng.choice([-1, 0, 1], len(t)), "confidence": rng.uniform(0, 1, len(t)),
                      "pred_return": 0.0, "true_action": 0, "forward_return": 0.0}
                     ).to_csv(run / "eval" / "test" / "predictions.csv", index=False)
    return run


def test_run_mode_uses_the_run_config_and_predictions(tmp_path, candles):
    run = make_run(tmp_path, candles)
    res = invoke("--run", run, "--sizing", "confidence", "--threshold", 0.2)
    assert res.exit_code == 0, res.output
    out = run / "backtest" / "test-thr0.2-confidence"   # settings other than the run's: their own directory
    doc = json.loads((out / "stats.json").read_text())
    assert doc["settings"]["fee_bps"] == 7 and doc["settings"]["sizing"] == "confidence"
    eq = pd.read_csv(out / "equity.csv")
    assert eq["timestamp"].iloc[0] == T0 + 20 * H and eq["timestamp"].iloc[-1] == T0 + 35 * H


def test_untrained_confidence_head_used_by_the_policy_is_a_warning(tmp_path, candles):
    run = make_run(tmp_path, candles, model={"w_confidence": 0.0})
    assert "confidence head was not trained" not in invoke("--run", run).output   # threshold 0, fixed size: unused
    res = invoke("--run", run, "--sizing", "confidence")
    assert res.exit_code == 0 and "confidence head was not trained" in " ".join(res.output.split())


def test_run_mode_errors(tmp_path, candles):
    run = make_run(tmp_path, candles)
    assert invoke("--run", run, "--split", "train").exit_code == 2
    res = invoke("--run", run, "--data", candles)
    assert res.exit_code == 2 and "only used with --signals" in res.output
    res = invoke("--run", tmp_path / "nowhere")
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_a_return_regression_trades_the_sign_of_its_forecast_beyond_a_round_trip(tmp_path, candles):
    """A run whose action head was never trained (model.w_action = 0) trades sign(pred_return) where
    |pred_return| > 2 (fee + slippage) = 18 bp here, and keeps its position otherwise; catches a backtest
    of the untrained head's classes (the predictions' pred_action here says the opposite of the rule)."""
    run = make_run(tmp_path, candles, model={"w_action": 0.0, "w_return": 1.0})
    path = run / "eval" / "test" / "predictions.csv"
    preds = pd.read_csv(path)
    r = np.array([0.004, -0.001, 0.0019, -0.0017, -0.003, 0.0, 0.0025, 0.001, -0.0021, 0.0018, 0.005, -0.004,
                  0.0001, 0.003, -0.002])
    preds["pred_return"] = r
    preds["pred_action"] = -np.sign(r).astype(int)      # what an untrained head might say
    preds.to_csv(path, index=False)
    res = invoke("--run", run)
    assert res.exit_code == 0, res.output
    assert "the model trades the sign of its return forecast where |pred_return| > 18 bp" in " ".join(res.output.split())
    eq = pd.read_csv(run / "backtest" / "test" / "equity.csv")
    rule = np.where(np.abs(r) > 0.0018, np.sign(r), np.nan)          # long-short, fixed size 1
    held = pd.Series(rule).ffill().fillna(0.0).to_numpy()
    # the position held during candle t + 1 is the target decided at the close of t
    assert np.array_equal(eq["position"].to_numpy()[1:len(r) + 1], held)
