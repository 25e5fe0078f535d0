"""What a sweep costs and what pruning saves: 8 trials of a small config on the embedded sample,
--workers 1 against --workers 2 (wall time, trials per hour, parallel efficiency), and the same
sweep (same sampler seed) without pruning: the share of epochs pruning saved and the best
validation loss of both.

    python benchmarks/sweep.py [--trials 8] [--epochs 8] [--batches 20]

Targets: efficiency T1 / (2 T2) >= 0.85; pruning saves >= 30% of the epochs with a best
validation loss within 1% of the unpruned sweep. Timings on a shared machine are noisy: the
load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from cryptotrain.config import load_config
from cryptotrain.orchestration import Executor
from cryptotrain.orchestration.sweep.search import SweepSettings, run_sweep
from cryptotrain.orchestration.sweep.space import load_space

ROOT = Path(__file__).resolve().parents[1]
SPACE = ("train.lr: {float: [1.0e-4, 3.0e-2], log: true}\n"
         "model.hidden_size: {int: [8, 24], step: 8}\n"
         "model.dropout: {float: [0.0, 0.3]}\n")


def one_sweep(root: Path, name: str, args, workers: int, pruner: str) -> dict:
    cfg = load_config(ROOT / "configs" / "tiny.yaml",
                      [f"train.runs_dir={root}", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}",
                       f"train.epochs={args.epochs}", f"train.max_batches_per_epoch={args.batches}",
                       f"train.patience={args.epochs}"])
    space_file = root / "space.yaml"
    space_file.write_text(SPACE)
    load = os.getloadavg()[0]
    started = time.perf_counter()
    study, rows = run_sweep(cfg, load_space(space_file), root / name,
                            SweepSettings(trials=args.trials, workers=workers, pruner=pruner, warmup=args.warmup))
    wall = time.perf_counter() - started
    epochs = sum(json.loads((Path(r.directory) / "trial.json").read_text())["epochs"] for r in rows
                 if (Path(r.directory) / "trial.json").is_file())
    return {"name": name, "workers": workers, "pruner": pruner, "wall_s": wall, "trials_per_hour": 3600 * len(rows) / wall,
            "epochs": epochs, "pruned": sum(r.state == "pruned" for r in rows),
            "best_val_loss": study.best_value, "load_before": load, "load_after": os.getloadavg()[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    runs = [one_sweep(root, "w1-median", args, 1, "median"), one_sweep(root, "w2-median", args, 2, "median"),
            one_sweep(root, "w1-none", args, 1, "none")]
    for r in runs:
        print(f"{r['name']:10s} wall {r['wall_s']:7.1f} s  {r['trials_per_hour']:7.0f} trials/h  epochs {r['epochs']:3d}"
              f"  pruned {r['pruned']}  best val loss {r['best_val_loss']:.6f}"
              f"  load {r['load_before']:.1f} -> {r['load_after']:.1f}")
    w1, w2, none = runs
    with Executor(workers=2) as ex:   # what the 2-worker sweep paid before its first trial
        startup = ex.startup_seconds
    print(f"parallel efficiency T1 / (2 T2) = {w1['wall_s'] / (2 * w2['wall_s']):.2f} (target >= 0.85); "
          f"without Ray's start-up ({startup:.1f} s, measured alone): "
          f"{w1['wall_s'] / (2 * (w2['wall_s'] - startup)):.2f}")
    saved = 1 - w1["epochs"] / none["epochs"]
    gap = (w1["best_val_loss"] - none["best_val_loss"]) / none["best_val_loss"]
    print(f"pruning saved {saved:.0%} of the epochs (target >= 30%); best val loss {gap:+.2%} vs unpruned "
          "(target within 1%)")


if __name__ == "__main__":
    main()
