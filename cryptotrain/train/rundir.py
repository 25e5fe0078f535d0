"""Run directories: naming, the `runs/latest` pointer, and resolving `--run` arguments.

A run lives in `runs/<UTC timestamp>-<model>-<BASE_QUOTE>-<timeframe>[-name]/`. `runs/latest`
is a small text file holding the newest run's directory name (a file rather than a symlink so it
works the same on every filesystem); it is written atomically.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from cryptotrain.config import Config
from cryptotrain.data.ohlcv import symbol_slug
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_text

LATEST = "latest"


def run_dir_name(cfg: Config, name: str | None = None, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    parts = [stamp, cfg.model.type, symbol_slug(cfg.data.symbol), cfg.data.timeframe or "tf"]
    if name:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise UserError(f"--run-name {name!r}: use only letters, digits, '.', '_' and '-'")
        parts.append(name)
    return "-".join(parts)


def create_run_dir(cfg: Config, name: str | None = None) -> Path:
    """Make a fresh run directory under cfg.train.runs_dir (never reuses an existing one)."""
    root = Path(cfg.train.runs_dir)
    base = run_dir_name(cfg, name)
    path = root / base
    k = 1
    while path.exists():
        k += 1
        path = root / f"{base}.{k}"
    (path / "checkpoints").mkdir(parents=True)
    (path / "plots").mkdir()
    return path


def set_latest(run_dir: Path) -> None:
    atomic_write_text(run_dir.parent / LATEST, run_dir.name + "\n")


def not_a_single_run(path: Path) -> str | None:
    """Why `path` is a directory of runs rather than a run (a walk-forward's folds, a sweep's trials)
    and what to run instead; None for anything else."""
    path = Path(path)
    if (path / "plan.json").is_file() and (path / "folds").is_dir():
        name = path.name.removeprefix("walkforward-")
        return (f"{path} is a walk-forward directory, not a run: continue it with the command that made it, "
                f"`cryptotrain walkforward --config {path / 'config.yaml'} --run-name {name}`, or resume one "
                f"fold with --resume {path / 'folds' / 'N'}")
    if (path / "base.yaml").is_file() and (path / "trials").is_dir():
        return (f"{path} is a sweep directory, not a run: continue it with the sweep command that made it "
                f"(the same --config, --space and --run-name {path.name}), or resume one trial with "
                f"--resume {path / 'trials' / 'N'}")
    return None


def resolve_run(run: Path | str | None, runs_dir: Path | str = "runs") -> Path:
    """The run directory for `--run` (default: the one `runs/latest` points at)."""
    if run is not None:
        path = Path(run)
        if path.name == LATEST and not path.is_dir():
            return resolve_run(None, path.parent)
        if not (path / "config.yaml").is_file():
            raise UserError(f"{path} is not a run directory (no config.yaml); pass a directory under runs/")
        return path
    pointer = Path(runs_dir) / LATEST
    if pointer.is_symlink() or pointer.is_dir():
        target = pointer.resolve()
    elif pointer.is_file():
        target = Path(runs_dir) / pointer.read_text().strip()
    else:
        raise UserError(f"no run found ({pointer} missing); train one first: cryptotrain train --config configs/tiny.yaml")
    if not (target / "config.yaml").is_file():
        raise UserError(f"{pointer} points at {target}, which is not a run directory; pass --run RUN_DIR")
    return target
