"""`cryptotrain backtest`: trade a run's predictions (or an external signal file) and write
stats.json, equity.csv, trades.csv and plots/equity.png, with buy-and-hold and persistence
baselines side by side.

Run mode: RUN_DIR (default runs/latest) -> RUN_DIR/eval/<split>/predictions.csv (evaluate is run
first when it is missing, or stale: see evaluate/provenance.py) -> targets by the policy in
policy.py -> RUN_DIR/backtest/<split>/.
Signals mode: --signals SIGNALS.csv --data CANDLES -> <signals stem>_backtest/ beside the file.

Range: the candles from the first decision (prediction or signal) timestamp to one candle after
the last one, so that the last decision is filled at the next open and held to that candle's
close (when the candle file has no candle after it, that decision is not filled). Between
decisions the last target is kept. Settings: the run config's `backtest` section (defaults in
signals mode) updated with the command-line options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import json

import numpy as np
import pandas as pd
from pydantic import ValidationError
from rich.console import Console

from cryptotrain.backtest import policy
from cryptotrain.backtest.engine import BacktestResult, run_backtest
from cryptotrain.backtest.signals import read_signals
from cryptotrain.backtest.stats import compute_stats, drawdown, stats_to_json
from cryptotrain.config import BacktestConfig, load_config
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.evaluate.provenance import describe, read_provenance, stale_reason
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_path, atomic_write_text

SPLITS = ("test", "val")
PRED_COLUMNS = ("timestamp", "pred_action", "confidence")


def backtest_settings(base: BacktestConfig, overrides: dict[str, Any]) -> BacktestConfig:
    """`base` updated with command-line values, type-checked (a bad value names its option)."""
    try:
        return BacktestConfig.model_validate({**base.model_dump(), **overrides})
    except ValidationError as err:
        e = err.errors()[0]
        key = str(e["loc"][0]) if e["loc"] else "backtest"
        raise UserError(f"--{key.replace('_', '-')}: {e['msg'].lower()} (got {e.get('input')!r})") from None


def _evaluate(run_dir: Path, split: str, checkpoint: str, why: str, console: Console) -> None:
    from cryptotrain.evaluate.runner import evaluate_command

    console.print(f"{why}: running evaluate on the {split} split ({checkpoint} checkpoint) first", soft_wrap=True)
    evaluate_command(run=run_dir, split=split, checkpoint=checkpoint, data=None, as_json=False, console=console)


def _predictions(run_dir: Path, split: str, console: Console) -> tuple[pd.DataFrame, dict | None]:
    """predictions.csv of the split and its provenance, re-running evaluate when missing or stale."""
    eval_dir = run_dir / "eval" / split
    path = eval_dir / "predictions.csv"
    if not path.is_file():
        _evaluate(run_dir, split, "best", f"{path} not found", console)
    prov = read_provenance(eval_dir)
    why = stale_reason(run_dir, eval_dir, prov) if prov is not None else None
    if why is not None:
        _evaluate(run_dir, split, prov["checkpoint"], f"stale predictions: {why}", console)
        prov = read_provenance(eval_dir)
    elif prov is None:
        console.print(f"[bold yellow]warning:[/] {eval_dir}/metrics.json does not say which checkpoint made "
                      f"predictions.csv (older evaluate); re-run `cryptotrain evaluate --run {run_dir} --split {split}` "
                      "to be sure it is current", soft_wrap=True)
    if not path.is_file():
        raise UserError(f"{path} not found after evaluate; run `cryptotrain evaluate --run {run_dir} --split {split}`")
    df = pd.read_csv(path)
    missing = [c for c in PRED_COLUMNS if c not in df.columns]
    if missing or len(df) == 0:
        raise UserError(f"{path}: {'missing column(s) ' + ', '.join(missing) if missing else 'no rows'}; "
                        f"re-run `cryptotrain evaluate --run {run_dir} --split {split}`")
    return df, prov


def _rows_of(ts: np.ndarray, candle_ts: np.ndarray, src: str, data: str) -> np.ndarray:
    idx = np.minimum(np.searchsorted(candle_ts, ts), len(candle_ts) - 1)
    absent = candle_ts[idx] != ts
    if absent.any() or (np.diff(ts) <= 0).any():
        raise UserError(f"{src}: {int(absent.sum())} timestamp(s) not in {data} or not increasing; the predictions "
                        "were made on other candles (evaluate --data?): re-run evaluate on this run's data file")
    return idx


def _run_mode(run: Path | None, split: str, overrides: dict, console: Console):
    from cryptotrain.train.rundir import resolve_run

    if split not in SPLITS:
        raise UserError(f"--split {split!r}: use test or val")
    run_dir = resolve_run(run)
    cfg = load_config(run_dir / "config.yaml")
    bcfg = backtest_settings(cfg.backtest, overrides)
    if cfg.model.w_confidence == 0 and (bcfg.threshold > 0 or bcfg.sizing == "confidence"):
        console.print("[bold yellow]warning:[/] the confidence head was not trained (model.w_confidence = 0): "
                      "--threshold / --sizing confidence act on its untrained output", soft_wrap=True)
    preds, prov = _predictions(run_dir, split, console)
    candles, report = load_ohlcv(cfg.data.path, timeframe=cfg.data.timeframe, gap_policy=cfg.data.gap_policy)
    src = str(run_dir / "eval" / split / "predictions.csv")
    rows = _rows_of(preds["timestamp"].to_numpy(dtype=np.int64), candles["timestamp"].to_numpy(), src, cfg.data.path)
    actions = policy.prediction_actions(preds["pred_action"].to_numpy(), preds["confidence"].to_numpy(), bcfg)
    title = f"{run_dir.name} ({split} split, predictions of the {describe(prov)})"
    return candles, report, rows, actions, bcfg, run_dir / "backtest" / split, title, "Model", prov


def _signals_mode(signals: Path, data: Path | None, overrides: dict):
    if data is None:
        raise UserError("--signals needs --data CANDLES: the candle file whose candles the signals refer to")
    bcfg = backtest_settings(BacktestConfig(), overrides)
    candles, report = load_ohlcv(data)
    rows, position = read_signals(signals, candles["timestamp"].to_numpy())
    out = signals.parent / f"{signals.stem}_backtest"
    return candles, report, rows, policy.signal_actions(position, bcfg), bcfg, out, signals.name, "Signals", None


def backtest_command(run: Path | None, split: str, signals: Path | None, data: Path | None, out: Path | None,
                     overrides: dict[str, Any], console: Console) -> dict[str, dict[str, Any]]:
    """Run the backtest, write the outputs, print the table; returns {"model"|...: stats}."""
    if signals is not None:
        candles, report, rows, actions, bcfg, default_out, title, header, prov = _signals_mode(Path(signals), data,
                                                                                              overrides)
    else:
        if data is not None:
            raise UserError("--data is only used with --signals; a run backtests the candle file of its config")
        candles, report, rows, actions, bcfg, default_out, title, header, prov = _run_mode(run, split, overrides,
                                                                                           console)
    out_dir = Path(out) if out is not None else default_out
    lo, hi = int(rows[0]), min(int(rows[-1]) + 1, len(candles) - 1)   # candles lo..hi
    raw = np.full(hi - lo + 1, np.nan)
    raw[rows - lo] = actions
    targets = {
        "model": policy.hold_forward(raw),
        "buy_and_hold": policy.buy_and_hold_targets(hi - lo + 1, bcfg),
        "persistence": policy.persistence_targets(candles["close"].to_numpy(), bcfg)[lo:hi + 1],
    }
    c = candles.iloc[lo:hi + 1]
    results = {name: run_backtest(c["timestamp"].to_numpy(), c["open"].to_numpy(), c["close"].to_numpy(), t,
                                  cash=bcfg.cash, fee_bps=bcfg.fee_bps, slippage_bps=bcfg.slippage_bps,
                                  timeframe_ms=report.timeframe_ms)
               for name, t in targets.items()}
    stats = {name: compute_stats(res) for name, res in results.items()}
    write_outputs(out_dir, results, stats, bcfg, title, prov)
    from cryptotrain.report.backtest_report import stats_table

    console.print(stats_table({header: stats["model"], "Buy & Hold": stats["buy_and_hold"],
                               "Persistence": stats["persistence"]},
                              title=f"Backtest {title}: {bcfg.mode}, fee {bcfg.fee_bps:g} bps, "
                                    f"slippage {bcfg.slippage_bps:g} bps, sizing {bcfg.sizing}, "
                                    f"threshold {bcfg.threshold:g}, max exposure {bcfg.max_exposure:g}, "
                                    f"{report.timeframe} candles"))
    console.print(f"wrote {out_dir}/stats.json, equity.csv, trades.csv, plots/equity.png")
    return stats


def equity_frame(res: BacktestResult) -> pd.DataFrame:
    return pd.DataFrame({"timestamp": res.timestamps, "price": res.close, "position": res.position,
                         "equity": res.equity, "drawdown": drawdown(res.equity, res.cash),
                         "buy_hold_equity": res.buy_hold})


def write_outputs(out_dir: Path, results: dict[str, BacktestResult], stats: dict[str, dict], bcfg: BacktestConfig,
                  title: str, provenance: dict | None = None) -> None:
    """stats.json ({"model", "buy_and_hold", "persistence", "settings"} and, in run mode, "predictions": the
    provenance of the predictions traded), equity.csv, trades.csv, plots/equity.png."""
    from cryptotrain.report.backtest_report import plot_equity

    model = results["model"]
    doc = {name: stats_to_json(s) for name, s in stats.items()}
    doc["settings"] = bcfg.model_dump(mode="json")
    if provenance is not None:
        doc["predictions"] = provenance
    atomic_write_text(out_dir / "stats.json", json.dumps(doc, indent=2) + "\n")
    eq = equity_frame(model)
    with atomic_path(out_dir / "equity.csv") as tmp:
        eq.to_csv(tmp, index=False)
    trades = model.trades.copy()
    trades["duration"] = pd.to_timedelta(trades["duration"], unit="ms").astype(str)
    with atomic_path(out_dir / "trades.csv") as tmp:
        trades.to_csv(tmp, index=False)
    plot_equity(out_dir / "plots" / "equity.png", model.timestamps, model.equity, model.buy_hold,
                eq["drawdown"].to_numpy(), model.position,
                others={"persistence": results["persistence"].equity}, title=f"Backtest {title}")
