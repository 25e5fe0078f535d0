"""The portfolio engine: N pairs, one cash account; target weights -> fills -> units, cash and equity.

Execution rule (the single-pair rule of engine.py, generalized; the README's "Portfolio backtest"
section repeats it). Shapes: T candles of the common grid, N pairs, K fills.
---------------------------------------------------------------------------------------------
- The grid is every open time of the timeframe from the first to the last candle of any pair.
  Pair i has a candle at row t when `open[t, i]` is finite (NaN: a gap, not yet listed, ended).
- `weights[t, i]` is the target weight of pair i (signed fraction of portfolio equity: position
  value / equity, negative = short) decided at the CLOSE of row t; NaN = no decision (the last
  target is kept; 0 before the first). It fills at the next OPEN of pair i: at row t+1 when
  the pair has a candle there, otherwise at its next candle (the change waits; nothing is
  forward-filled into prices or returns). The targets of the last row are never filled.
- A pair trades only when its target differs from the target it last filled. With
  `rebalance` = R > 0, at the open of every row t with t % R == 0 every pair with a candle there
  and a non-zero target is also traded back to its target (the drift of sleeves); R = 0: never.
- Equity E at an open = cash + sum_i units_i * P_i, P_i = the pair's open at that row, or its
  last close when it has no candle then. Equity at a close: the same with the closes.
- Fill price: P_i (1 + s) when buying, P_i (1 - s) when selling; fee f on the traded notional.
  All fills of one open happen together, sells recorded first (their cash pays for the buys).
- Size: after the fills at one open, each filled pair's position valued at that open equals its
  weight times the equity left once those fills' fees and slippage are paid:
      units'_i P_i = w_i x,   x = E - sum_i kappa_i |w_i x - a_i|,   a_i = units_i P_i
  with kappa_buy = s + f (1 + s) and kappa_sell = s + f (1 - s) (cost per $ traded at the open).
  A long book of gross 1 never takes cash below zero when every held pair fills at that open (a
  rebalance row, a full rotation); pairs left to drift are not resized and keep their drift.
- Risk rules (risk.py, optional): a rule exit closes the pair inside its candle at the rule's price
  (-/+ slippage, fee), after that row's open fills; the pair stays flat (no rebalance brings it
  back) until its target changes.
- A pair whose data ends before the last row while held is sold at its last close (-/+
  slippage, fee) at that close; its name and time are in `PortfolioResult.ended`.
- Ruin (only shorts or gross > 1 can get there): from the first row where equity at an open or a
  close is <= 0 the account is wiped out (equity 0, no more fills), `ruined_at` names the row; its
  open trades are marked at that row's close (their P&L then stops short of the loss to zero).

Solving the sizing equation (one scalar, piecewise linear)
----------------------------------------------------------
h(x) = x + sum_i kappa_i(x) |w_i x - a_i| - E is convex (each term is max of two lines through
the kink a_i / w_i) and increasing (slope 1 + sum_i +-kappa_i w_i >= 1 - kappa gross > 0), and
h(E) >= 0. Newton's method from x = E therefore walks down monotonically to the root and is exact
on the root's linear piece: with the side signs sg_i (+1 buy, -1 sell) of the current piece (at a
kink the right piece, whose slope is the larger: the step still stays at or above the root),
    x' = (E + sum_i kappa_i sg_i a_i) / (1 + sum_i kappa_i sg_i w_i),
repeated until the sides at x' are those used; at most one step per kink, almost always one.
For one pair this is engine.py's rho = (1 + kappa a) / (1 + kappa e) exactly.

What is vectorized: which (row, pair) fill (from the targets and the candle mask, no state
needed: a pair's filled target is the target of its previous candle), and the equity of every
close from the units and cash held in each segment between fill rows, and the trades (per pair,
trades.extract_trades). The loop runs over fill rows only (sizing depends on the equity reached),
in Python floats: a row touches a few pairs, where NumPy's per-call cost dominated (nine pairs x
47,914 hourly rows, 19,327 fills: engine and statistics 1.0 s with NumPy in the loop, 0.54 s so;
benchmarks/portfolio.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cryptotrain.backtest.engine import Fills, check_costs
from cryptotrain.backtest.risk import Rules, apply_rules
from cryptotrain.backtest.trades import COLUMNS, END, extract_trades
from cryptotrain.errors import UserError


@dataclass
class PortfolioFills(Fills):
    """engine.Fills (K,) with the pair of each fill and whether it happened at a close (a pair's end)."""

    pair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    at_close: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass
class PortfolioResult:
    timestamps: np.ndarray    # (T,) int64 ms, open times of the grid
    symbols: list[str]        # (N,)
    close: np.ndarray         # (T, N) NaN where a pair has no candle
    target: np.ndarray        # (T, N) target weight held during row t (decided at the close of t-1)
    units: np.ndarray         # (T, N) units held at the close of t
    value: np.ndarray         # (T, N) [$] units * close (last close in a gap) at the close of t
    equity: np.ndarray        # (T,) [$] at the close of t
    fills: PortfolioFills
    trades: pd.DataFrame      # trades.COLUMNS + symbol, sorted by entry time
    cash: float               # starting equity [$]
    timeframe_ms: int
    ended: dict[str, int] = field(default_factory=dict)   # symbol -> open time of its last candle, closed there
    ruined_at: int | None = None
    buy_hold: np.ndarray | None = None   # (T,) set by the caller for compute_stats (a benchmark's equity)

    @property
    def position(self) -> np.ndarray:
        """(T,) gross exposure sum_i |value_i| / equity at each close (compute_stats' exposure time)."""
        return np.divide(np.abs(self.value).sum(axis=1), self.equity, out=np.zeros(len(self.equity)),
                         where=self.equity > 0)


def last_valid(x: np.ndarray) -> np.ndarray:
    """Forward fill down the rows of (T, N) (NaN before a column's first value)."""
    rows = np.where(np.isfinite(x), np.arange(len(x))[:, None], -1)
    last = np.maximum.accumulate(rows, axis=0)
    out = x[np.maximum(last, 0), np.arange(x.shape[1])]
    out[last < 0] = np.nan
    return out


def fill_mask(has: np.ndarray, want: np.ndarray, rebalance: int | np.ndarray,
              after: np.ndarray | None = None) -> np.ndarray:
    """(T, N) bool: pair i fills at the open of row t. `want[t]` = the target held from that open;
    `rebalance`: every N rows (0 = never) or a (T,) bool mask of the rebalance rows; `after[t]` = the
    target held at the close of t (default `want`; 0 after a rule exit inside the candle, risk.py)."""
    after = want if after is None else after
    prev_row = last_valid(np.where(has, np.arange(len(has))[:, None], np.nan).astype(float))
    prev = np.vstack([np.full((1, has.shape[1]), np.nan), prev_row[:-1]])            # previous candle's row
    prev_want = np.where(np.isfinite(prev), after[np.nan_to_num(prev).astype(np.int64), np.arange(has.shape[1])], 0.0)
    fills = has & (want != prev_want)
    if np.ndim(rebalance):
        reb = np.asarray(rebalance, dtype=bool)
    else:
        reb = (np.arange(len(has)) % rebalance == 0) & (np.arange(len(has)) > 0) if rebalance > 0 else None
    if reb is not None:
        fills |= has & reb[:, None] & (want != 0)
    return fills


def solve_sizing(E: float, w: list[float], a: list[float], kb: float, ks: float) -> float:
    """x with x + sum_i kappa_i |w_i x - a_i| = E (module docstring: Newton on a convex piecewise-linear h)."""
    x = E
    for _ in range(len(w) + 2):
        k = [kb if wi * x > ai else -ks for wi, ai in zip(w, a)]   # kappa_i * sg_i of the piece at x
        x_new = (E + sum(ki * ai for ki, ai in zip(k, a))) / (1.0 + sum(ki * wi for ki, wi in zip(k, w)))
        if all(ki * (wi * x_new - ai) >= 0 for ki, wi, ai in zip(k, w, a)):   # the sides used: exact
            return x_new
        x = x_new
    raise AssertionError("portfolio sizing did not converge")   # unreachable: one step per kink


def _check(open_, close, weights, cash, fee_bps, slippage_bps) -> None:
    if not (open_.shape == close.shape == weights.shape and open_.ndim == 2 and len(open_) >= 1):
        raise UserError(f"portfolio backtest needs (T, N) open, close and weights (got {open_.shape}, {close.shape}, "
                        f"{weights.shape})")
    if not np.array_equal(np.isfinite(open_), np.isfinite(close)) or (open_[np.isfinite(open_)] <= 0).any() \
            or (close[np.isfinite(close)] <= 0).any():
        raise UserError("portfolio backtest needs positive prices, open and close present on the same candles")
    if np.isinf(weights).any():
        raise UserError("target weights must be finite (NaN means no decision)")
    check_costs(cash, fee_bps, slippage_bps)


def run_portfolio(timestamps: np.ndarray, open_: np.ndarray, close: np.ndarray, weights: np.ndarray, *,
                  cash: float, fee_bps: float, slippage_bps: float, timeframe_ms: int,
                  rebalance: int | np.ndarray = 0, symbols: list[str] | None = None,
                  data_end: np.ndarray | None = None, high: np.ndarray | None = None,
                  low: np.ndarray | None = None, rules: Rules | None = None,
                  atr: np.ndarray | None = None, with_trades: bool = True) -> PortfolioResult:
    """Trade `weights` (T, N) (NaN = keep) on the pairs' candles (T, N) under the rule above; with
    `rules` (risk.py) also exit inside candles on their `high` and `low` (T, N) (`atr` (T, N) for
    the *_atr rules: computed per pair from these candles when not given). `with_trades` False: no
    trades table (a run read only for its equity, e.g. the "no costs" one).

    `rebalance`: every N rows or a (T,) bool mask of rows. `data_end` (N,): open time [ms] of each
    pair's last candle in its data (default: its last candle here); a pair ends in this run when
    that is before the last row, so a gap at the end of a window taken from longer data is no end."""
    ts = np.asarray(timestamps, dtype=np.int64)
    open_, close, weights = (np.asarray(v, dtype=np.float64) for v in (open_, close, weights))
    _check(open_, close, weights, cash, fee_bps, slippage_bps)
    T, N = open_.shape
    symbols = list(symbols) if symbols is not None else [f"pair{i}" for i in range(N)]
    f, s = fee_bps / 1e4, slippage_bps / 1e4
    kb, ks = s + f * (1 + s), s + f * (1 - s)
    has = np.isfinite(open_)
    decided = last_valid(weights)
    want = np.zeros((T, N))
    want[1:] = np.nan_to_num(decided[:-1])             # NaN before the first decision: flat
    exits: dict[int, list] = {}
    if rules is None:
        fills = fill_mask(has, want, rebalance)
    else:   # the rule exits, then the fills of the targets they leave (flat after an exit until a change)
        ex = apply_rules(want, has, open_, high, low, close, rules, atr)
        want = ex.held
        fills = fill_mask(has, want, rebalance, after=ex.after)
        for t, i, x, why in zip(ex.row.tolist(), ex.pair.tolist(), ex.price.tolist(), ex.reason.tolist()):
            exits.setdefault(t, []).append((i, x, why))
    last_close = last_valid(close)                    # valuation in gaps; NaN before listing
    val_open = np.where(has, open_, np.vstack([np.full((1, N), np.nan), last_close[:-1]]))
    last_row = np.where(has.any(axis=0), T - 1 - np.argmax(has[::-1], axis=0), -1)
    ending = (last_row < T - 1) & (last_row >= 0)
    if data_end is not None:
        ending &= ts[np.maximum(last_row, 0)] >= np.asarray(data_end, dtype=np.int64)
    end_rows = {int(r): np.flatnonzero(ending & (last_row == r)) for r in np.unique(last_row[ending])}
    rows = np.union1d(np.flatnonzero(fills.any(axis=1)), np.array(sorted({*end_rows, *exits}), dtype=np.int64))

    fr, fp = np.nonzero(fills)                         # row-major: the fills of each row are contiguous
    bounds = np.searchsorted(fr, rows, side="left"), np.searchsorted(fr, rows, side="right")
    fp_l, fw_l, fprice_l = fp.tolist(), want[fr, fp].tolist(), val_open[fr, fp].tolist()
    p_open = np.nan_to_num(val_open)
    # Python floats from here: a fill row touches a few pairs, where NumPy's per-call cost dominates
    u, c = [0.0] * N, float(cash)
    seg_units, seg_cash = [list(u)], [c]
    rec: list[tuple] = []   # per fill: (row, pair, target, before, after, phase 0 open 1 rule 2 close, price, reason)

    def sell_all(i: int, ref: float) -> float:
        """Cash from closing pair i's units at `ref` (-/+ slippage, fee)."""
        price = ref * (1.0 - s if u[i] > 0 else 1.0 + s)
        return u[i] * price - f * abs(u[i]) * price
    ruined = None
    for t, lo, hi in zip(rows.tolist(), *(b.tolist() for b in bounds)):
        if hi > lo:
            idx, w, p = fp_l[lo:hi], fw_l[lo:hi], fprice_l[lo:hi]
            E = c + sum(ui * pi for ui, pi in zip(u, p_open[t].tolist()) if ui != 0.0)
            a = [u[i] * pi for i, pi in zip(idx, p)]
            x = solve_sizing(E, w, a, kb, ks) if E > 0 else 0.0
            if not (E > 0 and x > 0):
                ruined = t
                break
            flow = traded = 0.0
            for i, wi, pi in zip(idx, w, p):
                new = wi * x / pi
                du = new - u[i]
                flow += du * pi
                traded += abs(du) * pi
                rec.append((t, i, wi, u[i], new, 0, pi, 0))
                u[i] = new
            c -= flow + traded * (s + f) + s * f * flow   # sum du (p (1 +- s)) (1 + f), +- the side of du
        for i, x, why in exits.get(t, ()):      # rule exits inside the candle, after its open's fills
            if u[i] != 0:
                c += sell_all(i, x)
                rec.append((t, i, 0.0, u[i], 0.0, 1, x, why))
                u[i] = 0.0
        for i in end_rows.get(t, ()):
            if u[i] != 0:
                c += sell_all(i, float(close[t, i]))
                rec.append((t, i, 0.0, u[i], 0.0, 2, float(close[t, i]), END))
                u[i] = 0.0
        seg_units.append(list(u)), seg_cash.append(c)
    seg_start = np.concatenate(([0], rows[: len(seg_units) - 1]))

    seg = np.searchsorted(seg_start, np.arange(T), side="right") - 1   # (T,) segment of each row
    units = np.array(seg_units)[seg]
    value = units * np.nan_to_num(last_close)
    equity = np.array(seg_cash)[seg] + value.sum(axis=1)
    bad = ~(equity > 0)
    if ruined is not None or bad.any():
        b = min(ruined if ruined is not None else T, int(np.argmax(bad)) if bad.any() else T)
        ruined = b
        rec = [r for r in rec if r[0] < b]
        units[b:], value[b:], equity[b:] = 0.0, 0.0, 0.0
    fl = _fills(rec, s, f)
    ended = {symbols[i]: int(ts[last_row[i]]) for i in np.unique(fl.pair[fl.at_close])}
    end = T if ruined is None else ruined + 1          # a ruined account's open trades: marked at that close
    trades = _trades(fl, ts[:end], last_close[:end], timeframe_ms, symbols) if with_trades else _no_trades()
    return PortfolioResult(ts, symbols, np.where(has, close, np.nan), want, units, value, equity, fl, trades,
                           float(cash), int(timeframe_ms), ended, ruined)


def _fills(rec: list[tuple], s: float, f: float) -> PortfolioFills:
    """The recorded fills -> arrays, ordered by row, opens before rule exits before close-outs, sells first."""
    m = np.array(rec, dtype=np.float64).reshape(-1, 8)
    row, pair, phase = m[:, 0].astype(np.int64), m[:, 1].astype(np.int64), m[:, 5]
    target, before, after, ref, reason = m[:, 2], m[:, 3], m[:, 4], m[:, 6], m[:, 7].astype(np.int8)
    buy = after > before
    order = np.lexsort((buy, phase, row))
    row, pair, phase, target, before, after, ref, reason, buy = (
        v[order] for v in (row, pair, phase, target, before, after, ref, reason, buy))
    price = ref * np.where(buy, 1.0 + s, 1.0 - s)
    traded = np.abs(after - before)
    return PortfolioFills(row, target, before, after, price, traded * price, f * traded * price,
                          traded * ref * s, reason, pair, phase == 2)


def _trades(fl: PortfolioFills, ts: np.ndarray, last_close: np.ndarray, timeframe_ms: int,
            symbols: list[str]) -> pd.DataFrame:
    """trades.extract_trades per pair on its fills; a close-out at a pair's end exits at that close."""
    frames = []
    for i, sym in enumerate(symbols):
        m = fl.pair == i
        if not m.any():
            continue
        sub = Fills(fl.candle[m], fl.target[m], fl.units_before[m], fl.units_after[m], fl.price[m], fl.notional[m],
                    fl.fee[m], fl.slippage[m], fl.reason[m])
        tr = extract_trades(sub, ts, np.nan_to_num(last_close[:, i]), timeframe_ms)
        if fl.at_close[m][-1] and len(tr):
            tr.loc[tr.index[-1], "exit_time"] += timeframe_ms
            tr.loc[tr.index[-1], "duration"] += timeframe_ms
        tr.insert(0, "symbol", sym)
        frames.append(tr)
    if not frames:
        return _no_trades()
    return pd.concat(frames, ignore_index=True).sort_values(["entry_time", "symbol"], kind="stable",
                                                            ignore_index=True)


def _no_trades() -> pd.DataFrame:
    """An empty trades table (built from arrays: from Series it took 11 ms, a grid builds one per combination)."""
    return pd.DataFrame({"symbol": np.zeros(0, dtype=object), **{c: np.zeros(0) for c in COLUMNS}}, copy=False)
