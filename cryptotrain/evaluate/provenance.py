"""Which checkpoint made a run's predictions.csv, and whether it still is the run's checkpoint.

`evaluate` stores, in metrics.json beside predictions.csv,

    "provenance": {"checkpoint": "best" | "last", "checkpoint_sha256", "epoch", "global_step",
                   "data_sha256", "predictions_sha256"}

and `backtest` reads it back (`read_provenance`) to name the checkpoint in its header and its
stats.json, and to find predictions that are stale (`stale_reason`): the checkpoint file of
that name was rewritten since (a resumed or retrained run), or predictions.csv is not the file
metrics.json describes (one of the two was replaced by hand or by a crash between them).
Content hashes, not modification times: copying a run directory keeps them valid.
"""

from __future__ import annotations

import json
from pathlib import Path

from cryptotrain.data.dataset import file_sha256


def predictions_provenance(checkpoint: str, ck_path: Path, ck, data_sha256: str | None, predictions: Path) -> dict:
    """The provenance block of metrics.json; `predictions` must already be written."""
    return {"checkpoint": checkpoint, "checkpoint_sha256": file_sha256(ck_path), "epoch": int(ck.epoch),
            "global_step": int(ck.global_step), "data_sha256": data_sha256,
            "predictions_sha256": file_sha256(predictions)}


def read_provenance(eval_dir: Path) -> dict | None:
    """The provenance block of eval_dir/metrics.json; None when absent (older evaluate) or unreadable."""
    try:
        prov = json.loads((eval_dir / "metrics.json").read_text()).get("provenance")
    except (OSError, ValueError, AttributeError):
        return None
    return prov if isinstance(prov, dict) and "checkpoint" in prov else None


def stale_reason(run_dir: Path, eval_dir: Path, prov: dict) -> str | None:
    """Why eval_dir/predictions.csv no longer shows the run's `prov["checkpoint"]`, or None when it does."""
    ck_path = run_dir / "checkpoints" / f"{prov['checkpoint']}.npz"
    if not ck_path.is_file():
        return f"{ck_path} no longer exists"
    if file_sha256(ck_path) != prov.get("checkpoint_sha256"):
        return f"{ck_path} was rewritten after the predictions were made (from epoch {prov.get('epoch')})"
    if file_sha256(eval_dir / "predictions.csv") != prov.get("predictions_sha256"):
        return "predictions.csv is not the file metrics.json describes"
    return None


def describe(prov: dict | None) -> str:
    """'best checkpoint, epoch 3, step 120' (or a note that the origin is unknown)."""
    if prov is None:
        return "checkpoint unknown"
    return f"{prov['checkpoint']} checkpoint, epoch {prov.get('epoch')}, step {prov.get('global_step')}"
