"""Sweeps over a universe (issue 33): `cryptotrain sweep` on a three-pair universe config with the
objectives val_ic (mean cross-sectional Rank IC on validation) and val_portfolio_sharpe (the config's
policy on validation, per-candle returns saved for DSR and PBO), the policy's settings in the space,
and the refusal of those objectives for one pair. Trials run in this process (--workers 1)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from cryptotrain.backtest.deflated_sharpe import candle_returns
from cryptotrain.backtest.universe_backtest import read_run, resolve_settings, trade_universe
from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.orchestration.sweep.trial import RESULT, RETURNS
from tests.test_universe import TINY, make_universe

ROOT = Path(__file__).resolve().parents[1]
SPACE = """train.lr: {float: [1e-4, 1e-2], log: true}
backtest.k: {int: [1, 2]}
backtest.rebalance: {choice: [1, 3]}
"""


@pytest.fixture(scope="module")
def universe(tmp_path_factory) -> Path:
    """Three tiny pairs (tests/test_universe.py's cut of the sample) and a topk universe config."""
    tmp = tmp_path_factory.mktemp("unisweep")
    path = tmp / "uni.yaml"
    path.write_text(TINY.format(dir=make_universe(tmp / "data"), runs=tmp / "runs")
                    + "backtest: {policy: topk, k: 2, rebalance: 2}\n")
    (tmp / "space.yaml").write_text(SPACE)
    return path


def _sweep(config: Path, objective: str, trials: int, name: str):
    return CliRunner().invoke(app, ["sweep", "--config", str(config), "--space", str(config.parent / "space.yaml"),
                                    "--trials", str(trials), "--pruner", "none", "--objective", objective,
                                    "--run-name", name, "--set", "train.epochs=1",
                                    "--set", "train.max_batches_per_epoch=3"])


def _direct_rank_ic(trial: Path) -> float:
    """Spearman's rho of the score (pred_return) and forward_return per validation timestamp with all three
    pairs (features.cross_min_pairs), then the mean: scipy on predictions.csv, not the code under test."""
    df = pd.read_csv(trial / "eval" / "val" / "predictions.csv").dropna(subset=["pred_return", "forward_return"])
    rhos = [spearmanr(g["pred_return"], g["forward_return"])[0] for _, g in df.groupby("timestamp") if len(g) >= 3]
    return float(np.nanmean(rhos))


def test_a_universe_sweep_scores_trials_on_their_portfolio_and_rank_ic(universe):
    """Catches a universe sweep that fails (a one-pair backtest of a universe run), val_ic not the mean
    Rank IC of the trial's own validation predictions, val_portfolio_sharpe or the saved returns not
    those of the trial's drawn policy settings (backtest.k, backtest.rebalance ignored: the base config's
    k=2, rebalance=2 traded instead), and a sweep without its DSR and PBO lines."""
    res = _sweep(universe, "val_portfolio_sharpe", 3, "ps")
    assert res.exit_code == 0, res.output
    sweep = universe.parent / "runs" / "ps"
    lines = res.output.splitlines()
    dsr = next(i for i, line in enumerate(lines) if "deflated Sharpe ratio" in line)
    assert any(line.startswith("Probability of backtest overfitting (CSCV") for line in lines[dsr:]), res.output
    saved = json.loads((sweep / "sweep.json").read_text())
    assert saved["pbo"]["n_strategies"] == 3 and 0.0 <= saved["final"]["dsr"] <= 1.0
    values = []
    for k in range(3):
        trial = sweep / "trials" / str(k)
        result = json.loads((trial / RESULT).read_text())
        cfg = load_config(trial / "config.yaml")
        drawn = (cfg.backtest.k, cfg.backtest.rebalance)
        uni, preds, _ = read_run(trial, "val")
        own = trade_universe(uni, preds, resolve_settings(cfg.backtest, cfg.labels.horizon), cfg.labels.horizon, 3)
        assert result["val_portfolio_sharpe"] == own.stats["portfolio"]["Sharpe Ratio"]
        with np.load(trial / RETURNS) as z:
            saved_r = z["r"]
        np.testing.assert_array_equal(saved_r, candle_returns(own.results["portfolio"]))
        if drawn != (2, 2):   # the base settings trade another portfolio: the drawn ones were applied
            base = cfg.backtest.model_copy(update={"k": 2, "rebalance": 2})
            other = trade_universe(uni, preds, base, cfg.labels.horizon, 3)
            assert not np.array_equal(candle_returns(other.results["portfolio"]), saved_r)
        assert result["val_ic"] == pytest.approx(_direct_rank_ic(trial), abs=1e-12)
        values.append(result["val_portfolio_sharpe"])
    assert saved["best"]["value"] == max(values)


def test_a_val_ic_sweep_selects_by_rank_ic_and_says_pbo_does_not_apply(universe):
    """Catches a val_ic sweep that selects by another number (the best is not the trial with the highest
    directly computed Rank IC) or offers a PBO of a selection it did not make."""
    res = _sweep(universe, "val_ic", 2, "ic")
    assert res.exit_code == 0, res.output
    sweep = universe.parent / "runs" / "ic"
    saved = json.loads((sweep / "sweep.json").read_text())
    direct = {k: _direct_rank_ic(sweep / "trials" / str(k)) for k in range(2)}
    assert saved["best"]["number"] == max(direct, key=direct.get)
    assert saved["best"]["value"] == pytest.approx(max(direct.values()), abs=1e-12)
    assert "selects by validation Rank IC" in saved["pbo"]["note"] and "deflated Sharpe ratio" in res.output
    assert "val_ic" in (sweep / "trials.csv").read_text().splitlines()[0]


@pytest.mark.parametrize("objective", ["val_ic", "val_portfolio_sharpe"])
def test_one_pair_with_a_universe_objective_is_one_line_exit_2(tmp_path, objective):
    """Catches a single-pair sweep that starts training (or fails with a traceback) on an objective that
    needs many pairs: one line naming the fix, exit 2, no sweep directory."""
    res = CliRunner().invoke(app, ["sweep", "--config", str(ROOT / "configs/tiny.yaml"), "--space",
                                   str(ROOT / "configs/space_small.yaml"), "--objective", objective,
                                   "--set", f"train.runs_dir={tmp_path / 'runs'}"])
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "needs a universe config" in res.output
    assert not (tmp_path / "runs").exists()
