"""Tables that never cut a cell: when the value columns do not fit the terminal, the table is
printed in parts, each with the label column and as many value columns as fit. Every table a
command prints goes through `print_fitted_table` (only the live progress tables of walk-forward and
sweep, redrawn in place on a terminal, do not: they fold a long cell instead of cutting it).

A rich table squeezed below its natural width shortens cells with an ellipsis or wraps them
(`Persiste…`, `balanced` / `accuracy`); a part is only ever as wide as its widest cells.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def _table(label: str, rows: list[str], columns: dict[str, list[str]], styles: dict[str, str],
           left: frozenset[str], wrap: bool = False) -> Table:
    """`wrap`: a part still wider than the terminal folds its value cells onto more lines (never `…`);
    the labels stay whole."""
    # cells are Text, not markup: a cell such as `+0.012 [-0.003, +0.027]` or `[alpha158]` prints as it is
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    overflow = "fold" if wrap else "ellipsis"   # a cut that should not happen shows (and tests see it)
    t.add_column(Text(label), no_wrap=True)
    for header in columns:
        t.add_column(Text(header), justify="left" if header in left else "right", no_wrap=not wrap,
                     overflow=overflow, style=styles.get(header))
    for i, row_label in enumerate(rows):
        t.add_row(Text(row_label), *(Text(col[i]) for col in columns.values()))
    return t


def _natural_width(table: Table) -> int:
    """Width of `table` printed with no width limit (rich's measure() comes out a little short
    for collapsed padding, which is how `Start` got cut)."""
    wide = Console(width=100_000, file=io.StringIO(), record=True, color_system=None)
    wide.print(table)
    return max((len(line) for line in wide.export_text().splitlines()), default=0)   # trailing pad counts


def print_fitted_table(console: Console, title: str, label: str, rows: list[str], columns: dict[str, list[str]],
                       styles: dict[str, str] | None = None, left: tuple[str, ...] = ()) -> None:
    """Title as a wrapped paragraph, then the table in as few parts as fit `console.width`.

    `rows`: the row labels; `columns`: header -> one cell per row (right-justified, except the
    headers in `left`). A single value column wider than the terminal still gets its own part
    (rich then wraps it rather than the labels)."""
    styles, left = styles or {}, frozenset(left)
    if title:
        console.print(title, soft_wrap=False, highlight=False, markup=False)
    parts: list[dict[str, list[str]]] = [{}]
    for header, cells in columns.items():
        trial = {**parts[-1], header: cells}
        width = _natural_width(_table(label, rows, trial, styles, left))
        if parts[-1] and width > console.width:
            parts.append({header: cells})
        else:
            parts[-1] = trial
    for part in parts:
        wrap = len(part) == 1 and _natural_width(_table(label, rows, part, styles, left)) > console.width
        console.print(_table(label, rows, part, styles, left, wrap))
