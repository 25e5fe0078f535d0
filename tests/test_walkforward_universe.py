"""Walk-forward over a universe (issue 33): folds by time over the union calendar of three tiny pairs
cut from the sample (tests/test_universe.py's), one pooled model per fold, the stitched predictions
sorted by time then symbol and traded by the config's policy through the portfolio backtest, the
per-fold Rank IC; no leakage across folds when one pair's future changes; reuse of finished folds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.timestamps import format_utc
from cryptotrain.orchestration.walkforward.run import walk_forward
from cryptotrain.predict_universe import predict_universe
from cryptotrain.train.checkpoint import load_checkpoint
from tests.test_universe import config, make_universe, random_walk_after

SPANS = ["walkforward.train_span=900", "walkforward.val_span=300", "walkforward.test_span=300",
         "walkforward.max_folds=2", "train.max_batches_per_epoch=4", "backtest.policy=topk", "backtest.k=1"]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wfu")
    data = make_universe(tmp / "data")
    cfg = config(tmp, data, *SPANS)
    wf = tmp / "runs" / "walkforward-u"
    return tmp, data, cfg, wf, walk_forward(cfg, wf)


def test_universe_walkforward_stitches_every_pair_and_trades_the_portfolio(base):
    """Catches: stitching that assumes one prediction per timestamp (drops or refuses pairs), an unsorted
    stitched file, a stitched backtest that trades one pair instead of the policy's portfolio, and a
    per-fold table without the fold's Rank IC and portfolio return."""
    _, _, cfg, wf, res = base
    assert not res.failed and len(res.plan["folds"]) == 2
    preds = pd.read_csv(wf / "predictions.csv")
    assert set(preds["symbol"]) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    assert preds.equals(preds.sort_values(["timestamp", "symbol"], kind="stable"))
    for f in res.plan["folds"]:
        part = preds[preds["fold"] == f["fold"]]
        fold = pd.read_csv(wf / "folds" / str(f["fold"]) / "eval" / "test" / "predictions.csv")
        assert len(part) == len(fold) and part["timestamp"].min() == f["first_ts"]["test"]
        assert part["timestamp"].max() == f["last_ts"]["test"]
    stats = json.loads((wf / "backtest" / "stats.json").read_text())
    assert {"portfolio", "momentum", "equal_weight"} <= set(stats) and stats["settings"]["policy"] == "topk"
    assert set(stats["per_pair"]) >= {"BTC_USDT", "ETH_USDT"}
    m = json.loads((wf / "metrics.json").read_text())
    for r in m["folds"]:
        assert r["rank_ic"] is not None and -1 <= r["rank_ic"] <= 1 and r["cross_sections"] > 0
        assert np.isfinite(r["return_pct"]) and r["turnover"] >= 0
    # the folds' returns chain to the stitched portfolio's (the folds are adjacent, none missing)
    total = np.prod([1 + r["return_pct"] / 100 for r in m["folds"]]) - 1
    assert total == pytest.approx(stats["portfolio"]["Return [%]"] / 100, abs=1e-9)
    assert all((wf / "plots" / p).is_file() for p in ("equity_folds.png", "fold_accuracy.png", "timeline.png"))


def test_universe_walkforward_reuses_finished_folds(base):
    """Catches: a rerun that retrains finished universe folds (or changes their results)."""
    _, _, cfg, wf, _ = base
    before = (wf / "predictions.csv").read_bytes()
    again = walk_forward(cfg, wf)
    assert again.reused == [1, 2] and (wf / "predictions.csv").read_bytes() == before


def test_one_pairs_future_changes_nothing_in_fold_1(base, tmp_path):
    """Catches leakage across folds in a universe: ETH's candles after fold 1's test end replaced by a
    random walk must leave fold 1's predictions of every pair, its parameters, normalizer and
    thresholds bit-identical (they would differ if fold 1 read any later candle, e.g. through a
    pooled normalizer, the cross-sectional features or the calendar), while fold 2 changes."""
    _, data, _, wf, res = base
    data2 = tmp_path / "data"
    shutil.copytree(data, data2)
    end = res.plan["folds"][0]["last_ts"]["test"] + res.plan["horizon"] * 3_600_000 + 3_600_000
    random_walk_after(data2 / "ETH_USDT-1h.csv", end)
    cfg2 = config(tmp_path, data2, *SPANS)
    wf2 = tmp_path / "runs" / "walkforward-u"
    walk_forward(cfg2, wf2)

    def fold(d: Path, k: int):
        ck = load_checkpoint(d / "folds" / str(k) / "checkpoints" / "best.npz")
        return (pd.read_csv(d / "folds" / str(k) / "eval" / "test" / "predictions.csv"), ck)

    (p1, c1), (q1, d1) = fold(wf, 1), fold(wf2, 1)
    pd.testing.assert_frame_equal(p1, q1, check_exact=True)
    assert set(p1["symbol"]) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    for k in c1.params:
        assert np.array_equal(c1.params[k], d1.params[k])
    n1, n2 = c1.normalizer, d1.normalizer
    assert np.array_equal(n1.center, n2.center) and np.array_equal(n1.scale, n2.scale)
    assert c1.thresholds == d1.thresholds
    p2, q2 = fold(wf, 2)[0], fold(wf2, 2)[0]
    assert not p2[["p_sell", "p_hold", "p_buy"]].equals(q2[["p_sell", "p_hold", "p_buy"]])


def test_universe_walkforward_resumes_an_unmarked_fold(base):
    """Catches: a universe fold killed after training but before it was scored and marked (no fold.json,
    no eval/) being skipped, or its redo changing the stitched results."""
    _, _, cfg, wf, _ = base
    before = (wf / "predictions.csv").read_bytes()
    (wf / "folds" / "2" / "fold.json").unlink()
    shutil.rmtree(wf / "folds" / "2" / "eval")
    again = walk_forward(cfg, wf)
    assert again.reused == [1] and not again.failed
    assert (wf / "folds" / "2" / "fold.json").is_file() and (wf / "predictions.csv").read_bytes() == before


def test_evaluate_run_of_a_universe_walkforward_keeps_the_fold_table(base):
    """Catches: `evaluate --run WF_DIR` of a universe walk-forward failing on the single-pair report, or
    rewriting metrics.json without the folds' Rank IC, portfolio return and turnover."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app
    _, _, _, wf, _ = base
    before = json.loads((wf / "metrics.json").read_text())["folds"]
    out = CliRunner().invoke(app, ["evaluate", "--run", str(wf)])
    assert out.exit_code == 0, out.output
    after = json.loads((wf / "metrics.json").read_text())["folds"]
    assert [(r["rank_ic"], r["return_pct"], r["turnover"]) for r in after] == \
        [(r["rank_ic"], r["return_pct"], r["turnover"]) for r in before]


def test_universe_folds_on_ray_equal_folds_trained_alone(local_ray, tmp_path):
    """Catches: a universe fold that depends on where it runs (a Ray worker reading other files or
    another pair order than the driver): 2 Ray workers give the stitched file of the in-process run
    with the same BLAS thread count, bit for bit."""
    pytest.importorskip("ray")
    data = make_universe(tmp_path / "data")
    alone = walk_forward(config(tmp_path, data, *SPANS), tmp_path / "alone", workers=1, blas_threads=1)
    on_ray = walk_forward(config(tmp_path, data, *SPANS), tmp_path / "ray", workers=2)
    assert alone.failed == {} and on_ray.failed == {}
    assert (tmp_path / "ray" / "predictions.csv").read_bytes() == (tmp_path / "alone" / "predictions.csv").read_bytes()


def test_predict_from_the_walkforward_dir_is_its_last_folds_model(base, tmp_path):
    """`predict --run WF_DIR --at T` (T a candle of the last fold's test part) gives every pair the stitched
    walk-forward scores to the bit and names the fold (catches predicting with the first fold's model, or
    with the base config's normalizer instead of the fold's); a walk-forward directory without a
    finished fold is one line, exit 2."""
    _, _, _, wf, res = base
    stitched = pd.read_csv(wf / "predictions.csv")
    last = res.plan["folds"][-1]
    part = stitched[stitched["fold"] == last["fold"]]
    t = int(part["timestamp"].iloc[len(part) // 2])
    rows = part[part["timestamp"] == t].set_index("symbol")
    out = predict_universe(wf, at=format_utc(t))
    assert out["walkforward"]["fold"] == last["fold"] == out["walkforward"]["folds"]
    assert out["run"] == str(wf / "folds" / str(last["fold"]))
    got = {p["symbol"]: p for p in out["pairs"]}
    assert set(got) == set(rows.index) and len(got) >= 2
    for s, p in got.items():
        for c in ("p_buy", "p_sell", "confidence", "pred_return"):
            assert p[c] == float(rows.loc[s, c]), (s, c)
    cli = CliRunner().invoke(app, ["predict", "--run", str(wf), "--at", format_utc(t)])
    assert cli.exit_code == 0, cli.output
    assert f"walk-forward {wf}: the model of its last finished fold, {last['fold']} of {last['fold']}" in cli.output
    empty = tmp_path / "wf-empty"
    (empty / "folds" / "1").mkdir(parents=True)
    shutil.copy(wf / "plan.json", empty / "plan.json")
    cli = CliRunner().invoke(app, ["predict", "--run", str(empty)])
    assert cli.exit_code == 2 and "walk-forward directory without a finished fold" in cli.output
    assert "Traceback" not in cli.output
