"""`compute_stats`: every number the backtest reports, with its formula, in display order.

Conventions (all in one place, like backtesting.py's `_stats.py`):
- E_t is the equity at the close of candle t (t = 0..N-1), E_{-1} = starting cash.
  Candle returns r_t = E_t / E_{t-1} - 1 (N of them; 0 once equity is 0).
- A year is 365 days of 24 h (crypto trades 24/7): P = 365 d / timeframe candles per year.
  Calendar length in years Y = (open of the last candle + timeframe - open of the first) / 365 d.
- Drawdown dd_t = E_t / max(cash, max_{s<=t} E_s) - 1 (<= 0). A drawdown period is a maximal run
  of candles with dd < 0; it starts at the peak (the candle before the run, or the start) and
  ends at the candle that regains the peak, or at the last candle if it never does.
- Ratios use risk-free rate 0. Undefined values (no trades, zero deviation, no losing trade...)
  are NaN, never a division error.
- PSR(0): the probability that the true per-candle Sharpe ratio is above 0 given the n returns,
  their skewness and kurtosis (Bailey and Lopez de Prado; orchestration/sweep_dsr.py).
- The interval of "Return (Ann.)": a circular block bootstrap of the candle returns (blocks of
  evaluate.bootstrap.block_length(n) = ceil(n^(1/3)) candles, BOOTSTRAP_RESAMPLES resamples (fewer,
  down to 200, on very long series: see annual_return_interval), seed 0),
  each resample's exp(P mean(log(1 + r))) - 1, 2.5% and 97.5% percentiles. Only the order of the
  returns within blocks is kept: it says how much the annualized figure owes to which candles came.
- `span_warning`: a test span shorter than MIN_SPAN_DAYS makes every annualized figure (Return
  (Ann.), CAGR, Sharpe, Sortino, Calmar) an extrapolation of a few weeks to a year.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cryptotrain.evaluate.bootstrap import block_length, percentile_interval
from cryptotrain.backtest.deflated_sharpe import candle_stats, psr
from cryptotrain.data.timestamps import YEAR_MS, periods_per_year  # noqa: F401  (defined with the timeframes)
from cryptotrain.backtest.trades import EXIT_REASONS

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_DRAWS = 2_000_000   # R * k cap: the interval costs ~0.05 s at most
MIN_SPAN_DAYS = 90


def _div(a: float, b: float) -> float:
    return float(a) / float(b) if b != 0 and np.isfinite(b) else float("nan")


def drawdown(equity: np.ndarray, cash: float) -> np.ndarray:
    """dd_t = E_t / running peak - 1, the running peak starting at `cash`. (N,) -> (N,)"""
    peak = np.maximum.accumulate(np.maximum(equity, cash))
    return equity / peak - 1.0


def _drawdown_periods(dd: np.ndarray, close_time: np.ndarray, start_time: int) -> tuple[np.ndarray, np.ndarray]:
    """Depth (min dd) and duration [ms] of each drawdown period; see the module docstring."""
    under = dd < 0
    if not under.any():
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    first, last = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1   # inclusive runs
    depth = np.minimum.reduceat(dd, first)
    peak_time = np.where(first > 0, close_time[np.maximum(first - 1, 0)], start_time)
    end_time = close_time[np.minimum(last + 1, len(dd) - 1)]
    return depth, (end_time - peak_time).astype(np.int64)


def _annualize(growth: float, power: float) -> float:
    """growth^power - 1 in log space: a short profitable run on minute candles has a power of
    ~10^5, which overflows a float power; the result is then inf, never an exception."""
    if growth <= 0:
        return -1.0
    with np.errstate(over="ignore"):
        return float(np.expm1(power * np.log(growth)))


def annual_return_interval(r: np.ndarray, periods: float, level: float = 0.95) -> tuple[float, float]:
    """Block-bootstrap interval of exp(P mean(log(1 + r))) - 1 (module docstring). Each resample is
    k = ceil(n / b) blocks of b candles from random circular starts, its sum the sum of k of the n
    circular block sums (one prefix sum), so the cost is R * k draws, not R * n; R = BOOTSTRAP_RESAMPLES,
    fewer (down to 200) where that would pass BOOTSTRAP_DRAWS (a million one-minute candles)."""
    n = len(r)
    if n < 3:
        return float("nan"), float("nan")
    with np.errstate(divide="ignore"):
        lr = np.log(np.maximum(1.0 + r, 0.0))                       # -inf once equity is 0
    b = block_length(n)
    k = -(-n // b)
    prefix = np.concatenate(([0.0], np.cumsum(np.concatenate((lr, lr[:b])))))
    with np.errstate(invalid="ignore"):
        block_sum = prefix[b:b + n] - prefix[:n]                     # (n,) the block starting at each candle
    R = min(BOOTSTRAP_RESAMPLES, max(200, BOOTSTRAP_DRAWS // k))
    starts = np.random.default_rng(0).integers(0, n, size=(R, k), dtype=np.int32 if n < 2**31 else np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        total = block_sum[starts].sum(axis=1)                       # k * b >= n candles: scaled to n
        ann = np.expm1(periods * total / (k * b))
    return percentile_interval(ann, level)


def span_warning(stats: dict[str, Any]) -> str | None:
    """A sentence naming the span when it is too short for annualized figures to mean much."""
    days = stats["Duration"] / pd.Timedelta(days=1)
    if days >= MIN_SPAN_DAYS:
        return None
    return (f"the span is {days:.1f} days ({stats['Start']:%Y-%m-%d %H:%M} to {stats['End']:%Y-%m-%d %H:%M} UTC), "
            f"shorter than {MIN_SPAN_DAYS} days: the annualized figures (Return (Ann.), CAGR, Sharpe, Sortino, "
            "Calmar) extrapolate it to a year and mean little; read Return [%] and backtest a longer span")


def compute_stats(res, no_costs: float | None = None) -> dict[str, Any]:
    """engine.BacktestResult -> ordered dict of statistics (units in the key names).

    `no_costs`: the final equity [$] of the same targets traded with fee and slippage 0
    (engine.final_equity), for the return before costs; NaN without it."""
    eq, cash, tf = np.asarray(res.equity, dtype=float), float(res.cash), int(res.timeframe_ms)
    ts = np.asarray(res.timestamps, dtype=np.int64)
    trades = res.trades
    n, m = len(eq), len(trades)
    prev = np.concatenate(([cash], eq[:-1]))
    r = np.divide(eq, prev, out=np.ones(n), where=prev > 0) - 1.0          # r_t
    periods = periods_per_year(tf)                                         # P
    years = (ts[-1] + tf - ts[0]) / YEAR_MS                                # Y
    dd = drawdown(eq, cash)
    depth, dd_len = _drawdown_periods(dd, ts + tf, int(ts[0]))
    std = float(np.std(r, ddof=1)) if n > 1 else float("nan")
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
    final = float(eq[-1])
    cagr = _annualize(final / cash, 1.0 / years)
    max_dd = float(dd.min())
    pnl = trades["pnl"].to_numpy(dtype=float)
    ret = trades["return"].to_numpy(dtype=float)
    dur = trades["duration"].to_numpy(dtype=np.int64)
    gross_win, gross_loss = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()

    s: dict[str, Any] = {}
    s["Start"] = pd.Timestamp(int(ts[0]), unit="ms", tz="UTC")             # open of the first candle
    s["End"] = pd.Timestamp(int(ts[-1]), unit="ms", tz="UTC")              # open of the last candle
    s["Duration"] = s["End"] - s["Start"]
    s["Exposure Time [%]"] = 100.0 * float(np.mean(np.asarray(res.position) != 0))  # candles holding a position
    s["Equity Final [$]"] = final
    s["Equity Peak [$]"] = float(max(eq.max(), cash))
    s["Fees Paid [$]"] = float(np.sum(res.fills.fee))
    slip = res.fills.slippage
    s["Slippage Paid [$]"] = float(np.sum(slip)) if slip is not None else float("nan")  # |units| * |price - open|
    s["Return [%]"] = 100.0 * (final / cash - 1.0)                        # after fees and slippage
    s["Return, no costs [%]"] = (100.0 * (float(no_costs) / cash - 1.0) if no_costs is not None
                                 else float("nan"))                        # same targets, fee = slippage = 0
    s["Buy & Hold Return, no costs [%]"] = 100.0 * (float(res.buy_hold[-1]) / cash - 1.0)  # from the first fill's open
    # geometric, per candle: (prod(1 + r))^(P / n) - 1, as backtesting.py (CAGR uses calendar years)
    s["Return (Ann.) [%]"] = 100.0 * _annualize(final / cash, periods / n)
    s["Volatility (Ann.) [%]"] = 100.0 * std * np.sqrt(periods)            # std(r, ddof=1) * sqrt(P)
    s["CAGR [%]"] = 100.0 * cagr                                           # (E_final / cash)^(1/Y) - 1
    s["Sharpe Ratio"] = _div(np.mean(r), std) * np.sqrt(periods)           # mean(r) / std(r) * sqrt(P), rf = 0
    s["Sortino Ratio"] = _div(np.mean(r), downside) * np.sqrt(periods)     # downside = sqrt(mean(min(r, 0)^2))
    s["Calmar Ratio"] = _div(cagr, abs(max_dd))                            # CAGR / |Max. Drawdown|
    s["Max. Drawdown [%]"] = 100.0 * max_dd
    s["Avg. Drawdown [%]"] = 100.0 * float(depth.mean()) if len(depth) else 0.0  # mean depth of the periods
    s["Max. Drawdown Duration"] = pd.Timedelta(int(dd_len.max()) if len(dd_len) else 0, unit="ms")  # peak -> recovery
    s["# Trades"] = m
    # why the trades ended (trades.EXIT_REASONS: signal, the risk rules, end...), the reasons that occur
    reasons = trades["exit_reason"].value_counts() if "exit_reason" in trades.columns else {}
    s["Exits by Reason"] = {r: int(reasons[r]) for r in EXIT_REASONS if r in reasons}
    s["Win Rate [%]"] = 100.0 * _div((pnl > 0).sum(), m)                  # share of trades with pnl > 0
    s["Best Trade [%]"] = 100.0 * float(ret.max()) if m else float("nan")
    s["Worst Trade [%]"] = 100.0 * float(ret.min()) if m else float("nan")
    # geometric mean of trade returns (as backtesting.py); Expectancy below is the arithmetic mean
    s["Avg. Trade [%]"] = 100.0 * float(np.expm1(np.mean(np.log1p(ret)))) if m and (ret > -1).all() else float("nan")
    s["Max. Trade Duration"] = pd.Timedelta(int(dur.max()), unit="ms") if m else pd.NaT
    s["Avg. Trade Duration"] = pd.Timedelta(float(dur.mean()), unit="ms") if m else pd.NaT
    s["Profit Factor"] = _div(gross_win, gross_loss)                       # sum of wins [$] / |sum of losses [$]|
    s["Expectancy [%]"] = 100.0 * float(ret.mean()) if m else float("nan")
    s["SQN"] = np.sqrt(m) * _div(pnl.mean(), pnl.std(ddof=1)) if m > 1 else float("nan")  # sqrt(M) mean/std of pnl
    s["Turnover"] = _div(np.sum(res.fills.notional), eq.mean())           # traded notional [$] / mean equity [$]
    c = candle_stats(r)
    s["PSR(0) [%]"] = 100.0 * psr(c["sharpe"], 0.0, c["n"], c["skew"], c["kurtosis"])  # P(true Sharpe > 0)
    lo, hi = annual_return_interval(r, periods)
    s["Return (Ann.) CI Low [%]"] = 100.0 * lo                        # block bootstrap, see the docstring
    s["Return (Ann.) CI High [%]"] = 100.0 * hi
    return s
