"""The one typed configuration tree: data, features, labels, model, train, backtest, walkforward.

Loaded from YAML, validated at the boundary (unknown keys are errors that suggest the
closest valid name, wrong types name the key, the expected type and the value),
overridable with `--set a.b=value` (type-checked the same way) and written back to YAML
exactly. Nothing here reads global state: the config is passed down explicitly.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
import typing
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cryptotrain.config_yaml import load_yaml, quote
from cryptotrain.errors import UserError
from cryptotrain.model_memory import check_fits_in_memory


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is or contains int or float (Optional[int], list[Period], ...)."""
    if annotation in (int, float):
        return True
    return any(_numeric(a) for a in typing.get_args(annotation))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, raw: Any) -> Any:
        # pydantic reads true as 1 for an int field; a boolean given for a number is a mistake
        if isinstance(raw, dict):
            for name, value in raw.items():
                field = cls.model_fields.get(name)
                items = value if isinstance(value, list) else [value]
                if field is not None and _numeric(field.annotation) and any(isinstance(v, bool) for v in items):
                    raise ValueError(f"{name} needs a number, not the boolean {str(value).lower()}")
        return raw


Period = Annotated[int, Field(ge=1)]      # a look-back length in candles
Window2 = Annotated[int, Field(ge=2)]     # a window that needs a standard deviation


def _iso(value: Any) -> Any:
    """A UTC date or ISO datetime (or integer ms) as a string; an impossible date is refused here."""
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, str) and not re.fullmatch(r"\s*-?\d{10,}\s*", value):
        try:
            _dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{quote(value)} is not a valid date; use a UTC date or ISO datetime, "
                             "e.g. 2024-01-31 or 2024-01-31T12:00") from None
    return value


# ----------------------------------------------------------------------------- data
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

    _dates = field_validator("start", "end", mode="before")(_iso)

    @field_validator("exchange", "symbol")
    @classmethod
    def _name(cls, v: str) -> str:
        # both end up in run directory and file names: keep them short and path-safe
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9/:._-]{0,39}", v):
            raise ValueError(f"{quote(v)} is not a market or exchange name; use at most 40 letters, digits "
                             "and / : . _ -, e.g. BTC/USDT")
        return v


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
TIMEFRAME_RE = r"[1-9][0-9]*[mhd]"  # context timeframes; weeks are left out (epoch weeks start on Thursdays)


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
            if not re.fullmatch(TIMEFRAME_RE, str(tf)):
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


# ---------------------------------------------------------------------------- model
class ModelConfig(_Section):
    type: Literal["gru_attention", "lstm_attention", "transformer"] = "gru_attention"
    hidden_size: int = Field(default=64, ge=1)   # H: recurrent width (d_model for transformer)
    num_layers: int = Field(default=1, ge=1)     # stacked recurrent / encoder layers
    dropout: float = Field(default=0.0, ge=0, lt=1)  # between layers (and on sub-layers)
    layer_norm: bool = False                     # layer-normalize each recurrent layer's output
    residual: bool = False                       # residual connection between equal-width layers
    attention: Literal["additive", "multihead", "both"] = "additive"
    num_heads: int = Field(default=4, ge=1)      # multi-head attention heads (divides hidden_size)
    causal: bool = False                         # causal mask in self-attention
    concat_last: bool = True                     # concatenate the last hidden state to the context
    pooling: Literal["last", "mean", "additive"] = "additive"  # after multihead / transformer
    head_sizes: list[Period] = [64]              # hidden widths of the MLP head stack
    head_activation: Literal["relu", "gelu", "tanh"] = "relu"
    head_dropout: float = Field(default=0.0, ge=0, lt=1)
    # transformer only
    d_ff: int = Field(default=128, ge=1)         # feed-forward width
    norm_first: bool = False                     # pre-norm (True) or post-norm (False)
    positional: Literal["sinusoidal", "learned"] = "sinusoidal"
    ff_activation: Literal["relu", "gelu"] = "gelu"
    # losses: w_action * CE + w_confidence * MSE + w_return * (MSE|Huber) + l2 * sum(W^2)
    w_action: float = Field(default=1.0, ge=0)
    w_confidence: float = Field(default=0.1, ge=0)
    w_return: float = Field(default=0.0, ge=0)
    return_loss: Literal["mse", "huber"] = "huber"
    huber_delta: float = Field(default=1.0, gt=0)
    return_scale: float = Field(default=100.0, gt=0)  # the return head predicts r_t * scale
    class_weights: Optional[list[float]] = None  # [sell, hold, buy] cross-entropy weights
    l2: float = Field(default=0.0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"

    @model_validator(mode="after")
    def _check(self) -> "ModelConfig":
        if self.attention in ("multihead", "both") or self.type == "transformer":
            if self.hidden_size % self.num_heads:
                raise ValueError(f"num_heads ({self.num_heads}) must divide hidden_size ({self.hidden_size})")
        if self.class_weights is not None and (
                len(self.class_weights) != 3 or min(self.class_weights) < 0 or sum(self.class_weights) <= 0):
            raise ValueError("class_weights needs 3 values >= 0 with a positive sum: [sell, hold, buy]")
        return self


# ---------------------------------------------------------------------------- train
class TrainConfig(_Section):
    seed: int = Field(default=0, ge=0)            # NumPy seeds are non-negative
    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=64, ge=1)
    max_batches_per_epoch: Optional[int] = Field(default=None, ge=1)  # cap for quick runs
    optimizer: Literal["adam", "adamw"] = "adam"
    lr: float = Field(default=1e-3, gt=0, allow_inf_nan=False)
    betas: list[float] = [0.9, 0.999]
    eps: float = Field(default=1e-8, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)  # AdamW decoupled decay
    clip_norm: Optional[float] = Field(default=5.0, gt=0)   # global-norm gradient clipping
    clip_value: Optional[float] = Field(default=None, gt=0)  # element-wise clipping
    schedule: Literal["constant", "cosine"] = "constant"  # cosine: linear warm-up then cosine
    warmup_steps: int = Field(default=0, ge=0)
    min_lr_ratio: float = Field(default=0.0, ge=0, le=1)  # cosine floor as a fraction of lr
    patience: int = Field(default=5, ge=1)        # early stopping on validation loss
    min_delta: float = Field(default=0.0, ge=0)
    runs_dir: str = "runs"

    @field_validator("runs_dir")
    @classmethod
    def _runs_dir(cls, v: str) -> str:
        # the first part of the path that exists must be a directory, or creating the run fails
        p = Path(v)
        for q in (p, *p.parents):
            if q.exists():
                if not q.is_dir():
                    raise ValueError(f"{quote(str(q))} is a file, not a directory; point train.runs_dir at a directory")
                break
        return v

    @model_validator(mode="after")
    def _warmup(self) -> "TrainConfig":
        steps = self.epochs * self.max_batches_per_epoch if self.max_batches_per_epoch else None
        if steps is not None and self.warmup_steps >= steps:
            warnings.warn(f"train.warmup_steps ({self.warmup_steps}) is not shorter than the whole run (at most "
                          f"{steps} steps: epochs x max_batches_per_epoch); the learning rate never leaves the warm-up",
                          stacklevel=2)
        return self

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("betas must be two values in [0, 1), e.g. [0.9, 0.999]")
        return v


# ------------------------------------------------------------------------- backtest
class BacktestConfig(_Section):
    fee_bps: float = Field(default=10.0, ge=0)      # on traded notional, every fill
    slippage_bps: float = Field(default=2.0, ge=0)  # fills move against the trader
    cash: float = Field(default=10_000.0, gt=0, le=1e12, allow_inf_nan=False)  # up to $1e12: money stays exact in float64
    mode: Literal["long-only", "long-short"] = "long-short"
    threshold: float = Field(default=0.0, ge=0, le=1)  # minimum confidence to act
    sizing: Literal["fixed", "confidence"] = "fixed"
    max_exposure: float = Field(default=1.0, gt=0, le=1)
    min_hold: int = Field(default=0, ge=0)  # candles a position is kept before the policy may change it


# ---------------------------------------------------------------------- walkforward
SPAN_RE = r"[1-9][0-9]*[mhd]"   # a duration: minutes, hours, days ("365d", "12h")
Span = Optional[typing.Union[Annotated[int, Field(ge=1)], str]]  # candles, or a duration


def _span(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(SPAN_RE, v.strip()):
        raise ValueError(f"{quote(v)} is not a span; give a candle count (e.g. 500) or a duration such as "
                         "365d, 30d or 12h")
    return v.strip() if isinstance(v, str) else v


class WalkForwardConfig(_Section):
    """`cryptotrain walkforward`: folds retrained through time (orchestration/walkforward/plan.py)."""
    train_span: Span = None           # training part of each fold (expanding: of the first fold)
    val_span: Span = None             # validation part (early stopping, best checkpoint)
    test_span: Span = None            # test part: the out-of-sample candles each fold scores
    step: Span = None                 # between test starts; default test_span (must be >= test_span)
    mode: Literal["expanding", "sliding"] = "expanding"  # expanding keeps the first training candle
    embargo: Optional[int] = Field(default=None, ge=1)   # candles between parts; default labels.horizon + 1
    first_test_start: Optional[str] = None   # UTC date: the first fold's test part starts here
    last_test_end: Optional[str] = None      # UTC date: no test part reaches past this
    max_folds: Optional[int] = Field(default=None, ge=1)
    warm_start: bool = False          # fold k starts from fold k-1's best parameters (folds then run in sequence)
    warm_epochs: Optional[int] = Field(default=None, ge=1)  # epochs of a warm-started fold (default train.epochs)

    _spans = field_validator("train_span", "val_span", "test_span", "step", mode="before")(_span)
    _dates = field_validator("first_test_start", "last_test_end", mode="before")(_iso)


class Config(_Section):
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    backtest: BacktestConfig = BacktestConfig()
    walkforward: WalkForwardConfig = WalkForwardConfig()

    @model_validator(mode="after")
    def _fits(self) -> "Config":
        check_fits_in_memory(self)
        return self


# ------------------------------------------------------------------------ loading
def _section_at(loc: tuple, cls: type[BaseModel] | None = None) -> tuple[type[BaseModel], str]:
    """The pydantic model class that owns the key at `loc` and a dotted name for messages."""
    cls = cls or Config
    path = []
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        ann = getattr(field, "annotation", None)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            cls = ann
            path.append(str(part))
        else:
            break
    return cls, ".".join(path) or "config"


def validation_message(err: ValidationError, origin: str, cls: type[BaseModel] | None = None, *, prefix: str = "",
                       option: bool = False, show_input: bool = True) -> str:
    """The first error of `err` (validating `cls`, default Config) as one line for the user: an
    unknown key with the closest valid name, or the key, what is wrong and the value given.
    `prefix` names the section `cls` sits in; `option` names the key as a command-line option
    (--fee-bps); `show_input=False` leaves the value out (it may come from a secret's variable)."""
    e = err.errors()[0]
    loc = tuple(e["loc"])
    key = ".".join(str(p) for p in loc)
    if e["type"] == "extra_forbidden":
        section, where = _section_at(loc, cls)
        name = str(loc[-1])
        close = difflib.get_close_matches(name, list(section.model_fields), n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(section.model_fields)}"
        what = f"'{prefix}.{key}'" if prefix else f"'{name}' in {where}"
        return f"{origin}: unknown key {what}; {hint}"
    got = f" (got {quote(e.get('input'))})" if show_input else ""
    if option:
        return f"--{(str(loc[0]) if loc else origin).replace('_', '-')}: {e['msg'].lower()}{got}"
    key = f"{prefix}.{key}" if prefix and key else key or prefix
    if e["type"] == "value_error" or not loc:
        return f"{origin}: invalid {key or 'config'}: {e['msg'].removeprefix('Value error, ')}"
    return f"{origin}: {key}: {e['msg'].lower()}{got}"


def validate_section(cls: type[BaseModel], raw: Any, origin: str = "config", **how) -> BaseModel:
    """`cls.model_validate(raw)`, a failure raised as one UserError line (`validation_message`)."""
    try:
        return cls.model_validate(raw)
    except ValidationError as err:
        raise UserError(validation_message(err, origin, cls, **how)) from None  # the line says it all


def config_from_dict(raw: dict[str, Any], origin: str = "config") -> Config:
    if not isinstance(raw, dict):
        raise UserError(f"{origin}: expected a mapping with sections data, features, labels, model, train, backtest")
    return validate_section(Config, raw, origin)


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read a YAML config (or the defaults when `path` is None) and apply `--set` overrides."""
    raw: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        p = Path(path)
        origin = str(p)
        if not p.is_file():
            raise UserError(f"config file {p} not found; pass an existing YAML file, e.g. configs/gru_attention_1h.yaml")
        raw = load_yaml(p.read_text(), origin)
        if raw is None:
            warnings.warn(f"{p} is empty: every setting takes its default", stacklevel=2)
            raw = {}
        if not isinstance(raw, dict):
            raise UserError(f"{p}: the file holds a {type(raw).__name__}, not a mapping; write sections such as "
                            "'model:' and 'train:' with keys under them")
    raw = apply_overrides(raw, overrides or [])
    if overrides:
        origin += " with --set " + " ".join(overrides)
    cfg = config_from_dict(raw, origin)
    if path is not None:
        cfg.data.path = resolve_data_path(cfg.data.path, Path(path))
    return cfg


PROJECT_ROOT = Path(__file__).resolve().parent.parent   # holds configs/ and data/sample/ in a checkout


def resolve_data_path(data_path: str, config_file: Path) -> str:
    """A relative data.path that does not exist from the current directory, looked up beside the
    config file, in its parent (a project's configs/ sits beside its data/) and in cryptotrain's own
    checkout (the bundled sample), in that order; the first that exists, as an absolute path, else
    `data_path` unchanged (the candle reader then names where it looked)."""
    p = Path(data_path)
    if p.is_absolute() or p.exists():
        return data_path
    for base in (config_file.parent, config_file.parent.parent, PROJECT_ROOT):
        candidate = base / p
        if candidate.exists():
            return os.path.normpath(candidate.absolute())
    return data_path


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b=value` strings; values are parsed as YAML scalars/lists and type-checked later."""
    import copy

    out = copy.deepcopy(raw)
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. --set model.hidden_size=128")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise UserError(f"--set {item!r}: the key needs a section, e.g. model.hidden_size")
        try:
            value = load_yaml(text, f"--set {item!r}") if text.strip() else None
        except UserError:
            value = text
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise UserError(f"--set {item!r}: {part} is not a section")
            node = nxt
        node[parts[-1]] = value
    return out


def config_to_dict(cfg: Config) -> dict[str, Any]:
    return cfg.model_dump(mode="json")


def config_to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)


def config_from_yaml_text(text: str, origin: str = "config") -> Config:
    return config_from_dict(load_yaml(text, origin) or {}, origin)
