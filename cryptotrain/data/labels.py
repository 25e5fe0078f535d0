"""Targets for the decision made at the close of candle t.

Execution rule (the same one the backtest uses): decide at the close of t, fill at the
open of t+1, exit at the open of t+1+h. So the forward return is

    r_t = open[t+1+h] / open[t+1] - 1                     (h = labels.horizon)

and is undefined (NaN) for the last h+1 candles and, when a `segment` array is given, for
every t whose rows t..t+1+h do not lie in one contiguous segment (the label would reach
across a gap), and, when a `filled` mask is given, where open[t+1] or open[t+1+h] belongs to
a candle inserted by gap_policy ffill (its open is made up: no trade could fill there).

Target (labels.target): absolute is r_t itself; excess, in a universe run, is the pair's r_t minus
the equal-weight mean of the r_t of the pairs that have one at t (the market's move), NaN where
fewer than features.cross_min_pairs pairs have one, so the labels of a timestamp sum to zero:

    x_i,t = r_i,t - (1 / n_t) sum_j r_j,t     (j over the n_t >= m pairs with r_j,t defined)

Action (class index 0 = sell, 1 = hold, 2 = buy): sell if r_t < lo, buy if r_t > hi, else
hold; -1 where r_t is undefined. Thresholds:
- fixed: lo, hi = -threshold_bps / 1e4, +threshold_bps / 1e4;
- quantile: the 1/3 and 2/3 quantiles of r over the training split (balanced classes);
- cost: the move a position must make to pay its own round trip at the config's backtest
  settings, plus a margin:  hi = -lo = 2 (fee_bps + slippage_bps) / 1e4 + cost_margin_bps / 1e4.
  A position pays one entry and one exit fill; a long -> short flip trades twice the notional,
  but that is the exit of one position and the entry of the next, so per position the cost is
  still one round trip and the threshold does not double for flips.

Confidence target in [0, 1): how large the move is against recent volatility,

    c_t = 1 - exp(-|r_t| / (sigma_t * sqrt(h)))

with sigma_t the std (ddof 0) of the last `labels.confidence_window` one-step log returns of
close ending at t (causal; inside the segment). A one-sigma move over h candles gives
c = 1 - 1/e = 0.63. NaN where r_t or sigma_t is undefined; sigma_t = 0 counts as 1e-12.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import BacktestConfig, LabelsConfig
from cryptotrain.data.features.basic import log_returns
from cryptotrain.data.features.cross import cross_mean
from cryptotrain.data.features.rolling import rolling_std
from cryptotrain.errors import UserError

ACTION_NAMES = ("sell", "hold", "buy")   # the class index of an action: 0, 1, 2


def action_to_position(action: np.ndarray) -> np.ndarray:
    """Class index 0 / 1 / 2 (sell, hold, buy) -> target position -1 / 0 / +1 (predictions.csv)."""
    return np.asarray(action) - 1


def position_to_action(position: np.ndarray) -> np.ndarray:
    """Target position -1 / 0 / +1 -> class index 0 / 1 / 2."""
    return np.asarray(position) + 1

SELL, HOLD, BUY = 0, 1, 2


def forward_returns(open_: np.ndarray, horizon: int, segment: np.ndarray | None = None,
                    filled: np.ndarray | None = None) -> np.ndarray:
    """(N,) r_t = open[t+1+h] / open[t+1] - 1; NaN where undefined, across a gap or at a filled open."""
    o = np.asarray(open_, dtype=np.float64)
    n, k = len(o), horizon + 1
    r = np.full(n, np.nan)
    if n > k:
        r[: n - k] = o[k:] / o[1 : n - horizon] - 1.0
        if segment is not None:
            seg = np.asarray(segment)
            r[: n - k][seg[k:] != seg[: n - k]] = np.nan
        if filled is not None:
            f = np.asarray(filled, dtype=bool)
            r[: n - k][f[1 : n - horizon] | f[k:]] = np.nan   # open[t+1] or open[t+1+h] made up
    return r


def excess_returns(r: np.ndarray, min_pairs: int) -> np.ndarray:
    """(T, N) x_i,t = r_i,t - mean_t r of the pairs with a forward return at t (module docstring);
    r (T, N) on the union calendar, NaN where a pair has none; NaN rows where fewer than min_pairs."""
    r = np.asarray(r, dtype=np.float64)
    return r - cross_mean(r, min_pairs)[:, None]


def action_labels(r: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(N,) int64 class: 0 sell (r < lo), 2 buy (r > hi), 1 hold, -1 where r is NaN."""
    a = np.full(len(r), HOLD, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        a[r < lo] = SELL
        a[r > hi] = BUY
    a[np.isnan(r)] = -1
    return a


def round_trip_cost(bcfg: BacktestConfig) -> float:
    """Fraction of the notional one entry plus one exit fill cost: 2 (fee_bps + slippage_bps) / 1e4."""
    return 2.0 * (bcfg.fee_bps + bcfg.slippage_bps) / 1e4


def return_calls(pred_return: np.ndarray, bcfg: BacktestConfig) -> np.ndarray:
    """(N,) -1/0/1: what a return forecast calls, sign(pred_return) where |pred_return| exceeds a round trip's
    cost, else 0 (hold): the forecast move must pay for entering and leaving. A return regression
    (model.w_action = 0) is traded and judged by these calls, its action head never having trained."""
    r = np.asarray(pred_return, dtype=np.float64)
    return np.where(np.abs(r) > round_trip_cost(bcfg), np.sign(r), 0.0).astype(np.int64)


def label_thresholds(r_train: np.ndarray, lcfg: LabelsConfig,
                     bcfg: BacktestConfig | None = None) -> tuple[float, float]:
    """(lo, hi): fixed +-threshold_bps, the 1/3 and 2/3 quantiles of the training returns, or
    +-(round trip cost of `bcfg` + cost_margin_bps) for threshold "cost"."""
    if lcfg.threshold in ("fixed", "cost"):
        thr = lcfg.threshold_bps / 1e4 if lcfg.threshold == "fixed" else (
            round_trip_cost(bcfg or BacktestConfig()) + lcfg.cost_margin_bps / 1e4)
        return -thr, thr
    r = np.asarray(r_train, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 3:
        raise UserError(f"only {len(r)} training labels to set quantile thresholds; use more data "
                        "or labels.threshold=fixed")
    lo, hi = np.quantile(r, [1 / 3, 2 / 3])
    return float(lo), float(hi)


def volatility(close: np.ndarray, window: int, segment: np.ndarray | None = None) -> np.ndarray:
    """(N,) sigma_t: std of the last `window` one-step log returns of close ending at t, inside the segment."""
    r1 = log_returns(np.asarray(close, dtype=np.float64))
    if segment is not None:
        seg = np.asarray(segment)
        r1[1:][seg[1:] != seg[:-1]] = np.nan  # the return across a gap is not a one-step return
    return rolling_std(r1, window)


def confidence_target(r: np.ndarray, close: np.ndarray, lcfg: LabelsConfig,
                      segment: np.ndarray | None = None) -> np.ndarray:
    """(N,) c_t = 1 - exp(-|r_t| / (sigma_t * sqrt(h))) in [0, 1); NaN where undefined."""
    sigma = volatility(close, lcfg.confidence_window, segment)
    scale = np.maximum(sigma, 1e-12) * np.sqrt(lcfg.horizon)
    with np.errstate(invalid="ignore"):
        return 1.0 - np.exp(-np.abs(r) / scale)


def majority_rate(action: np.ndarray) -> float | None:
    """Share of the most common class among the defined labels of `action` (-1 = undefined): the
    accuracy of always saying that class; None when no label is defined."""
    a = np.asarray(action)
    a = a[a >= 0]
    return float(np.bincount(a).max() / len(a)) if len(a) else None
