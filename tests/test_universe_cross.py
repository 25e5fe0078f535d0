"""The cross-section in a universe run (issue 29): cross features and excess labels in the dataset,
the cross-sectional metrics in evaluate's metrics.json, and no leakage across pairs.

The universe is test_universe.py's cut of the sample (BTC in full, ETH listed late, SOL delisted
early with a gap) plus XRP in full: four pairs, so most timestamps have at least cross_min_pairs = 3.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_universe import config, cut, make_universe, random_walk_after

from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import score
from cryptotrain.train.trainer import fit

CROSS = ["data.universe=[BTC/USDT, ETH/USDT, SOL/USDT, XRP/USDT]", "features.cross=[ret_1, vol_12]",
         "features.cross_windows=[12]", "features.cross_reference=BTC/USDT", "labels.target=excess"]


def make_cross_universe(d):
    make_universe(d)
    cut("XRP_USDT", d)
    return d


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("universe_cross")
    data_dir = make_cross_universe(tmp / "data")
    cfg = config(tmp, data_dir, *CROSS)
    run = fit(cfg).run_dir
    res = score(run, split="test")
    return cfg, run, res


def test_dataset_has_cross_columns_and_excess_labels_summing_to_zero(trained):
    """Catches cross columns missing from the features, a window that holds a NaN cross row (a thin
    timestamp), and excess labels that do not sum to zero over the pairs at a timestamp."""
    cfg, _, _ = trained
    ds = build_dataset(cfg)
    assert ds.feature_names[-10:] == ["xrank_ret_1", "xz_ret_1", "xrank_vol_12", "xz_vol_12", "mkt_ret",
                                      "mkt_beta_12", "mkt_corr_12", "rel_ret_1", "rel_ret_2", "rel_ret_4"]
    T = ds.window
    for k, rows in ds.splits.items():
        win = ds.features[(rows[:, None] - np.arange(T)[None, :]).ravel()]
        assert np.isfinite(win).all(), k
    r = pd.DataFrame({"t": ds.timestamps, "x": ds.ret}).dropna()
    g = r.groupby("t")["x"]
    full = g.count() >= cfg.features.cross_min_pairs
    assert full.sum() > 1000
    np.testing.assert_allclose(g.sum()[full], 0.0, atol=1e-15)
    assert g.count().min() >= cfg.features.cross_min_pairs      # a thin timestamp has no excess label at all


def test_metrics_json_has_the_cross_section(trained):
    """Catches a cross-sectional block missing from metrics.json or the figure, and a mean Rank IC that
    is not the mean over timestamps of the Spearman correlation across the pairs in predictions.csv."""
    _, run, res = trained
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    cs = m["cross_section"]
    for key in ("ic", "rank_ic", "icir", "rank_icir", "ic_positive", "spread", "top_return", "bottom_return"):
        assert set(cs[key]) == {"value", "lo", "hi"}, key
    assert {"momentum", "reversal", "linear"} <= set(cs["baselines"])
    assert cs["edge"]["kind"] in ("ranking", "none") and cs["edge"]["sentence"].startswith("Cross-sectional edge")
    assert cs["score"] == "predicted return"
    pred = res.predictions
    per_t = pred.groupby("timestamp").filter(lambda g: len(g) >= 3).groupby("timestamp")
    ric = per_t.apply(lambda g: g["pred_return"].corr(g["forward_return"], method="spearman"), include_groups=False)
    assert cs["n_timestamps"] == len(ric)
    assert cs["rank_ic"]["value"] == pytest.approx(ric.mean(), rel=1e-9)
    assert (run / "eval" / "test" / "plots" / "cross_section.png").stat().st_size > 5000


def test_replacing_one_pair_after_t0_changes_no_prediction_at_or_before_t0(tmp_path):
    """Replacing ETH's candles after t0 by a random walk, then training and evaluating from scratch,
    must change no prediction of ANY pair at or before t0 (a cross feature that reads a later candle
    of another pair would); and it must change another pair's predictions after t0, or the cross
    features would not read ETH at all."""
    clean, dirty = make_cross_universe(tmp_path / "clean"), make_cross_universe(tmp_path / "dirty")
    ts = load_ohlcv(dirty / "ETH_USDT-1h.csv", "1h")[0]["timestamp"].to_numpy()
    t0 = int(ts[int(len(ts) * 0.93)])
    random_walk_after(dirty / "ETH_USDT-1h.csv", t0)
    preds = []
    for name, d in (("clean", clean), ("dirty", dirty)):
        (tmp_path / name / "cfg").mkdir()
        run = fit(config(tmp_path / name / "cfg", d, *CROSS), tmp_path / name / "run").run_dir
        preds.append(score(run, split="test").predictions)
    a, b = preds
    assert (a[["timestamp", "symbol"]].to_numpy() == b[["timestamp", "symbol"]].to_numpy()).all()
    early = (a["timestamp"] <= t0).to_numpy()
    assert early.any() and set(a.loc[early, "symbol"]) >= {"BTC/USDT", "ETH/USDT", "XRP/USDT"}
    cols = ["p_sell", "p_hold", "p_buy", "confidence", "pred_return"]
    pd.testing.assert_frame_equal(a.loc[early, cols], b.loc[early, cols], check_exact=True)
    late_btc = (~early) & (a["symbol"] == "BTC/USDT").to_numpy()
    assert late_btc.any() and not np.array_equal(a.loc[late_btc, "p_buy"], b.loc[late_btc, "p_buy"])


def test_one_pair_runs_and_one_pair_files_are_refused(trained, tmp_path):
    """A one-file run with the cross group or excess labels, and a cross run scored on one pair's file,
    have no cross-section: one line naming the fix."""
    cfg, run, _ = trained
    one = cfg.model_copy(deep=True)
    one.data = one.data.model_copy(update={"universe": None, "dir": None, "path": str(tmp_path / "x.csv")})
    with pytest.raises(UserError, match="features.cross needs several pairs"):
        build_dataset(one)
    one.features = one.features.model_copy(update={"cross": []})
    with pytest.raises(UserError, match="labels.target excess needs several pairs"):
        build_dataset(one)
    with pytest.raises(UserError, match="--data-dir"):
        score(run, split="test", data=cfg.data.dir + "/ETH_USDT-1h.csv")


def test_predict_refuses_a_cross_run(trained):
    """predict reads one file's tail: a run whose features read every pair is refused in one line
    (not scored with the cross columns missing, nor blamed on changed feature code)."""
    from cryptotrain.predict import predict

    _, run, _ = trained
    with pytest.raises(UserError, match="evaluate --data-dir"):
        predict(run)
