"""What `cryptotrain sweep` shows: a live table of the trials on a terminal (plain lines, one per
change of a trial's state, when not), and the final look at the test split with the deflated
Sharpe ratio sentence. Drawn from plain rows (orchestration/sweep/search.py's TrialRow fields)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from cryptotrain.report.backtest_report import print_stats_table
from cryptotrain.report.eval_tables import print_bootstrap_table
from cryptotrain.report.sweep_plots import importance_warning


MAX_ROWS = 20
TEST_STATS = ("Return [%]", "Sharpe Ratio", "Max. Drawdown [%]", "Exposure Time [%]", "# Trades", "Fees Paid [$]")


def _num(v: Any, fmt: str = "{:.4f}") -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return fmt.format(v) if isinstance(v, float) else str(v)


def _value(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


class SweepDisplay:
    """`update(rows, best)` after every event; a context manager around the sweep."""

    def __init__(self, console: Console, keys: list[str], total: int):
        self.console, self.keys, self.total = console, keys, total
        self.live = Live(console=console, auto_refresh=False) if console.is_terminal else None
        self.seen: dict[int, str] = {}

    def __enter__(self) -> "SweepDisplay":
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, rows: list, best: int | None) -> None:
        if self.live is not None:
            self.live.update(self.table(rows, best), refresh=True)
            return
        for r in rows:   # plain lines: one per new state of a trial
            if self.seen.get(r.number) != r.state:
                self.seen[r.number] = r.state
                self.console.print(self.line(r), soft_wrap=True, markup=False)

    def line(self, r) -> str:
        drawn = " ".join(f"{k}={_value(r.values.get(k))}" for k in self.keys)
        tail = f"epochs {_num(r.epoch)}  best val loss {_num(r.best_val_loss)}" if r.state != "running" else ""
        if r.state == "complete":
            tail += f"  val Sharpe (ann.) {_num(r.val_sharpe, '{:.2f}')}"
        if r.state == "failed":
            tail = f"reason: {r.error}"
        return f"trial {r.number}/{self.total} {r.state}  {drawn}  {tail}".rstrip()

    def table(self, rows: list, best: int | None) -> Table:
        t = Table(title=f"sweep: {sum(r.state != 'running' for r in rows)}/{self.total} trials done",
                  title_justify="left")
        for col in ("trial", "state", *self.keys, "epoch", "best val loss", "val Sharpe (ann.)"):
            t.add_column(col, justify="left" if col == "state" else "right", overflow="fold")   # live: never `…`
        shown = rows[-MAX_ROWS:]   # a long sweep: the latest trials, and the best wherever it is
        if best is not None and all(r.number != best for r in shown):
            shown = [r for r in rows if r.number == best] + shown[1:]
        for r in shown:
            style = "bold green" if r.number == best else ("dim" if r.state in ("pruned", "failed") else None)
            t.add_row(str(r.number), r.state, *(_value(r.values.get(k)) for k in self.keys), _num(r.epoch),
                      _num(r.best_val_loss), _num(r.val_sharpe, "{:.2f}"), style=style)
        return t


def print_sweep_end(console: Console, summary: dict, final: dict | None, sweep_dir) -> None:
    counts = ", ".join(f"{n} {state}" for state, n in summary["counts"].items() if n)
    console.print(f"trials: {counts}; wrote {sweep_dir}/trials.csv, sweep.json, best.yaml, plots/", markup=False)
    best = summary.get("best")
    if best is None or final is None:
        console.print("no complete trial: nothing to evaluate on the test split", markup=False)
        return
    f = final["final"]
    console.print(f"best: trial {best['number']} ({summary['objective']} {best['value']:.6g}), "
                  f"selected from N = {f['n_tried']} trials tried ({f['n_complete']} complete); its test split, "
                  "looked at once:", soft_wrap=True, markup=False)
    if final["eval"].get("bootstrap"):
        print_bootstrap_table(console, final["eval"]["bootstrap"])
    if final["eval"].get("edge"):
        console.print(final["eval"]["edge"]["sentence"], style="bold", soft_wrap=True)
    bt = final["backtest"]
    cols = {"Model": "model", "Buy & Hold": "buy_and_hold", "Persistence": "persistence", "Portfolio": "portfolio",
            "Momentum": "momentum", "Equal weight": "equal_weight", "BTC B&H": "btc_buy_and_hold"}
    print_stats_table(console, {h: {k: bt.stats[name].get(k) for k in TEST_STATS}
                                for h, name in cols.items() if name in bt.stats},
                      title=f"Test backtest (all statistics in {bt.out_dir}/stats.json)")
    console.print(f"validation Sharpe (ann., {f['periods_per_year']:g} periods per year) {f['val_sharpe_ann']:.2f}, "
                  f"expected best of N = {f['n_tried']} skill-less trials (every trial tried) SR_0 {f['sr0_ann']:.2f}, "
                  f"its spread from the {f['n_sharpes']} trials with a validation backtest: deflated Sharpe ratio "
                  f"{_num(f['dsr'], '{:.3f}')}; test PSR(0) {_num(f['test_psr0'], '{:.3f}')}", soft_wrap=True, markup=False)
    console.print(f["sentence"], soft_wrap=True, markup=False)
    pbo = summary.get("pbo") or {}
    if pbo:
        console.print(pbo.get("sentence") or pbo["note"], soft_wrap=True, markup=False)
    warn = importance_warning(summary["counts"]["complete"])
    if warn and summary.get("importances"):
        console.print(f"plots/importances.png: {warn}", style="yellow", soft_wrap=True, markup=False)
