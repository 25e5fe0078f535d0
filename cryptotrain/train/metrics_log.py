"""The metrics log, RUN_DIR/metrics.jsonl: one JSON line per finished epoch, appended and flushed
as the epoch ends. Its one reader is `read_rows`, used by resume (`truncate`) and by evaluate
(the validation loss training logged for a checkpoint's epoch)."""

from __future__ import annotations

import json
from pathlib import Path

from cryptotrain.fileio import atomic_write_text

FILE = "metrics.jsonl"


def append_row(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


def read_rows(path: Path) -> list[dict]:
    """Every complete epoch row; [] when the file is absent."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut off by a crash: its epoch was never checkpointed
    return rows


def truncate(path: Path, upto_epoch: int) -> list[dict]:
    """Epoch rows up to the checkpoint; rewrites the file without rows of a killed, unfinished epoch."""
    rows = [r for r in read_rows(path) if r["epoch"] <= upto_epoch]
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def logged_val_loss(run_dir: Path, epoch: int) -> float | None:
    """The val_loss training logged for `epoch` (None if absent)."""
    for row in read_rows(run_dir / FILE):
        if row.get("epoch") == epoch and row.get("val_loss") is not None:
            return float(row["val_loss"])
    return None
