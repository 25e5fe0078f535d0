"""The config tree `Config` and its model, train, backtest and walk-forward sections (the data,
features and labels sections: data_sections.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from cryptotrain.config.base import Period, Span, _iso, _Section, _span
from cryptotrain.config.yaml_reader import quote
from cryptotrain.config.data_sections import DataConfig, FeaturesConfig, LabelsConfig
from cryptotrain.defaults import BACKTEST


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
    symbol_embedding: int = Field(default=0, ge=0)  # K: a learned K-vector per pair of data.universe fed at every step; 0 = off

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

    @field_validator("betas")
    @classmethod
    def _betas(cls, v: list[float]) -> list[float]:
        if len(v) != 2 or not all(0.0 <= b < 1.0 for b in v):
            raise ValueError("betas must be two values in [0, 1), e.g. [0.9, 0.999]")
        return v


# ------------------------------------------------------------------------- backtest
class BacktestConfig(_Section):
    # defaults in cryptotrain/defaults.py (backtest --help shows them without loading this module)
    fee_bps: float = Field(default=BACKTEST["fee_bps"], ge=0)      # on traded notional, every fill
    slippage_bps: float = Field(default=BACKTEST["slippage_bps"], ge=0)  # fills move against the trader
    cash: float = Field(default=BACKTEST["cash"], gt=0, le=1e12, allow_inf_nan=False)  # up to $1e12: exact in float64
    mode: Literal["long-only", "long-short"] = BACKTEST["mode"]
    threshold: float = Field(default=BACKTEST["threshold"], ge=0, le=1)  # minimum confidence to act
    sizing: Literal["fixed", "confidence"] = BACKTEST["sizing"]
    max_exposure: float = Field(default=BACKTEST["max_exposure"], gt=0, le=1)
    min_hold: int = Field(default=BACKTEST["min_hold"], ge=0)  # candles a position is kept before the policy may change it
    gross: float = Field(default=BACKTEST["gross"], gt=0, le=100)  # portfolio (--weights): cap on sum_i |weight_i|
    rebalance: int = Field(default=BACKTEST["rebalance"], ge=0)  # portfolio: every N candles trade held pairs back to target; 0 = never
    target_vol: float = Field(default=BACKTEST["target_vol"], ge=0, le=100)  # portfolio: annual volatility the book aims at; 0 = off
    # risk rules (backtest/risk.py), checked inside each candle on its high and low; 0 = off
    stop_loss: float = Field(default=BACKTEST["stop_loss"], ge=0, lt=1)       # fraction of the entry price
    take_profit: float = Field(default=BACKTEST["take_profit"], ge=0, le=100)  # fraction of the entry price
    stop_loss_atr: float = Field(default=BACKTEST["stop_loss_atr"], ge=0, le=1000)      # multiples of the ATR at entry
    take_profit_atr: float = Field(default=BACKTEST["take_profit_atr"], ge=0, le=1000)  # multiples of the ATR at entry
    atr_period: int = Field(default=BACKTEST["atr_period"], ge=1, le=10_000)  # Wilder ATR of the *_atr rules
    trailing_stop: float = Field(default=BACKTEST["trailing_stop"], ge=0, lt=1)  # fraction from the best price since entry
    max_hold: int = Field(default=BACKTEST["max_hold"], ge=0)  # candles; exit at the open after max_hold candles held

    # universe run: per-pair scores -> weights (backtest/portfolio_policy.py); topk and proportional
    # decide every `rebalance` candles, 0 = the label horizon
    policy: Literal["independent", "topk", "proportional"] = BACKTEST["policy"]
    k: int = Field(default=BACKTEST["k"], ge=1)          # topk: pairs long (and short in long-short)
    n_drop: Optional[int] = Field(default=BACKTEST["n_drop"], ge=0)  # topk: most holdings replaced per decision; unset = k

    @model_validator(mode="after")
    def _one_stop_each(self):
        for a, b in (("stop_loss", "stop_loss_atr"), ("take_profit", "take_profit_atr")):
            if getattr(self, a) > 0 and getattr(self, b) > 0:
                raise ValueError(f"set {a} or {b}, not both (set the other to 0)")
        return self


# ---------------------------------------------------------------------- walkforward
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


# ------------------------------------------------------------------------- evaluate
class EvaluateConfig(_Section):
    """`evaluate` of a universe run: the cross-sectional metrics (evaluate/cross_section.py)."""
    quantiles: int = Field(default=3, ge=2)  # score groups per timestamp; top minus bottom is the spread


class Config(_Section):
    data: DataConfig = DataConfig()
    features: FeaturesConfig = FeaturesConfig()
    labels: LabelsConfig = LabelsConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    backtest: BacktestConfig = BacktestConfig()
    walkforward: WalkForwardConfig = WalkForwardConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
