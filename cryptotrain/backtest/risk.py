"""Risk rules: stop-loss, take-profit, trailing stop and maximum holding time, checked inside each
candle on its high and low. One implementation for both engines (the single pair is a portfolio of
one pair); the engines then trade the exits this returns as fills inside the candle.

Rules (keys of the `backtest` section, 0 = off; the README's "Backtest" section repeats them)
---------------------------------------------------------------------------------------------
- The entry price `ref` is the open of the candle whose fill entered the position's side (the market
  price: slippage is a cost of the fill, not a move of the levels, so the exits are the same with
  and without costs). A resize on the same side keeps it; a flip or a re-entry sets a new one.
- Levels, for a long (a short mirrors them: stop above, take-profit below, trail below the lowest low):
      stop         ref (1 - stop_loss)           or  ref - stop_loss_atr ATR
      take-profit  ref (1 + take_profit)         or  ref + take_profit_atr ATR
      trailing     best (1 - trailing_stop),     best = max(ref, highs of the candles since entry
                                                 before this one): it ratchets at each close
  ATR is the Wilder ATR (`atr_period`) at the close before the entry fill (known when the fill was
  decided); NaN (too little history) leaves that ATR rule off for the entry.
- Inside candle c, in this order: `max_hold` H: the H-th candle after the entry candle exits at its
  open (H candles held); an open beyond the stop (or trailing) level exits at the open (a gap); an
  open beyond the take-profit exits at the open; a low (long) at or below the stop level exits at the
  level; a high at or above the take-profit exits at the level. A stop and a take-profit both
  inside one candle with the open between them: the stop (pessimistic: the path inside is unknown).
  When the fixed and the trailing stop are both set, the nearer one is the stop level (its reason:
  `trailing` when the trailing level is strictly nearer).
- The entry candle is checked from its open on (its open is the entry price, so only its low and high).
- After a rule exit the pair stays flat until its target changes (an unchanged target does not
  re-enter; a change to another non-zero target re-enters at the next open with a new entry price).

Vectorized over "entries" (no loop over candles): the candles of all pairs are laid end to end
(pair by pair). A run is a maximal stretch of one non-zero side; each pass takes one entry per run,
checks every candle of the rest of its run with vector ops and keeps the first that fires. Only a
run whose exit is followed by a target change inside it has a re-entry for the next pass (rare).
The trailing level is a prefix maximum restarted at each entry: exact, by ranking the values and
adding the entry number times the number of ranks. Shapes: T rows, N pairs, M candles, X exits.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from cryptotrain.backtest.trades import EXIT_REASONS
from cryptotrain.data.features.basic import atr_price
from cryptotrain.errors import UserError

__all__ = ["Rules", "RuleExits", "apply_rules", "atr_price", "engine_args", "pair_atr"]

STOP, TAKE_PROFIT, TRAILING, MAX_HOLD = (EXIT_REASONS.index(r) for r in ("stop", "take_profit", "trailing", "max_hold"))


@dataclass(frozen=True)
class Rules:
    stop_loss: float = 0.0
    take_profit: float = 0.0
    stop_loss_atr: float = 0.0
    take_profit_atr: float = 0.0
    trailing_stop: float = 0.0
    max_hold: int = 0
    atr_period: int = 14

    @classmethod
    def of(cls, settings) -> "Rules | None":
        """The rules of a BacktestConfig, or None when every rule is off (the vectorized engines)."""
        r = cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})
        return r if r.active else None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) > 0 for f in fields(self) if f.name != "atr_period")

    @property
    def needs_atr(self) -> bool:
        return self.stop_loss_atr > 0 or self.take_profit_atr > 0


@dataclass
class RuleExits:
    held: np.ndarray     # (T, N) target held from the open of row t: the input, 0 while flat after a rule exit
    after: np.ndarray    # (T, N) target held at the close of row t: `held`, 0 in the row of a rule exit
    row: np.ndarray      # (X,) int64 row of each exit
    pair: np.ndarray     # (X,) int64
    price: np.ndarray    # (X,) market price of the exit (before slippage)
    reason: np.ndarray   # (X,) int8 index into trades.EXIT_REASONS


def _ranges(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entry number, candle) of every candle in [starts[k], ends[k]), entries in order."""
    lens = ends - starts
    k = np.repeat(np.arange(len(starts)), lens)
    return k, starts[k] + np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)


def _prefix_max(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Running maximum of x restarted where the entry number k changes (k non-decreasing); exact."""
    uniq, rank = np.unique(x, return_inverse=True)
    band = k.astype(np.int64) * len(uniq)
    return uniq[np.maximum.accumulate(band + rank) - band]


def _check(c, k, start, side, ref, atr_in, o, h, l, rules: Rules):
    """For each checked candle c of entry k: (fires, exit price, reason) by the rules above."""
    sd = side[k]
    oz, adverse, favour = sd * o[c], np.where(sd > 0, l[c], -h[c]), np.where(sd > 0, h[c], -l[c])
    rz = sd * ref[k]                                   # prices times the side: a short's levels mirror a long's
    stop = np.full(len(c), -np.inf)
    if rules.stop_loss > 0:
        stop = rz * (1.0 - sd * rules.stop_loss)
    elif rules.stop_loss_atr > 0:
        stop = np.where(np.isnan(atr_in[k]), -np.inf, rz - rules.stop_loss_atr * atr_in[k])
    tp = np.full(len(c), np.inf)
    if rules.take_profit > 0:
        tp = rz * (1.0 + sd * rules.take_profit)
    elif rules.take_profit_atr > 0:
        tp = np.where(np.isnan(atr_in[k]), np.inf, rz + rules.take_profit_atr * atr_in[k])
    stop_reason = np.full(len(c), STOP, dtype=np.int8)
    if rules.trailing_stop > 0:
        first = c == start[k]
        best = _prefix_max(np.where(first, rz, np.roll(favour, 1)), k)   # entry price, then earlier candles
        trail = best * (1.0 - sd * rules.trailing_stop)
        stop_reason[trail > stop] = TRAILING
        stop = np.maximum(stop, trail)
    held_for = c - start[k]
    timed = held_for == rules.max_hold if rules.max_hold > 0 else np.zeros(len(c), dtype=bool)
    gap_stop, gap_tp = oz <= stop, oz >= tp
    in_stop, in_tp = adverse <= stop, favour >= tp
    fires = timed | gap_stop | gap_tp | in_stop | in_tp
    at_open = timed | gap_stop | gap_tp
    price_z = np.where(at_open, oz, np.where(in_stop, stop, tp))
    reason = np.select([timed, gap_stop, gap_tp, in_stop], [MAX_HOLD, stop_reason, TAKE_PROFIT, stop_reason],
                       TAKE_PROFIT).astype(np.int8)
    return fires, sd * price_z, reason


def apply_rules(want: np.ndarray, has: np.ndarray, open_: np.ndarray, high: np.ndarray | None,
                low: np.ndarray | None, close: np.ndarray, rules: Rules, atr: np.ndarray | None = None) -> RuleExits:
    """The rule exits of the targets `want` (T, N) (held from the open of row t) on the candles
    where `has` (T, N); `atr` (T, N) at each close for the *_atr rules (default: pair_atr of these candles)."""
    if high is None or low is None:
        raise UserError("the risk rules (stop_loss, take_profit, trailing_stop, max_hold) need the candles' high "
                        "and low")
    high, low = np.asarray(high, dtype=np.float64), np.asarray(low, dtype=np.float64)
    if rules.needs_atr and atr is None:
        atr = pair_atr(high, low, close, rules.atr_period)
    pair, row = np.nonzero(has.T)                      # (M,) pair by pair, rows in order
    w, o, h, l = (a[row, pair] for a in (want, open_, high, low))
    new_pair = np.ones(len(row), dtype=bool)
    new_pair[1:] = pair[1:] != pair[:-1]
    prev_w = np.where(new_pair, 0.0, np.roll(w, 1))
    change = w != prev_w                               # fills without rules
    side = np.sign(w)
    run_start = (side != 0) & (side != np.sign(prev_w))
    breaks = np.append(np.flatnonzero(~((side != 0) & ~run_start)), len(w))
    atr_prev = np.full(len(w), np.nan)                 # ATR at the close before each candle's open
    if rules.needs_atr:
        atr_prev[~new_pair] = atr[row, pair][np.flatnonzero(~new_pair) - 1]
    start = np.flatnonzero(run_start)
    end = breaks[np.searchsorted(breaks, start, side="right")]
    changes = np.append(np.flatnonzero(change), len(w))
    flat = np.zeros(len(w) + 1, dtype=np.int64)        # +1 / -1 where a flat stretch after an exit starts / ends
    out_c, out_p, out_r = [], [], []
    while len(start):
        k, c = _ranges(start, end)
        fires, price, reason = _check(c, k, start, side[start], o[start], atr_prev[start], o, h, l, rules)
        hit_k, first = np.unique(k[fires], return_index=True)
        m = c[fires][first]
        out_c.append(m), out_p.append(price[fires][first]), out_r.append(reason[fires][first])
        nxt = np.minimum(changes[np.searchsorted(changes, m, side="right")], end[hit_k])
        np.add.at(flat, m + 1, 1)
        np.add.at(flat, nxt, -1)
        again = nxt < end[hit_k]                       # a target change inside the run: re-entry
        start, end = nxt[again], end[hit_k][again]
    m, price, reason = (np.concatenate(v) if v else np.zeros(0, d) for v, d in
                        ((out_c, np.int64), (out_p, float), (out_r, np.int8)))
    held_flat = np.where(np.cumsum(flat[:-1]) > 0, 0.0, w)
    after_flat = held_flat.copy()
    after_flat[m] = 0.0
    held, after = want.copy(), want.copy()
    held[row, pair], after[row, pair] = held_flat, after_flat
    order = np.lexsort((pair[m], row[m]))
    return RuleExits(held, after, row[m][order], pair[m][order], price[order], reason[order])


def pair_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """(T, N) ATR of each pair over its own candles (rows where its close is finite), NaN elsewhere."""
    out = np.full(close.shape, np.nan)
    for i in range(close.shape[1]):
        r = np.flatnonzero(np.isfinite(close[:, i]))
        if len(r):
            out[r, i] = atr_price(high[r, i], low[r, i], close[r, i], period)
    return out


def engine_args(rules: Rules | None, high: np.ndarray, low: np.ndarray, close: np.ndarray, rows: slice) -> dict:
    """Keyword arguments of an engine call with the rules on candles `rows` of full-history (T,) or
    (T, N) arrays: high, low, rules and the ATR, computed over the whole history so the first candles
    traded have one. {} without rules."""
    if rules is None:
        return {}
    atr = None
    if rules.needs_atr:
        atr = (atr_price if high.ndim == 1 else pair_atr)(high, low, close, rules.atr_period)[rows]
    return dict(high=high[rows], low=low[rows], rules=rules, atr=atr)
