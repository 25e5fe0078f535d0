"""The execution engine: target exposures -> fills -> units, cash and equity at every close.

Execution rule (defined here; the README's "Backtest" section repeats it)
------------------------------------------------------------------------
- `target[t]` in [-1, 1] is the exposure (position value / equity; negative = short) decided at
  the CLOSE of candle t. It is filled at the OPEN of candle t+1, at `open * (1 + slip)` when
  buying and `open * (1 - slip)` when selling. The target of the last candle is never filled.
  The account starts flat with `cash`.
- A fill happens only when the target differs from the previous candle's target. Between fills
  the units are held constant (no rebalancing), so the exposure drifts with the price.
- Size of a fill: afterwards, the position valued at the open equals `target` times the equity
  left once this fill's slippage and fee are paid. From flat this spends the fraction `e` of
  equity, fee included: `units = e * E / (fill_price * (1 + fee))` (a long of 1 leaves cash 0).
  Units are fractional.
- `fee = fee_bps / 1e4 * |units traded| * fill_price` (the traded notional), on every fill.
- Equity at the close of t is `cash + units * close[t]`; at a fill it is valued at that open.
  Only prices the trader has seen are used: the close of t (decision), the open of t+1 (fill).
- Shorts hold negative units and earn the negative of the price move. Borrow fees, funding
  rates, margin, liquidation and interest on cash are not modelled.
- Risk rules (risk.py, optional): a stop, take-profit, trailing stop or max_hold exit is one more
  fill, inside its candle at the rule's price (the open on a gap), to target 0, with the same
  slippage and fee; the pair then stays flat until its target changes. Without rules the fills are
  exactly the target changes above (the same code path, bit for bit).
- Ruin: equity can reach zero only through a short in a rally of more than 100% between fills.
  From the first candle where equity (at a fill's open or at a close) is <= 0 the account is
  wiped out: no more fills, equity and position 0; the open trade is closed at that candle's
  close with a P&L that takes the equity to exactly 0.

Why this vectorizes (no loop over candles or fills)
---------------------------------------------------
Segment 0 is the flat start; segment k >= 1 starts with fill k at candle j_k, reference price
p_k = open[j_k], target e_k and equity after the fill E+_k. With units u_k = e_k E+_k / p_k and
cash (1 - e_k) E+_k, the equity at any later price P in the segment is E+_k (1 + e_k (P/p_k - 1)).
So, with x = p_{k+1} / p_k:
    equity just before fill k+1   E_{k+1} = E+_k g_k,       g_k = 1 + e_k (x - 1)
    exposure just before it       a = e_k x / g_k           (prices only, not equity)
    after it                      E+_{k+1} = rho E_{k+1}
The fill trades the notional |e rho - a| E at the open and pays slippage s and fee f(1 +- s) on
it: rho = 1 - kappa |e rho - a|, with kappa_buy = s + f (1 + s), kappa_sell = s + f (1 - s).
sign(e rho - a) = sign(e - a), so the side is known first and
    buy (e > a):  rho = (1 + kappa_buy a) / (1 + kappa_buy e)
    sell (e < a): rho = (1 - kappa_sell a) / (1 - kappa_sell e)
Hence E+_k = cash * prod_{i <= k} g_{i-1} rho_i: one cumulative product over the fills, and the
equity of every candle by indexing its segment. A rule exit is a fill at its own price p_k inside
candle j_k (after that candle's open fill, if any): the same algebra with p_k for open[j_k].
Shapes: N candles, K fills.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cryptotrain.backtest.risk import Rules, apply_rules
from cryptotrain.backtest.trades import extract_trades
from cryptotrain.errors import UserError


@dataclass
class Fills:
    """One entry per fill, all (K,)."""

    candle: np.ndarray        # int64 index j of the candle at whose open the fill happens
    target: np.ndarray        # exposure after the fill
    units_before: np.ndarray
    units_after: np.ndarray
    price: np.ndarray         # fill price, slippage included
    notional: np.ndarray      # |units_after - units_before| * price [$]
    fee: np.ndarray           # [$]
    slippage: np.ndarray | None = None  # [$] |units traded| * |fill price - open (or rule price)|
    reason: np.ndarray | None = None    # int8 index into trades.EXIT_REASONS (None: all "signal")


@dataclass
class BacktestResult:
    """Per-candle state at each close (N,), the fills and the round-trip trades."""

    timestamps: np.ndarray    # int64 ms, candle open time
    close: np.ndarray
    position: np.ndarray      # target exposure held during candle t (decided at the close of t-1)
    units: np.ndarray         # units held during candle t
    equity: np.ndarray        # [$] at the close of t
    buy_hold: np.ndarray      # [$] frictionless buy-and-hold from the open of candle 1 (first possible fill)
    fills: Fills
    trades: pd.DataFrame      # see trades.extract_trades
    cash: float               # starting equity [$]
    timeframe_ms: int
    ruined_at: int | None = None  # candle index where equity reached zero, if it did


@dataclass
class _Plan:
    """What to fill before sizing: the targets held and the fills as (candle, reference price, target)."""

    held: np.ndarray          # (N,) target held from the open of t (0 while flat after a rule exit)
    after: np.ndarray         # (N,) target held at the close of t
    candle: np.ndarray        # (K,) fills in time order; a rule exit follows its candle's open fill
    ref: np.ndarray           # (K,) price before slippage: the open, or a rule exit's price
    target: np.ndarray        # (K,)
    reason: np.ndarray        # (K,) int8 trades.EXIT_REASONS index: 0 (signal) for a target change


@dataclass
class _Sim:
    held: np.ndarray          # (N,)
    units: np.ndarray         # (N,)
    equity: np.ndarray        # (N,)
    fills: Fills
    pre: np.ndarray           # (K,) equity at the fill's price, before it
    post: np.ndarray          # (K,) equity right after it


def _plan(open_, high, low, close, target: np.ndarray, rules: Rules | None, atr) -> _Plan:
    """The fills of `target` without rules (where the held target changes: the vectorized path), or
    with the exits of risk.apply_rules (the single pair as a portfolio of one)."""
    held = np.zeros(len(target))
    held[1:] = target[:-1]
    if rules is None:
        j = np.flatnonzero(held[1:] != held[:-1]) + 1
        return _Plan(held, held, j, open_[j], held[j], np.zeros(len(j), dtype=np.int8))
    col = (lambda v: None if v is None else np.asarray(v, dtype=np.float64)[:, None])
    ex = apply_rules(held[:, None], np.ones((len(held), 1), dtype=bool), col(open_), col(high), col(low), col(close),
                     rules, col(atr))
    h, a = ex.held[:, 0], ex.after[:, 0]
    j = np.flatnonzero(h[1:] != a[:-1]) + 1
    candle = np.concatenate((j, ex.row))
    order = np.lexsort((np.arange(len(candle)) >= len(j), candle))   # an open fill before its candle's exit
    return _Plan(h, a, candle[order], np.concatenate((open_[j], ex.price))[order],
                 np.concatenate((h[j], np.zeros(len(ex.row))))[order],
                 np.concatenate((np.zeros(len(j), dtype=np.int8), ex.reason))[order])


def _simulate(open_: np.ndarray, close: np.ndarray, plan: _Plan, cash: float, f: float, s: float) -> _Sim:
    n = len(close)
    j, p, et = plan.candle, plan.ref, plan.target     # (K,)
    e = np.concatenate(([0.0], et))                   # (K+1,) e[0] = 0: the flat start
    ref = np.concatenate(([open_[0]], p))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = p / ref[:-1]
        g = 1.0 + e[:-1] * (x - 1.0)                  # (K,)
        a = e[:-1] * x / g                            # exposure drifted to the fill's price
        buy = et > a
        kb, ks = s + f * (1 + s), s + f * (1 - s)
        rho = np.where(buy, (1 + kb * a) / (1 + kb * et), (1 - ks * a) / (1 - ks * et))
        eplus = cash * np.concatenate(([1.0], np.cumprod(g * rho)))  # (K+1,)
        units_seg = e * eplus / ref
        seg = np.searchsorted(j, np.arange(n), side="right")        # (N,) segment of each candle
        equity = eplus[seg] * (1.0 + e[seg] * (close / ref[seg] - 1.0))
    price = p * np.where(buy, 1.0 + s, 1.0 - s)
    notional = np.abs(units_seg[1:] - units_seg[:-1]) * price
    traded = np.abs(units_seg[1:] - units_seg[:-1])
    fills = Fills(j, et, units_seg[:-1], units_seg[1:], price, notional, f * notional, traded * p * s, plan.reason)
    return _Sim(plan.held, units_seg[seg], equity, fills, eplus[:-1] * g, eplus[1:])


def _ruin(sim: _Sim) -> tuple[int, int] | None:
    """(first candle where equity <= 0, how many fills stand: those before a fill whose own price
    found equity <= 0, else those up to that candle) or None."""
    bad_close = ~(sim.equity > 0)
    bad_fill = ~(sim.pre > 0) | ~(sim.post > 0)
    b_close = int(np.argmax(bad_close)) if bad_close.any() else None
    k = int(np.argmax(bad_fill)) if bad_fill.any() else None
    b_fill = int(sim.fills.candle[k]) if k is not None else None
    if b_close is None and b_fill is None:
        return None
    b = b_fill if b_fill is not None and (b_close is None or b_fill <= b_close) else b_close
    if b == b_fill and not sim.pre[k] > 0:
        return b, k
    return b, int(np.searchsorted(sim.fills.candle, b, side="right"))


def _check_inputs(open_, close, target, cash, fee_bps, slippage_bps) -> None:
    if not (len(open_) == len(close) == len(target) >= 1):
        raise UserError(f"backtest needs equal, non-empty arrays (open {len(open_)}, close {len(close)}, target {len(target)})")
    if not (np.all(np.isfinite(open_)) and np.all(np.isfinite(close)) and np.all(open_ > 0) and np.all(close > 0)):
        raise UserError("backtest needs finite, positive open and close prices; check the candle file")
    if not np.all(np.abs(target) <= 1.0):
        raise UserError("target positions must be finite and within [-1, 1]")
    check_costs(cash, fee_bps, slippage_bps)


def check_costs(cash: float, fee_bps: float, slippage_bps: float) -> None:
    """Cash and costs that the fill rule can work with (also the portfolio engine's)."""
    s, f = slippage_bps / 1e4, fee_bps / 1e4
    if not (cash > 0 and 0 <= s < 1 and 0 <= f and s + f * (1 + s) < 1):
        raise UserError(f"backtest needs cash > 0 and fee + slippage below 100% (cash {cash}, fee {fee_bps} bps, "
                        f"slippage {slippage_bps} bps)")


def execute_targets(timestamps: np.ndarray, open_: np.ndarray, close: np.ndarray, target: np.ndarray, *,
                    cash: float, fee_bps: float, slippage_bps: float, timeframe_ms: int,
                    high: np.ndarray | None = None, low: np.ndarray | None = None, rules: Rules | None = None,
                    atr: np.ndarray | None = None) -> BacktestResult:
    """Trade `target` (N,) decided at each close under the execution rule above; with `rules` (risk.py)
    also exit inside candles on their `high` and `low` (`atr` (N,): the ATR at each close, for the
    *_atr rules; computed from these candles when not given)."""
    timestamps = np.asarray(timestamps, dtype=np.int64)
    open_, close, target = (np.asarray(v, dtype=np.float64) for v in (open_, close, target))
    _check_inputs(open_, close, target, cash, fee_bps, slippage_bps)
    f, s = fee_bps / 1e4, slippage_bps / 1e4
    n = len(close)
    plan = _plan(open_, high, low, close, target, rules, atr)
    sim = _simulate(open_, close, plan, cash, f, s)
    ruin = _ruin(sim)
    if ruin is not None:  # replay up to the ruin candle (cancelling a fill whose price found no equity), then zero
        b, keep = ruin
        held = plan.held[: b + 1].copy()
        if keep < len(sim.fills.candle) and plan.candle[keep] == b:
            held[b] = plan.after[b - 1]
        cut = _Plan(held, plan.after[: b + 1], *(v[:keep] for v in (plan.candle, plan.ref, plan.target, plan.reason)))
        sim = _simulate(open_[: b + 1], close[: b + 1], cut, cash, f, s)
    trades = extract_trades(sim.fills, timestamps[: len(sim.equity)], close[: len(sim.equity)], timeframe_ms)
    held, units, equity = (np.zeros(n) for _ in range(3))
    held[: len(sim.held)], units[: len(sim.units)], equity[: len(sim.equity)] = sim.held, sim.units, sim.equity
    if ruin is not None:
        b = ruin[0]
        if len(trades) and trades["open"].iloc[-1]:
            i = trades.index[-1]
            trades.loc[i, "pnl"] -= equity[b]  # the rest of the equity is lost with this trade
            trades.loc[i, "return"] = trades.loc[i, "pnl"] / (trades.loc[i, "size"] * trades.loc[i, "entry_price"])
            trades.loc[i, "open"] = False
            trades.loc[i, "exit_reason"] = "ruin"
        held[b + 1:] = units[b + 1:] = equity[b:] = 0.0
    buy_hold = np.full(n, float(cash))
    if n > 1:
        buy_hold[1:] = cash * close[1:] / open_[1]
    return BacktestResult(timestamps, close, held, units, equity, buy_hold, sim.fills, trades, float(cash),
                          int(timeframe_ms), None if ruin is None else ruin[0])


def final_equity(open_: np.ndarray, close: np.ndarray, target: np.ndarray, *, cash: float, fee_bps: float,
                 slippage_bps: float, high: np.ndarray | None = None, low: np.ndarray | None = None,
                 rules: Rules | None = None, atr: np.ndarray | None = None) -> float:
    """`execute_targets(...).equity[-1]` (the same bits) without the per-candle state and the trades:
    all that the "no costs" return needs. A ruined account ends at 0."""
    open_, close, target = (np.asarray(v, dtype=np.float64) for v in (open_, close, target))
    _check_inputs(open_, close, target, cash, fee_bps, slippage_bps)
    plan = _plan(open_, high, low, close, target, rules, atr)
    sim = _simulate(open_, close, plan, cash, fee_bps / 1e4, slippage_bps / 1e4)
    return 0.0 if _ruin(sim) is not None else float(sim.equity[-1])
