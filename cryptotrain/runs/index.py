"""A directory of runs: which entries it holds, of which kind, newest first; config differences.

Each kind of directory is one entry of KINDS: a test that recognizes it and a reader that
returns its record (at least name, path, kind, state, problems). Walk-forward (`plan.json` or
`folds/`) and sweep (`sweep.json` or `trials/`) directories are recognized and read by
`read_group`, which counts their members, and runs/groups.py, which adds their plan and folds or
trials for `runs show`.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Callable

from cryptotrain.config import Config, config_to_dict
from cryptotrain.errors import UserError
from cryptotrain.runs.groups import sweep_details, walkforward_details
from cryptotrain.runs.reader import read_json, read_run
from cryptotrain.train.rundir import LATEST, dir_kind, find_run, latest_name   # latest: read here, never written

_STAMP = re.compile(r"^(\d{8}T\d{6}Z)")


def read_group(path: Path, kind: str, members: str, doc_name: str) -> dict:
    """A walk-forward or sweep directory: its members (folds / trials) counted, its summary file checked."""
    problems: list[str] = []
    read_json(path / doc_name, problems)
    sub = path / members
    n = sum(1 for p in sub.iterdir() if p.is_dir()) if sub.is_dir() else 0
    return {"name": path.name, "path": str(path), "kind": kind, "state": f"{members}: {n}",
            "members": n, "problems": problems}


# (kind, recognizes the directory, reads it); the first match wins, so "run" comes last.
KINDS: list[tuple[str, Callable[[Path], bool], Callable[[Path], dict]]] = [
    ("walkforward", lambda p: dir_kind(p) == "walkforward",
     lambda p: walkforward_details(p, read_group(p, "walkforward", "folds", "plan.json"))),
    ("sweep", lambda p: dir_kind(p) == "sweep", lambda p: sweep_details(p, read_group(p, "sweep", "trials", "sweep.json"))),
    ("run", lambda p: True, read_run),
]


def read_entry(path: Path) -> dict:
    """The record of one directory; one that cannot be read (no permission, a file that is not text)
    is a record in state "unreadable" naming why, never an error that hides the other runs."""
    try:
        for _, recognizes, reader in KINDS:
            if recognizes(path):
                return reader(path)
    except (OSError, ValueError) as err:   # (UnicodeDecodeError is a ValueError)
        why = f"{err.strerror}: {err.filename}" if isinstance(err, OSError) and err.strerror else str(err)
        return {"name": path.name, "path": str(path), "kind": "unknown", "state": "unreadable",
                "problems": [f"cannot be read ({why}); check its permissions"]}
    raise AssertionError("the last kind recognizes every directory")


def check_runs_dir(runs_dir: Path) -> Path:
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        raise UserError(f"--runs-dir {runs_dir} does not exist; pass the directory runs are trained into "
                        "(train.runs_dir, default runs)")
    if not runs_dir.is_dir():
        raise UserError(f"--runs-dir {runs_dir} is a file, not a directory; pass the directory that holds the runs")
    return runs_dir


def created_key(path: Path) -> tuple[str, str]:
    """Sort key, newest last: the UTC stamp that starts a run name, else the directory's mtime."""
    m = _STAMP.match(path.name)
    if m:
        return m.group(1), path.name
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(path.stat().st_mtime)), path.name


def list_runs(runs_dir: Path) -> dict:
    """{"runs_dir", "latest", "runs": [record, newest first]} for every directory in runs_dir."""
    runs_dir = check_runs_dir(runs_dir)
    latest = latest_name(runs_dir)
    dirs = [p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name != LATEST]
    records = []
    for path in sorted(dirs, key=created_key, reverse=True):
        rec = read_entry(path)
        rec["latest"] = rec["name"] == latest
        records.append(rec)
    return {"runs_dir": str(runs_dir), "latest": latest, "runs": records}


LIST_OMITS = ("config", "evaluations", "backtests", "figures", "training")   # `runs show` has them


def list_view(doc: dict) -> dict:
    """list_runs' document without the per-run details that only `runs show` prints."""
    return {**doc, "runs": [{k: v for k, v in r.items() if k not in LIST_OMITS} for r in doc["runs"]]}


def resolve(run: str, runs_dir: Path) -> Path:
    """RUN as given: a directory path, a name inside runs_dir, or `latest` (any kind of directory)."""
    return find_run(run, runs_dir, single=False)


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"model.hidden_size": 8, ...}: nested mappings become dotted keys; lists are values."""
    if not isinstance(tree, dict):
        return {prefix: tree} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        out.update(flatten(v, key) if isinstance(v, dict) else {key: v})
    return out


MISSING = "<absent>"   # a key one config has and the other has not (older or newer version)


def config_diff(configs: list[dict | None]) -> dict[str, list[Any]]:
    """{dotted key: [value in each config]} for the keys whose values are not all equal.

    A run without a readable config (None) shows None for every key and decides nothing.
    """
    flat = [None if c is None else flatten(c) for c in configs]
    known = [f for f in flat if f is not None]
    keys = list(dict.fromkeys(k for f in known for k in f))
    out = {}
    for k in keys:
        values = [f.get(k, MISSING) for f in known]
        if any(v != values[0] for v in values[1:]):
            out[k] = [None if f is None else f.get(k, MISSING) for f in flat]
    return out


def diff_from_defaults(config: dict | None) -> dict[str, dict[str, Any]]:
    """{dotted key: {"value", "default"}} where a run's config differs from the default Config tree."""
    if config is None:
        return {}
    return {k: {"value": v[0], "default": v[1]}
            for k, v in config_diff([config, config_to_dict(Config())]).items()}
