"""Benchmark: whole commands as a user runs them, each in a fresh process (imports included).

  backtest   `cryptotrain backtest --signals s.csv --data c.parquet` on 1,000,000 one-minute candles,
             a signal changing on 1% of them (the files of benchmarks/backtest.py); target < 1.5 s
  inspect    `cryptotrain data inspect c.parquet` on the same 1,000,000 candles
  evaluate   `cryptotrain evaluate --run RUN` on a tiny GRU run trained (untimed, first) on the
             whole 1m sample (configs/tiny.yaml with data.path = data/sample/BTC_USDT-1m.csv.gz)

Each row: median, min and max wall seconds of --repeats runs after one warm-up run (the page
cache warm, as for a user who runs the command twice). The machine is shared: say the load
average (printed) with the numbers.

    .venv/bin/python benchmarks/commands.py [--repeats 5] [--commands backtest,inspect,evaluate]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cryptotrain.cli"]
TARGETS = {"backtest": 1.5}


def fresh_seconds(cmd: list[str], repeats: int) -> list[float]:
    """Wall seconds of each of `repeats` runs of `cmd` (after one warm-up run), output discarded."""
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        times.append(time.perf_counter() - t0)
    return times[1:]


def _tiny_1m_run(folder: Path) -> Path:
    config = folder / "tiny_1m.yaml"
    lines = [line for line in (REPO / "configs" / "tiny.yaml").read_text().splitlines() if "last_rows" not in line]
    text = "\n".join(lines).replace("data/sample/BTC_USDT-1h.csv.gz", str(REPO / "data" / "sample" / "BTC_USDT-1m.csv.gz"))
    config.write_text(text.replace("timeframe: 1h", "timeframe: 1m") + "\n")   # the whole 1m sample
    subprocess.run(CLI + ["train", "--config", str(config), "--set", f"train.runs_dir={folder / 'runs'}"],
                   check=True, stdout=subprocess.DEVNULL, cwd=REPO)
    return next(p for p in (folder / "runs").iterdir() if p.is_dir() and not p.is_symlink())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--candles", type=int, default=1_000_000)
    ap.add_argument("--commands", default="backtest,inspect,evaluate")
    args = ap.parse_args()
    wanted = args.commands.split(",")
    sys.path.insert(0, str(Path(__file__).parent))
    from backtest import command_files   # the candle and signal files of the backtest benchmark

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        data, signals = command_files(args.candles, folder)
        commands = {"backtest": CLI + ["backtest", "--signals", str(signals), "--data", str(data)],
                    "inspect": CLI + ["data", "inspect", str(data)]}
        if "evaluate" in wanted:
            commands["evaluate"] = CLI + ["evaluate", "--run", str(_tiny_1m_run(folder))]
        print(f"fresh processes, median of {args.repeats} (after a warm-up run); load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for name in wanted:
            times = fresh_seconds(commands[name], args.repeats)
            med, target = statistics.median(times), TARGETS.get(name)
            verdict = "" if target is None else f"  {'OK' if med < target else 'SLOW'} (target < {target:g} s)"
            print(f"  {name:9s} median {med:5.2f} s  (min {min(times):.2f}, max {max(times):.2f}){verdict}")


if __name__ == "__main__":
    main()
