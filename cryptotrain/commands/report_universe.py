"""What `cryptotrain report` reads from a universe run (data.universe: many pairs in one run), as
plain data for report/html/universe_sections.py: the evaluation (eval/<split>/metrics.json with
per_pair and cross_section), the per-timestamp Rank IC and score groups computed here from
predictions.csv by evaluate/cross_section.py (evaluate saves only their means and the PNG), the
portfolio backtest (`backtest --run RUN`: backtest/<split>/, read as `backtest --weights` outputs are),
the training log and the provenance.

The cross-section here is the model's cells (a finite score and forward return at a timestamp with at
least min_pairs pairs); evaluate also needs its baselines' scores there, which predictions.csv lacks,
so a timestamp where a baseline has none (a gap in a pair's candles) can be here and not there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.commands.report_data import version
from cryptotrain.commands.report_groups import is_portfolio_dir, portfolio_data
from cryptotrain.config import load_config
from cryptotrain.evaluate.cross_section import common_cells, cross_series, score_panel
from cryptotrain.train.metrics_log import read_rows


def cross_data(predictions: Path, cs: dict[str, Any]) -> dict[str, Any]:
    """The model's per-timestamp Rank IC (T',) and score groups' mean returns (T', q) at the timestamps
    with a cross-section, from predictions.csv; the score as evaluate chose it (cs["score"])."""
    df = pd.read_csv(predictions)
    df["score"] = (df["pred_return"] if cs.get("score") == "predicted return" else df["p_buy"] - df["p_sell"])
    ts, _, p = score_panel(df, ["score"])
    cells = common_cells(p["forward_return"], {"model": p["score"]}, int(cs["min_pairs"]))
    rows = np.flatnonzero(cells.any(axis=1))
    s = cross_series(p["score"], p["forward_return"], cells, int(cs["quantiles"]))
    return {"time": ts[rows], "rank_ic": s["rank_ic"][rows], "groups": s["groups"][rows],
            "horizon": int(cs["horizon"]), "excess": cs.get("target") == "excess", "score": cs.get("score", "score"),
            "sentence": cs["edge"]["sentence"], "mean_rank_ic": cs["rank_ic"]["value"]}


def universe_data(run_dir: Path, split: str) -> dict[str, Any]:
    """Everything the universe report draws; a missing part is a line naming the command that makes it."""
    cfg = load_config(run_dir / "config.yaml")
    ev = run_dir / "eval" / split
    metrics = json.loads((ev / "metrics.json").read_text()) if (ev / "metrics.json").is_file() else None
    missing: list[str] = []
    if metrics is None:
        missing.append(f"no evaluation of the {split} split: `cryptotrain evaluate --run {run_dir} --split {split}`")
    cs = (metrics or {}).get("cross_section")
    cross = cross_data(ev / "predictions.csv", cs) if cs and (ev / "predictions.csv").is_file() else None
    if metrics is not None and cross is None:
        missing.append(f"no cross-section: fewer than features.cross_min_pairs pairs have windows in the {split} split")
    bt_dir = run_dir / "backtest" / split
    portfolio = portfolio_data(bt_dir) if is_portfolio_dir(bt_dir) else None
    if portfolio is not None:   # the independent policy trades a sleeve per pair; its weights are of the sleeve
        portfolio["sleeves"] = portfolio["backtest"]["settings"].get("policy") == "independent"
    else:
        missing.append(f"no portfolio backtest of the {split} split: `cryptotrain backtest --run {run_dir} --split {split}`")
    verdicts = [s for s in ((metrics or {}).get("edge", {}).get("sentence"), (metrics or {}).get("direction_verdict"),
                            cross and cross["sentence"]) if s]
    if portfolio is not None:
        verdicts += portfolio["verdicts"]
    prov = (metrics or {}).get("provenance", {})
    provenance = {"run": str(run_dir), "config": str(run_dir / "config.yaml"),
                  "model": f"{cfg.model.type}, hidden {cfg.model.hidden_size}, window {cfg.data.window}",
                  "pairs": ", ".join(cfg.data.universe or []), "timeframe": cfg.data.timeframe,
                  "data": cfg.data.dir or "data.paths",
                  "checkpoint": prov.get("checkpoint") and f"{prov['checkpoint']} (epoch {prov.get('epoch')})",
                  "checkpoint sha256": prov.get("checkpoint_sha256"),
                  "backtest": portfolio and portfolio["provenance"]["settings"], "split": split, "cryptotrain": version()}
    log = run_dir / "metrics.jsonl"
    return {"kind": "universe", "name": run_dir.name, "split": split, "n_pairs": len(cfg.data.universe or []),
            "verdicts": verdicts, "provenance": provenance, "missing": missing, "metrics": metrics,
            "per_pair": (metrics or {}).get("per_pair") or {}, "cross": cross, "portfolio": portfolio,
            "training": read_rows(log, strict=False) if log.is_file() else []}
