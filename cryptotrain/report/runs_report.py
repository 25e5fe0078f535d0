"""What `cryptotrain runs` prints: the list of runs, one run's details, several runs side by side.

Input is the plain data of cryptotrain/runs/ (dicts of numbers and strings). Run names and
row labels are never cut: when the one-line-per-run table is wider than the terminal, each
run's name goes on its own line above its numbers, and compare names its runs A, B, ... in
a legend so that the columns stay narrow.
"""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from cryptotrain.report.runs_groups import print_sweep, print_walkforward
from cryptotrain.report.tables import print_fitted_table

NA = "-"
# the headers of the seven cells of a run; every header and cell has two lines
_LIST_COLUMNS = ["model\nparams", "market", "epochs\nstate", "best val\nloss", "test acc\nedge",
                 "return [%]\nB&H [%]", "Sharpe\nB&H"]
_WRAPS = {"epochs\nstate": 13, "test acc\nedge": 12}   # columns whose words may wrap (max width)
_LEFT = ("", "run", "model\nparams", "market", "epochs\nstate")


def fmt(v: Any, spec: str = ".4f") -> str:
    if v is None:
        return NA
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def _state(rec: dict) -> str:
    return rec["state"] + (" (overfit-batch)" if rec.get("overfit_batch") else "")


def list_cells(rec: dict) -> list[str]:
    """The seven two-line cells of one run (or walk-forward / sweep directory) in the list."""
    if rec["kind"] != "run" or rec["state"] == "not a run":
        return [rec["kind"] if rec["kind"] != "run" else NA, NA, rec["state"], NA, NA, NA, NA]
    ev, bt = rec.get("evaluation"), rec.get("backtest")
    ep = rec["epochs"]
    # evaluate's edge claim (sign, size, none: corrected for the comparisons; `runs show` has the sentence)
    edge = (ev.get("edge") or NA) if ev else NA
    model, bh = (bt or {}).get("model", {}), (bt or {}).get("buy_and_hold", {})
    policy = f", {rec['policy']}" if rec.get("policy") else ""   # a universe run's allocation policy
    market = f"{rec['symbol'] or NA}{policy}\n{rec['timeframe'] or NA}"
    return [f"{rec['model']['type'] or NA}\n{fmt(rec['model']['params'])}", market,
            f"{fmt(ep['done'])}/{fmt(ep['planned'])}\n{_state(rec)}", fmt(rec.get("best_val_loss")),
            f"{fmt(ev and ev['accuracy'], '.3f')}\n{edge}",
            f"{fmt(bt and model.get('return_pct'), '+.2f')}\n{fmt(bt and bh.get('return_pct'), '+.2f')}",
            f"{fmt(bt and model.get('sharpe'), '.2f')}\n{fmt(bt and bh.get('sharpe'), '.2f')}"]


def _table(headers: list[str], widths: list[int] | None, show_header: bool) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_header=show_header, pad_edge=False, padding=(0, 1), collapse_padding=True,
                  show_edge=False, header_style="bold")
    for i, h in enumerate(headers):
        wrap = h in _WRAPS
        table.add_column(h, justify="left" if h in _LEFT else "right", no_wrap=not wrap,
                         width=None if widths is None else widths[i], max_width=_WRAPS.get(h))
    return table


def _widths(rows: list[list[str]], headers: list[str]) -> list[int]:
    out = []
    for i, h in enumerate(headers):
        longest = max(len(line) for text in [h, *(r[i] for r in rows)] for line in text.split("\n"))
        words = max(len(w) for text in [h, *(r[i] for r in rows)] for w in text.split())
        out.append(min(longest, max(_WRAPS[h], words)) if h in _WRAPS else longest)
    return out


def _column_groups(widths: list[int], width: int) -> list[list[int]]:
    """Consecutive column indices packed into parts no wider than `width` (one space between columns)."""
    groups: list[list[int]] = [[]]
    for i, w in enumerate(widths):
        if groups[-1] and sum(widths[j] + 1 for j in groups[-1]) + w > width:
            groups.append([])
        groups[-1].append(i)
    return groups


def print_runs_list(console: Console, doc: dict) -> None:
    runs = doc["runs"]
    if not runs:
        console.print(f"no runs in {escape(doc['runs_dir'])}; train one: cryptotrain train --config configs/tiny.yaml",
                      highlight=False)
        return
    console.print(escape(f"{len(runs)} run(s) in {doc['runs_dir']}, newest first; * = {doc['runs_dir']}/latest; "
                         "return and Sharpe of the test backtest above buy and hold (B&H)"), soft_wrap=True,
                  highlight=False)
    rows = [list_cells(r) for r in runs]
    wide = _table(["", "run", *_LIST_COLUMNS], None, True)
    for rec, cells in zip(runs, rows):
        wide.add_row("*" if rec.get("latest") else "", escape(rec["name"]), *map(escape, cells))
    natural = Measurement.get(console, console.options.update_width(10_000), wide).maximum
    if natural <= console.width:
        console.print(wide)
    else:   # too wide for the terminal: each name on its own line, the numbers in fixed columns below it
        widths = _widths(rows, _LIST_COLUMNS)
        groups = _column_groups(widths, console.width)
        if len(groups) == 1:
            console.print(_table(_LIST_COLUMNS, widths, True))
        for rec, cells in zip(runs, rows):
            console.print(("* " if rec.get("latest") else "") + escape(rec["name"]), style="bold", soft_wrap=True,
                          highlight=False)
            for g in groups:   # narrower still (60 columns): the cells in parts, each under its headers
                t = _table([_LIST_COLUMNS[i] for i in g], [widths[i] for i in g], len(groups) > 1)
                t.add_row(*(escape(cells[i]) for i in g))
                console.print(t)
    for rec in runs:
        for p in rec["problems"]:
            console.print(f"[yellow]{escape(rec['name'])}:[/] {escape(p)}", soft_wrap=True, highlight=False)


def _pairs_table(rows: list[tuple[str, str]], title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_header=False, pad_edge=False,
                  show_edge=False)
    table.add_column("key", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    for k, v in rows:
        table.add_row(escape(k), escape(v))
    return table


def _value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else str(v)


def print_run(console: Console, rec: dict) -> None:
    latest = "  (runs/latest)" if rec.get("latest") else ""
    console.print(f"[bold]{escape(rec['name'])}[/]{latest}: {rec['kind']}, {_state(rec)}", soft_wrap=True,
                  highlight=False)
    console.print(f"path: {escape(rec['path'])}", soft_wrap=True, highlight=False)
    if rec["kind"] == "run":
        _print_run_details(console, rec)
    elif rec["kind"] == "walkforward":
        print_walkforward(console, rec["walkforward"])
    elif rec["kind"] == "sweep":
        print_sweep(console, rec["sweep"])
    for p in rec["problems"]:
        console.print(f"[yellow]problem:[/] {escape(p)}", soft_wrap=True, highlight=False)


def _print_run_details(console: Console, rec: dict) -> None:
    m, ep, tr = rec["model"], rec["epochs"], rec["training"]
    console.print(escape(f"model {m['type'] or NA}, {fmt(m['params'])} parameters, {rec['symbol'] or NA} "
                         f"{rec['timeframe'] or NA}"), soft_wrap=True, highlight=False)
    if rec.get("n_pairs"):
        console.print(escape(f"pairs: {', '.join(rec['pairs'])}; backtest.policy {rec['policy']}"), soft_wrap=True,
                      highlight=False)
    diff = rec.get("config_vs_defaults") or {}
    table = Table(title=f"Config differences from the defaults ({len(diff)})", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("key", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("default", overflow="fold")
    for k, d in diff.items():
        table.add_row(escape(k), escape(_value(d["value"])), escape(_value(d["default"])))
    console.print(table)
    console.print(_pairs_table([
        ("epochs", f"{fmt(ep['done'])} of {fmt(ep['planned'])} ({_state(rec)})"),
        ("best epoch", fmt(ep["best"])), ("best val loss", fmt(rec.get("best_val_loss"))),
        ("train loss", f"{fmt(tr.get('first_train_loss'))} -> {fmt(tr.get('last_train_loss'))}"),
        ("last val loss / accuracy", f"{fmt(tr.get('last_val_loss'))} / {fmt(tr.get('last_val_accuracy'), '.3f')}"),
        ("epochs logged", fmt(tr.get("epochs_logged"))), ("steps", fmt(tr.get("steps"))),
        ("training time [s]", fmt(tr.get("train_time_s"), ".1f"))], "Training"))
    for name, ev in rec["evaluations"].items():
        rows = [("checkpoint", f"{ev['checkpoint'] or NA} (epoch {fmt(ev['epoch'])})"),
                ("windows", fmt(ev["n_windows"])), ("accuracy", fmt(ev["accuracy"], ".3f")),
                ("balanced accuracy", fmt(ev["balanced_accuracy"], ".3f")), ("log loss", fmt(ev["log_loss"])),
                ("edge", ev.get("edge_sentence") or NA),
                ("beats, 95%, uncorrected", ", ".join(ev["beats"]) or "none")]
        rows += [("verdict", v) for v in ev["verdicts"].values()]
        rows += [("warning", w) for w in ev["warnings"]]
        console.print(_pairs_table(rows, escape(f"Evaluation eval/{name}")))
        if ev.get("per_pair"):
            print_per_pair(console, ev["per_pair"], f"Per pair eval/{name}")
    for name, bt in rec["backtests"].items():
        table = Table(title=escape(f"Backtest backtest/{name} ({bt['checkpoint'] or 'unknown'} checkpoint)"),
                      title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        table.add_column("Statistic", no_wrap=True)
        table.add_column("Model", justify="right")
        table.add_column("Buy & Hold", justify="right")
        others = [k for k in ("equal_weight", "momentum") if bt.get(k)]   # a universe run's benchmarks
        for k in others:
            table.add_column({"equal_weight": "Equal weight", "momentum": "Momentum"}[k], justify="right")
        for key, label, spec in (("return_pct", "Return [%]", "+.2f"), ("sharpe", "Sharpe Ratio", ".3f"),
                                 ("max_drawdown_pct", "Max. Drawdown [%]", ".2f"), ("trades", "# Trades", "d")):
            table.add_row(escape(label), fmt(bt["model"][key], spec), fmt(bt["buy_and_hold"][key], spec),
                          *(fmt(bt[k][key], spec) for k in others))
        if others:
            table.add_row("Turnover per Year", fmt(bt.get("turnover_per_year"), ".1f"), NA, *(NA for _ in others))
        console.print(table)
    console.print("figures: " + escape(", ".join(rec["figures"]) or "none"), soft_wrap=True, highlight=False)


def print_per_pair(console: Console, per_pair: dict, title: str) -> None:
    """A universe evaluation's per-pair point values (runs show; the intervals are in metrics.json)."""
    syms = list(per_pair)
    print_fitted_table(console, title, "pair", syms, {
        "windows": [fmt(per_pair[s]["windows"]) for s in syms],
        "accuracy": [fmt(per_pair[s]["accuracy"], ".3f") for s in syms],
        "direction acc.": [fmt(per_pair[s]["direction_accuracy"], ".3f") for s in syms],
        "IC Pearson": [fmt(per_pair[s]["ic_pearson"], "+.4f") for s in syms],
        "IC Spearman": [fmt(per_pair[s]["ic_spearman"], "+.4f") for s in syms]})


_COMPARE_FORMATS = {"test_accuracy": ".3f", "test_balanced_accuracy": ".3f", "return_pct": "+.2f",
                    "buy_hold_return_pct": "+.2f", "max_drawdown_pct": ".2f", "sharpe": ".3f", "buy_hold_sharpe": ".3f",
                    "turnover_per_year": ".1f", "test_rank_ic": "+.4f", "test_ic": "+.4f", "equal_weight_return_pct": "+.2f", "momentum_return_pct": "+.2f"}


def distinct_spec(values: list[Any], spec: str, most: int = 10) -> str:
    """`spec` ("+.2f", ".4f") with as many more decimals (up to `most`) as it takes for different
    floats to print differently: a run marked better never shows the same number as the other."""
    floats = [v for v in values if isinstance(v, float)]
    sign, _, decimals = spec.removesuffix("f").partition(".")
    if not spec.endswith("f") or not decimals.isdigit():
        return spec
    for d in range(int(decimals), most + 1):
        spec = f"{sign}.{d}f"
        if len({format(v, spec) for v in floats}) == len(set(floats)):
            break
    return spec


def _letters(n: int) -> list[str]:
    return [chr(ord("A") + i) if i < 26 else f"R{i + 1}" for i in range(n)]


def print_compare(console: Console, doc: dict) -> None:
    letters = _letters(len(doc["runs"]))
    for letter, name, state in zip(letters, doc["runs"], doc["states"]):
        console.print(escape(f"{letter} = {name} ({state})"), soft_wrap=True, highlight=False)
    diff = doc["config_diff"]
    table = Table(title=f"Config keys that differ ({len(diff)})", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False)
    table.add_column("key", no_wrap=True)
    for letter in letters:
        table.add_column(letter, overflow="fold")
    for key, values in diff.items():
        table.add_row(escape(key), *(escape(_value(v)) if v is not None else NA for v in values))
    console.print(table)
    table = Table(title="Headline metrics (* = better)", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, show_edge=False)
    table.add_column("metric", no_wrap=True)
    for letter in letters:
        table.add_column(letter, justify="right", no_wrap=True)
    for key, m in doc["metrics"].items():
        best = set(m["best_index"])
        spec = distinct_spec(m["values"], _COMPARE_FORMATS.get(key, ".4f"))
        cells = [fmt(v, spec) + (" *" if i in best else "") for i, v in enumerate(m["values"])]
        table.add_row(escape(m["label"]), *cells)
    console.print(table)
    for name, problems in doc["problems"].items():
        for p in problems:
            console.print(f"[yellow]{escape(name)}:[/] {escape(p)}", soft_wrap=True, highlight=False)


def print_json_doc(console: Console, doc: Any) -> None:
    """One JSON document (NaN was already mapped to null by the reader)."""
    console.print_json(json.dumps(doc, allow_nan=False))
