"""Grids of backtest settings: `backtest --grid "rebalance=24,168 stop_loss=0,0.05 fee_bps=5,10"` trades
every combination of the values given for keys of the `backtest` section on the same decisions (a
run's predictions, a signal file or a weight file: grid_sources.py) and counts the choice.

- A combination's settings: the base settings (the run config's `backtest` section, or the defaults)
  with the command's options and `--set` items, then the combination's values, each type-checked
  as `--set backtest.KEY=VALUE` is (any key `--set` accepts is a grid key; a key also set by an
  option or `--set` is refused: say it once). Every combination is checked before any is traded.
- One row of statistics per combination (stats.compute_stats of the strategy traded: the model,
  the signals or the portfolio; no baselines), sorted by `sort_by`, highest first (NaN last; a
  drawdown is negative, so the shallowest comes first).
- What choosing the first row is worth (the sweep's statistics, deflated_sharpe.py and pbo.py):
  N = the number of combinations tried; the deflated Sharpe ratio of the first row, its per-candle
  Sharpe ratio against SR_0, the best of N skill-less trials with the spread of the N combinations'
  Sharpe ratios; the probability of backtest overfitting of picking the best in-sample Sharpe
  ratio among the N per-candle return series (CSCV, 16 blocks).
Shapes: T candles, C combinations.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cryptotrain.backtest.deflated_sharpe import backtest_candle_stats, deflated_sharpe
from cryptotrain.backtest.pbo import PBOResult, pbo
from cryptotrain.backtest.settings import set_overrides
from cryptotrain.backtest.stats import periods_per_year
from cryptotrain.errors import UserError

DEFAULT_SORT = "Sharpe Ratio"


@dataclass
class GridResult:
    text: str                          # the grid as given, normalized: "key=v1,v2 key=v1"
    keys: list[str]
    values: list[dict[str, Any]]       # (C,) each combination's typed values of `keys`
    labels: list[str]                  # (C,) "key=value key=value"
    stats: list[dict[str, Any]]        # (C,) compute_stats of each
    timestamps: np.ndarray             # (T,) int64 ms
    equity: np.ndarray                 # (T, C) [$] at each close
    sort_by: str
    order: np.ndarray                  # (C,) combinations, best first
    dsr: dict[str, Any]                # deflated_sharpe of the first row, Sharpe ratios annualized too
    pbo: PBOResult | None
    pbo_note: str | None               # why there is no PBO (too few combinations or candles)


def parse_grid(text: str) -> dict[str, list[str]]:
    """"k=1,2,3 rebalance=4,24" -> {"k": ["1", "2", "3"], "rebalance": ["4", "24"]} (values as written)."""
    grid: dict[str, list[str]] = {}
    for item in text.split():
        key, eq, vals = item.partition("=")
        values = [v for v in vals.split(",") if v]
        if not eq or not key or not values or len(values) != len(vals.split(",")):
            raise UserError(f"--grid {item!r}: write KEY=V1,V2,... items separated by spaces, e.g. "
                            "--grid \"rebalance=24,168 fee_bps=5,10\"")
        if key in grid:
            raise UserError(f"--grid: {key} is given twice; list all its values in one item ({key}=V1,V2)")
        if len(set(values)) != len(values):
            raise UserError(f"--grid {item}: a value is repeated; each combination would be tried twice")
        grid[key.removeprefix("backtest.")] = values
    if not grid:
        raise UserError("--grid is empty; give KEY=V1,V2 items, e.g. --grid \"rebalance=24,168 fee_bps=5,10\"")
    return grid


def combinations(grid: dict[str, list[str]], overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination's typed values, each checked as `--set backtest.KEY=VALUE` (module docstring)."""
    twice = [k for k in grid if k in overrides]
    if twice:
        raise UserError(f"--grid {twice[0]}=...: {twice[0]} is also set by an option or --set; give it in one place")
    out = []
    for combo in itertools.product(*grid.values()):
        items = [f"backtest.{k}={v}" for k, v in zip(grid, combo)]
        try:
            out.append(set_overrides(items))
        except UserError as err:
            raise UserError(str(err).replace("--set ", "--grid combination ", 1)) from None
    return out


def grid_hash(text: str, overrides: dict[str, Any]) -> str:
    """8 hex digits naming a grid and the settings around it (the output directory's name)."""
    key = text + "|" + ",".join(f"{k}={overrides[k]!r}" for k in sorted(overrides))
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def sort_key(name: str, keys: list[str]) -> str:
    """The statistic `name` names: exact, case-insensitive, or the one key it starts (sharpe -> Sharpe Ratio)."""
    for match in (lambda k: k == name, lambda k: k.lower() == name.lower(),
                  lambda k: k.lower().startswith(name.lower())):
        found = [k for k in keys if match(k)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UserError(f"--grid-sort {name!r} matches {', '.join(found)}; give the full name")
    raise UserError(f"--grid-sort {name!r} is not a statistic; use one of: {', '.join(keys)}")


def run_grid(text: str, overrides: dict[str, Any], trade: Callable[[dict[str, Any]], Any],
             sort_by: str = DEFAULT_SORT, on_done: Callable[[int, int], None] | None = None) -> GridResult:
    """Trade every combination: trade(settings overrides) -> (engine result with timestamps, equity,
    cash and timeframe_ms; its compute_stats dict). on_done(i, C) after each combination."""
    grid = parse_grid(text)
    values = combinations(grid, overrides)
    results, stats = [], []
    for i, v in enumerate(values):
        res, s = trade({**overrides, **v})
        results.append(res), stats.append(s)
        if on_done is not None:
            on_done(i + 1, len(values))
    key = sort_key(sort_by, [k for k, v in stats[0].items() if isinstance(v, (int, float, np.number))])
    score = np.array([float(s[key]) for s in stats])
    order = np.lexsort((np.arange(len(score)), -np.nan_to_num(score, nan=-np.inf), np.isnan(score)))
    equity = np.column_stack([r.equity for r in results])
    res0 = results[0]
    dsr = _deflated(results, int(order[0]), periods_per_year(res0.timeframe_ms))
    try:
        prev = np.vstack([np.full((1, len(results)), res0.cash), equity[:-1]])
        p, note = pbo(np.divide(equity, prev, out=np.ones_like(equity), where=prev > 0) - 1.0), None
    except UserError as err:
        p, note = None, str(err)
    labels = [" ".join(f"{k}={v}" for k, v in zip(grid, combo)) for combo in itertools.product(*grid.values())]
    return GridResult(" ".join(f"{k}={','.join(v)}" for k, v in grid.items()), list(grid), values, labels, stats,
                      np.asarray(res0.timestamps), equity, key, order, dsr, p, note)


def _deflated(results: list, best: int, periods: float) -> dict[str, Any]:
    """deflated_sharpe of combination `best` among all, with the Sharpe ratios annualized beside."""
    cs = [backtest_candle_stats(r) for r in results]
    d = deflated_sharpe(cs[best]["sharpe"], [c["sharpe"] for c in cs], cs[best]["n"], cs[best]["skew"],
                        cs[best]["kurtosis"], n_trials=len(results))
    return {**d, "sharpe_ann": cs[best]["sharpe"] * np.sqrt(periods), "sr0_ann": d["sr0"] * np.sqrt(periods)}
