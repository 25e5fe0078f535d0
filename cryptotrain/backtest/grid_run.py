"""`run`: a grid of backtest settings (grid.py) on a run's predictions (a universe run's through its
policy), a signal file (`--signals`) or a weight file (`--weights`), in this process, written as one
unit beside the ordinary backtest's directory with `-grid-<8 hex digits of the grid and the settings
around it>` appended:
RUN/backtest/test-grid-1a2b3c4d/, SIGNALS_backtest-grid-.../, WEIGHTS_backtest-grid-.../ (or --out):

    grid.csv          one row per combination, best first: rank, combination, its values, every statistic
    grid_equity.csv   timestamp and one equity column [$] per combination (named by its combination)
    grid.json         the grid, the sort key, the count tried, the best combination with its statistics,
                      its deflated Sharpe ratio, the PBO of the grid and the rows of grid.csv
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from cryptotrain.backtest import backtester, portfolio_backtest, universe_backtest
from cryptotrain.backtest.grid import DEFAULT_SORT, GridResult, grid_hash, parse_grid, run_grid
from cryptotrain.backtest.pbo import sentence
from cryptotrain.backtest.settings import backtest_settings, settings_dir_name
from cryptotrain.config import BacktestConfig, load_config
from cryptotrain.csv_writer import write_csv
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.outdir import check_target, output_unit


@dataclass
class GridReport:
    grid: GridResult
    title: str          # what was traded
    header: str         # "Model", "Signals" or "Portfolio"
    out_dir: Path
    files: list[Path]
    doc: dict[str, Any]   # grid.json


def run(run_dir: Path | None = None, split: str = "test", *, grid: str, sort_by: str = DEFAULT_SORT,
        signals: Path | None = None, data: Path | None = None, weights: Path | None = None,
        data_dir: Path | None = None, timeframe: str | None = None, allow_leverage: bool = False,
        out: Path | None = None, overrides: dict[str, Any] | None = None,
        on_message: Callable[[str, str], None] | None = None, on_scored=None) -> GridReport:
    """Trade every combination of `grid` on the decisions and write the grid's outputs (module docstring)."""
    overrides = overrides or {}
    keys = parse_grid(grid)   # a malformed grid costs nothing
    name = f"-grid-{grid_hash(' '.join(grid.split()), overrides)}"
    if weights is not None or data_dir is not None:
        portfolio_backtest.no_policy_keys([*keys, *overrides])
        book = portfolio_backtest.read_book(weights, data_dir, timeframe)

        def trade_book(ov: dict[str, Any]):
            bcfg = book.settings(backtest_settings(BacktestConfig(), ov), allow_leverage)
            rep = portfolio_backtest.trade(book.uni, {"portfolio": book.portfolio(bcfg)}, book.lo, book.hi, bcfg,
                                           book.n_pairs, benchmarks=False)
            return rep.results["portfolio"], rep.stats["portfolio"]

        default = book.src.parent / f"{book.src.stem}_backtest{name}"
        return _grid(grid, overrides, trade_book, sort_by, out, default, book.src.name, "Portfolio")

    if signals is None and universe_backtest.is_universe_run(run_dir):
        return _universe(Path(run_dir), split, grid, overrides, name, sort_by, out, on_message, on_scored)

    def then(d) -> GridReport:
        if d.redecide is None:
            raise UserError("--grid trades a run's predictions, --signals or --weights; not a walk-forward's")

        def trade_one(ov: dict[str, Any]):
            bcfg = backtest_settings(d.settings, ov)
            results, stats = backtester.trade(d.candles, d.timeframe_ms, d.rows, d.redecide(bcfg), bcfg,
                                              only_model=True)
            return results["model"], stats["model"]

        default = d.out_dir.parent / f"{d.out_dir.name}{name}"
        return _grid(grid, overrides, trade_one, sort_by, out, default, d.title, d.header)

    return backtester.with_decisions(then, run_dir, split, signals=signals, data=data, overrides=overrides,
                                     on_message=on_message, on_scored=on_scored)


def _universe(run_dir: Path, split: str, grid: str, overrides: dict, name: str, sort_by: str, out: Path | None,
              on_message, on_scored) -> GridReport:
    """A universe run's predictions traded by its policy (universe_backtest.py) for each combination; the
    grid's keys include policy, k, n_drop and rebalance."""
    cfg = load_config(run_dir / "config.yaml")
    horizon, n = cfg.labels.horizon, len(cfg.data.universe)
    ub = universe_backtest
    with dir_lock(run_dir, "backtest"):
        uni, preds, _ = ub.read_run(run_dir, split, on_message, on_scored)

        def trade_one(ov: dict[str, Any]):
            rep = ub.trade_universe(uni, preds, ub.resolve_settings(backtest_settings(cfg.backtest, ov), horizon),
                                    horizon, n, benchmarks=False)
            return rep.results["portfolio"], rep.stats["portfolio"]

        base = settings_dir_name(split, cfg.backtest, backtest_settings(cfg.backtest, overrides))
        return _grid(grid, overrides, trade_one, sort_by, out, run_dir / "backtest" / f"{base}{name}",
                     f"{run_dir.name} ({split} split)", "Portfolio")


def _grid(text: str, overrides: dict, trade: Callable, sort_by: str, out: Path | None, default: Path, title: str,
          header: str) -> GridReport:
    out_dir = Path(out) if out is not None else default
    how = dict(option="--out" if out is not None else "the output directory")
    check_target(out_dir, **how)
    g = run_grid(text, overrides, trade, sort_by)
    doc = grid_doc(g, title)
    with output_unit(out_dir, "backtest --grid", **how) as tmp:
        atomic_write_text(tmp / "grid.csv", grid_frame(g).to_csv(index=False))
        write_csv(pd.DataFrame({"timestamp": g.timestamps, **{lab: g.equity[:, i] for i, lab in enumerate(g.labels)}}),
                  tmp / "grid_equity.csv")
        atomic_write_text(tmp / "grid.json", json.dumps(doc, indent=2) + "\n")
    files = [out_dir / n for n in ("grid.csv", "grid_equity.csv", "grid.json")]
    return GridReport(g, title, header, out_dir, files, doc)


def _row(g: GridResult, c: int, rank: int) -> dict[str, Any]:
    s = to_jsonable(g.stats[c])
    s["Exits by Reason"] = json.dumps(s["Exits by Reason"])
    return {"rank": rank, "combination": g.labels[c], **g.values[c], **s}


def grid_frame(g: GridResult) -> pd.DataFrame:
    """grid.csv: one row per combination, best first."""
    return pd.DataFrame([_row(g, int(c), r) for r, c in enumerate(g.order, 1)])


def grid_doc(g: GridResult, title: str) -> dict[str, Any]:
    """grid.json (module docstring); also what `--json` prints."""
    best = int(g.order[0])
    return to_jsonable({
        "traded": title, "grid": g.text, "keys": g.keys, "sort": g.sort_by, "combinations_tried": len(g.labels),
        "best": {"combination": g.labels[best], "values": g.values[best], "stats": g.stats[best]},
        "deflated_sharpe": {k: g.dsr[k] for k in ("dsr", "sharpe_ann", "sr0_ann", "n_trials")},
        "pbo": None if g.pbo is None else g.pbo.to_dict(),
        "pbo_sentence": sentence(g.pbo, "combinations") if g.pbo is not None else f"No PBO: {g.pbo_note}",
        "rows": [{k: v for k, v in _row(g, int(c), r).items()} for r, c in enumerate(g.order, 1)],
    })

