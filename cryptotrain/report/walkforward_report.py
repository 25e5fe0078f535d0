"""Walk-forward tables and progress: the plan, one live line per fold, the per-fold table."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table


def plan_table(plan: dict) -> Table:
    t = Table(title=f"Walk-forward plan: {len(plan['folds'])} folds, {plan['mode']}, embargo {plan['embargo']} "
                    f"candles, window {plan['window']}, horizon {plan['horizon']}", title_justify="left")
    for col in ("fold", "train", "val", "test", "windows train/val/test"):
        t.add_column(col, justify="right" if col in ("fold",) else "left")
    for f in plan["folds"]:
        d, w = f["dates"], f["windows"]
        t.add_row(str(f["fold"]), *(f"{d[p][0]} .. {d[p][1]}" for p in ("train", "val", "test")),
                  f"{w['train']}/{w['val']}/{w['test']}")
    return t


def _ci(d: dict | None) -> str:
    if not d:
        return "-"
    return f"{d['value']:+.3f} [{d['lo']:+.3f}, {d['hi']:+.3f}]"


def _num(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def fold_table(rows: list[dict], missing: list[dict]) -> Table:
    t = Table(title="Per fold (test part, best checkpoint; intervals: block bootstrap, 95%)", title_justify="left")
    for col in ("fold", "test", "windows", "accuracy", "bal. acc.", "IC", "model - majority", "model - persistence",
                "best epoch", "train [s]"):
        t.add_column(col, justify="left" if col == "test" else "right")
    for r in rows:
        t.add_row(str(r["fold"]), f"{r['test_start']} .. {r['test_end']}", str(r["windows"]), _num(r["accuracy"]),
                  _num(r["balanced_accuracy"]), _num(r["ic"], "+.3f"), _ci(r["minus_majority"]),
                  _ci(r["minus_persistence"]), str(r["best_epoch"]), f"{r['train_seconds']:.1f}")
    for m in missing:
        t.add_row(str(m["fold"]), f"{m['test_start']} .. {m['test_end']}", "missing", *["-"] * 7)
    return t


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
            t.add_column(col, justify="right")
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
