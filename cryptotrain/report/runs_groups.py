"""What `runs show` prints for a walk-forward directory (its folds: dates, windows, test scores;
the stitched scores and backtest) and for a sweep directory (its trials, the best one, the
deflated Sharpe ratio). Input: the records of cryptotrain/runs/groups.py."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from cryptotrain.report.tables import print_fitted_table

NA = "-"


def _f(v: Any, spec: str) -> str:
    return NA if v is None else format(v, spec)


def print_walkforward(console: Console, wf: dict) -> None:
    folds = wf["folds"]
    cols = {"test": [" .. ".join(f["test"]) if f["test"] else NA for f in folds],
            "windows train/val/test": ["/".join(str(f["windows"].get(p, NA)) for p in ("train", "val", "test"))
                                       for f in folds],
            "state": ["done" if f["done"] else "not done" for f in folds],
            "accuracy": [_f(f["accuracy"], ".3f") for f in folds],
            "bal. acc.": [_f(f["balanced_accuracy"], ".3f") for f in folds],
            "model - majority": [_f(f["minus_majority"], "+.3f") for f in folds],
            "best epoch": [_f(f["best_epoch"], "d") for f in folds]}
    print_fitted_table(console, f"Folds: {len(folds)}, {wf['mode'] or NA}, embargo {_f(wf['embargo'], 'd')} candles "
                                "(test part, best checkpoint)", "fold", [str(f["fold"]) for f in folds], cols,
                       left=("test", "windows train/val/test", "state"))
    st, bt = wf["stitched"], wf["backtest"]
    if st:
        console.print(f"stitched test parts: {_f(st['n_windows'], ',')} windows, accuracy {_f(st['accuracy'], '.3f')}, "
                      f"balanced accuracy {_f(st['balanced_accuracy'], '.3f')}", soft_wrap=True, markup=False)
    if bt:
        m, b = bt["model"], bt["buy_and_hold"]
        console.print(f"stitched backtest: Return [%] {_f(m['return_pct'], '+.2f')} (Buy & Hold "
                      f"{_f(b['return_pct'], '+.2f')}), Sharpe Ratio {_f(m['sharpe'], '.3f')} "
                      f"({_f(b['sharpe'], '.3f')}), # Trades {_f(m['trades'], 'd')}", soft_wrap=True, markup=False)


def print_sweep(console: Console, sw: dict) -> None:
    counts = ", ".join(f"{n} {state}" for state, n in sw["counts"].items() if n) or "no trials yet"
    console.print(f"objective {sw['objective'] or NA}; trials: {counts}", soft_wrap=True, markup=False)
    trials = sw["trials"]
    if trials:
        skip = {"number", "state", "run_dir", "error", "seconds"}
        keys = [k for k in trials[0] if k not in skip]
        cols = {"state": [t["state"] or NA for t in trials],
                **{k: [_cell(t[k]) for t in trials] for k in keys}}
        print_fitted_table(console, "Trials (trials.csv)", "trial", [str(t["number"]) for t in trials], cols,
                           left=("state",))
    best = sw["best"]
    if best:
        params = best.get("params") if isinstance(best.get("params"), dict) else {}
        drawn = " ".join(f"{k}={_cell(v)}" for k, v in params.items())
        console.print(f"best: trial {best.get('number')} ({sw['objective']} {_cell(best.get('value'))}) {drawn}; "
                      f"deflated Sharpe ratio {_f(sw['dsr'], '.3f')}, test PSR(0) {_f(sw['test_psr0'], '.3f')}",
                      soft_wrap=True, markup=False)


def _cell(v: Any) -> str:
    if v is None:
        return NA
    return format(v, ".6g") if isinstance(v, float) else str(v)
