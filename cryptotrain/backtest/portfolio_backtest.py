"""`run`: backtest anyone's target weights over several pairs (`backtest --weights W.csv --data-dir DIR`),
quietly, and write equity.csv, weights.csv, trades.csv, stats.json and three figures into
<weights stem>_backtest/ beside the file (or --out). `trade` is the pure core: no files.

Range: the grid rows from the first decision timestamp to one candle after the last (as in
signals mode), on the grid of every pair named in the file (data/universe.py). Settings: the
`backtest` defaults updated with the command-line values; weights pass through
portfolio_weights.constrain (mode, max_exposure, gross, target_vol) and the portfolio engine.

Benchmarks, on the same candles and costs (each also traded without costs for its "no costs" row):
- equal_weight: 1/n of equity in each of the n pairs listed (first to last candle of its data) at
  that row, set at the first row and whenever a pair is listed or ends, and traded back to those
  weights every `rebalance` candles, or at the first candle of every calendar month (UTC) when
  rebalance is 0;
- btc_buy_and_hold: BTC_USDT of the data directory, all equity from the first open (absent when the
  directory has no BTC_USDT file of the timeframe).
"Buy & Hold Return, no costs [%]" of every column is BTC's buy and hold without costs (the equal-weight
basket's when there is no BTC file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.backtest.settings import backtest_settings
from cryptotrain.backtest.portfolio_engine import PortfolioResult, run_portfolio
from cryptotrain.backtest.portfolio_sleeves import run_sleeves
from cryptotrain.backtest.portfolio_stats import per_pair_stats, portfolio_stats
from cryptotrain.backtest.portfolio_weights import book, constrain
from cryptotrain.backtest.risk import Rules, engine_args
from cryptotrain.backtest.stats import drawdown
from cryptotrain.backtest.verdict import backtest_verdict
from cryptotrain.backtest.weights_file import WeightFile, read_weights
from cryptotrain.config import BacktestConfig
from cryptotrain.data.timestamps import format_utc
from cryptotrain.data.universe import Universe, list_pairs, load_pairs, pick_timeframe
from cryptotrain.errors import UserError
from cryptotrain.csv_writer import write_csv
from cryptotrain.fileio import atomic_write_bytes, atomic_write_text, to_jsonable
from cryptotrain.outdir import check_target, output_unit
from cryptotrain.report.equity_figure import equity_panels, equity_png
from cryptotrain.report.portfolio_figures import contribution_png, weights_png
from cryptotrain.report.portfolio_report import portfolio_caption

BTC = "BTC_USDT"


@dataclass
class Book:
    """A portfolio to trade on the grid rows lo..hi: its pairs' columns, its target weights (T', n) decided at
    each row's close (NaN = keep), the engine's rebalance (every N rows or a (T',) mask of rows), and whether
    each pair is its own sleeve (portfolio_sleeves.py: the targets are then fractions of each sleeve)."""

    cols: slice
    weights: np.ndarray
    rebalance: int | np.ndarray = 0
    sleeves: bool = False


@dataclass
class PortfolioReport:
    results: dict[str, PortfolioResult]   # "portfolio", ("momentum",) "equal_weight", "btc_buy_and_hold"
    stats: dict[str, dict[str, Any]]      # the same keys -> portfolio_stats
    per_pair: dict[str, dict[str, Any]]   # symbol -> per_pair_stats of the portfolio
    verdict: dict[str, Any]
    settings: BacktestConfig
    timeframe: str
    title: str
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    provenance: dict | None = None         # a universe run's: which checkpoint made the predictions traded


def run(weights: Path | None, data_dir: Path | None, *, out: Path | None = None,
        overrides: dict[str, Any] | None = None, timeframe: str | None = None,
        allow_leverage: bool = False) -> PortfolioReport:
    """Read, check, trade, write (module docstring). Bad input: one UserError line."""
    _both(weights, data_dir)
    no_policy_keys(overrides or {})
    weights = Path(weights)
    out_dir = Path(out) if out is not None else weights.parent / f"{weights.stem}_backtest"
    how = dict(option="--out" if out is not None else "the output directory")
    check_target(out_dir, **how)
    bcfg = backtest_settings(BacktestConfig(), overrides or {})
    wb = read_book(weights, data_dir, timeframe)
    bcfg = wb.settings(bcfg, allow_leverage)
    rep = trade(wb.uni, {"portfolio": wb.portfolio(bcfg)}, wb.lo, wb.hi, bcfg, n_pairs=wb.n_pairs)
    rep.title, rep.out_dir = weights.name, out_dir
    with output_unit(out_dir, "backtest", **how) as tmp:
        files = write_outputs(tmp, rep)
    rep.files = [out_dir / f.relative_to(tmp) for f in files]
    return rep


def no_policy_keys(keys) -> None:
    """The policy keys have no meaning for a weight file: one UserError line naming the first given."""
    policy_keys = sorted({"policy", "k", "n_drop"} & set(keys))
    if policy_keys:
        raise UserError(f"backtest.{policy_keys[0]} turns a universe run's scores into weights (backtest --run "
                        "UNIVERSE_RUN); --weights are weights already: drop it")


def _both(weights: Path | None, data_dir: Path | None) -> None:
    if weights is None or data_dir is None:
        raise UserError("--weights and --data-dir go together: the weight file and the directory of its pairs' "
                        "candle files")


@dataclass
class WeightBook:
    """A weight file on its pairs' grid (decision rows lo..hi, NaN = none): what each backtest of it trades."""
    uni: Universe
    W: np.ndarray     # (hi - lo + 1, pairs on the grid)
    lo: int
    hi: int
    n_pairs: int      # the file's pairs: the first columns (then BTC_USDT, for its benchmark, when not one of them)
    src: Path

    def settings(self, bcfg: BacktestConfig, allow_leverage: bool) -> BacktestConfig:
        """`bcfg` once the book's gross is checked against its cap (raised to it with allow_leverage)."""
        return _check_gross(self.W, bcfg, allow_leverage, self.uni.timestamps[self.lo:self.hi + 1], self.src)

    def portfolio(self, bcfg: BacktestConfig) -> Book:
        """The "portfolio" book of `trade`: the file's weights through portfolio_weights.constrain."""
        n, cl = self.n_pairs, self.uni.close[self.lo:self.hi + 1, :self.n_pairs]
        target = constrain(self.W[:, :n], cl, mode=bcfg.mode, max_exposure=bcfg.max_exposure, gross=bcfg.gross,
                           target_vol=bcfg.target_vol, timeframe_ms=self.uni.timeframe_ms)
        return Book(slice(0, n), target, bcfg.rebalance)


def read_book(weights: Path | None, data_dir: Path | None, timeframe: str | None) -> WeightBook:
    """Read the weight file and its pairs' candles (module docstring); bad input: one UserError line."""
    _both(weights, data_dir)
    pairs = list_pairs(Path(data_dir))
    wf = read_weights(Path(weights), set(pairs))
    tf = pick_timeframe(pairs, wf.symbols, timeframe, Path(data_dir))
    extra = [BTC] if BTC not in wf.symbols and tf in pairs.get(BTC, {}) else []
    uni = load_pairs(pairs, wf.symbols + extra, tf)
    W, lo, hi = _on_grid(wf, uni, Path(weights))
    return WeightBook(uni, W, lo, hi, len(wf.symbols), Path(weights))


def _on_grid(wf: WeightFile, uni: Universe, src: Path) -> tuple[np.ndarray, int, int]:
    """The decisions as (T', N) on grid rows lo..hi (NaN = none); off-grid timestamps are errors."""
    ts, tf = uni.timestamps, uni.timeframe_ms
    off = ((wf.timestamps - ts[0]) % tf != 0) | (wf.timestamps < ts[0]) | (wf.timestamps > ts[-1])
    if off.any():
        i = int(np.argmax(off))
        raise UserError(f"{src}: timestamp {format_utc(int(wf.timestamps[i]))} at line {wf.lines[i]} is not a "
                        f"{uni.timeframe} candle of the pairs (their candles run from {format_utc(int(ts[0]))} to "
                        f"{format_utc(int(ts[-1]))}); use candle open times")
    rows = ((wf.timestamps - ts[0]) // tf).astype(np.int64)
    lo, hi = int(rows[0]), min(int(rows[-1]) + 1, len(ts) - 1)
    W = np.full((hi - lo + 1, len(uni.symbols)), np.nan)
    W[rows - lo, : len(wf.symbols)] = wf.weights
    return W, lo, hi


def _check_gross(W: np.ndarray, bcfg: BacktestConfig, allow: bool, ts: np.ndarray, src: Path) -> BacktestConfig:
    rows, b = book(W)
    g = np.abs(b).sum(axis=1)
    over = g > bcfg.gross + 1e-9
    if over.any() and not allow:
        i = int(np.argmax(over))
        raise UserError(f"{src}: the weights at {format_utc(int(ts[rows[i]]))} add up to a gross of {g[i]:.4g}, "
                        f"above the cap {bcfg.gross:g}; scale them down, raise --gross, or pass --allow-leverage")
    return bcfg.model_copy(update={"gross": max(bcfg.gross, float(g.max(initial=0.0)))}) if allow else bcfg


def _basket(uni: Universe, lo: int, hi: int, n: int, rebalance: int) -> tuple[np.ndarray, np.ndarray]:
    """Equal-weight basket decisions (T', n) and its rebalance mask (T',) (module docstring)."""
    has = np.isfinite(uni.open[:, :n])
    first = np.argmax(has, axis=0)
    last = len(has) - 1 - np.argmax(has[::-1], axis=0)
    rows = np.arange(lo, hi + 1)
    listed = (rows[:, None] >= first) & (rows[:, None] <= last)
    w = listed / np.maximum(listed.sum(axis=1, keepdims=True), 1)
    change = np.ones(len(rows), dtype=bool)
    change[1:] = (listed[1:] != listed[:-1]).any(axis=1)
    if rebalance > 0:
        reb = (np.arange(len(rows)) % rebalance == 0) & (np.arange(len(rows)) > 0)
    else:
        month = uni.timestamps[lo:hi + 1].astype("datetime64[ms]").astype("datetime64[M]")
        reb = np.concatenate(([False], month[1:] != month[:-1]))
    return np.where(change[:, None], w, np.nan), reb


def trade(uni: Universe, books: dict[str, Book], lo: int, hi: int, bcfg: BacktestConfig,
          n_pairs: int, horizon: int | None = None, benchmarks: bool = True) -> PortfolioReport:
    """`books` ("portfolio" and any benchmark traded alike) and the benchmarks of the module docstring on
    grid rows lo..hi, the basket over the first `n_pairs` columns; no files. The risk rules of `bcfg`
    act on "portfolio" alone. `benchmarks` False: "portfolio" alone (a grid's combinations; Buy & Hold's
    return still computed)."""
    sl = slice(lo, hi + 1)
    ts, op, cl = uni.timestamps[sl], uni.open[sl], uni.close[sl]
    ends = np.array([int(uni.timestamps[len(uni.timestamps) - 1 - np.argmax(np.isfinite(uni.open[::-1, i]))])
                     for i in range(len(uni.symbols))])
    basket, reb = _basket(uni, lo, hi, n_pairs, bcfg.rebalance)
    runs = {**books, "equal_weight": Book(slice(0, n_pairs), basket, reb)}
    if BTC in uni.symbols:
        b = uni.symbols.index(BTC)
        hold = np.full((len(ts), 1), np.nan)
        hold[0] = 1.0
        runs["btc_buy_and_hold"] = Book(slice(b, b + 1), hold)

    cols = books["portfolio"].cols
    risk = {} if (rules := Rules.of(bcfg)) is None else engine_args(
        rules, uni.high[:, cols], uni.low[:, cols], uni.close[:, cols], sl)

    def go(k: str, fee: float, slip: float, with_trades: bool = True) -> PortfolioResult:
        b = runs[k]
        engine = run_sleeves if b.sleeves else run_portfolio
        return engine(ts, op[:, b.cols], cl[:, b.cols], b.weights, cash=bcfg.cash, fee_bps=fee, slippage_bps=slip,
                      timeframe_ms=uni.timeframe_ms, rebalance=b.rebalance, symbols=uni.symbols[b.cols],
                      data_end=ends[b.cols], with_trades=with_trades, **(risk if k == "portfolio" else {}))

    traded = [k for k in runs if benchmarks or k == "portfolio"]
    bh_key = "btc_buy_and_hold" if "btc_buy_and_hold" in runs else "equal_weight"
    results = {k: go(k, bcfg.fee_bps, bcfg.slippage_bps) for k in traded}
    free = {k: go(k, 0.0, 0.0, with_trades=False)   # the "no costs" returns, and Buy & Hold's
            for k in runs if k in traded or k == bh_key}
    bh = free[bh_key].equity
    stats = {}
    for k, res in results.items():
        res.buy_hold = bh
        stats[k] = portfolio_stats(res, no_costs=float(free[k].equity[-1]))
    verdict = backtest_verdict(stats, results, bcfg, strategy="portfolio", horizon=horizon)
    return PortfolioReport(results, stats, per_pair_stats(results["portfolio"]), verdict, bcfg, uni.timeframe, "",
                           Path("."))


def weights_frame(res: PortfolioResult) -> pd.DataFrame:
    """Target weight per pair, one row where it changes (the first row: every pair held)."""
    T, N = res.target.shape
    prev = np.vstack([np.full((1, N), np.nan), res.target[:-1]])
    r, c = np.nonzero(res.target != prev)
    return pd.DataFrame({"timestamp": res.timestamps[r], "symbol": np.array(res.symbols, dtype=object)[c],
                         "weight": res.target[r, c]})


def write_outputs(out_dir: Path, rep: PortfolioReport) -> list[Path]:
    """stats.json, equity.csv, weights.csv, trades.csv, plots/equity.png, weights.png, contribution.png."""
    p = rep.results["portfolio"]
    doc = {k: to_jsonable(s) for k, s in rep.stats.items()}
    doc["per_pair"] = to_jsonable(rep.per_pair)
    doc["ended"] = {s: format_utc(t) for s, t in p.ended.items()}
    doc["settings"] = rep.settings.model_dump(mode="json")
    doc["verdict"] = rep.verdict
    if rep.provenance is not None:
        doc["predictions"] = rep.provenance
    atomic_write_text(out_dir / "stats.json", json.dumps(doc, indent=2) + "\n")
    dd = drawdown(p.equity, p.cash)
    gross = np.divide(np.abs(p.value).sum(axis=1), p.equity, out=np.zeros(len(p.equity)), where=p.equity > 0)
    net = np.divide(p.value.sum(axis=1), p.equity, out=np.zeros(len(p.equity)), where=p.equity > 0)
    eq = pd.DataFrame({"timestamp": p.timestamps, "equity": p.equity, "drawdown": dd, "cash": p.equity - p.value.sum(1),
                       "gross_exposure": gross, "net_exposure": net,
                       **{f"{k}_equity": r.equity for k, r in rep.results.items() if k != "portfolio"}})
    write_csv(eq, out_dir / "equity.csv")
    write_csv(weights_frame(p), out_dir / "weights.csv")
    trades = p.trades.copy()
    trades["duration"] = pd.to_timedelta(trades["duration"], unit="ms").astype(str)
    write_csv(trades, out_dir / "trades.csv")
    names = {"equal_weight": "Equal weight", "btc_buy_and_hold": "BTC buy & hold", "momentum": "Momentum"}
    panels = equity_panels(p.timestamps, p.equity, dd, net,
                           others={names[k]: r.equity for k, r in rep.results.items() if k != "portfolio"})
    plots = out_dir / "plots"
    caption = f"Portfolio {rep.title}: {portfolio_caption(rep.settings)}"
    atomic_write_bytes(plots / "equity.png", equity_png(panels, caption, "Portfolio"))
    atomic_write_bytes(plots / "weights.png", weights_png(p.timestamps, p.value, p.equity, p.symbols, caption))
    contrib = {s: v["P&L Contribution [$]"] for s, v in rep.per_pair.items()}
    atomic_write_bytes(plots / "contribution.png", contribution_png(contrib, caption))
    return [out_dir / n for n in ("stats.json", "equity.csv", "weights.csv", "trades.csv")] + \
        [plots / n for n in ("equity.png", "weights.png", "contribution.png")]
