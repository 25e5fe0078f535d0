"""labels.threshold: cost (thresholds from the config's backtest costs) and backtest.min_hold
(no position change within min_hold candles; fills still at the next open)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.backtest.backtester import trade
from cryptotrain.backtest.policy import apply_min_hold
from cryptotrain.cli import app
from cryptotrain.config import BacktestConfig, LabelsConfig, load_config
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.labels import label_thresholds, round_trip_cost

H = 3_600_000
T0 = 1_704_067_200_000


@pytest.mark.parametrize("fee, slip, margin", [(10, 2, 0), (5, 1, 3.5), (0, 0, 0)])
def test_cost_threshold_is_one_round_trip_of_the_backtest_settings_plus_the_margin(fee, slip, margin):
    bcfg = BacktestConfig(fee_bps=fee, slippage_bps=slip)
    lo, hi = label_thresholds(np.array([0.5, -0.5, 0.0]), LabelsConfig(threshold="cost", cost_margin_bps=margin), bcfg)
    expected = 2 * (fee + slip) / 1e4 + margin / 1e4
    assert hi == pytest.approx(expected) and lo == pytest.approx(-expected)
    assert round_trip_cost(bcfg) == pytest.approx(2 * (fee + slip) / 1e4)


def test_the_dataset_takes_the_cost_threshold_from_its_own_config():
    cfg = load_config("configs/tiny.yaml", ["labels.threshold=cost", "backtest.fee_bps=20",
                                            "backtest.slippage_bps=5", "labels.cost_margin_bps=1"])
    ds = build_dataset(cfg)
    assert ds.thresholds == pytest.approx((-0.0051, 0.0051))
    r = ds.ret[np.isfinite(ds.ret)]
    a = ds.action[np.isfinite(ds.ret)]
    assert (a[r > 0.0051] == 2).all() and (a[r < -0.0051] == 0).all() and (a[np.abs(r) <= 0.0051] == 1).all()


def _changes(x):
    return np.flatnonzero(np.diff(np.concatenate(([0.0], x))) != 0)


@pytest.mark.parametrize("m", [2, 4, 7])
def test_min_hold_never_changes_a_target_sooner_than_m_candles(m):
    rng = np.random.default_rng(m)
    target = rng.choice([-1.0, 0.0, 1.0], 500)
    out = apply_min_hold(target, m)
    ch = _changes(out)
    assert len(ch) > 10 and (np.diff(ch) >= m).all()
    assert (out[ch] == target[ch]).all()            # a change always goes to the policy's target of that candle
    # and it is as soon as allowed: from m candles after a change, out follows target at its first difference
    for a, b in zip(ch[:-1], ch[1:]):
        k = a + m
        assert (target[k:b] == out[a]).all()
    assert (apply_min_hold(target, 0) == target).all() and (apply_min_hold(target, 1) == target).all()


def _candles(n=80, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1])) * (1 + rng.normal(0, 0.001, n))
    return pd.DataFrame({"timestamp": T0 + np.arange(n) * H, "open": open_, "high": np.maximum(open_, close) * 1.001,
                         "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1.0})


def test_min_hold_in_the_engine_keeps_positions_and_fills_at_the_next_open():
    c = _candles()
    rows = np.arange(5, 70)
    acts = np.random.default_rng(3).choice([-1.0, 1.0, np.nan], len(rows))
    free, _ = trade(c, H, rows, acts, BacktestConfig(fee_bps=0, slippage_bps=0))
    held, _ = trade(c, H, rows, acts, BacktestConfig(fee_bps=0, slippage_bps=0, min_hold=4))
    f = held["model"].fills
    assert len(f.candle) < len(free["model"].fills.candle)
    assert (np.diff(f.candle) >= 4).all()          # every position is kept at least 4 candles
    pos = held["model"].position
    opens = c["open"].to_numpy()[5:71]
    assert np.allclose(f.price, opens[f.candle])   # fills at the open (no slippage here) of the candle after the decision
    assert (pos[f.candle] != pos[f.candle - 1]).all()


def test_cli_min_hold_is_an_option_and_is_checked(tmp_path):
    c = _candles()
    data = tmp_path / "BTC_USDT-1h.csv"
    c.to_csv(data, index=False)
    sig = tmp_path / "rule.csv"
    pd.DataFrame({"timestamp": T0 + np.arange(5, 60) * H, "position": np.tile([1, -1], 28)[:55]}).to_csv(sig, index=False)
    res = CliRunner().invoke(app, ["backtest", "--signals", str(sig), "--data", str(data), "--min-hold", "3"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "rule_backtest" / "stats.json").read_text())
    assert doc["settings"]["min_hold"] == 3 and doc["verdict"]["min_hold"] == 3
    trades = pd.read_csv(tmp_path / "rule_backtest" / "trades.csv")
    closed = trades[~trades["open"].astype(bool)]     # the one still open at the end is cut by the range
    assert len(closed) > 5 and (pd.to_timedelta(closed["duration"]) >= pd.Timedelta(hours=3)).all()
    res = CliRunner().invoke(app, ["backtest", "--signals", str(sig), "--data", str(data), "--min-hold", "-1"])
    assert res.exit_code == 2 and "--min-hold" in res.output
