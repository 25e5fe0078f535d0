"""`predict --run UNIVERSE_RUN`: what a universe run says to hold at the last closed candle, and the
orders that take the current holdings there.

Decision candle t: `at`, else the newest closed candle of any pair's file (refused when it is older
than one timeframe, unless `allow_stale`). Every pair is scored at t by predict.py (the checkpoint read
once; the bits evaluate writes for that candle), its score as the backtest ranks it
(universe_backtest.read_predictions: pred_return when the return head is trained, else p_buy - p_sell).
A pair without a file, without the candle t (stale or gapped there) or whose window spans a gap or
lacks history is skipped with the reason; its holdings are left alone (no order) and valued at its last
close in the file.

Holdings (units per pair, a CSV `symbol,units` or a JSON object {"BTC/USDT": 0.1}): equity E = cash +
sum_i units_i * close_i, held weight h_i = units_i * close_i / E. The run's backtest.policy decides the
target weights w from h (portfolio_policy.next_weights: TopkDropout against the held pairs), and the
orders are target units w_i * E / close_i minus the units held, at the close of t (they fill at the
open of t+1): notional |units| * close, fee = notional * fee_bps / 1e4, slippage = notional *
slippage_bps / 1e4 (estimates: the fill price is the next open). Nothing is printed or written.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.backtest.policy import model_decisions
from cryptotrain.backtest.portfolio_policy import next_weights
from cryptotrain.backtest.settings import backtest_settings
from cryptotrain.backtest.universe_backtest import resolve_settings
from cryptotrain.data.dataset import iso_utc
from cryptotrain.data.ohlcv import symbol_slug
from cryptotrain.data.tail import CandleFile
from cryptotrain.data.timestamps import format_utc, ms_to_timeframe, parse_utc
from cryptotrain.data.universe import list_pairs
from cryptotrain.errors import UserError
from cryptotrain.predict import LoadedRun, load_run, predict


def read_holdings(path: Path, symbols: list[str], long_only: bool) -> np.ndarray:
    """(N,) units per pair of `symbols` from a CSV (symbol,units) or JSON object; checked (one line each)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--holdings {path}: no such file; pass a CSV (symbol,units) or a JSON object {{symbol: units}}")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(path.read_text())
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            items = list(raw.items())
        else:
            df = pd.read_csv(path)
            if list(df.columns[:2]) != ["symbol", "units"]:
                raise ValueError(f"columns {', '.join(map(str, df.columns))}")
            items = list(zip(df["symbol"].astype(str), df["units"]))
        items = [(str(s), float(u)) for s, u in items]
    except (ValueError, TypeError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise UserError(f"--holdings {path}: cannot read it ({e}); write a CSV with the header symbol,units or a "
                        'JSON object like {"BTC/USDT": 0.1}') from None
    col = {symbol_slug(s): i for i, s in enumerate(symbols)}
    units = np.zeros(len(symbols))
    seen: set[int] = set()
    for s, u in items:
        i = col.get(symbol_slug(s))
        if i is None:
            raise UserError(f"--holdings {path}: {s} is not a pair of the run ({', '.join(symbols)}); remove it or "
                            "sell it apart")
        if i in seen:
            raise UserError(f"--holdings {path}: {s} is listed twice; give one line per pair")
        if not math.isfinite(u):
            raise UserError(f"--holdings {path}: the units of {s} are {u}; give a finite number")
        if long_only and u < 0:
            raise UserError(f"--holdings {path}: {s} has {u:g} units but the run's backtest.mode is long-only; a "
                            "short holding needs long-short (--set backtest.mode=long-short is not a predict option: "
                            "retrain or fix the file)")
        seen.add(i)
        units[i] = u
    return units


def predict_universe(run: Path | LoadedRun | None = None, checkpoint: str = "best", *, data_dir: Path | None = None,
                     holdings: Path | None = None, cash: float | None = None, at: str | None = None,
                     allow_stale: bool = False, now_ms: int | None = None, overrides: dict | None = None) -> dict:
    """The plain result `predict --run UNIVERSE_RUN --json` prints (module docstring); `run` a run directory
    or one load_run read; `overrides`: backtest settings instead of the run's (`--set backtest.k=3`)."""
    t0 = time.perf_counter()
    loaded = run if isinstance(run, LoadedRun) else load_run(run, checkpoint)
    if loaded.ck.config.data.universe is None:
        raise UserError(f"{loaded.run_dir} is a single-pair run (no data.universe): use predict without --holdings")
    cfg = loaded.ck.config
    symbols, tf_name = list(cfg.data.universe), cfg.data.timeframe
    bcfg = resolve_settings(backtest_settings(cfg.backtest, overrides or {}), cfg.labels.horizon)
    if bcfg.target_vol > 0:
        raise UserError("predict does not apply backtest.target_vol (it needs the book's trailing returns); its "
                        "targets would differ from the backtest's: use a run with target_vol 0")
    files = _pair_files(cfg, symbols, data_dir)
    srcs = {s: CandleFile(p) for s, p in files.items()}
    tf = next(iter(srcs.values())).timeframe_ms if srcs else 0
    if not srcs:
        raise UserError(f"no candle file of any of the run's pairs ({', '.join(symbols)}); pass --data-dir")
    t = _decision_time(srcs, tf, at, allow_stale, now_ms, symbols, cfg.data.exchange)
    N = len(symbols)
    score, action, conf = np.full(N, np.nan), np.full(N, np.nan), np.full(N, np.nan)
    close, pairs, skipped = np.full(N, np.nan), [], []
    for i, s in enumerate(symbols):
        src = srcs.get(s)
        if src is None:
            skipped.append({"symbol": s, "reason": f"no {tf_name} candle file"})
            continue
        close[i] = float(src.frame(src.rows - 1, src.rows)["close"].iloc[-1])   # valued at its last close if skipped
        if not np.any(src.timestamps == t):
            last = int(src.timestamps[-1])
            why = "stale: its last candle opens" if last < t else "a gap: no candle at the decision time; last"
            skipped.append({"symbol": s, "reason": f"{why} {format_utc(last)}, the decision candle {format_utc(t)}"})
            continue
        try:
            r = predict(data=files[s], at=format_utc(t), loaded=loaded, src=src).result
        except UserError as e:
            skipped.append({"symbol": s, "reason": str(e)})
            continue
        score[i] = r["pred_return"] if r["pred_return"] is not None else r["p_buy"] - r["p_sell"]
        # a return regression's calls on its forecast, as the backtest's independent policy trades them
        forecast = np.nan if r["pred_return"] is None else r["pred_return"]
        a, c = model_decisions(np.array([r["pred_action"]]), np.array([r["confidence"]]), np.array([forecast]),
                               cfg.model, bcfg)
        action[i], conf[i], close[i] = a[0], c[0], r["decision"]["close"]
        pairs.append({"symbol": s, "score": float(score[i]), "action": r["action"], "confidence": r["confidence"],
                      "p_sell": r["p_sell"], "p_hold": r["p_hold"], "p_buy": r["p_buy"],
                      "pred_return": r["pred_return"], "close": r["decision"]["close"]})
    units = (read_holdings(holdings, symbols, bcfg.mode == "long-only") if holdings is not None else np.zeros(N))
    bad = [s for s, u, c in zip(symbols, units, close) if u != 0 and not np.isfinite(c)]
    if bad:
        raise UserError(f"--holdings: {bad[0]} is held but has no candle file to value it; pass --data-dir with it")
    cash = float(bcfg.cash if cash is None else cash)
    equity = cash + float(np.nansum(units * np.where(units != 0, close, 0.0)))
    if not equity > 0:
        raise UserError(f"equity {equity:g} (cash {cash:g} + holdings at the last closes) is not positive; "
                        "pass --cash")
    held = np.where(units != 0, units * close, 0.0) / equity
    scored = np.isfinite(score)
    w = next_weights(np.where(scored, score, np.nan), np.where(scored, action, np.nan), conf,
                     np.where(scored, held, 0.0), bcfg)
    order_of = np.argsort(-np.where(scored, score, -np.inf), kind="stable")
    rank = {int(i): r + 1 for r, i in enumerate(order_of[: int(scored.sum())])}
    orders = []
    for p in pairs:
        i = symbols.index(p["symbol"])
        p |= {"rank": rank[i], "units_held": float(units[i]), "weight_held": float(held[i]),
              "target_weight": float(w[i]), "target_units": float(w[i] * equity / close[i])}
        delta = p["target_units"] - units[i]
        if abs(delta * close[i]) > 1e-9 * equity:
            notional = abs(delta) * close[i]
            orders.append({"symbol": p["symbol"], "side": "buy" if delta > 0 else "sell", "units": float(abs(delta)),
                           "price": float(close[i]), "notional": float(notional),
                           "fee": float(notional * bcfg.fee_bps / 1e4),
                           "slippage": float(notional * bcfg.slippage_bps / 1e4)})
    pairs.sort(key=lambda p: p["rank"])
    ck = loaded.ck
    return {
        "run": str(loaded.run_dir),
        "walkforward": loaded.walkforward,
        "checkpoint": {"name": loaded.name, "epoch": int(ck.epoch), "sha256": loaded.sha256},
        "decision": {"timestamp": int(t), "time": iso_utc(int(t)), "close_time": iso_utc(int(t) + tf),
                     "fill_time": iso_utc(int(t) + tf), "timeframe": ms_to_timeframe(tf)},
        "policy": {"policy": bcfg.policy, "k": bcfg.k, "n_drop": bcfg.n_drop, "mode": bcfg.mode,
                   "gross": bcfg.gross, "max_exposure": bcfg.max_exposure, "fee_bps": bcfg.fee_bps,
                   "slippage_bps": bcfg.slippage_bps},
        "account": {"cash": cash, "equity": equity, "holdings": str(holdings) if holdings is not None else None},
        "pairs": pairs, "skipped": skipped, "orders": orders,
        "totals": {"notional": sum(o["notional"] for o in orders), "fee": sum(o["fee"] for o in orders),
                   "slippage": sum(o["slippage"] for o in orders)},
        "seconds": time.perf_counter() - t0,
    }


def _pair_files(cfg, symbols: list[str], data_dir: Path | None) -> dict[str, Path]:
    """symbol -> candle file of the run's timeframe: from `data_dir`, else data.paths or data.dir."""
    if data_dir is None and cfg.data.paths is not None:
        return {s: Path(cfg.data.paths[s]) for s in symbols if s in cfg.data.paths and Path(cfg.data.paths[s]).is_file()}
    found = list_pairs(Path(data_dir if data_dir is not None else cfg.data.dir),
                       "--data-dir" if data_dir is not None else "data.dir")
    return {s: found[symbol_slug(s)][cfg.data.timeframe] for s in symbols
            if cfg.data.timeframe in found.get(symbol_slug(s), {})}


def _decision_time(srcs: dict[str, CandleFile], tf: int, at: str | None, allow_stale: bool, now_ms: int | None,
                   symbols: list[str], exchange: str) -> int:
    """--at's open time, else the newest closed candle of any pair (refused when stale)."""
    if at is not None:
        return parse_utc(at)
    now = int(time.time() * 1000) if now_ms is None else int(now_ms)
    closed = [int(s.timestamps[np.searchsorted(s.timestamps, now - tf, "right") - 1]) for s in srcs.values()
              if s.timestamps[0] <= now - tf]
    if not closed:
        raise UserError("no candle of the run's pairs has closed yet; wait or pass --at")
    t = max(closed)
    if now - (t + tf) >= tf and not allow_stale:
        raise UserError(f"the newest candle of the run's pairs ({format_utc(t)}) closed more than one "
                        f"{ms_to_timeframe(tf)} candle ago, so newer ones are missing; bring them up to date with "
                        f"`cryptotrain fetch --exchange {exchange} --symbols {','.join(symbols)} --timeframe "
                        f"{ms_to_timeframe(tf)}` or pass --allow-stale to use that candle anyway")
    return t
