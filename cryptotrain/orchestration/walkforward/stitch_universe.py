"""A universe walk-forward's results (data.universe): the folds' test predictions (one row per pair and
decision time, a `symbol` column) stitched and sorted by time then symbol, the per-fold table with
each fold's cross-sectional IC and Rank IC (evaluate/cross_section.py, the score a policy ranks), and
the stitched predictions traded by the config's policy through the portfolio backtest
(universe_backtest.trade_and_write: the momentum benchmark, the equal-weight basket, BTC, PSR and the
verdict) into WF_DIR/backtest/; each fold's portfolio return and turnover come from that backtest.

A missing fold's test period has no predictions: the policy sees no scores there (no new targets).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.backtest.portfolio_backtest import PortfolioReport
from cryptotrain.backtest.settings import backtest_settings, settings_dir_name
from cryptotrain.backtest.universe_backtest import (load_universe, read_predictions, resolve_settings, score_column,
                                                    trade_and_write)
from cryptotrain.config import Config, load_config
from cryptotrain.errors import UserError
from cryptotrain.evaluate.cross_section import common_cells, cross_ic, score_panel
from cryptotrain.fileio import atomic_path, atomic_write_text, to_jsonable


def cross_row(preds: pd.DataFrame, min_pairs: int, src: str) -> dict:
    """Mean cross-sectional IC and Rank IC of a predictions frame (the policy's score against forward_return)."""
    frame = preds.assign(score=score_column(preds, src)[0])
    _, _, panel = score_panel(frame, ["score"])
    cells = common_cells(panel["forward_return"], {"score": panel["score"]}, min_pairs)
    ic, ric = cross_ic(panel["score"], panel["forward_return"], cells)

    def mean(x: np.ndarray) -> float | None:
        return float(np.nanmean(x)) if np.isfinite(x).any() else None

    return {"cross_ic": mean(ic), "rank_ic": mean(ric), "cross_sections": int(np.isfinite(ric).sum())}


def write_stitched_universe(wf_dir: Path, cfg: Config, plan: dict, done: list[int], failed: dict[int, str],
                            fold_row) -> dict:
    """predictions.csv (a column fold) and metrics.json of a universe walk-forward; -> the metrics dict.
    `fold_row`: stitch.fold_row (the single-pair table's columns from the fold's eval/test files)."""
    folds = {f["fold"]: f for f in plan["folds"]}
    parts, rows = [], []
    for k in sorted(done):
        d = wf_dir / "folds" / str(k)
        p = pd.read_csv(d / "eval" / "test" / "predictions.csv")
        parts.append(p.assign(fold=k))
        rows.append({**fold_row(folds[k], d), **cross_row(p, cfg.features.cross_min_pairs, str(d))})
    frame = pd.concat(parts, ignore_index=True).sort_values(["timestamp", "symbol"], kind="stable")
    if frame.duplicated(["timestamp", "symbol"]).any():
        raise AssertionError("two folds scored one (pair, time): the plan is wrong")
    with atomic_path(wf_dir / "predictions.csv", suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    missing = [{"fold": k, "test_start": folds[k]["dates"]["test"][0], "test_end": folds[k]["dates"]["test"][1],
                "error": failed.get(k, "not run")} for k in sorted(set(folds) - set(done))]
    metrics = {"run": str(wf_dir), "kind": "walkforward", "universe": list(cfg.data.universe), "folds": rows,
               "missing": missing, "first_ts": int(frame["timestamp"].iloc[0]),
               "last_ts": int(frame["timestamp"].iloc[-1]),
               "cross_section": cross_row(frame, cfg.features.cross_min_pairs, str(wf_dir / "predictions.csv")),
               "warnings": [f"fold {m['fold']} failed: test period {m['test_start']} .. {m['test_end']} is missing "
                            f"from the stitched results ({m['error']})" for m in missing]}
    atomic_write_text(wf_dir / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    return metrics


def backtest_stitched_universe(wf_dir: Path, overrides: dict | None = None) -> PortfolioReport:
    """The stitched predictions traded by the config's policy into WF_DIR/backtest/ (other settings:
    backtest-<settings>/)."""
    wf_dir = Path(wf_dir)
    cfg = load_config(wf_dir / "config.yaml")
    path = wf_dir / "predictions.csv"
    if not path.is_file():
        raise UserError(f"{path} not found; run `cryptotrain walkforward` to finish this walk-forward run")
    d = cfg.data
    bcfg = backtest_settings(cfg.backtest, overrides or {})
    out_dir = wf_dir / settings_dir_name("backtest", cfg.backtest, bcfg)
    bcfg = resolve_settings(bcfg, cfg.labels.horizon)
    uni = load_universe(d.universe, d.timeframe, data_dir=d.dir, paths=d.paths)
    preds = read_predictions(pd.read_csv(path), uni, len(d.universe), str(path), cfg.model)
    return trade_and_write(uni, preds, bcfg, cfg.labels.horizon, len(d.universe), out_dir,
                           f"{wf_dir.name} (stitched walk-forward test parts")


def add_fold_portfolio(wf_dir: Path, metrics: dict, plan: dict, rep: PortfolioReport) -> dict:
    """Each fold row gets its portfolio return [%] (equity after its last test decision's candle over
    equity at its first test candle, as stitch.fold_trading) and turnover (the stats' Turnover on its
    candles: notional of the fills at their opens / mean equity); metrics.json is rewritten. -> metrics."""
    p = rep.results["portfolio"]
    ts, eq = p.timestamps, p.equity
    candle, notional = p.fills.candle, p.fills.notional
    folds = {f["fold"]: f for f in plan["folds"]}
    for r in metrics["folds"]:
        f = folds[r["fold"]]
        a = int(np.searchsorted(ts, f["first_ts"]["test"]))
        b = min(int(np.searchsorted(ts, f["last_ts"]["test"], side="right")), len(ts) - 1)
        r["return_pct"] = float(100.0 * (eq[b] / eq[a] - 1.0))
        r["turnover"] = float(notional[(candle > a) & (candle <= b)].sum() / eq[a:b + 1].mean())
    metrics["fold_trading_settings"] = rep.settings.model_dump(mode="json")
    atomic_write_text(Path(wf_dir) / "metrics.json", json.dumps(to_jsonable(metrics), indent=2) + "\n")
    return metrics
