"""Reading an external weight file for `cryptotrain backtest --weights W.csv --data-dir DIR`.

Two layouts, told apart by the header:
- long: columns `timestamp,symbol,weight`, one row per change of one pair's target weight;
- wide: `timestamp` and one column per pair; an empty cell = no change for that pair.
timestamp: the OPEN time of the candle at whose close the weights are decided (as in `--signals`),
integer ms since the epoch (UTC) or ISO datetimes. symbol: as in the candle file names (BTC_USDT)
or as the exchange writes it (BTC/USDT). weight: the target position value / portfolio equity,
signed (negative = short), finite. Rows need not be sorted; one row per (timestamp, pair).
Every problem is a UserError naming the file, the line (header = line 1) and the fix; the grid
(timestamps on the candles' timeframe) and the gross cap are checked by the caller, which has
the candles and the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cryptotrain.data.ohlcv import read_frame, symbol_slug
from cryptotrain.data.timestamps import format_utc
from cryptotrain.data.timestamps import to_ms
from cryptotrain.errors import UserError

FIX = "write timestamp,symbol,weight rows, or a timestamp column and one column per pair"


@dataclass
class WeightFile:
    timestamps: np.ndarray    # (D,) int64 ms decision candles, increasing
    symbols: list[str]        # (N,) pairs named in the file, file-name form (BTC_USDT), in first-seen order
    weights: np.ndarray       # (D, N) NaN = no change
    lines: np.ndarray         # (D,) file line of each decision timestamp's first row


def _line(i: int) -> str:
    return f"line {i + 2}"


def _numbers(col: pd.Series, src: Path, empty_ok: bool) -> np.ndarray:
    num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    blank = col.isna().to_numpy()
    bad = (~np.isfinite(num) & ~(blank & empty_ok)) | (np.isnan(num) & ~blank)
    if bad.any():
        i = int(np.argmax(bad))
        what = "missing" if blank[i] else f"{col.iloc[i]!r}, not a finite number"
        raise UserError(f"{src}: weight {what} at {_line(i)} ({col.name}); give a finite weight (0 = flat)")
    return num


def _symbols(names: list[str], known: set[str], src: Path, where: list[str]) -> list[str]:
    out = []
    for name, at in zip(names, where):
        slug = symbol_slug(str(name).strip())
        if slug not in known:
            shown = ", ".join(sorted(known)[:8]) + (" ..." if len(known) > 8 else "")
            raise UserError(f"{src}: unknown pair {name!r} at {at}: the data directory has no candle file for it "
                            f"(it has {shown}); fetch it or remove it")
        out.append(slug)
    return out


def read_weights(path: str | Path, known: set[str]) -> WeightFile:
    """The file -> decisions; `known`: the pairs the data directory has candle files for."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file {path} not found; pass a CSV: {FIX}")
    df = read_frame(path, lambda p: pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]), kind="CSV",
                    empty=f"the file is empty; {FIX}", fix=FIX)
    df.columns = [str(c).strip() for c in df.columns]
    if "timestamp" not in df.columns or len(df.columns) < 2:
        raise UserError(f"{path}: no timestamp column and pair columns; {FIX}")
    if len(df) == 0:
        raise UserError(f"{path}: no rows; {FIX}")
    ts = to_ms(df["timestamp"], str(path), _line)
    if {"symbol", "weight"} <= set(df.columns):
        sym = _symbols(list(df["symbol"]), known, path, [_line(i) for i in range(len(df))])
        w = _numbers(df["weight"], path, empty_ok=False)
        key = pd.DataFrame({"t": ts, "s": sym})
        dup = key.duplicated().to_numpy()
        if dup.any():
            i = int(np.argmax(dup))
            raise UserError(f"{path}: duplicate row at {_line(i)} ({format_utc(int(ts[i]))}, {sym[i]} already has a "
                            "weight then); keep one row per timestamp and pair")
        symbols = list(dict.fromkeys(sym))
        rows, cols = ts, np.array([symbols.index(s) for s in sym])
    else:
        symbols = _symbols(list(df.columns.drop("timestamp")), known, path, ["line 1"] * (len(df.columns) - 1))
        if len(set(symbols)) < len(symbols):
            raise UserError(f"{path}: a pair has two columns (line 1); keep one column per pair")
        dup = pd.Series(ts).duplicated().to_numpy()
        if dup.any():
            i = int(np.argmax(dup))
            raise UserError(f"{path}: duplicate timestamp at {_line(i)} ({format_utc(int(ts[i]))}); keep one row "
                            "per timestamp")
        wide = np.column_stack([_numbers(df[c], path, empty_ok=True) for c in df.columns.drop("timestamp")])
        r, c = np.nonzero(np.isfinite(wide))
        rows, cols, w = ts[r], c, wide[r, c]
    uniq, first = np.unique(ts, return_index=True)
    out = np.full((len(uniq), len(symbols)), np.nan)
    out[np.searchsorted(uniq, rows), cols] = w
    return WeightFile(uniq.astype(np.int64), symbols, out, first + 2)
