"""The config sections of the data: the candle file and its splits, the features and the labels."""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from cryptotrain.config.base import DURATION_RE, Period, Window2, _iso, _Section
from cryptotrain.config.yaml_reader import quote


# ----------------------------------------------------------------------------- data
def _market_name(v: str) -> str:
    # symbols end up in run directory and file names: keep them short and path-safe
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/:._-]{0,39}", str(v)):
        raise ValueError(f"{quote(str(v))} is not a market or exchange name; use at most 40 letters, digits "
                         "and / : . _ -, e.g. BTC/USDT")
    return v


class SplitConfig(_Section):
    train: float = 0.7            # fraction of rows for training (chronologically first)
    val: float = 0.15             # fraction for validation; test gets the rest
    val_start: Optional[str] = None   # or split by dates (UTC, ISO): validation starts here
    test_start: Optional[str] = None  # ... and test starts here (both or neither)
    embargo: Optional[int] = None     # candles dropped between splits; default labels.horizon + 1

    _dates = field_validator("val_start", "test_start", mode="before")(_iso)

    @model_validator(mode="after")
    def _check(self) -> "SplitConfig":
        if (self.val_start is None) != (self.test_start is None):
            raise ValueError("give both val_start and test_start, or neither")
        if not (0 < self.train < 1 and 0 < self.val < 1 and self.train + self.val < 1):
            raise ValueError("need 0 < train, 0 < val and train + val < 1")
        return self


class DataConfig(_Section):
    path: str = "data/sample/BTC_USDT-1h.csv.gz"  # candle file: CSV, CSV.gz or Parquet
    exchange: str = "binance"     # where the candles came from (for run names and reports)
    symbol: str = "BTC/USDT"      # market symbol (for run names and reports)
    timeframe: Optional[str] = "1h"   # expected candle interval; checked against the file
    gap_policy: Literal["keep", "ffill", "error"] = "keep"  # keep: windows never span a gap
    start: Optional[str] = None   # keep candles at or after this UTC date/datetime
    end: Optional[str] = None     # keep candles before this UTC date/datetime
    last_rows: Optional[int] = Field(default=None, ge=1)  # keep only the last N candles (after start/end)
    window: int = Field(default=48, ge=1)  # T: feature rows per window, ending at the decision candle t
    split: SplitConfig = SplitConfig()
    # many pairs in one run (data/universe_dataset.py): the symbols, and where their files are:
    # dir (files named BTC_USDT-1h.csv.gz, as fetch and data/sample name them) or paths {symbol: file}
    universe: Optional[list[str]] = None
    dir: Optional[str] = None
    paths: Optional[dict[str, str]] = None

    _dates = field_validator("start", "end", mode="before")(_iso)

    def market(self) -> str:
        """What the run trades, for reports: the symbol, or the universe's pairs."""
        if self.universe is None:
            return self.symbol
        return f"{len(self.universe)} pairs ({', '.join(self.universe)})"

    def source(self) -> str:
        """Where the candles come from, for reports: data.path, data.dir or 'data.paths'."""
        return self.path if self.universe is None else (self.dir or "data.paths")

    @model_validator(mode="after")
    def _check_universe(self) -> "DataConfig":
        if self.universe is None:
            if self.dir is not None or self.paths is not None:
                raise ValueError("data.dir / data.paths need data.universe: [BTC/USDT, ETH/USDT, ...]")
            return self
        if not self.universe or len(set(self.universe)) != len(self.universe):
            raise ValueError("data.universe needs one or more distinct symbols, e.g. [BTC/USDT, ETH/USDT]")
        for s in self.universe:
            _market_name(s)
        if (self.dir is None) == (self.paths is None):
            raise ValueError("a data.universe needs data.dir (a folder of BTC_USDT-1h.csv.gz files) or "
                             "data.paths ({BTC/USDT: file, ...}), one of them")
        if self.paths is not None and sorted(self.paths) != sorted(self.universe):
            extra = sorted(set(self.paths) ^ set(self.universe))
            raise ValueError(f"data.paths must name exactly the data.universe symbols ({', '.join(extra)} differs)")
        return self

    @field_validator("exchange", "symbol")
    @classmethod
    def _name(cls, v: str) -> str:
        return _market_name(v)


# ------------------------------------------------------------------------- features
# Feature groups (formulas in cryptotrain/data/features*.py). A basic group is named after the
# option that parameterizes it; the alpha158 groups are Qlib's Alpha158 families in its order.
BASIC_GROUPS = ("returns", "body_range", "volatility", "rsi", "macd", "bollinger", "atr", "volume_zscore",
                "vwap", "time")
ALPHA158_ROLLING = ("roc", "ma", "std", "beta", "rsqr", "resi", "max", "min", "qtlu", "qtld", "rank", "rsv",
                    "imax", "imin", "imxd", "corr", "cord", "cntp", "cntn", "cntd", "sump", "sumn", "sumd",
                    "vma", "vstd", "wvma", "vsump", "vsumn", "vsumd")
ALPHA158_GROUPS = ("kbar", "price", *ALPHA158_ROLLING)
FEATURE_SETS = {"basic": BASIC_GROUPS, "alpha158": ALPHA158_GROUPS}


def _check_names(names: list[str]) -> list[str]:
    valid = [*FEATURE_SETS, *BASIC_GROUPS, *ALPHA158_GROUPS]
    for name in names:
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=1, cutoff=0.5)
            hint = f"did you mean '{close[0]}'?" if close else f"use basic, alpha158 or groups of {', '.join(valid[2:])}"
            raise ValueError(f"unknown feature set or group '{name}'; {hint}")
    return names


class FeaturesConfig(_Section):
    set: Literal["basic", "alpha158"] | list[str] = "basic"  # a set, or a list of sets and groups
    returns: list[Period] = [1, 2, 4, 8, 24]   # log-return lags: log(close_t / close_{t-k})
    body_range: bool = True                 # candle body and range relative to close
    volatility: list[Window2] = [12, 24, 72]  # rolling std of 1-step log returns, per window
    rsi: Optional[Period] = 14              # RSI period (Wilder smoothing); null disables
    macd: Optional[list[Period]] = [12, 26, 9]  # fast, slow, signal EMA spans; null disables
    bollinger: Optional[Window2] = 20       # Bollinger window (2 std): %b and bandwidth
    atr: Optional[Period] = 14              # ATR period, relative to close
    volume_zscore: Optional[Window2] = 24   # log volume and its rolling z-score over this window
    vwap: Optional[Period] = 24             # log distance of close to the rolling VWAP
    time: bool = True                       # sin/cos of hour-of-day and day-of-week
    windows: list[Window2] = [5, 10, 20, 30, 60]  # alpha158 rolling windows (Qlib's)
    context: list[str] = []                 # higher timeframes joined to every row, e.g. [4h, 1d]
    context_set: list[str] = ["kbar", "roc", "std", "rsv"]  # groups computed on the context candles
    context_windows: list[Window2] = [5, 10, 20]  # alpha158 rolling windows on the context candles
    normalizer: Literal["zscore", "robust"] = "zscore"  # fitted on the training split only
    normalizer_scope: Literal["per_symbol", "pooled"] = "per_symbol"  # a universe: statistics per pair or of all

    @field_validator("set", mode="before")
    @classmethod
    def _set(cls, v: Any) -> Any:
        if isinstance(v, str) and v not in FEATURE_SETS:
            _check_names([v])
            v = [v]  # a single group
        return _check_names(v) if isinstance(v, list) else v

    @field_validator("context_set")
    @classmethod
    def _context_set(cls, v: list[str]) -> list[str]:
        _check_names(v)
        if "time" in v:
            raise ValueError("time is the row's own clock, not a context feature; drop it")
        return v

    @field_validator("context")
    @classmethod
    def _context(cls, v: list[str]) -> list[str]:
        import re

        for tf in v:
            if not re.fullmatch(DURATION_RE, str(tf)):
                raise ValueError(f"{tf!r} is not a timeframe like 4h or 1d (units m, h, d)")
        if len(set(v)) != len(v):
            raise ValueError("a timeframe is named twice")
        return v

    def groups(self, names: Optional[list[str]] = None) -> list[str]:
        """The groups `set` (or `names`) resolves to, in order: a set name expands to its groups,
        of which the basic ones disabled by their option (null, [] or false) are skipped."""
        raw = [self.set] if isinstance(self.set, str) else self.set
        raw = raw if names is None else names
        out: list[str] = []
        for name in raw:
            for g in FEATURE_SETS.get(name, (name,)):
                if g not in out and (name not in FEATURE_SETS or self._enabled(g)):
                    out.append(g)
        return out

    def context_groups(self) -> list[str]:
        """The groups of `context_set`; a set name brings its groups except time (the row's own clock)."""
        return [g for g in self.groups(self.context_set) if g != "time"]

    def _enabled(self, group: str) -> bool:
        return group not in BASIC_GROUPS or getattr(self, group) not in (None, [], False)

    @model_validator(mode="after")
    def _check(self) -> "FeaturesConfig":
        if self.macd is not None and (len(self.macd) != 3 or self.macd[0] >= self.macd[1]):
            raise ValueError("macd must be [fast, slow, signal] with fast < slow")
        for key, names in (("set", None), ("context_set", self.context_set)):
            raw = ([self.set] if isinstance(self.set, str) else self.set) if names is None else names
            off = [g for g in raw if g in BASIC_GROUPS and not self._enabled(g)]
            if off:
                raise ValueError(f"features.{key} lists {off[0]} but features.{off[0]} disables it; "
                                 f"give features.{off[0]} a value or drop {off[0]} from the list")
        if not self.groups():
            raise ValueError("every feature is disabled; enable at least one (e.g. features.returns=[1])")
        if self.context and not self.context_groups():
            raise ValueError("features.context is set but features.context_set gives no feature; add a group")
        return self


# --------------------------------------------------------------------------- labels
class LabelsConfig(_Section):
    horizon: int = Field(default=1, ge=1)   # h: r_t = open[t+1+h] / open[t+1] - 1
    threshold: Literal["fixed", "quantile", "cost"] = "quantile"  # how the buy/sell threshold is chosen
    threshold_bps: float = Field(default=10.0, ge=0)  # fixed: |r_t| above this is buy/sell
    # cost: |r_t| above one round trip of the backtest settings, 2 (fee_bps + slippage_bps) / 1e4, plus this
    cost_margin_bps: float = Field(default=0.0, ge=0)
    confidence_window: int = Field(default=24, ge=2)  # volatility window for the confidence target
