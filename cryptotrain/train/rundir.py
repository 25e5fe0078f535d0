"""Run directories: naming, the `runs/latest` pointer, and resolving `--run` arguments (`find_run`,
the one rule for every command that takes a run: evaluate, backtest, predict, runs show).

A run lives in `runs/<UTC timestamp>-<model>-<BASE_QUOTE>-<timeframe>[-name]/`. `runs/latest`
is a small text file holding the newest run's directory name (a file rather than a symlink so it
works the same on every filesystem); it is written atomically.
"""

from __future__ import annotations

import difflib
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
    market = symbol_slug(cfg.data.symbol) if cfg.data.universe is None else f"{len(cfg.data.universe)}pairs"
    parts = [stamp, cfg.model.type, market, cfg.data.timeframe or "tf"]
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
    """Why `path` is a directory of runs rather than a run (a walk-forward's folds, a sweep's trials,
    as dir_kind tells) and what to run instead; None for anything else."""
    path = Path(path)
    kind = dir_kind(path)
    if kind == "walkforward":
        name = path.name.removeprefix("walkforward-")
        return (f"{path} is a walk-forward directory, not a run: continue it with the command that made it, "
                f"`cryptotrain walkforward --config {path / 'config.yaml'} --run-name {name}`, or resume one "
                f"fold with --resume {path / 'folds' / 'N'}")
    if kind == "sweep":
        return (f"{path} is a sweep directory, not a run: continue it with the sweep command that made it "
                f"(the same --config, --space and --run-name {path.name}), or resume one trial with "
                f"--resume {path / 'trials' / 'N'}")
    return None


def dir_kind(path: Path) -> str:
    """What a directory under runs/ is: "walkforward" (plan.json or folds/), "sweep" (sweep.json
    or trials/) or "run" (anything else; a training run has config.yaml)."""
    if (path / "plan.json").is_file() or (path / "folds").is_dir():
        return "walkforward"
    if (path / "sweep.json").is_file() or (path / "trials").is_dir():
        return "sweep"
    return "run"


_MEMBERS = {"walkforward": ("walk-forward", "folds", "one of its folds"),
            "sweep": ("sweep", "trials", "one of its trials (the best is named in sweep.json)")}


def latest_name(runs_dir: Path) -> str | None:
    """The run name runs/latest points at (a text file, or a symlink), or None."""
    pointer = Path(runs_dir) / LATEST
    try:
        if pointer.is_symlink():
            return Path(pointer.readlink()).name
        if pointer.is_file():
            return pointer.read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def find_run(run: Path | str | None, runs_dir: Path | str = "runs", *, single: bool = True) -> Path:
    """The directory `run` names, the one rule of every command that takes a run:

    - None or `latest` (or DIR/latest): the run `latest` points at, in runs_dir (or DIR);
    - a directory path: that directory; else a name inside runs_dir (`--run NAME`);
    - anything else: a UserError suggesting the closest name in runs_dir.
    With `single` (evaluate, backtest, predict: they want one training run) a walk-forward or
    sweep directory is refused naming what it is and which subdirectory to pass, and a
    directory without config.yaml is not a run directory; `runs show` accepts every kind.
    """
    runs_dir = Path(runs_dir)
    path = None if run is None else Path(run)
    if path is None or (path.name == LATEST and (path.is_symlink() or not path.is_dir())):
        base = runs_dir if path is None or path.parent == Path(".") else path.parent
        name = latest_name(base)
        if name is None:
            raise UserError(f"no run found ({base / LATEST} missing); train one first: "
                            "cryptotrain train --config configs/tiny.yaml")
        found = base / name
        if not found.is_dir() or (single and not (found / "config.yaml").is_file()):
            raise UserError(f"{base / LATEST} points at {found}, which is not a run directory; pass --run RUN_DIR")
    elif path.is_dir():
        found = path
    elif (runs_dir / path).is_dir() and not path.is_absolute():
        found = runs_dir / path
    else:
        names = sorted(p.name for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
        close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]}?" if close else "`cryptotrain runs` lists them"
        raise UserError(f"{run} is not a run directory, nor a run name in {runs_dir}; {hint}")
    if single:
        kind = dir_kind(found)
        if kind in _MEMBERS:
            what, sub, which = _MEMBERS[kind]
            members = sorted((p for p in (found / sub).iterdir() if p.is_dir()), key=lambda p: p.name) \
                if (found / sub).is_dir() else []
            example = f", e.g. {members[0]}" if members else ""
            raise UserError(f"{found} is a {what} directory, not a single run; pass {which}: {found / sub}/N{example}")
        if not (found / "config.yaml").is_file():
            raise UserError(f"{found} is not a run directory (no config.yaml); pass a directory under runs/")
    return found


def resolve_run(run: Path | str | None, runs_dir: Path | str = "runs") -> Path:
    """The training run directory for `--run` (default: the one `runs/latest` points at)."""
    return find_run(run, runs_dir, single=True)
