"""The files of one single-pair backtest: stats.json, equity.csv, benchmarks.csv, trades.csv, plots/equity.png.

`write_outputs` writes them into a directory the caller then renames into place (backtester.py's
output unit), so a backtest's files are always from one run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cryptotrain.backtest.engine import BacktestResult
from cryptotrain.backtest.stats import drawdown
from cryptotrain.config import BacktestConfig
from cryptotrain.csv_writer import write_csv
from cryptotrain.fileio import atomic_write_bytes, atomic_write_text, to_jsonable
from cryptotrain.report.backtest_report import STRATEGY_NAMES, settings_caption
from cryptotrain.report.equity_figure import equity_panels, equity_png
from cryptotrain.report.figure_process import FigureProcess


def equity_frame(res: BacktestResult) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": res.timestamps, "price": res.close, "position": res.position,
                         "equity": res.equity, "drawdown": drawdown(res.equity, res.cash),
                         "buy_hold_equity": res.buy_hold}, copy=False)   # the arrays as they are


def write_outputs(out_dir: Path, results: dict[str, BacktestResult], stats: dict[str, dict], bcfg: BacktestConfig,
                  title: str, provenance: dict | None = None, *, verdict: dict | None = None,
                  header: str = "Model", figure: FigureProcess | None = None) -> list[Path]:
    """stats.json ({"model", "buy_and_hold", "persistence", the fitted baselines traded, "settings"},
    "verdict" when given and, in run mode, "predictions": the provenance of the predictions traded),
    equity.csv, benchmarks.csv (each baseline's equity), trades.csv, plots/equity.png (rendered by `figure`, a FigureProcess(equity_png), while
    the CSV files are written; in this process without it)."""
    model = results["model"]
    doc = {name: to_jsonable(s) for name, s in stats.items()}
    doc["settings"] = bcfg.model_dump(mode="json")
    if verdict is not None:
        doc["verdict"] = verdict
    if provenance is not None:
        doc["predictions"] = provenance
    atomic_write_text(out_dir / "stats.json", json.dumps(doc, indent=2) + "\n")
    eq = equity_frame(model)
    panels = equity_panels(model.timestamps, model.equity, eq["drawdown"].to_numpy(), model.position,
                           others={STRATEGY_NAMES.get(k, k): r.equity for k, r in results.items() if k != "model"},
                           long_only=bcfg.mode == "long-only")
    png = (figure or FigureProcess(equity_png, spawn=False)).submit(
        panels, f"Backtest {title}: {settings_caption(bcfg)}", header)
    write_csv(eq, out_dir / "equity.csv")
    # every baseline's equity [$] by its stats.json key, for the HTML report's comparison (cryptotrain report)
    write_csv(pd.DataFrame({"timestamp": model.timestamps, **{k: r.equity for k, r in results.items() if k != "model"}},
                           copy=False), out_dir / "benchmarks.csv")
    trades = model.trades.copy()
    trades["duration"] = pd.to_timedelta(trades["duration"], unit="ms").astype(str)
    write_csv(trades, out_dir / "trades.csv")
    atomic_write_bytes(out_dir / "plots" / "equity.png", png.result())
    return [out_dir / "stats.json", out_dir / "equity.csv", out_dir / "benchmarks.csv", out_dir / "trades.csv",
            out_dir / "plots" / "equity.png"]
