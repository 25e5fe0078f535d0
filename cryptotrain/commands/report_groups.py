"""What `cryptotrain report` reads from a walk-forward directory (plan.json, metrics.json, the
stitched backtest/), a sweep directory (sweep.json, trials.csv) and a portfolio backtest's
directory (`backtest --weights`: stats.json, equity.csv, weights.csv, trades.csv), as plain data
for report/html/walkforward_sections.py, sweep_sections.py and portfolio_sections.py."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

import numpy as np

from cryptotrain.commands.report_data import backtest_data, trades_data, version
from cryptotrain.config import load_config
from cryptotrain.data.timestamps import periods_per_year
from cryptotrain.report.backtest_report import STRATEGY_NAMES, verdict_lines


def walkforward_data(wf: Path) -> dict[str, Any]:
    cfg = load_config(wf / "config.yaml")
    plan = json.loads((wf / "plan.json").read_text())
    metrics = json.loads((wf / "metrics.json").read_text()) if (wf / "metrics.json").is_file() else None
    missing = [] if metrics else [f"no stitched evaluation yet: `cryptotrain evaluate --run {wf}`"]
    bt = None
    if (wf / "backtest" / "stats.json").is_file():
        bt = backtest_data(wf / "backtest", Path(cfg.data.path) if cfg.data.path else None, cfg.data.timeframe)
    else:
        missing.append(f"no stitched backtest yet: `cryptotrain backtest --run {wf}`")
    verdicts = [s for s in ((metrics or {}).get("edge", {}).get("sentence"), (metrics or {}).get("direction_verdict")) if s]
    if bt is not None and bt["verdict"]:
        verdicts += verdict_lines(bt["verdict"], "Walk-forward")
    spans = ", ".join(f"{k.removesuffix('_span')} {v}" for k, v in plan["spans"].items())
    provenance = {"walk-forward": str(wf), "config": str(wf / "config.yaml"), "data": plan["data"],
                  "plan": f"{len(plan['folds'])} folds, {plan['mode']}, spans {spans} candles, embargo {plan['embargo']}",
                  "model": f"{cfg.model.type}, hidden {cfg.model.hidden_size}, window {cfg.data.window}",
                  "market": f"{cfg.data.symbol or '?'} {cfg.data.timeframe or ''}", "cryptotrain": version()}
    return {"kind": "walkforward", "name": wf.name, "plan": plan, "metrics": metrics, "backtest": bt,
            "verdicts": verdicts, "provenance": provenance, "missing_parts": missing, "symbol": cfg.data.symbol or "price"}


def _value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v.item() if hasattr(v, "item") else v


def sweep_data(sw: Path) -> dict[str, Any]:
    doc = json.loads((sw / "sweep.json").read_text())
    objective = doc["objective"]
    df = pd.read_csv(sw / "trials.csv")
    cols = list(df.columns)
    keys = cols[cols.index("state") + 1: cols.index("best_val_loss")]
    column = "best_val_loss" if objective == "val_loss" else objective
    trials = []
    for _, r in df.iterrows():
        n = int(r["number"])
        own = sw / "trials" / str(n) / "report.html"
        trials.append({"number": n, "state": r["state"], "params": {k: _value(r[k]) for k in keys},
                       "value": _value(r[column]), "val_sharpe": _value(r.get("val_sharpe")),
                       "epochs": _value(r.get("epochs")), "report": own.relative_to(sw).as_posix() if own.is_file() else None})
    log_keys = [k for k in keys if pd.api.types.is_numeric_dtype(df[k]) and (df[k] > 0).all()
                and df[k].max() >= 10 * df[k].min()]   # drawn over a decade or more: a log axis
    final = doc.get("final") or {}
    best = doc.get("best")
    verdicts = [s for s in (final.get("sentence"), (doc.get("pbo") or final.get("pbo") or {}).get("sentence")) if s]
    if not (doc.get("pbo") or final.get("pbo")):
        verdicts.append("PBO (probability of backtest overfitting): not computed for this sweep.")
    if best:
        verdicts.insert(0, f"Best trial {best['number']}: {objective} {best['value']:.5g} with "
                           + ", ".join(f"{k} = {v}" for k, v in best["params"].items()) + f" ({best['run_dir']}).")
    counts = doc.get("counts", {})
    provenance = {"sweep": str(sw), "objective": f"{objective} ({'minimized' if objective == 'val_loss' else 'maximized'})",
                  "trials": ", ".join(f"{v} {k}" for k, v in counts.items()),
                  "settings": ", ".join(f"{k} {v}" for k, v in doc.get("settings", {}).items() if v is not None),
                  "base config": str(sw / "base.yaml"), "cryptotrain": version()}
    return {"kind": "sweep", "name": sw.name, "objective": objective, "minimize": objective == "val_loss",
            "keys": keys, "log_keys": log_keys, "trials": trials, "importances": doc.get("importances") or {},
            "importance_method": doc.get("importance_method"), "n_complete": counts.get("complete", 0),
            "verdicts": verdicts, "provenance": provenance}


def is_portfolio_dir(path: Path) -> bool:
    """A `backtest --weights` output directory: stats.json with per-pair statistics and weights.csv."""
    return (path / "weights.csv").is_file() and (path / "stats.json").is_file() and (path / "equity.csv").is_file()


def portfolio_data(path: Path) -> dict[str, Any]:
    doc = json.loads((path / "stats.json").read_text())
    eq = pd.read_csv(path / "equity.csv")
    time = eq["timestamp"].to_numpy()
    bench = {STRATEGY_NAMES.get(c.removesuffix("_equity"), c): eq[c].to_numpy()
             for c in eq.columns if c.endswith("_equity")}
    w = pd.read_csv(path / "weights.csv")   # the target weight of a pair from each row on, until the next
    grid = w.pivot_table(index="timestamp", columns="symbol", values="weight", aggfunc="last")
    grid = grid.reindex(np.union1d(grid.index.to_numpy(), time)).ffill().fillna(0.0).reindex(time)
    tf_ms = int(np.median(np.diff(time))) if len(time) > 1 else 3_600_000
    bt = {"stats": {STRATEGY_NAMES.get(k, k): v for k, v in doc.items() if k in ("portfolio", "equal_weight", "btc_buy_and_hold", "momentum")},
          "settings": doc.get("settings", {}), "trades": trades_data(path / "trades.csv"),
          "equity": {"time": time, "equity": eq["equity"].to_numpy(), "drawdown": eq["drawdown"].to_numpy(),
                     "benchmarks": bench},
          "timeframe_ms": tf_ms, "periods_per_year": periods_per_year(tf_ms)}
    s = doc.get("settings", {})
    provenance = {"backtest": str(path), "pairs": ", ".join(grid.columns),
                  "settings": ", ".join(f"{k} {v}" for k, v in s.items() if v is not None), "cryptotrain": version()}
    return {"kind": "portfolio", "name": path.name, "backtest": bt, "per_pair": doc.get("per_pair", {}),
            "weights": {c: grid[c].to_numpy() for c in grid.columns}, "ended": doc.get("ended"),
            "verdicts": verdict_lines(doc["verdict"], "Portfolio") if doc.get("verdict") else [],
            "provenance": provenance}
