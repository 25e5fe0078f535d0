"""Self-describing checkpoints: one `.npz` file that rebuilds a run without its YAML.

Layout (every entry a plain array, so `np.load(..., allow_pickle=False)` reads it):

    param/<name>      model parameters                      (shapes as in models/)
    opt/m/<name>      Adam first moments                    same shape as param/<name>
    opt/v/<name>      Adam second moments                   same shape as param/<name>
    norm/center       normalizer center (mean or median)    (F,)
    norm/scale        normalizer scale (std or IQR)         (F,)
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

from cryptotrain.config import Config, config_from_yaml_text, config_to_yaml
from cryptotrain.data.normalize import Normalizer
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_path

FORMAT = "cryptotrain-checkpoint/1"


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
    # (ms); evaluate rebuilds exactly these rows and splits. None in checkpoints written before.
    data_range: dict[str, Any] | None = None


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
    if meta.get("format") != FORMAT:
        raise UserError(f"{path}: unsupported checkpoint format {meta.get('format')!r} (expected {FORMAT})")
    params = {k[len("param/"):]: v for k, v in arrays.items() if k.startswith("param/")}
    opt_state = {
        "step": int(meta["opt_step"]),
        "m": {k: arrays[f"opt/m/{k}"] for k in params},
        "v": {k: arrays[f"opt/v/{k}"] for k in params},
    }
    return Checkpoint(
        params=params,
        opt_state=opt_state,
        config=config_from_yaml_text(meta["config"], origin=f"{path} (stored config)"),
        normalizer=Normalizer(kind=meta["normalizer"], center=arrays["norm/center"], scale=arrays["norm/scale"]),
        thresholds=tuple(meta["thresholds"]),
        feature_names=list(meta["feature_names"]),
        fingerprint=meta["fingerprint"],
        epoch=int(meta["epoch"]),
        global_step=int(meta["global_step"]),
        rng_states=meta["rng_states"],
        train_state=meta["train_state"],
        data_range=meta.get("data_range"),
    )


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    """Rebuild a numpy Generator from `bit_generator.state` (JSON round-trips its big ints)."""
    bitgen = getattr(np.random, state["bit_generator"])()
    bitgen.state = state
    return np.random.Generator(bitgen)
