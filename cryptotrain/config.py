"""The one typed configuration tree: data, features, labels, model, train, backtest.

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
class FeaturesConfig(_Section):
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
    normalizer: Literal["zscore", "robust"] = "zscore"  # fitted on the training split only

    @model_validator(mode="after")
    def _check(self) -> "FeaturesConfig":
        if self.macd is not None and (len(self.macd) != 3 or self.macd[0] >= self.macd[1]):
            raise ValueError("macd must be [fast, slow, signal] with fast < slow")
        if not (self.returns or self.volatility or self.body_range or self.time or any(
                v is not None for v in (self.rsi, self.macd, self.bollinger, self.atr, self.volume_zscore, self.vwap))):
            raise ValueError("every feature is disabled; enable at least one (e.g. features.returns=[1])")
        return self


# --------------------------------------------------------------------------- labels
class LabelsConfig(_Section):
    horizon: int = Field(default=1, ge=1)   # h: r_t = open[t+1+h] / open[t+1] - 1
    threshold: Literal["fixed", "quantile"] = "quantile"  # how the buy/sell threshold is chosen
    threshold_bps: float = Field(default=10.0, ge=0)  # fixed: |r_t| above this is buy/sell
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


class Config(_Section):
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    backtest: BacktestConfig = BacktestConfig()

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
