"""The search space of a sweep: SPACE.yaml -> Optuna distributions, checked against the config tree.

SPACE.yaml maps dotted config keys to one distribution each:

    train.lr:          {float: [1e-4, 1e-2], log: true}
    model.hidden_size: {int: [16, 128], step: 16}
    model.type:        {choice: [gru_attention, lstm_attention]}
    model.dropout:     {float: [0, 0.3]}

Every key must name a field of the config tree (an unknown one is a UserError with the closest
name) before anything runs. A drawn combination the config rejects (num_heads not dividing
hidden_size) is not an error of the space: `draw_config` raises the config's own UserError, and the
sweep records that trial as failed with it.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

import optuna
from pydantic import BaseModel

from cryptotrain.config import Config, config_from_dict, config_to_dict
from cryptotrain.config.yaml_reader import load_yaml
from cryptotrain.errors import UserError

KINDS = ("float", "int", "choice")
OPTIONS = {"float": {"log", "step"}, "int": {"log", "step"}, "choice": set()}


def load_space(path: Path) -> dict[str, optuna.distributions.BaseDistribution]:
    """Read SPACE.yaml into {dotted key: distribution}, in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"search space {path} not found; pass a YAML file such as configs/space_small.yaml")
    raw = load_yaml(path.read_text(), str(path))
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{path}: expected a mapping of dotted config keys to distributions, "
                        "e.g. 'train.lr: {float: [1e-4, 1e-2], log: true}'")
    return {str(key): _distribution(path, str(key), spec) for key, spec in raw.items()}


def check_keys(space: dict, cfg: Config, origin: str) -> None:
    """Every key names a leaf of the config tree, else one line with the closest name."""
    leaves = _leaves(Config)
    for key in space:
        if key not in leaves:
            close = difflib.get_close_matches(key, leaves, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else f"; keys look like model.hidden_size or train.lr"
            raise UserError(f"{origin}: {key} is not a config key{hint}")


def draw(trial: optuna.Trial, space: dict) -> dict[str, Any]:
    """The trial's values, one per key (Optuna records them in the study)."""
    D = optuna.distributions
    out = {}
    for key, d in space.items():
        if isinstance(d, D.CategoricalDistribution):
            out[key] = trial.suggest_categorical(key, d.choices)
        elif isinstance(d, D.IntDistribution):
            out[key] = trial.suggest_int(key, d.low, d.high, step=d.step, log=d.log)
        else:
            out[key] = trial.suggest_float(key, d.low, d.high, step=d.step, log=d.log)
    return out


def draw_config(base: Config, values: dict[str, Any], origin: str) -> Config:
    """`base` with the drawn values set; the config's own UserError when it rejects them."""
    overrides = config_to_dict(base)   # a fresh dict: the values go in as they are, not parsed from text
    for key, value in values.items():
        node = overrides
        *sections, leaf = key.split(".")
        for part in sections:
            node = node.setdefault(part, {})
        node[leaf] = value
    drawn = ", ".join(f"{k}={v}" for k, v in values.items())
    return config_from_dict(overrides, f"{origin} with {drawn}")


def _leaves(cls: type[BaseModel], prefix: str = "") -> list[str]:
    out = []
    for name, field in cls.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out += _leaves(ann, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _float(v: Any) -> Any:
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _distribution(path: Path, key: str, spec: Any) -> optuna.distributions.BaseDistribution:
    where = f"{path}: {key}"
    example = "{float: [1e-4, 1e-2], log: true}, {int: [16, 128], step: 16} or {choice: [a, b]}"
    if not isinstance(spec, dict):
        raise UserError(f"{where}: expected a distribution such as {example}, got {spec!r}")
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) != 1:
        raise UserError(f"{where}: name exactly one of float, int, choice, e.g. {example}")
    kind = kinds[0]
    extra = set(spec) - {kind} - OPTIONS[kind]
    if extra:
        allowed = ", ".join(sorted(OPTIONS[kind])) or "nothing else"
        raise UserError(f"{where}: unknown option {sorted(extra)[0]!r} for {kind} (allowed: {allowed})")
    values = spec[kind]
    if kind == "choice":
        if not isinstance(values, list) or not values:
            raise UserError(f"{where}: choice needs a non-empty list, e.g. {{choice: [gru_attention, lstm_attention]}}")
        return optuna.distributions.CategoricalDistribution(values)
    number = int if kind == "int" else (int, float)
    if kind == "float" and isinstance(values, list):   # YAML 1.1 reads 1e-4 (no dot) as text
        values = [_float(v) for v in values]
    if (not isinstance(values, list) or len(values) != 2
            or not all(isinstance(v, number) and not isinstance(v, bool) for v in values) or values[0] > values[1]):
        raise UserError(f"{where}: {kind} needs [low, high] {kind} numbers with low <= high, e.g. {example}")
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"{where}: the bounds {values} must be finite numbers (no .inf or .nan), e.g. {example}")
    log, step = bool(spec.get("log", False)), spec.get("step")
    step = _float(step) if kind == "float" else step
    if log and (step is not None or values[0] <= 0):
        raise UserError(f"{where}: log needs low > 0 and no step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step)
                             or step <= 0 or (kind == "int" and step != int(step))):
        raise UserError(f"{where}: step {step!r} must be a {'whole ' if kind == 'int' else ''}number > 0, "
                        f"e.g. {{int: [16, 128], step: 16}}, or left out")
    try:
        if kind == "int":
            return optuna.distributions.IntDistribution(values[0], values[1], log=log, step=int(step or 1))
        return optuna.distributions.FloatDistribution(float(values[0]), float(values[1]), log=log,
                                                      step=None if step is None else float(step))
    except (ValueError, TypeError) as exc:
        raise UserError(f"{where}: {exc}") from None
