"""The metrics log, RUN_DIR/metrics.jsonl: one JSON line per finished epoch, appended and flushed
as the epoch ends. Its one reader is `read_rows`, used by resume (`truncate`) and by evaluate
(the validation loss training logged for a checkpoint's epoch)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_text

FILE = "metrics.jsonl"


def append_row(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


def read_rows(path: Path, strict: bool = True) -> list[dict]:
    """Every complete epoch row; [] when the file is absent.

    A line that is JSON but not an epoch row (a list, a number, a row without an integer epoch)
    was not written by training: strict -> UserError naming the line; else it is skipped with a
    warning (for readers that only inform)."""
    rows = []
    if path.is_file():
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a crash: its epoch was never checkpointed
            if isinstance(row, dict) and isinstance(row.get("epoch"), int) and not isinstance(row["epoch"], bool):
                rows.append(row)
                continue
            what = (f"line {n} is a JSON {type(row).__name__}, not an epoch row" if not isinstance(row, dict)
                    else f"line {n} has no integer epoch")
            if strict:
                raise UserError(f"{path}: {what}; the file was edited: restore it or remove that line")
            warnings.warn(f"{path}: {what}; line skipped", stacklevel=2)
    return rows


def truncate(path: Path, upto_epoch: int) -> list[dict]:
    """Epoch rows up to the checkpoint; rewrites the file without rows of a killed, unfinished epoch."""
    rows = [r for r in read_rows(path) if r["epoch"] <= upto_epoch]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def logged_val_loss(run_dir: Path, epoch: int) -> float | None:
    """The val_loss training logged for `epoch` (None if absent)."""
    for row in read_rows(run_dir / FILE, strict=False):
        if row.get("epoch") == epoch and row.get("val_loss") is not None:
            return float(row["val_loss"])
    return None
