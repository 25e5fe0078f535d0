"""The job of one control cell (a family, a strength, a seed): plant the signal in synthetic candles
shaped like the config's data, then the config's whole pipeline on them: train, evaluate (test
split), backtest (test split), as the commands run them.

Idempotent, as the executor wants: `cell.json` (written last, atomically) is the cell's result and
a rerun returns it as it is; the candle file is written once (atomically) and never rewritten, so a
run interrupted mid-training resumes from its checkpoints (`train_in_directory`) on the same
bytes; evaluate and backtest replace their outputs as one unit, so they simply run again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cryptotrain.backtest import run as run_backtest
from cryptotrain.data.ohlcv import write_ohlcv
from cryptotrain.data.planted import Shape, direction_accuracy, oracle_calls, planted_candles
from cryptotrain.evaluate import score
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.orchestration.executor.jobs import JobContext
from cryptotrain.orchestration.train_job import train_in_directory

CELL_FILE = "cell.json"
PLANTED_KIND = "sign"     # both families plant a drift of the sign of moves: the edge kind a control must find


def control_cell(ctx: JobContext) -> dict:
    """payload: {"config": the cell's config dict (data.path = its candle file), "shape": Shape fields,
    "family", "strength", "seed", "data_seed"}. -> the cell's result (also in cell.json)."""
    p = ctx.payload
    d = Path(ctx.directory)
    done = d / CELL_FILE
    if done.is_file():
        return json.loads(done.read_text())
    shape = Shape(**p["shape"])
    candles, mu = planted_candles(shape, p["family"], p["strength"], list(p["data_seed"]))
    data_path = Path(p["config"]["data"]["path"])
    if not data_path.is_file():
        write_ohlcv(candles, data_path)
    train_in_directory(ctx)
    evaluated = score(d, split="test")
    traded = run_backtest(d, split="test")
    preds = evaluated.predictions
    rows = (preds["timestamp"].to_numpy(dtype=np.int64) - shape.start_ms) // shape.timeframe_ms
    oracle, oracle_n = direction_accuracy(oracle_calls(mu)[rows], preds["forward_return"].to_numpy())
    model_stats, edge = traded.stats["model"], evaluated.metrics["edge"]
    result = {"family": p["family"], "strength": p["strength"], "seed": p["seed"],
              "oracle_direction_accuracy": oracle, "oracle_calls": oracle_n,
              "model_direction_accuracy": evaluated.metrics["model"]["direction"]["accuracy"],
              "model_calls": evaluated.metrics["model"]["direction"]["n_acted"],
              "edge": edge["kind"], "edge_sentence": edge["sentence"],
              "return_pct": model_stats["Return [%]"],
              "buy_hold_return_pct": traded.stats["buy_and_hold"]["Return [%]"],
              "trades": model_stats["# Trades"],
              "detected": bool(edge["kind"] == PLANTED_KIND and model_stats["Return [%]"] > 0)}
    atomic_write_text(done, json.dumps(to_jsonable(result), indent=2) + "\n")
    return result
