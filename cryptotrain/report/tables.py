"""Tables that never cut a label: when the value columns do not fit the terminal, the table is
printed in parts, each with the label column and as many value columns as fit.

A rich table squeezed below its natural width shortens cells with an ellipsis or wraps them
(`Persiste…`, `balanced` / `accuracy`); a part is only ever as wide as its widest cells.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table


def _table(label: str, rows: list[str], columns: dict[str, list[str]], styles: dict[str, str]) -> Table:
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    t.add_column(label, no_wrap=True)
    for header in columns:
        t.add_column(header, justify="right", no_wrap=True, style=styles.get(header))
    for i, row_label in enumerate(rows):
        t.add_row(row_label, *(col[i] for col in columns.values()))
    return t


def _natural_width(table: Table) -> int:
    """Width of `table` printed with no width limit (rich's measure() comes out a little short
    for collapsed padding, which is how `Start` got cut)."""
    wide = Console(width=100_000, file=io.StringIO(), record=True, color_system=None)
    wide.print(table)
    return max((len(line.rstrip()) for line in wide.export_text().splitlines()), default=0)


def print_fitted_table(console: Console, title: str, label: str, rows: list[str], columns: dict[str, list[str]],
                       styles: dict[str, str] | None = None) -> None:
    """Title as a wrapped paragraph, then the table in as few parts as fit `console.width`.

    `rows`: the row labels; `columns`: header -> one cell per row. A single value column wider
    than the terminal still gets its own part (rich then wraps it rather than the labels)."""
    styles = styles or {}
    if title:
        console.print(title, soft_wrap=False, highlight=False, markup=False)
    parts: list[dict[str, list[str]]] = [{}]
    for header, cells in columns.items():
        trial = {**parts[-1], header: cells}
        width = _natural_width(_table(label, rows, trial, styles))
        if parts[-1] and width > console.width:
            parts.append({header: cells})
        else:
            parts[-1] = trial
    for part in parts:
        console.print(_table(label, rows, part, styles))
