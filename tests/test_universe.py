"""Universe runs (issue 27): many pairs in one dataset, one model, evaluated per pair.

The universe is cut from the sample: BTC in full, ETH listed late (its first 500 candles dropped),
SOL delisted early (its last 200 dropped) with a 20-candle gap; about 2,500 1h candles each.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.ohlcv import load_ohlcv, write_ohlcv
from cryptotrain.data.timestamps import parse_utc
from cryptotrain.errors import UserError
from cryptotrain.evaluate.scorer import score
from cryptotrain.train.trainer import fit

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
TF = 3_600_000
TINY = """
data:
  universe: [BTC/USDT, ETH/USDT, SOL/USDT]
  dir: {dir}
  timeframe: 1h
  window: 16
features: {{returns: [1, 2, 4], volatility: [12], macd: [6, 13, 5], volume_zscore: 12, vwap: 12}}
labels: {{horizon: 2}}
model: {{type: gru_attention, hidden_size: 8, head_sizes: [8], w_return: 0.5}}
train: {{seed: 0, epochs: 2, batch_size: 32, max_batches_per_epoch: 8, runs_dir: {runs}}}
"""


def cut(symbol: str, out: Path, *, drop_first: int = 0, drop_last: int = 0, gap: int = 0) -> pd.DataFrame:
    df, _ = load_ohlcv(SAMPLE / f"{symbol}-1h.csv.gz", "1h")
    ts = df["timestamp"].to_numpy()
    df = df[(ts >= parse_utc("2026-02-01")) & (ts < parse_utc("2026-05-16T19:00"))].reset_index(drop=True)
    df = df.iloc[drop_first:len(df) - drop_last]
    if gap:
        mid = len(df) // 2
        df = pd.concat([df.iloc[:mid], df.iloc[mid + gap:]])
    write_ohlcv(df.reset_index(drop=True), out / f"{symbol}-1h.csv")
    return df


def make_universe(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    cut("BTC_USDT", d)
    cut("ETH_USDT", d, drop_first=500)
    cut("SOL_USDT", d, drop_last=200, gap=20)
    return d


def random_walk_after(path: Path, t0: int, seed: int = 7) -> None:
    """The candles of `path` after t0 replaced by a random walk from the last close at or before t0 (2% steps,
    high and low 1% either side): the future a leakage test changes."""
    df, _ = load_ohlcv(path, "1h")
    after = df["timestamp"].to_numpy() > t0
    walk = df["close"].to_numpy()[~after][-1] * np.exp(np.cumsum(np.random.default_rng(seed).normal(0, 0.02,
                                                                                                   after.sum())))
    for c, k in (("open", 1.0), ("high", 1.01), ("low", 0.99), ("close", 1.0)):
        col = df[c].to_numpy(dtype=np.float64).copy()
        col[after] = walk * k
        df[c] = col
    write_ohlcv(df, path)


def config(tmp: Path, data_dir: Path, *overrides: str):
    path = tmp / "universe.yaml"
    path.write_text(TINY.format(dir=data_dir, runs=tmp / "runs"))
    return load_config(path, list(overrides))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny universe run (the data folder, the config, the run directory), evaluated on test."""
    tmp = tmp_path_factory.mktemp("universe")
    data_dir = make_universe(tmp / "data")
    cfg = config(tmp, data_dir)
    run = fit(cfg).run_dir
    score(run, split="test")
    return data_dir, cfg, run


def test_windows_stay_inside_each_pairs_own_candles(trained):
    """A window that straddles two pairs (the rows of one pair follow another's), a pair's gap or its
    first or last candle would join candles an hour apart that are not: every window's T rows must be
    one pair's and one hour apart, and the late and early pairs must still have windows."""
    _, cfg, _ = trained
    ds = build_dataset(cfg)
    T = cfg.data.window
    for name, rows in ds.splits.items():
        win = rows[:, None] + np.arange(-T + 1, 1)
        assert (ds.symbol_id[win] == ds.symbol_id[rows][:, None]).all(), name
        assert (np.diff(ds.timestamps[win], axis=1) == TF).all(), name
        # the label's candles t + 1 .. t + 1 + h exist in the same pair, an hour apart
        lab = rows[:, None] + np.arange(0, cfg.labels.horizon + 2)
        assert (lab < len(ds.timestamps)).all() and (ds.symbol_id[lab] == ds.symbol_id[rows][:, None]).all()
        assert (np.diff(ds.timestamps[lab], axis=1) == TF).all(), name
    counts = {s: {k: int((ds.symbol_id[v] == i).sum()) for k, v in ds.splits.items()} for i, s in enumerate(ds.symbols)}
    assert counts["ETH/USDT"]["train"] > 0 and counts["SOL/USDT"]["train"] > 0 and counts["SOL/USDT"]["val"] > 0


def test_split_times_are_shared_by_every_pair(trained):
    """Splits cut on each pair's own rows (the late ETH's fractions) would put one pair's validation
    before another's training: every training decision must precede every validation decision, of
    any pair, and those every test one; and the boundaries are the calendar's, stored in data_range."""
    _, cfg, _ = trained
    ds = build_dataset(cfg)
    ts = {k: ds.timestamps[v] for k, v in ds.splits.items()}
    assert ts["train"].max() < ts["val"].min() and ts["val"].max() < ts["test"].min()
    assert ts["val"].min() >= ds.data_range["val_start_ts"] and ts["test"].min() >= ds.data_range["test_start_ts"]
    # sorted by time, then symbol, as predictions.csv
    for rows in ds.splits.values():
        keys = list(zip(ds.timestamps[rows], np.asarray(ds.symbols)[ds.symbol_id[rows]]))
        assert keys == sorted(keys)


def test_normalizer_scope_fits_training_rows(trained):
    """per_symbol: one row of statistics per pair, from that pair's training rows only (a pair's
    statistics taken from all its rows, or from another pair's, would differ); pooled: one row."""
    _, cfg, _ = trained
    ds = build_dataset(cfg)
    assert ds.normalizer.center.shape == (3, len(ds.feature_names))
    T = cfg.data.window
    for p in range(3):
        rows = ds.splits["train"][ds.symbol_id[ds.splits["train"]] == p]
        used = np.unique((rows[:, None] + np.arange(-T + 1, 1)).ravel())
        np.testing.assert_allclose(ds.features[used].astype(np.float64).mean(axis=0), 0, atol=1e-4)
    pooled = build_dataset(cfg.model_copy(update={"features": cfg.features.model_copy(
        update={"normalizer_scope": "pooled"})}))
    assert pooled.normalizer.center.shape == (len(ds.feature_names),)
    assert not np.allclose(pooled.features, ds.features)


def test_training_batches_mix_pairs(trained):
    """Batches drawn pair by pair would teach the model one pair at a time: the first epoch's
    batches (seeded) hold windows of every pair."""
    from cryptotrain.train.loop import epoch_batches

    _, cfg, _ = trained
    ds = build_dataset(cfg)
    batches = epoch_batches(ds.splits["train"], 32, np.random.default_rng([0, 1]), 4)
    again = epoch_batches(ds.splits["train"], 32, np.random.default_rng([0, 1]), 4)
    assert all((a == b).all() for a, b in zip(batches, again))
    assert all(len(np.unique(ds.symbol_id[b])) == 3 for b in batches)


def test_predictions_and_per_pair_metrics(trained):
    """predictions.csv has one row per (pair, decision time) with its symbol, sorted by time then
    symbol, matching the dataset's windows; metrics.json has a per-pair table keyed by symbol whose
    window counts add up and whose baselines are scored on the pair's own windows."""
    _, cfg, run = trained
    pred = pd.read_csv(run / "eval" / "test" / "predictions.csv")
    assert list(pred.columns[:3]) == ["timestamp", "symbol", "close"]
    keys = list(zip(pred["timestamp"], pred["symbol"]))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(pred["symbol"]) == {"BTC/USDT", "ETH/USDT", "SOL/USDT"}
    m = json.loads((run / "eval" / "test" / "metrics.json").read_text())
    per = m["per_pair"]
    assert sum(v["windows"] for v in per.values()) == len(pred) == m["n_windows"]
    for sym, v in per.items():
        rows = pred[pred["symbol"] == sym]
        assert v["windows"] == len(rows)
        assert v["accuracy"]["value"] == pytest.approx((rows["pred_action"] == rows["true_action"]).mean())
        assert v["baselines"]["zero_return"]["accuracy"] == pytest.approx((rows["true_action"] == 0).mean())
        assert v["accuracy"]["lo"] <= v["accuracy"]["value"] <= v["accuracy"]["hi"]
        assert "ic_pearson" in v


def test_universe_of_one_equals_the_single_file_run(tmp_path):
    """data.universe: [BTC/USDT] with data.paths must give the single-file run's numbers bit for bit
    (parameters after training and every validation loss): a universe path that reorders windows,
    refits the normalizer another way or moves batch columns would change the last bits."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    cut("BTC_USDT", data_dir)
    single = config(tmp_path, data_dir)
    single.data = single.data.model_copy(update={"universe": None, "dir": None,
                                                 "path": str(data_dir / "BTC_USDT-1h.csv")})
    one = config(tmp_path, data_dir, "data.universe=[BTC/USDT]")
    a, b = fit(single, tmp_path / "a"), fit(one, tmp_path / "b")
    assert [r["val_loss"] for r in a.rows] == [r["val_loss"] for r in b.rows]
    from cryptotrain.train.checkpoint import load_checkpoint

    pa, pb = (load_checkpoint(r.run_dir / "checkpoints" / "last.npz").params for r in (a, b))
    assert all(np.array_equal(pa[k], pb[k]) for k in pa)
    ea, eb = score(a.run_dir), score(b.run_dir)
    cols = [c for c in ea.predictions.columns]
    pd.testing.assert_frame_equal(ea.predictions[cols], eb.predictions[cols])


def test_no_leakage_across_pairs_or_time(tmp_path):
    """Replacing ETH's candles after t0 (inside the test period) by a random walk, then training and
    evaluating again from scratch, must change no prediction of any pair at or before t0: a feature,
    normalizer, threshold or early-stopping decision that reads later candles, or another pair's,
    would. (It must change ETH's predictions after t0, or the test checks nothing.)"""
    clean, dirty = make_universe(tmp_path / "clean"), make_universe(tmp_path / "dirty")
    ts = load_ohlcv(dirty / "ETH_USDT-1h.csv", "1h")[0]["timestamp"].to_numpy()
    t0 = int(ts[int(len(ts) * 0.93)])
    random_walk_after(dirty / "ETH_USDT-1h.csv", t0)
    preds = []
    for name, d in (("clean", clean), ("dirty", dirty)):
        (tmp_path / name / "cfg").mkdir()
        run = fit(config(tmp_path / name / "cfg", d), tmp_path / name / "run").run_dir
        preds.append(score(run, split="test").predictions)
    a, b = preds
    assert (a["timestamp"].to_numpy() == b["timestamp"].to_numpy()).all()
    early = (a["timestamp"] <= t0).to_numpy()
    assert early.any()
    cols = ["p_sell", "p_hold", "p_buy", "confidence", "pred_return"]
    pd.testing.assert_frame_equal(a.loc[early, cols], b.loc[early, cols], check_exact=True)
    late_eth = (~early) & (a["symbol"] == "ETH/USDT").to_numpy()
    assert not np.array_equal(a.loc[late_eth, "p_buy"].to_numpy(), b.loc[late_eth, "p_buy"].to_numpy())


def test_checkpoint_refuses_an_unknown_pair(trained, tmp_path):
    """Scoring a universe run on a file of a pair it never saw would apply another pair's statistics:
    refused in one line naming the pair, exit 2; a known pair's file is scored."""
    data_dir, _, run = trained
    cut("XRP_USDT", tmp_path)
    res = CliRunner().invoke(app, ["evaluate", "--run", str(run), "--data", str(tmp_path / "XRP_USDT-1h.csv")])
    assert res.exit_code == 2 and "XRP_USDT" in res.output and "not trained on" in res.output, res.output
    ok = score(run, split="test", data=data_dir / "ETH_USDT-1h.csv")
    assert set(ok.predictions["symbol"]) == {"ETH/USDT"}


def test_evaluate_data_dir_scores_every_pair(trained, tmp_path):
    """evaluate --data-dir DIR scores the run on another folder of the same pairs: here a copy of its
    own, so every window's numbers match the run's own evaluation (other folder, same candles)."""
    data_dir, _, run = trained
    other = tmp_path / "copy"
    other.mkdir()
    for f in data_dir.iterdir():
        (other / f.name).write_bytes(f.read_bytes())
    res = score(run, split="test", data_dir=other)
    own = pd.read_csv(run / "eval" / "test" / "predictions.csv")
    got = res.predictions.merge(own[["timestamp", "symbol", "p_buy"]], on=["timestamp", "symbol"])
    assert len(got) == len(own) and (got["p_buy_x"] == got["p_buy_y"]).all()
    assert res.out_dir.name == "copy-test"


@pytest.mark.parametrize("override, message", [
    (["data.dir=null"], "data.dir"),
    (["data.paths={BTC/USDT: a.csv}"], "one of them"),
    (["data.universe=[BTC/USDT, BTC/USDT]"], "distinct"),
])
def test_bad_universe_configs(tmp_path, override, message):
    """A universe with no folder, with both a folder and files, or a symbol twice: one clear line."""
    with pytest.raises(UserError, match=message):
        config(tmp_path, tmp_path, *override)


def test_missing_pair_file_is_named(tmp_path):
    """A data.dir without one of the pairs' files: the error names the pair and the fetch command."""
    d = tmp_path / "data"
    d.mkdir()
    cut("BTC_USDT", d)
    with pytest.raises(UserError, match="ETH/USDT, SOL/USDT.*fetch"):
        build_dataset(config(tmp_path, d))


def test_data_inspect_folder_has_a_row_per_pair(tmp_path):
    """data inspect DIR: one row per pair and the range every pair covers (the late ETH's first candle
    to the early SOL's last); a range taken from one pair, or the union, would name other times."""
    d = make_universe(tmp_path / "data")
    res = CliRunner().invoke(app, ["data", "inspect", str(d)])
    assert res.exit_code == 0, res.output
    eth, sol = (load_ohlcv(d / f"{s}-1h.csv", "1h")[0]["timestamp"] for s in ("ETH_USDT", "SOL_USDT"))
    from cryptotrain.data.timestamps import format_utc

    assert all(s in res.output for s in ("BTC_USDT", "ETH_USDT", "SOL_USDT"))
    assert f"every pair has candles from {format_utc(eth.iloc[0])} to {format_utc(sol.iloc[-1])}" in res.output
