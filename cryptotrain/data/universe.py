"""Candles of several pairs on one grid, for the portfolio backtest.

A data directory holds one candle file per pair and timeframe, named as `data/sample/` and
`fetch` name them: `{BASE}_{QUOTE}-{timeframe}.csv.gz` (or .csv, .parquet), e.g. BTC_USDT-1h.csv.gz.
`list_pairs` finds them; `load_pairs` reads the chosen pairs (each checked by `load_ohlcv`, gaps
kept) and lays them on the common grid: every open time of the timeframe from the first candle of
any pair to the last, open and close (T, N) with NaN where a pair has no candle (a gap, not yet
listed, ended). Nothing is forward-filled. Shapes: T grid rows, N pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cryptotrain.data.ohlcv import EXTENSIONS, file_stem, load_ohlcv
from cryptotrain.data.timestamps import timeframe_to_ms
from cryptotrain.errors import UserError


@dataclass
class Universe:
    symbols: list[str]        # (N,) as in the file names: BTC_USDT
    timeframe: str
    timeframe_ms: int
    timestamps: np.ndarray    # (T,) int64 ms open times of the grid
    open: np.ndarray          # (T, N) NaN where the pair has no candle
    close: np.ndarray         # (T, N)
    paths: list[Path]         # (N,) the files read
    high: np.ndarray | None = None   # (T, N) NaN where the pair has no candle (the backtest's risk rules)
    low: np.ndarray | None = None    # (T, N)


def list_pairs(data_dir: Path, option: str = "--data-dir") -> dict[str, dict[str, Path]]:
    """symbol -> timeframe -> candle file, for every `SYMBOL-TIMEFRAME.ext` in `data_dir` (`option`
    names where the directory came from in the error)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(f"{option} {data_dir} is not a directory; pass the directory holding the candle files "
                        "(e.g. data/sample)")
    pairs: dict[str, dict[str, Path]] = {}
    for path in sorted(data_dir.iterdir()):
        if not path.name.lower().endswith(EXTENSIONS) or "-" not in file_stem(path):
            continue
        symbol, _, timeframe = file_stem(path).rpartition("-")
        try:
            timeframe_to_ms(timeframe)
        except (UserError, ValueError):
            continue
        pairs.setdefault(symbol, {}).setdefault(timeframe, path)
    if not pairs:
        raise UserError(f"{data_dir}: no candle files named SYMBOL-TIMEFRAME.csv.gz (e.g. BTC_USDT-1h.csv.gz); "
                        f"fetch some or point {option} at data/sample")
    return pairs


def pick_timeframe(pairs: dict[str, dict[str, Path]], symbols: list[str], timeframe: str | None, where: Path) -> str:
    """The timeframe every one of `symbols` has a file for: `timeframe` if given, else the only one."""
    common = set.intersection(*(set(pairs[s]) for s in symbols))
    if timeframe is not None:
        missing = [s for s in symbols if timeframe not in pairs[s]]
        if missing:
            raise UserError(f"{where}: no {timeframe} candle file for {', '.join(missing)} "
                            f"(expected {missing[0]}-{timeframe}.csv.gz); fetch it or pass another --timeframe")
        return timeframe
    if len(common) == 1:
        return common.pop()
    if not common:
        raise UserError(f"{where}: the pairs {', '.join(symbols)} have no timeframe in common; fetch the same "
                        "timeframe for each")
    raise UserError(f"{where}: the pairs have several timeframes ({', '.join(sorted(common))}); pass --timeframe")


def load_pairs(pairs: dict[str, dict[str, Path]], symbols: list[str], timeframe: str) -> Universe:
    """Read `symbols`' candle files of `timeframe` onto one grid (module docstring)."""
    tf = timeframe_to_ms(timeframe)
    frames = [load_ohlcv(pairs[s][timeframe], timeframe=timeframe)[0] for s in symbols]
    first = min(int(f["timestamp"].iloc[0]) for f in frames)
    last = max(int(f["timestamp"].iloc[-1]) for f in frames)
    ts = np.arange(first, last + tf, tf, dtype=np.int64)
    open_, high, low, close = (np.full((len(ts), len(symbols)), np.nan) for _ in range(4))
    for i, f in enumerate(frames):
        t = f["timestamp"].to_numpy(dtype=np.int64)
        if ((t - first) % tf).any():
            raise UserError(f"{pairs[symbols[i]][timeframe]}: candles off the {timeframe} grid of the other pairs "
                            f"(open times must be {timeframe} apart from {first} ms)")
        rows = (t - first) // tf
        open_[rows, i], close[rows, i] = f["open"].to_numpy(), f["close"].to_numpy()
        high[rows, i], low[rows, i] = f["high"].to_numpy(), f["low"].to_numpy()
    return Universe(list(symbols), timeframe, tf, ts, open_, close, [pairs[s][timeframe] for s in symbols], high, low)
