"""Loading a config: YAML file -> `--set` overrides -> validated `Config`, a validation error as one
line for the user, and back to a dict or YAML."""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cryptotrain.config.schema import Config
from cryptotrain.config.yaml_reader import load_yaml, quote
from cryptotrain.errors import UserError


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
        if cfg.data.dir is not None:
            cfg.data.dir = resolve_data_path(cfg.data.dir, Path(path))
        if cfg.data.paths is not None:
            cfg.data.paths = {k: resolve_data_path(v, Path(path)) for k, v in cfg.data.paths.items()}
    return cfg


PROJECT_ROOT = Path(__file__).resolve().parents[2]   # holds configs/ and data/sample/ in a checkout


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
