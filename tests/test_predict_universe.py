"""`predict --run UNIVERSE_RUN` (predict_universe.py): every pair scored at the decision candle with
evaluate's bits, ranked, the policy's targets against the holdings (TopkDropout hysteresis), the orders,
the skipped pairs with their reason, and bad holdings files refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.timestamps import format_utc
from cryptotrain.evaluate.scorer import score
from cryptotrain.predict_universe import predict_universe
from cryptotrain.train.trainer import fit
from test_universe import config, make_universe

TF = 3_600_000


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny universe run (BTC in full, ETH listed late, SOL delisted early with a gap), long-only topk k 1,
    evaluated on test."""
    tmp = tmp_path_factory.mktemp("predict_universe")
    data_dir = make_universe(tmp / "data")
    cfg = config(tmp, data_dir, "backtest.policy=topk", "backtest.k=1", "backtest.n_drop=1", "backtest.mode=long-only")
    run = fit(cfg).run_dir
    score(run, split="test")
    return data_dir, run


def test_at_equals_evaluate_bit_for_bit(trained):
    """predict --at of a test candle gives every listed pair evaluate's p_buy, p_sell, confidence and score
    to the bit (catches a pair scored with another pair's normalizer row or batch column)."""
    data_dir, run = trained
    pred = pd.read_csv(run / "eval" / "test" / "predictions.csv")
    t = int(pred["timestamp"].iloc[len(pred) // 3])
    rows = pred[pred["timestamp"] == t].set_index("symbol")
    res = predict_universe(run, at=format_utc(t))
    got = {p["symbol"]: p for p in res["pairs"]}
    assert set(got) == set(rows.index) and len(got) >= 2
    for s, p in got.items():
        for c in ("p_buy", "p_sell", "confidence", "pred_return"):
            assert p[c] == float(rows.loc[s, c]), (s, c)
        assert p["score"] == float(rows.loc[s, "pred_return"])
    assert [p["rank"] for p in res["pairs"]] == list(range(1, len(got) + 1))
    assert [p["score"] for p in res["pairs"]] == sorted((p["score"] for p in res["pairs"]), reverse=True)


def test_last_candle_skips_the_pair_that_ended_and_orders_reach_the_targets(trained, tmp_path):
    """By default the decision is the newest closed candle: SOL (delisted early) is listed as skipped with
    its last candle, not dropped silently; topk k 1 from all cash buys only the best pair, at the
    target weight of equity (catches orders that ignore the equity or the close)."""
    data_dir, run = trained
    res = predict_universe(run, allow_stale=True, cash=10_000)
    assert [s["symbol"] for s in res["skipped"]] == ["SOL/USDT"]
    assert "stale" in res["skipped"][0]["reason"]
    best, pol = res["pairs"][0], res["policy"]
    w = min(pol["gross"] / 1, pol["max_exposure"])
    assert best["target_weight"] == w and all(p["target_weight"] == 0 for p in res["pairs"][1:])
    (o,) = res["orders"]
    assert o["symbol"] == best["symbol"] and o["side"] == "buy" and o["units"] == pytest.approx(10_000 * w / best["close"])
    assert o["notional"] == pytest.approx(10_000 * w) and o["fee"] == pytest.approx(10_000 * w * pol["fee_bps"] / 1e4)


def test_topk_dropout_keeps_a_held_pair_and_sells_what_leaves(trained, tmp_path):
    """Holding the second-best pair under topk k 1 with n_drop 1: TopkDropout swaps it for the best (it is
    in the bottom n_drop of held + candidates); the sell order is its units and the buy the best's target.
    Holding the best pair already: no order (catches a policy that ignores the holdings)."""
    data_dir, run = trained
    res0 = predict_universe(run, allow_stale=True)
    best, second = res0["pairs"][0], res0["pairs"][1]
    h = tmp_path / "h.json"
    h.write_text(json.dumps({second["symbol"]: 0.5}))
    res = predict_universe(run, allow_stale=True, holdings=h, cash=0)
    eq = 0.5 * second["close"]
    assert res["account"]["equity"] == pytest.approx(eq)
    sides = {o["symbol"]: (o["side"], o["units"]) for o in res["orders"]}
    assert sides[second["symbol"]] == ("sell", pytest.approx(0.5))
    w = min(res["policy"]["gross"], res["policy"]["max_exposure"])
    assert sides[best["symbol"]] == ("buy", pytest.approx(w * eq / best["close"]))
    h.write_text(json.dumps({best["symbol"]: w * 1000 / best["close"]}))
    assert predict_universe(run, allow_stale=True, holdings=h, cash=1000 * (1 - w))["orders"] == []


@pytest.mark.parametrize("text, message", [
    ('{"DOGE/USDT": 1}', "DOGE/USDT is not a pair of the run"),
    ('{"BTC/USDT": -1}', "long-only"),
    ('{"BTC/USDT": "nan"}', "give a finite number"),
    ("[1, 2]", "cannot read it"),
])
def test_bad_holdings_are_one_line_and_exit_2(trained, tmp_path, text, message):
    """An unknown pair, a short holding in long-only, a non-finite amount or a file that is not a mapping:
    one line naming it, exit 2, no traceback."""
    data_dir, run = trained
    h = tmp_path / "h.json"
    h.write_text(text)
    r = CliRunner().invoke(app, ["predict", "--run", str(run), "--allow-stale", "--holdings", str(h)])
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output


def test_cli_prints_the_table_skipped_pairs_and_orders(trained, tmp_path):
    """The command prints the ranked table, the skipped pair with its reason and the orders; a CSV holdings
    file works as the JSON one; stale data without --allow-stale is refused in one line."""
    data_dir, run = trained
    h = tmp_path / "h.csv"
    h.write_text("symbol,units\nETH/USDT,0.25\n")
    r = CliRunner().invoke(app, ["predict", "--run", str(run), "--allow-stale", "--holdings", str(h),
                                 "--cash", "1000"])
    assert r.exit_code == 0, r.output
    assert "skipped SOL/USDT" in r.output and "orders" in r.output and "target [%]" in r.output
    r = CliRunner().invoke(app, ["predict", "--run", str(run)])
    assert r.exit_code == 2 and "--allow-stale" in r.output


@pytest.mark.parametrize("mode", ["long-only", "long-short"])
@pytest.mark.parametrize("policy, n_drop", [("topk", 1), ("topk", 0), ("proportional", None)])
def test_next_weights_replays_the_backtest_policy(mode, policy, n_drop):
    """next_weights fed back its own book, decision after decision, gives the backtest's weights
    (policy_weights + constrain) at every row: predict's targets are the backtest's rule, hysteresis
    included (catches a predict that ignores the held pairs: n_drop 0 then never keeps the book)."""
    from cryptotrain.backtest.portfolio_policy import next_weights, policy_weights
    from cryptotrain.backtest.portfolio_weights import constrain
    from cryptotrain.config import BacktestConfig

    rng = np.random.default_rng(3)
    scores = rng.normal(size=(40, 6))
    scores[rng.random(scores.shape) < 0.1] = np.nan
    bcfg = BacktestConfig(policy=policy, k=2, n_drop=n_drop, mode=mode, rebalance=1, max_exposure=0.4)
    w, _ = policy_weights(scores, bcfg)
    want = constrain(w, np.ones_like(scores), mode=mode, max_exposure=0.4, gross=1.0, target_vol=0.0,
                     timeframe_ms=TF)
    held = np.zeros(6)
    for t in range(len(scores)):
        held = next_weights(scores[t], np.full(6, np.nan), np.full(6, np.nan), held, bcfg)
        np.testing.assert_array_equal(held, want[t], err_msg=f"row {t}")


def test_set_changes_the_policy_of_the_targets(trained):
    """--set backtest.k=2 (topk) holds two pairs instead of the run's one, printed as JSON; the same option on a
    single-pair prediction (--data) is refused in one line."""
    data_dir, run = trained
    r = CliRunner().invoke(app, ["predict", "--run", str(run), "--allow-stale", "--json", "--set", "backtest.k=2"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["policy"]["k"] == 2 and sum(p["target_weight"] > 0 for p in res["pairs"]) == 2
    r = CliRunner().invoke(app, ["predict", "--run", str(run), "--allow-stale", "--set", "backtest.k=2",
                                 "--data", str(data_dir / "BTC_USDT-1h.csv")])
    assert r.exit_code == 2 and "--set is for a universe run" in r.output
