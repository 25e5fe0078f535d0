"""Benchmark `cryptotrain predict --json` in a fresh process (target: under 1.5 s for either file).

Two runs are trained first, briefly (the time is in the data and the forward pass, not in how
good the model is): configs/gru_attention_1h.yaml on the 1h sample, and configs/gru_attention_1m.yaml
on the 1m sample. Then each is asked for the last closed candle:

  1h: the embedded 1h sample (CSV.gz, 47,900 candles; read in full, as CSV cannot be read from the end)
  1m: a 1,000,000-candle synthetic 1m Parquet file (only its timestamp column and the last row groups)

Each row: the wall time of `python -m cryptotrain.cli predict --json --allow-stale` in a fresh
process (median of --repeats), and where the time goes, measured in another fresh process: the
imports (cryptotrain.cli and cryptotrain.predict with what they load), the checkpoint, reading,
features and the model (Prediction.timings). Both files are months old by the clock, hence
--allow-stale. The machine is shared: say the load average with the numbers.

Run: .venv/bin/python benchmarks/predict.py [--repeats 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 1.5
N_1M = 1_000_000

_INNER = """
import json, sys, time
t0 = time.perf_counter()
import cryptotrain.cli, cryptotrain.predict
imports = time.perf_counter() - t0
p = cryptotrain.predict.predict(sys.argv[1], data=sys.argv[2], allow_stale=True)
print(json.dumps({"imports": imports, **p.timings, "rows_processed": p.result["features"]["rows_processed"]}))
"""


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, check=True)


def _children_cpu() -> float:
    """User + system CPU seconds of finished child processes: what a process costs, whatever the load."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _train(tmp: Path, config: str, name: str, env: dict) -> Path:
    run = tmp / name
    if (run / "checkpoints" / "best.npz").is_file():   # kept from an earlier --keep run
        return run
    _run(["-c", "import sys; from cryptotrain import fit, load_config; "
          "fit(load_config(sys.argv[1], sys.argv[3:]), sys.argv[2])", config, str(run),
          "train.epochs=1", "train.max_batches_per_epoch=2", "data.last_rows=20000", f"train.runs_dir={tmp}"], env)
    return run


def _synthetic_1m(path: Path) -> None:
    from cryptotrain.data.ohlcv import write_ohlcv
    from cryptotrain.data.synthetic import synthetic_candles

    write_ohlcv(synthetic_candles(N_1M, 60_000, seed=0, sigma=0.001, price=40_000.0), path)


@contextmanager
def bench_setup(doc: str):
    """The options every predict benchmark takes (--repeats, --keep), the environment of its fresh processes
    (this checkout first on PYTHONPATH) and its work directory: yields (args, env, work dir)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="Work directory to keep (default: a temporary one).")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        yield args, env, tmp


def main() -> None:
    with bench_setup(__doc__) as (args, env, tmp):
        big = tmp / "BTC_USDT-1m.parquet"
        if not big.exists():
            _synthetic_1m(big)
        cases = [("1h sample (CSV.gz, 47,900 candles)", _train(tmp, "configs/gru_attention_1h.yaml", "run_1h", env),
                  REPO / "data/sample/BTC_USDT-1h.csv.gz"),
                 (f"synthetic 1m Parquet ({N_1M:,} candles)", _train(tmp, "configs/gru_attention_1m.yaml", "run_1m", env),
                  big)]
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2-core machine, shared); "
              f"median of {args.repeats} fresh processes")
        ok = True
        for label, run, data in cases:
            walls, cpus = [], []
            for _ in range(args.repeats):
                t0, c0 = time.perf_counter(), _children_cpu()
                out = _run(["-m", "cryptotrain.cli", "predict", "--run", str(run), "--data", str(data), "--json",
                            "--allow-stale"], env)
                walls.append(time.perf_counter() - t0)
                cpus.append(_children_cpu() - c0)
            json.loads(out.stdout)   # the command printed one JSON object
            parts = [json.loads(_run(["-c", _INNER, str(run), str(data)], env).stdout) for _ in range(args.repeats)]
            med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
            wall = statistics.median(walls)
            ok &= wall < TARGET_S
            print(f"  {label:40s} wall {wall:.2f} s (min {min(walls):.2f}, max {max(walls):.2f})  "
                  f"{'OK' if wall < TARGET_S else 'SLOW'} (target < {TARGET_S:g} s); CPU (user + sys) "
                  f"{statistics.median(cpus):.2f} s")
            print(f"  {'':40s} imports {med['imports']:.2f} s, checkpoint {med['checkpoint']:.3f} s, "
                  f"reading {med['read']:.3f} s, features {med['features']:.3f} s ({int(med['rows_processed'])} "
                  f"candles), model {med['model']:.3f} s; the rest is the interpreter start and printing")
        print("target met" if ok else "target NOT met")


if __name__ == "__main__":
    main()
