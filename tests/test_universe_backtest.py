"""A universe run's predictions.csv + candles -> policy -> portfolio engine (backtest/universe_backtest.py),
on three pairs cut from data/sample and a predictions file written here in evaluate's columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cryptotrain.backtest.universe_backtest import load_universe, read_predictions, resolve_settings, trade_universe
from cryptotrain.config import BacktestConfig, ModelConfig
from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import PREDICTION_COLUMNS

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
ROWS = 200


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """200 hourly candles of BTC, ETH and SOL from the sample; SOL has a 5-candle gap and ETH ends 20 early."""
    d = tmp_path_factory.mktemp("universe")
    start = pd.read_csv(SAMPLE / "ETH_USDT-1h.csv.gz", usecols=["timestamp"])["timestamp"].iloc[-1000]
    for sym in SYMBOLS:
        slug = sym.replace("/", "_")
        df = pd.read_csv(SAMPLE / f"{slug}-1h.csv.gz")
        df = df[df["timestamp"] >= start].iloc[:ROWS]
        if slug == "SOL_USDT":
            df = df.drop(df.index[100:105])
        if slug == "ETH_USDT":
            df = df.iloc[:-20]
        df.to_csv(d / f"{slug}-1h.csv.gz", index=False)
    return d


def predictions(uni, seed=0, pred_return=False) -> pd.DataFrame:
    """One row per pair and candle it has, rows 10..190, sorted by time then symbol, evaluate's columns."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(10, 190):
        for i, sym in enumerate(SYMBOLS):
            if not np.isfinite(uni.close[t, i]):
                continue
            p = rng.dirichlet([1, 1, 1])
            rows.append({"timestamp": int(uni.timestamps[t]), "symbol": sym, "close": uni.close[t, i],
                         "p_sell": p[0], "p_hold": p[1], "p_buy": p[2], "pred_action": int(np.argmax(p)) - 1,
                         "confidence": p.max(), "pred_return": rng.normal() if pred_return else np.nan,
                         "true_action": 0, "forward_return": 0.0})
    return pd.DataFrame(rows, columns=["symbol", *PREDICTION_COLUMNS])


def test_predictions_on_the_grid_and_the_score_column(data_dir, tmp_path):
    """Catches a row put on the wrong pair or time, p_buy - p_sell not used when pred_return is empty (or
    used when it is not), and a pair without a prediction given a score."""
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    assert uni.symbols == ["BTC_USDT", "ETH_USDT", "SOL_USDT"]
    for with_ret in (False, True):
        df = predictions(uni, pred_return=with_ret)
        df.to_csv(tmp_path / "predictions.csv", index=False)
        p = read_predictions(pd.read_csv(tmp_path / "predictions.csv"), uni, 3, "predictions.csv")
        assert p.score_name == ("pred_return" if with_ret else "p_buy - p_sell")
        np.testing.assert_array_equal(uni.timestamps[p.rows], np.unique(df["timestamp"]))
        for _, r in df.sample(50, random_state=1).iterrows():
            t, i = int(np.searchsorted(uni.timestamps[p.rows], r["timestamp"])), SYMBOLS.index(r["symbol"])
            want = r["pred_return"] if with_ret else r["p_buy"] - r["p_sell"]
            assert p.score[t, i] == pytest.approx(want) and p.pred_action[t, i] == r["pred_action"]
        assert np.isnan(p.score[~np.isfinite(uni.close[p.rows])]).all()     # SOL's gap, ETH after its end


def test_topk_on_a_universe_run_holds_the_best_scored_pair_and_reports_momentum(data_dir):
    """Catches the policy not reaching the engine (the pair held after each decision is not the best
    score of that decision), the decision interval not defaulting to the label horizon, and the momentum
    benchmark missing from the results and the verdict's baselines."""
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    p = read_predictions(predictions(uni, pred_return=True), uni, 3, "predictions.csv")
    bcfg = resolve_settings(BacktestConfig(policy="topk", k=1, mode="long-only"), horizon=6)
    assert bcfg.rebalance == 6
    rep = trade_universe(uni, p, bcfg, horizon=6, n_pairs=3)
    res = rep.results["portfolio"]
    lo = int(p.rows[0])
    for d in range(0, len(p.rows) - 1, 6):
        best = int(np.nanargmax(p.score[d]))
        held = res.target[d + 1]                        # decided at the close of d, held from d + 1
        assert held[best] == 1.0 and (np.delete(held, best) == 0).all(), d
    assert lo == 10 and set(rep.results) == {"portfolio", "momentum", "equal_weight", "btc_buy_and_hold"}
    assert "momentum" in rep.verdict["baselines"] and rep.verdict["horizon"] == 6
    assert rep.stats["momentum"]["# Trades"] > 0


def test_independent_on_a_return_regression_trades_the_forecasts_calls(data_dir):
    """model.w_action = 0: `independent` trades each pair's sign(pred_return) beyond a round trip's cost
    (24 bp), not the untrained head's pred_action (catches the head's classes reaching the sleeves)."""
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    df = predictions(uni, pred_return=True)
    df["pred_return"] *= 0.004                      # about half of them beyond 24 bp
    df["pred_action"] = -np.sign(df["pred_return"]).astype(int)
    regression = ModelConfig(w_action=0.0, w_return=1.0, w_confidence=0.0)
    bcfg = resolve_settings(BacktestConfig(policy="independent", mode="long-short"), horizon=1)
    p = read_predictions(df, uni, 3, "predictions.csv", regression)
    act, conf = p.calls(bcfg)
    seen = np.isfinite(p.score)
    want = np.where(np.abs(p.score) > 0.0024, np.sign(p.score), 0.0)
    np.testing.assert_array_equal(act[seen], want[seen])
    assert (conf[seen] == 1.0).all() and np.isnan(act[~seen]).all()
    head = read_predictions(df, uni, 3, "predictions.csv")            # a classifier: its own pred_action
    np.testing.assert_array_equal(head.calls(bcfg)[0][seen], head.pred_action[seen])
    a = trade_universe(uni, p, bcfg, horizon=1, n_pairs=3, benchmarks=False).results["portfolio"].target
    b = trade_universe(uni, head, bcfg, horizon=1, n_pairs=3, benchmarks=False).results["portfolio"].target
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("edit,message", [
    (lambda df: df.assign(symbol=df["symbol"].replace("SOL/USDT", "DOGE/USDT")), "DOGE_USDT is not in the run"),
    (lambda df: pd.concat([df, df.iloc[[5]]]), "two rows at timestamp"),
    (lambda df: df.assign(timestamp=df["timestamp"] + 60_000), "is not a 1h candle"),
    (lambda df: df.drop(columns="symbol"), "missing column(s) symbol"),
])
def test_bad_predictions_are_one_line(data_dir, edit, message):
    """Catches a predictions file of other pairs, duplicates or candles traded silently."""
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_predictions(edit(predictions(uni)), uni, 3, "predictions.csv")


def test_independent_refuses_target_vol_and_missing_candle_files(data_dir):
    with pytest.raises(UserError, match="target_vol"):
        resolve_settings(BacktestConfig(target_vol=0.5), horizon=4)
    with pytest.raises(UserError, match="no 1h candle file for XRP/USDT"):
        load_universe([*SYMBOLS, "XRP/USDT"], "1h", data_dir=data_dir)


def test_policy_keys_are_refused_with_weights(data_dir, tmp_path):
    """Catches `--set backtest.policy=topk` silently ignored on a weight file (it has no scores to rank)."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    pd.DataFrame({"timestamp": [int(uni.timestamps[5])], "symbol": ["BTC/USDT"], "weight": [0.5]}).to_csv(
        tmp_path / "w.csv", index=False)
    res = CliRunner().invoke(app, ["backtest", "--weights", str(tmp_path / "w.csv"), "--data-dir", str(data_dir),
                                   "--set", "backtest.policy=topk"])
    assert res.exit_code == 2 and "backtest.policy turns a universe run's scores" in res.output, res.output
    assert not (tmp_path / "w_backtest").exists()


def universe_run(data_dir, tmp_path) -> Path:
    """A universe run directory with config.yaml and eval/test/predictions.csv (no training: a backtest
    reads only those), horizon 6."""
    run = tmp_path / "runs" / "u1"
    (run / "eval" / "test").mkdir(parents=True)
    (run / "config.yaml").write_text(f"data:\n  universe: [{', '.join(SYMBOLS)}]\n  dir: {data_dir}\n"
                                     "  timeframe: 1h\nlabels:\n  horizon: 6\n")
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    predictions(uni, pred_return=True).to_csv(run / "eval" / "test" / "predictions.csv", index=False)
    return run


def test_backtest_run_on_a_universe_run_end_to_end(data_dir, tmp_path):
    """Catches `backtest --run` on a universe run not reaching the policy (dispatched to the single-pair
    backtest, or --set backtest.policy ignored), settings written into the run's own backtest directory,
    and momentum missing from stats.json and the reading lines. The run is a directory with config.yaml
    and eval/test/predictions.csv written here (no training: the backtest reads only those)."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    run = universe_run(data_dir, tmp_path)
    res = CliRunner().invoke(app, ["backtest", "--run", str(run), "--set", "backtest.policy=topk",
                                   "--set", "backtest.k=1", "--mode", "long-only"])
    assert res.exit_code == 0, res.output
    out = run / "backtest" / "test-long-only-topk-k1"
    doc = json.loads((out / "stats.json").read_text())
    assert set(doc) >= {"portfolio", "momentum", "equal_weight", "btc_buy_and_hold", "per_pair"}
    assert doc["settings"]["policy"] == "topk" and doc["settings"]["rebalance"] == 6
    assert "Against Momentum" in res.output and "policy topk: k 1" in res.output
    assert doc["portfolio"]["Avg. Holdings"] == pytest.approx(1.0, abs=0.1)
    from cryptotrain.runs.reader import backtest_summary   # runs show / list read the portfolio and BTC

    summary = backtest_summary(doc)
    assert summary["model"]["return_pct"] == doc["portfolio"]["Return [%]"]
    assert summary["buy_and_hold"]["return_pct"] == doc["btc_buy_and_hold"]["Return [%]"]
    res = CliRunner().invoke(app, ["backtest", "--run", str(run)])            # independent, the run's settings
    assert res.exit_code == 0, res.output
    doc = json.loads((run / "backtest" / "test" / "stats.json").read_text())
    assert doc["settings"]["policy"] == "independent" and doc["momentum"]["# Trades"] > 0



def test_risk_rules_reach_each_independent_sleeve_on_its_own_candles(data_dir):
    """Catches the sleeves engine (policy independent) dropping the risk rules, a sleeve stopped on
    another pair's high/low, and the rules reaching the momentum benchmark: each pair's trades in the
    three-pair run must be those of a run of that pair alone (one sleeve) on a third of the cash."""
    uni = load_universe(SYMBOLS, "1h", data_dir=data_dir)
    df = predictions(uni)
    bcfg = BacktestConfig(stop_loss=0.004, max_hold=5)
    rep = trade_universe(uni, read_predictions(df, uni, 3, "p.csv"), bcfg, horizon=6, n_pairs=3)
    trades = rep.results["portfolio"].trades
    assert {"stop", "max_hold"} <= set(trades["exit_reason"])
    assert not {"stop", "max_hold"} & set(rep.results["momentum"].trades["exit_reason"])
    cols = ["entry_time", "exit_time", "entry_price", "exit_price", "side", "exit_reason"]
    for sym in SYMBOLS:
        alone = load_universe([sym], "1h", data_dir=data_dir)
        one = trade_universe(alone, read_predictions(df[df["symbol"] == sym], alone, 1, "p.csv"),
                             bcfg.model_copy(update={"cash": bcfg.cash / 3}), horizon=6, n_pairs=1)
        want = one.results["portfolio"].trades
        got = trades[trades["symbol"] == alone.symbols[0]].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=False, rtol=1e-9)
        np.testing.assert_allclose(got["pnl"], want["pnl"], rtol=1e-9, atol=1e-9)


def test_grid_on_a_universe_run_is_the_policy_backtest_of_each_combination(data_dir, tmp_path):
    """Catches `backtest --grid` on a universe run not reaching the policy (traded as one pair, refused, or
    k and rebalance ignored): each grid row's return equals `backtest --run` with its values."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    run = universe_run(data_dir, tmp_path)
    res = CliRunner().invoke(app, ["backtest", "--run", str(run), "--set", "backtest.policy=topk",
                                   "--grid", "k=1,2 rebalance=4,12 stop_loss=0,0.01"])
    assert res.exit_code == 0, res.output
    out = next((run / "backtest").glob("test-topk-grid-*"))
    rows = pd.read_csv(out / "grid.csv")
    assert len(rows) == 8 and rows["Return [%]"].nunique() > 4
    for _, r in rows.iterrows():
        single = CliRunner().invoke(app, ["backtest", "--run", str(run), "--set", "backtest.policy=topk",
                                          "--k", str(r["k"]), "--rebalance", str(r["rebalance"]),
                                          "--stop-loss", str(r["stop_loss"]), "--out", str(tmp_path / "one")])
        assert single.exit_code == 0, single.output
        doc = json.loads((tmp_path / "one" / "stats.json").read_text())
        assert doc["portfolio"]["Return [%]"] == pytest.approx(r["Return [%]"], rel=1e-9), r["combination"]
