"""What `cryptotrain report` reads from a run directory, as plain data for report/html/ (which
imports nothing of the pipeline): the evaluation (eval/<split>/metrics.json, plots/), the backtest
(backtest/<split>/stats.json, equity.csv, benchmarks.csv, trades.csv), the training log
(metrics.jsonl), the candles of the split from the run's data file, and the provenance.

A part that is missing (no evaluation or backtest yet, the data file moved) becomes a line in
"missing" naming the command that makes it; the report shows what there is.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.config import load_config
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.timestamps import periods_per_year, timeframe_to_ms
from cryptotrain.report.backtest_report import STRATEGY_NAMES, verdict_lines
from cryptotrain.train.metrics_log import read_rows


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def version() -> str:
    try:
        return importlib.metadata.version("cryptotrain")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def trades_data(path: Path) -> dict[str, Any]:
    """trades.csv as columns; "exit_reason" from the file when it has one, else from its `open` flag."""
    df = pd.read_csv(path)
    out: dict[str, Any] = {c: df[c].to_numpy() for c in df.columns}
    if "exit_reason" not in df.columns:
        out["exit_reason"] = np.where(df["open"].to_numpy(dtype=bool), "still open at the end", "signal")
    out["duration_ms"] = df["exit_time"].to_numpy() - df["entry_time"].to_numpy()
    return out


def backtest_data(bt_dir: Path, data_path: Path | None, timeframe: str | None) -> dict[str, Any]:
    """The backtest of one split: stats by display name, equity and benchmarks, trades, candles."""
    doc = json.loads((bt_dir / "stats.json").read_text())
    eq = pd.read_csv(bt_dir / "equity.csv")
    bench_path = bt_dir / "benchmarks.csv"
    if bench_path.is_file():
        bench = pd.read_csv(bench_path)
        benchmarks = {STRATEGY_NAMES.get(k, k): bench[k].to_numpy() for k in bench.columns if k != "timestamp"}
    else:   # written by an older backtest: buy and hold only
        benchmarks = {STRATEGY_NAMES["buy_and_hold"]: eq["buy_hold_equity"].to_numpy()}
    time = eq["timestamp"].to_numpy()
    out = {"stats": {STRATEGY_NAMES.get(k, k): v for k, v in doc.items() if k not in ("settings", "verdict", "predictions")},
           "settings": doc.get("settings", {}), "verdict": doc.get("verdict"), "provenance": doc.get("predictions"),
           "equity": {"time": time, "equity": eq["equity"].to_numpy(), "drawdown": eq["drawdown"].to_numpy(),
                      "benchmarks": benchmarks},
           "trades": trades_data(bt_dir / "trades.csv"), "candles": None}
    tf = timeframe or None
    if data_path is not None and data_path.is_file():
        df, rep = load_ohlcv(data_path, tf)
        df = df[(df["timestamp"] >= time[0]) & (df["timestamp"] <= time[-1])]
        rows = np.searchsorted(time, df["timestamp"].to_numpy())
        out["candles"] = {**{c: df[c].to_numpy() for c in ("open", "high", "low", "close", "volume")},
                          "time": df["timestamp"].to_numpy(), "position": eq["position"].to_numpy()[np.minimum(rows, len(time) - 1)]}
        tf = rep.timeframe
    tf_ms = timeframe_to_ms(tf) if tf else int(np.median(np.diff(time))) if len(time) > 1 else 3_600_000
    out["timeframe_ms"], out["periods_per_year"] = tf_ms, periods_per_year(tf_ms)
    return out


def run_data(run_dir: Path, split: str) -> dict[str, Any]:
    """Everything the single-run report draws."""
    cfg = load_config(run_dir / "config.yaml")
    missing: list[str] = []
    metrics = _json(run_dir / "eval" / split / "metrics.json")
    if metrics is None:
        missing.append(f"no evaluation of the {split} split: `cryptotrain evaluate --run {run_dir} --split {split}`")
    data_path = Path(cfg.data.path) if cfg.data.path else None
    bt = None
    if (run_dir / "backtest" / split / "stats.json").is_file():
        bt = backtest_data(run_dir / "backtest" / split, data_path, cfg.data.timeframe)
        if bt["candles"] is None:
            missing.append(f"no candles: the data file {data_path} is not there")
    else:
        missing.append(f"no backtest of the {split} split: `cryptotrain backtest --run {run_dir} --split {split}`")
    traded = ((bt or {}).get("provenance") or {}).get("predictions_sha256")
    shown = ((metrics or {}).get("provenance") or {}).get("predictions_sha256")
    if traded and shown and traded != shown:
        missing.append(f"the backtest traded other predictions than the evaluation shown here (evaluate ran again "
                       f"since): `cryptotrain backtest --run {run_dir} --split {split}`")
    verdicts = []
    if metrics is not None:
        verdicts += [s for s in (metrics.get("edge", {}).get("sentence"), metrics.get("direction_verdict")) if s]
    if bt is not None and bt["verdict"]:
        verdicts += verdict_lines(bt["verdict"])
    prov = metrics.get("provenance", {}) if metrics else {}
    provenance = {"run": str(run_dir), "config": str(run_dir / "config.yaml"),
                  "model": f"{cfg.model.type}, hidden {cfg.model.hidden_size}, window {cfg.data.window}",
                  "data": cfg.data.path, "data sha256": (metrics or {}).get("data", {}).get("sha256"),
                  "market": f"{cfg.data.symbol or '?'} {cfg.data.timeframe or ''} ({cfg.data.exchange or 'file'})",
                  "checkpoint": prov.get("checkpoint") and f"{prov['checkpoint']} (epoch {prov.get('epoch')}, "
                                                          f"step {prov.get('global_step')})",
                  "checkpoint sha256": prov.get("checkpoint_sha256"),
                  "split": split, "cryptotrain": version()}
    plot = run_dir / "eval" / split / "plots" / "attention_heatmap.png"
    log = run_dir / "metrics.jsonl"
    return {"kind": "run", "name": run_dir.name, "split": split, "symbol": cfg.data.symbol or "price",
            "verdicts": verdicts, "provenance": provenance, "missing": missing, "metrics": metrics, "backtest": bt,
            "training": read_rows(log, strict=False) if log.is_file() else [],
            "attention_png": plot.read_bytes() if plot.is_file() else None}
