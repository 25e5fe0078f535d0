"""Self-describing checkpoints: one `.npz` file that rebuilds a run without its YAML.

Layout (every entry a plain array, so `np.load(..., allow_pickle=False)` reads it):

    param/<name>      model parameters                      (shapes as in models/)
    opt/m/<name>      Adam first moments                    same shape as param/<name>
    opt/v/<name>      Adam second moments                   same shape as param/<name>
    norm/center       normalizer center (mean or median)    (F,), or (P, F) per pair of data.universe
    norm/scale        normalizer scale (std or IQR)         (F,), or (P, F)
    meta              JSON text: format, epoch, global step, optimizer step,
                      early-stopping state, RNG states, normalizer kind, label thresholds,
                      feature names, data fingerprint, data range and split start times,
                      resolved config (YAML text)

Written through `fileio.atomic_path`: a crash leaves the previous checkpoint intact. The file
layout is unchanged since the `Checkpoint` dataclass took one `Normalizer` in place of three
loose fields and lost its always-zero `batch`: checkpoints written before still load (their
meta "batch" entry is ignored).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cryptotrain.config import Config, config_from_yaml_text, config_to_dict, config_to_yaml
from cryptotrain.data.normalize import Normalizer
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_path
from cryptotrain.models import init_params

# Format 2: data_range and windows always present (format 1 files of earlier development
# versions may lack them); a file of another format is refused in one line, never converted.
FORMAT = "cryptotrain-checkpoint/2"


@dataclass
class Checkpoint:
    params: dict[str, np.ndarray]
    opt_state: dict[str, Any]            # {"step": int, "m": {k: arr}, "v": {k: arr}}
    config: Config
    normalizer: Normalizer               # fitted on the training rows only; reused as is on resume/evaluate
    thresholds: tuple[float, float]
    feature_names: list[str]
    fingerprint: dict[str, Any]
    epoch: int                            # completed epochs
    global_step: int = 0
    rng_states: dict[str, Any] = field(default_factory=dict)  # name -> bit_generator.state
    train_state: dict[str, Any] = field(default_factory=dict)  # best_val_loss, best_epoch, bad_epochs
    # Dataset.data_range of the training data: start_ts, end_ts, val_start_ts, test_start_ts
    # (ms); evaluate rebuilds exactly these rows and splits.
    data_range: dict[str, Any] = field(default_factory=dict)
    # windows per split at training ({"train", "val", "test"}), to say what changed in the data since
    windows: dict[str, int] = field(default_factory=dict)


def save_checkpoint(path: str | Path, ck: Checkpoint) -> None:
    meta = {
        "format": FORMAT,
        "epoch": ck.epoch,
        "global_step": ck.global_step,
        "opt_step": int(ck.opt_state["step"]),
        "rng_states": ck.rng_states,
        "train_state": ck.train_state,
        "normalizer": ck.normalizer.kind,
        "thresholds": [float(t) for t in ck.thresholds],
        "feature_names": list(ck.feature_names),
        "fingerprint": ck.fingerprint,
        "data_range": ck.data_range,
        "windows": ck.windows,
        "config": config_to_yaml(ck.config),
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    arrays["norm/center"] = np.asarray(ck.normalizer.center)
    arrays["norm/scale"] = np.asarray(ck.normalizer.scale)
    for k, v in ck.params.items():
        arrays[f"param/{k}"] = v
        arrays[f"opt/m/{k}"] = ck.opt_state["m"][k]
        arrays[f"opt/v/{k}"] = ck.opt_state["v"][k]
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_checkpoint(path: str | Path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} not found; train a run first or pass --checkpoint best|last")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise UserError(f"{path} is not a readable cryptotrain checkpoint ({err}); retrain or use another checkpoint") from err
    if "meta" not in arrays:
        raise UserError(f"{path} has no metadata; it is not a cryptotrain checkpoint")
    try:
        meta = json.loads(str(arrays["meta"]))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: damaged metadata ({err}); use the other checkpoint or retrain") from err
    if isinstance(meta, dict) and meta.get("format") != FORMAT:
        raise UserError(f"{path}: written by an older cryptotrain (checkpoint format {meta.get('format') or 1}, this "
                        f"version reads {FORMAT.rsplit('/', 1)[1]}); retrain the run, or read it with the version "
                        "that trained it")
    return _checked(path, meta, arrays)


def _invalid(path: Path, what: str) -> UserError:
    return UserError(f"{path}: not a valid cryptotrain checkpoint: {what}; use the other checkpoint or retrain")


# meta key -> the JSON types its value may have (int for counters: bool is refused below)
META_TYPES: dict[str, tuple[type, ...]] = {
    "format": (str,), "epoch": (int,), "global_step": (int,), "opt_step": (int,), "rng_states": (dict,),
    "train_state": (dict,), "normalizer": (str,), "thresholds": (list,), "feature_names": (list,),
    "fingerprint": (dict,), "config": (str,), "data_range": (dict,), "windows": (dict,),
}


def _checked(path: Path, meta: Any, arrays: dict[str, np.ndarray]) -> Checkpoint:
    """A Checkpoint from `meta` and `arrays`, after checking every key, type and parameter shape."""
    if not isinstance(meta, dict):
        raise _invalid(path, f"its metadata is a {type(meta).__name__}, not a mapping")
    missing = [k for k in META_TYPES if k not in meta]
    if missing:
        raise _invalid(path, f"metadata key(s) {', '.join(missing)} missing")
    for key, types in META_TYPES.items():
        value = meta[key]
        if not isinstance(value, types) or (types == (int,) and (isinstance(value, bool) or value < 0)):
            raise _invalid(path, f"metadata {key} is {str(json.dumps(value))[:40]}, expected "
                                 f"{'a count' if types == (int,) else 'a ' + types[0].__name__}")
    if len(meta["thresholds"]) != 2 or not all(isinstance(t, (int, float)) for t in meta["thresholds"]):
        raise _invalid(path, "metadata thresholds must be two numbers")
    config = config_from_yaml_text(meta["config"], origin=f"{path} (stored config)")
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    _check_shapes(path, config, len(meta["feature_names"]), params, arrays)
    opt_state = {"step": meta["opt_step"], "m": {k: arrays[f"opt/m/{k}"] for k in params},
                 "v": {k: arrays[f"opt/v/{k}"] for k in params}}
    try:
        for state in meta["rng_states"].values():
            rng_from_state(state)
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise _invalid(path, f"generator state unreadable ({type(err).__name__}: {str(err)[:60]})") from None
    return Checkpoint(
        params=params, opt_state=opt_state, config=config,
        normalizer=Normalizer(kind=meta["normalizer"], center=arrays["norm/center"], scale=arrays["norm/scale"]),
        thresholds=tuple(meta["thresholds"]), feature_names=list(meta["feature_names"]),
        fingerprint=meta["fingerprint"], epoch=meta["epoch"], global_step=meta["global_step"],
        rng_states=meta["rng_states"], train_state=meta["train_state"],
        data_range=meta["data_range"], windows=meta["windows"])


def _check_shapes(path: Path, config: Config, n_features: int, params: dict, arrays: dict) -> None:
    """Every parameter the stored config's model has, with its shape, and its Adam moments; nothing else."""
    expected = init_params(config.model, n_features, config.data.window, np.random.default_rng(0),
                           n_pairs=len(config.data.universe or [0]))
    for name, ref in expected.items():
        if name not in params:
            raise _invalid(path, f"parameter {name} missing (the stored config's {config.model.type} model has it)")
        for key in (f"param/{name}", f"opt/m/{name}", f"opt/v/{name}"):
            got = arrays.get(key)
            if got is None:
                raise _invalid(path, f"{key} missing")
            if got.shape != ref.shape:
                raise _invalid(path, f"{key} has shape {got.shape}, the stored {config.model.type} config "
                                     f"makes {ref.shape}")
    extra = sorted(set(params) - set(expected))
    if extra:
        raise _invalid(path, f"parameter(s) {', '.join(extra[:3])} that a {config.model.type} model does not have")
    per_pair = {(n_features,)} | ({(len(config.data.universe), n_features)} if config.data.universe else set())
    for key in ("norm/center", "norm/scale"):
        if arrays.get(key) is None or arrays[key].shape not in per_pair:
            raise _invalid(path, f"{key} missing or not one value per feature ({n_features}) and pair")


IDENTITY = ("data", "features", "labels", "model")


def check_matches_run(ck: Checkpoint, ck_path: Path, run_dir: Path) -> None:
    """Refuse a checkpoint whose stored config is not the run's config.yaml (copied from another run).

    Compared: what makes the model and its windows (sections data, features, labels, model); the
    train and backtest sections may differ (a resume that was given more epochs by hand)."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        return
    run_cfg = config_from_yaml_text(cfg_path.read_text(), origin=str(cfg_path))
    a, b = (_flat({k: v for k, v in config_to_dict(c).items() if k in IDENTITY}) for c in (ck.config, run_cfg))
    if a == b:
        return
    if run_cfg.model.type != ck.config.model.type:
        what = f"a {ck.config.model.type} model, but {cfg_path} is for a {run_cfg.model.type} model"
    else:
        key = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
        what = f"{key} = {str(a.get(key))[:30]}, but {cfg_path} says {str(b.get(key))[:30]}"
    raise UserError(f"{ck_path} does not belong to this run: it holds {what}; it was copied from another "
                    "run: put the run's own checkpoint back, or start a new run")


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """Rebuild a numpy Generator from `bit_generator.state` (JSON round-trips its big ints)."""
    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    return np.random.Generator(bitgen)
