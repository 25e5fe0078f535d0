"""Walk-forward tables and progress: the plan, one live line per fold, the per-fold table (the plan and
per-fold tables are split into parts that fit the terminal, as every table: report/tables.py)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from cryptotrain.report.tables import print_fitted_table


def print_plan(console: Console, plan: dict) -> None:
    parts = ("train", "val", "test")
    folds = plan["folds"]
    columns = {p: [f"{f['dates'][p][0]} .. {f['dates'][p][1]}" for f in folds] for p in parts}
    columns["windows train/val/test"] = ["/".join(str(f["windows"][p]) for p in parts) for f in folds]
    print_fitted_table(console, f"Walk-forward plan: {len(folds)} folds, {plan['mode']}, embargo {plan['embargo']} "
                                f"candles, window {plan['window']}, horizon {plan['horizon']}",
                       "fold", [str(f["fold"]) for f in folds], columns, left=(*parts, "windows train/val/test"))


def _ci(d: dict | None) -> str:
    if not d:
        return "-"
    return f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _num(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def print_fold_table(console: Console, rows: list[dict], missing: list[dict]) -> None:
    """Accuracy columns (descriptive, 95% intervals) beside the fold's return [%], annualized Sharpe
    ratio and trades in the stitched backtest ("-" before there is one). A universe's rows: the mean
    cross-sectional IC and Rank IC, and the fold's portfolio return and turnover instead."""
    if rows and "rank_ic" in rows[0]:
        return _universe_fold_table(console, rows, missing)
    headers = ("test", "windows", "accuracy", "bal. acc.", "IC", "model - majority", "model - persistence",
               "return [%]", "Sharpe", "trades", "best epoch", "train [s]")
    cells = [[f"{r['test_start']} .. {r['test_end']}", str(r["windows"]), _num(r["accuracy"]),
              _num(r["balanced_accuracy"]), _num(r["ic"], "+.3f"), _ci(r["minus_majority"]),
              _ci(r["minus_persistence"]), _num(r.get("return_pct"), "+.2f"), _num(r.get("sharpe"), "+.2f"),
              _num(r.get("trades"), "d"), str(r["best_epoch"]), f"{r['train_seconds']:.1f}"] for r in rows]
    cells += [[f"{m['test_start']} .. {m['test_end']}", "missing", *["-"] * 10] for m in missing]
    print_fitted_table(console, "Per fold (test part, best checkpoint; intervals: block bootstrap, 95%, descriptive; "
                                "return, Sharpe (ann.) and trades: the fold's part of the stitched backtest)", "fold",
                       [str(r["fold"]) for r in [*rows, *missing]],
                       {h: [c[i] for c in cells] for i, h in enumerate(headers)}, left=("test",))


def _universe_fold_table(console: Console, rows: list[dict], missing: list[dict]) -> None:
    headers = ("test", "windows", "accuracy", "bal. acc.", "cross IC", "Rank IC", "return [%]", "turnover",
               "best epoch", "train [s]")
    cells = [[f"{r['test_start']} .. {r['test_end']}", str(r["windows"]), _num(r["accuracy"]),
              _num(r["balanced_accuracy"]), _num(r["cross_ic"], "+.3f"), _num(r["rank_ic"], "+.3f"),
              _num(r.get("return_pct"), "+.2f"), _num(r.get("turnover"), ".1f"), str(r["best_epoch"]),
              f"{r['train_seconds']:.1f}"] for r in rows]
    cells += [[f"{m['test_start']} .. {m['test_end']}", "missing", *["-"] * 8] for m in missing]
    print_fitted_table(console, "Per fold (test part, best checkpoint; windows of all pairs; cross IC / Rank IC: "
                                "mean over its decision times of the score's correlation with the pairs' forward "
                                "returns; return and turnover: the fold's part of the stitched portfolio)", "fold",
                       [str(r["fold"]) for r in [*rows, *missing]],
                       {h: [c[i] for c in cells] for i, h in enumerate(headers)}, left=("test",))


def print_cross_line(console: Console, metrics: dict) -> None:
    """The stitched test parts' mean cross-sectional IC and Rank IC, one line."""
    c = metrics["cross_section"]
    console.print(f"stitched test parts of {len(metrics['folds'])} folds, {len(metrics['universe'])} pairs: mean "
                  f"cross IC {_num(c['cross_ic'], '+.4f')}, mean Rank IC {_num(c['rank_ic'], '+.4f')} over "
                  f"{c['cross_sections']} decision times", markup=False)


class FoldProgress:
    """Executor events -> one line per fold (state, epoch, val loss, time): a live table on a terminal,
    plain lines otherwise. Use as a context manager; pass `.update` as on_event."""

    def __init__(self, console: Console, folds: list[int], reused: list[int] | None = None):
        self.console = console
        self.state = {k: {"state": "reused" if k in (reused or []) else "waiting", "epoch": "-", "val_loss": None,
                          "t0": None, "seconds": 0.0} for k in folds}
        self.live = Live(self._table(), console=console, refresh_per_second=4) if console.is_terminal else None

    def __enter__(self) -> "FoldProgress":
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.update(self._table())
            self.live.__exit__(*exc)

    def _table(self) -> Table:
        t = Table(title="Folds", title_justify="left")
        for col in ("fold", "state", "epoch", "val loss", "time [s]"):
            t.add_column(col, justify="right", overflow="fold")   # redrawn live: folded, never cut with `…`
        for k, s in self.state.items():
            secs = s["seconds"] if s["t0"] is None else time.monotonic() - s["t0"]
            t.add_row(str(k), s["state"], str(s["epoch"]), _num(s["val_loss"], ".5f"), f"{secs:.1f}")
        return t

    def update(self, event) -> None:
        k = int(event.key.split("-")[1])
        s = self.state[k]
        d = event.data
        if event.kind == "start":
            s.update(state="training", t0=time.monotonic())
            line = f"fold {k}: started (attempt {event.attempt}, pid {d.get('pid')}, {d.get('blas_threads')} BLAS threads)"
        elif event.kind == "progress":
            s.update(epoch=f"{d['epoch']}/{d['epochs']}", val_loss=d["val_loss"])
            line = f"fold {k}: epoch {d['epoch']}/{d['epochs']} val loss {d['val_loss']:.5f}"
        elif event.kind == "retry":
            s.update(state="retrying")
            line = f"fold {k}: worker lost, retrying from its checkpoint ({d.get('reason', '')})"
        else:
            s.update(state="done" if event.kind == "finish" else "failed",
                     seconds=time.monotonic() - s["t0"] if s["t0"] else 0.0, t0=None)
            line = (f"fold {k}: done in {s['seconds']:.1f} s" if event.kind == "finish"
                    else f"fold {k}: failed: {d.get('error')}")
        if self.live is not None:
            self.live.update(self._table())
        else:
            self.console.print(line, soft_wrap=True, markup=False)
