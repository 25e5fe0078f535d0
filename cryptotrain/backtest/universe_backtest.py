"""A universe run's predictions -> the allocation policy -> the portfolio engine (`backtest --run
UNIVERSE_RUN`), beside the momentum benchmark through the same policy, the equal-weight basket and BTC
buy and hold (portfolio_backtest.trade). `load_universe` and `read_predictions` read the inputs,
`trade_universe` is the pure core (no files).

The predictions file of a universe run (eval/<split>/predictions.csv): one row per (pair, decision
time), a `symbol` column with the exchange symbol as in the config's `data.universe` (BTC/USDT), the
other columns those of a single-pair predictions.csv (evaluate/scorer.py: timestamp, p_sell, p_hold,
p_buy, pred_action, confidence, pred_return, ...). The score a policy ranks: `pred_return` when the
file has a finite one (a model with the return head), else p_buy - p_sell (NaN scores: no score).

Range: the grid rows from the first decision time to one candle after the last, as every backtest.
Policies (portfolio_policy.py): `independent` trades pred_action / confidence per pair by today's rule
on sleeves; `topk` and `proportional` rank the scores every `rebalance` candles (0: the label horizon,
written into the settings) and pass the constraints (portfolio_weights.constrain). The momentum
benchmark's score (the return over the label horizon up to the decision's close) is taken only where
the model has a score, so both see the same pairs at the same times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd

from cryptotrain.backtest.backtester import SPLITS, _predictions
from cryptotrain.backtest.portfolio_backtest import BTC, Book, PortfolioReport, trade, write_outputs
from cryptotrain.backtest.portfolio_policy import (independent_targets, momentum_actions, momentum_scores,
                                                   policy_weights)
from cryptotrain.backtest.policy import model_decisions
from cryptotrain.backtest.portfolio_weights import constrain
from cryptotrain.backtest.settings import backtest_settings, settings_dir_name
from cryptotrain.config import BacktestConfig, load_config
from cryptotrain.data.ohlcv import symbol_slug
from cryptotrain.data.timestamps import candle_rows
from cryptotrain.data.universe import Universe, list_pairs, load_pairs, pick_timeframe
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import UserError
from cryptotrain.outdir import check_target, output_unit

if TYPE_CHECKING:
    from cryptotrain.evaluate.scorer import EvalResult

NEEDED = ("symbol", "timestamp", "pred_action", "confidence")


@dataclass
class UniversePredictions:
    rows: np.ndarray          # (S,) grid rows of the decision times, increasing
    score: np.ndarray         # (S, N) NaN where the pair has no prediction (or no score) at that time
    pred_action: np.ndarray   # (S, N) -1 / 0 / 1, NaN = none
    confidence: np.ndarray    # (S, N)
    score_name: str           # "pred_return" or "p_buy - p_sell"
    model: Any = None         # the run's model section: a return regression's `independent` trades its calls

    def calls(self, bcfg: BacktestConfig) -> tuple[np.ndarray, np.ndarray]:
        """(S, N) the actions and confidences `independent` trades (policy.model_decisions: pred_action and
        confidence, or a return regression's calls on its forecast beyond a round trip's cost); NaN = none."""
        if self.model is None or self.score_name != "pred_return":
            return self.pred_action, self.confidence
        seen = np.isfinite(self.score)
        act, conf = model_decisions(self.pred_action, self.confidence, np.where(seen, self.score, 0.0), self.model,
                                    bcfg)
        return np.where(seen, act, np.nan), np.where(seen, conf, np.nan)


def load_universe(symbols: list[str], timeframe: str | None, *, data_dir: Path | str | None = None,
                  paths: dict[str, str] | None = None) -> Universe:
    """The pairs' candles on one grid, named as the files (BTC_USDT), in `symbols`' order; BTC_USDT of
    `data_dir` is added last (for the BTC benchmark) when the universe lacks it. `paths`: symbol -> file
    (then `timeframe` is needed); timeframe None: the one every pair's files in `data_dir` share."""
    slugs = [symbol_slug(s) for s in symbols]
    if paths is not None:
        if timeframe is None:
            raise UserError("data.paths needs data.timeframe (e.g. 1h)")
        pairs = {symbol_slug(s): {timeframe: Path(p)} for s, p in paths.items()}
    elif data_dir is not None:
        pairs = list_pairs(Path(data_dir))
        if timeframe is None:
            timeframe = pick_timeframe(pairs, [s for s in slugs if s in pairs] or slugs[:1], None, Path(data_dir))
    else:
        raise UserError("a universe run needs data.dir (a folder of candle files) or data.paths (symbol: file)")
    missing = [s for s, slug in zip(symbols, slugs) if timeframe not in pairs.get(slug, {})]
    if missing:
        raise UserError(f"no {timeframe} candle file for {', '.join(missing)} (expected "
                        f"{symbol_slug(missing[0])}-{timeframe}.csv.gz in data.dir, or an entry in data.paths)")
    extra = [BTC] if BTC not in slugs and timeframe in pairs.get(BTC, {}) else []
    return load_pairs(pairs, slugs + extra, timeframe)


def score_column(df: pd.DataFrame, src: str) -> tuple[np.ndarray, str]:
    """The score a policy ranks (module docstring) of every row of a predictions frame, and its name."""
    ret = df["pred_return"].to_numpy(dtype=np.float64) if "pred_return" in df.columns else np.full(len(df), np.nan)
    if np.isfinite(ret).any():
        return ret, "pred_return"
    if {"p_buy", "p_sell"} <= set(df.columns):
        return df["p_buy"].to_numpy(dtype=np.float64) - df["p_sell"].to_numpy(dtype=np.float64), "p_buy - p_sell"
    raise UserError(f"{src}: no score: neither a finite pred_return nor p_buy and p_sell columns")


def read_predictions(df: pd.DataFrame, uni: Universe, n_pairs: int, src: str, model_cfg=None) -> UniversePredictions:
    """The frame of a universe predictions.csv -> (S, N) arrays on the grid of `uni`'s first n_pairs;
    `model_cfg` (the run's model section) says whether it is a return regression."""
    missing = [c for c in NEEDED if c not in df.columns]
    if missing or len(df) == 0:
        raise UserError(f"{src}: {'missing column(s) ' + ', '.join(missing) if missing else 'no rows'}; a universe "
                        "run's predictions need one row per pair and time with a symbol column (re-run evaluate)")
    slugs = df["symbol"].astype(str).map(symbol_slug)
    col = {s: i for i, s in enumerate(uni.symbols[:n_pairs])}
    unknown = sorted(set(slugs) - set(col))
    if unknown:
        raise UserError(f"{src}: symbol {unknown[0]} is not in the run's data.universe "
                        f"({', '.join(uni.symbols[:n_pairs])}); re-run evaluate on this run")
    ts = df["timestamp"].to_numpy(dtype=np.int64)
    rows_all, absent = candle_rows(ts, uni.timestamps)
    if absent.any():
        i = int(np.argmax(absent))
        raise UserError(f"{src}: timestamp {ts[i]} ({df['symbol'].iloc[i]}) is not a {uni.timeframe} candle of the "
                        "run's pairs; the predictions were made on other candles: re-run evaluate on this run")
    key = pd.DataFrame({"row": rows_all, "col": slugs.map(col).to_numpy()})
    if key.duplicated().any():
        i = int(np.argmax(key.duplicated().to_numpy()))
        raise UserError(f"{src}: {df['symbol'].iloc[i]} has two rows at timestamp {ts[i]}; one row per pair and time")
    rows, inv = np.unique(rows_all, return_inverse=True)
    c = key["col"].to_numpy()
    score, name = score_column(df, src)

    def grid(v: np.ndarray) -> np.ndarray:
        out = np.full((len(rows), n_pairs), np.nan)
        out[inv, c] = v
        return out

    return UniversePredictions(rows, grid(score), grid(df["pred_action"].to_numpy(dtype=np.float64)),
                               grid(df["confidence"].to_numpy(dtype=np.float64)), name,
                               model_cfg)


def resolve_settings(bcfg: BacktestConfig, horizon: int) -> BacktestConfig:
    """topk / proportional decide every `rebalance` candles: 0 becomes the label horizon. Refusals of settings
    that have no meaning for the policy."""
    if bcfg.policy == "independent":
        if bcfg.target_vol > 0:
            raise UserError("backtest.target_vol scales a topk or proportional book; independent sleeves trade "
                            "their own decisions: set backtest.policy=topk or proportional, or target_vol=0")
        return bcfg
    return bcfg.model_copy(update={"rebalance": bcfg.rebalance or int(horizon)})


def trade_universe(uni: Universe, preds: UniversePredictions, bcfg: BacktestConfig, horizon: int,
                   n_pairs: int, benchmarks: bool = True) -> PortfolioReport:
    """The policy's portfolio and the momentum benchmark through the same policy, with the basket and BTC
    (module docstring); `bcfg` as resolve_settings returns it. No files. `benchmarks` False: the
    portfolio alone (a grid's combinations, portfolio_backtest.trade)."""
    lo, hi = int(preds.rows[0]), min(int(preds.rows[-1]) + 1, len(uni.timestamps) - 1)
    cols = slice(0, n_pairs)

    def on_rows(m: np.ndarray) -> np.ndarray:
        out = np.full((hi - lo + 1, n_pairs), np.nan)
        out[preds.rows - lo] = m
        return out

    seen = np.isfinite(on_rows(preds.score))
    mom = np.where(seen, momentum_scores(uni.close[:, cols], horizon)[lo:hi + 1], np.nan)
    if bcfg.policy == "independent":
        act, conf = preds.calls(bcfg)
        books = {"portfolio": Book(cols, independent_targets(on_rows(act), on_rows(conf), bcfg), bcfg.rebalance,
                                   sleeves=True)}
        if benchmarks:
            books["momentum"] = Book(cols, independent_targets(*momentum_actions(mom), bcfg), bcfg.rebalance,
                                     sleeves=True)
    else:
        books = {}
        for name, s in (("portfolio", on_rows(preds.score)), ("momentum", mom))[:2 if benchmarks else 1]:
            w, reb = policy_weights(s, bcfg)
            books[name] = Book(cols, constrain(w, uni.close[lo:hi + 1, cols], mode=bcfg.mode,
                                               max_exposure=bcfg.max_exposure, gross=bcfg.gross,
                                               target_vol=bcfg.target_vol, timeframe_ms=uni.timeframe_ms), reb)
    return trade(uni, books, lo, hi, bcfg, n_pairs, horizon=horizon, benchmarks=benchmarks)


def is_universe_run(run_dir: Path | None) -> bool:
    """A run directory whose config names a universe (data.universe); False when there is none to read."""
    cfg = Path(run_dir or "") / "config.yaml"
    return run_dir is not None and cfg.is_file() and load_config(cfg).data.universe is not None


def read_run(run_dir: Path, split: str, on_message: Callable[[str, str], None] | None = None,
             on_scored: Callable[[EvalResult], None] | None = None) -> tuple[Universe, UniversePredictions, dict]:
    """A universe run's candles, its split's predictions (evaluate is run first when they are missing or
    stale) and their provenance; the caller holds the run's backtest lock."""
    if split not in SPLITS:
        raise UserError(f"--split {split!r}: use test or val")
    cfg = load_config(run_dir / "config.yaml")
    d = cfg.data
    df, prov = _predictions(run_dir, split, on_message or (lambda level, text: None),
                            on_scored or (lambda result: None))
    uni = load_universe(d.universe, d.timeframe, data_dir=d.dir, paths=d.paths)
    return uni, read_predictions(df, uni, len(d.universe), str(run_dir / "eval" / split / "predictions.csv"),
                                 cfg.model), prov


def run(run_dir: Path, split: str = "test", *, out: Path | None = None, overrides: dict[str, Any] | None = None,
        on_message: Callable[[str, str], None] | None = None,
        on_scored: Callable[[EvalResult], None] | None = None) -> PortfolioReport:
    """`backtest --run UNIVERSE_RUN`: its split's predictions (evaluate is run first when they are missing or
    stale, as for one pair) traded by the policy into RUN/backtest/<split>[-<settings that differ>]/ or `out`."""
    run_dir = Path(run_dir)
    cfg = load_config(run_dir / "config.yaml")
    bcfg = backtest_settings(cfg.backtest, overrides or {})
    out_dir = Path(out) if out is not None else run_dir / "backtest" / settings_dir_name(split, cfg.backtest, bcfg)
    how = dict(option="--out" if out is not None else "the output directory")
    check_target(out_dir, **how)
    d, horizon = cfg.data, cfg.labels.horizon
    bcfg = resolve_settings(bcfg, horizon)
    with dir_lock(run_dir, "backtest"):
        uni, preds, prov = read_run(run_dir, split, on_message, on_scored)
        return trade_and_write(uni, preds, bcfg, horizon, len(d.universe), out_dir, f"{run_dir.name} ({split} split",
                               prov, how)


def trade_and_write(uni: Universe, preds: UniversePredictions, bcfg: BacktestConfig, horizon: int, n_pairs: int,
                    out_dir: Path, title: str, provenance: dict | None = None,
                    how: dict | None = None) -> PortfolioReport:
    """trade_universe, titled `title` + ", policy ...)", written into `out_dir` (a universe run's split or
    a walk-forward's stitched test parts); `bcfg` as resolve_settings returns it."""
    rep = trade_universe(uni, preds, bcfg, horizon, n_pairs)
    what = {"independent": "pred_action and confidence per pair",
            "topk": f"k {bcfg.k} n_drop {bcfg.k if bcfg.n_drop is None else bcfg.n_drop}, score {preds.score_name}",
            "proportional": f"score {preds.score_name}"}[bcfg.policy]
    rep.title = f"{title}, policy {bcfg.policy}: {what})"
    rep.out_dir, rep.provenance = out_dir, provenance
    with output_unit(out_dir, "backtest", **(how or dict(option="the output directory"))) as tmp:
        files = write_outputs(tmp, rep)
    rep.files = [out_dir / f.relative_to(tmp) for f in files]
    return rep
