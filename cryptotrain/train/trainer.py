"""`fit`: train (or resume) a run, quietly. The same function runs in the CLI, a notebook or a
worker process: it prints nothing; progress goes through the callbacks.

Order at the end of every epoch (so a kill at any moment is safe): validation, metrics line,
`best.npz` when improved, `last.npz`, figure (redrawn at most every PLOT_EVERY_S and at the end).
A resume truncates `metrics.jsonl` to the epochs that `last.npz` holds and re-runs the rest;
since an epoch is a pure function of the checkpoint (parameters, optimizer moments, generator
states), the final parameters are bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryptotrain import blas
from cryptotrain.config import Config, config_to_yaml
from cryptotrain.data.changes import data_changed, describe_data_change, window_counts
from cryptotrain.data.dataset import build_dataset
from cryptotrain.data.labels import majority_rate
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import UserError
from cryptotrain.fileio import atomic_write_text
from cryptotrain.model_memory import check_fits_in_memory
from cryptotrain.models import init_params
from cryptotrain.models.inference import EVAL_COLUMNS, split_loss
from cryptotrain.optim import adam_init
from cryptotrain.report.training import plot_training
from cryptotrain.train import metrics_log
from cryptotrain.train.checkpoint import Checkpoint, check_matches_run, load_checkpoint, rng_from_state, save_checkpoint
from cryptotrain.train.loop import NonFiniteError, batches_per_epoch, epoch_batches, train_epoch
from cryptotrain.train.rundir import create_run_dir, not_a_single_run, set_latest
from cryptotrain.train.state import TrainCallbacks, TrainPlan, TrainResult, TrainState

OVERFIT_STEPS_PER_EPOCH = 25
OVERFIT_MIN_EPOCHS = 12      # >= 300 steps on the one batch
OVERFIT_MIN_LR = 3e-3        # constant; a tiny model at 1e-3 needs far more steps to reach ~0
PLOT_EVERY_S = 30.0          # redraw plots/training.png at most this often (and at the end)


@dataclass
class _Session:
    run_dir: Path
    cfg: Config
    ds: Any
    params: dict
    opt_state: dict
    rngs: dict[str, np.random.Generator]
    state: TrainState
    rows: list[dict]
    resumed_after: int | None = None
    created: bool = False            # fit made run_dir, and removes it when no checkpoint gets written


def fit(cfg: Config | None, run_dir: Path | None = None, *, resume: Path | None = None, run_name: str | None = None,
        overfit_batch: bool = False, allow_data_change: bool = False, start_params: dict | None = None,
        callbacks: TrainCallbacks = TrainCallbacks()) -> TrainResult:
    """Train a new run (in `run_dir`, or a fresh directory under cfg.train.runs_dir that
    runs/latest then points at, once its first checkpoint exists) or resume the run directory
    `resume`. The run directory is locked (dirlock.py) for the whole call; a new run that fails
    or is interrupted before its first checkpoint leaves no directory behind.

    start_params: a new run starts from these parameters (a warm start, e.g. the previous
    walk-forward fold's best) instead of the seeded initialization; same keys and shapes.
    callbacks: TrainCallbacks (start, epoch and batch progress; no-ops by default).
    """
    if resume is not None:
        run_dir = Path(resume)
        if not run_dir.is_dir():
            raise UserError(f"cannot resume {run_dir}: the directory does not exist; pass a run directory, "
                            "e.g. --resume runs/<run>")
        with dir_lock(run_dir, "train --resume"):
            return _train(_resume(run_dir, allow_data_change), callbacks, point_latest=False)
    if cfg is None:
        raise UserError("train needs --config CONFIG (or --resume RUN_DIR)")
    if overfit_batch:
        cfg = overfit_config(cfg)
    check_fits_in_memory(cfg)
    ds = build_dataset(cfg)
    # runs/latest follows new runs under runs_dir; an explicit run_dir (a sweep trial, a
    # walk-forward fold) or a sanity run (not a model to evaluate) leaves it alone
    point_latest = run_dir is None and not overfit_batch
    created = run_dir is None
    if created:
        run_dir = create_run_dir(cfg, run_name or ("overfit" if overfit_batch else None))
    else:
        run_dir = Path(run_dir)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UserError(f"run directory {run_dir} is not empty; pass a new directory or resume it")
        run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with dir_lock(run_dir, "train"):
            s = _new(cfg, ds, run_dir, overfit_batch, created, start_params)
            return _train(s, callbacks, point_latest=point_latest)
    except BaseException:
        # a start that never reached a checkpoint is no run: leave nothing that `latest`,
        # a listing or a resume would take for one
        if created and not (run_dir / "checkpoints" / "last.npz").exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _train(s: _Session, cb: TrainCallbacks, *, point_latest: bool) -> TrainResult:
    cfg, ds, state = s.cfg, s.ds, s.state
    overfit = state.overfit_batch
    train_idx = ds.splits["train"]
    fixed_batch = train_idx[: cfg.train.batch_size] if overfit else None
    n_batches = OVERFIT_STEPS_PER_EPOCH if overfit else batches_per_epoch(len(train_idx), cfg)
    if s.resumed_after is None:
        _warn_warmup(cfg, n_batches)
    cb.on_start(TrainPlan(s.run_dir, cfg, len(ds.feature_names), ds.timeframe,
                           {k: len(v) for k, v in ds.splits.items()}, n_batches, overfit, s.resumed_after))
    if 0 < state.epoch < cfg.train.epochs and not overfit and state.bad_epochs >= cfg.train.patience:
        return _result(s, 0, stopped_early=False, already_stopped=True)
    first_epoch = state.epoch + 1
    last_plot = time.monotonic()
    val_majority = majority_rate(ds.action[ds.splits["val"]])
    stopped = requested = False
    for epoch in range(first_epoch, cfg.train.epochs + 1):
        batches = ([fixed_batch] * n_batches if overfit else
                   epoch_batches(train_idx, cfg.train.batch_size, s.rngs["shuffle"], cfg.train.max_batches_per_epoch))
        row, improved = _train_one_epoch(s, epoch, batches, n_batches * cfg.train.epochs, fixed_batch, cb.progress)
        s.rows.append(row)
        metrics_log.append_row(s.run_dir / metrics_log.FILE, row)
        requested = bool(cb.on_epoch(row, epoch == first_epoch))
        state.epoch = epoch
        _write_checkpoints(s, improved)
        if point_latest and epoch == first_epoch:
            set_latest(s.run_dir)   # only now is there a checkpoint to evaluate
        if requested:
            break
        if time.monotonic() - last_plot >= PLOT_EVERY_S:
            plot_training(s.rows, s.run_dir / "plots" / "training.png", val_majority, cfg.model.w_action > 0)
            last_plot = time.monotonic()
        if not overfit and state.bad_epochs >= cfg.train.patience and epoch < cfg.train.epochs:
            stopped = True   # (patience running out at the last planned epoch stops nothing)
            break
    plot_training(s.rows, s.run_dir / "plots" / "training.png", val_majority, cfg.model.w_action > 0)
    result = _result(s, state.epoch - first_epoch + 1, stopped_early=stopped, already_stopped=False)
    result.stopped_on_request = requested
    return result


def _warn_warmup(cfg: Config, n_batches: int) -> None:
    """Warm-up not shorter than the run: the one place this is said (not when a config is loaded,
    which evaluate and backtest do again for a trained run), once the data gives the batches."""
    t = cfg.train
    total = n_batches * t.epochs
    if t.warmup_steps and t.warmup_steps >= total:
        warnings.warn(f"train.warmup_steps ({t.warmup_steps}) is not shorter than the whole run ({total} steps: "
                      f"{n_batches} batches per epoch x {t.epochs} epochs); the learning rate never leaves the "
                      "warm-up: lower train.warmup_steps", stacklevel=3)


def _new(cfg: Config, ds, run_dir: Path, overfit_batch: bool, created: bool,
         start_params: dict | None = None) -> _Session:
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    (run_dir / "plots").mkdir(exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", config_to_yaml(cfg))
    seed = cfg.train.seed
    params = init_params(cfg.model, len(ds.feature_names), cfg.data.window, np.random.default_rng(seed),
                         n_pairs=len(ds.symbols or [0]))
    if start_params is not None:
        if {k: v.shape for k, v in params.items()} != {k: np.shape(v) for k, v in start_params.items()}:
            raise UserError("the warm-start parameters do not fit this model (other keys or shapes); "
                            "use the same model and features section")
        params = {k: np.array(start_params[k], dtype=params[k].dtype, copy=True) for k in params}
    rngs = {"shuffle": np.random.default_rng([seed, 1]), "dropout": np.random.default_rng([seed, 2])}
    state = TrainState(overfit_batch=overfit_batch)
    atomic_write_text(run_dir / metrics_log.FILE, "")
    return _Session(run_dir, cfg, ds, params, adam_init(params), rngs, state, [], created=created)


def _resume(run_dir: Path, allow_data_change: bool) -> _Session:
    last = run_dir / "checkpoints" / "last.npz"
    if not last.is_file() and (why := not_a_single_run(run_dir)):
        raise UserError(why)
    if not last.is_file():
        raise UserError(f"cannot resume {run_dir}: {last} not found (the run never finished an epoch); start a new run")
    ck = load_checkpoint(last)
    check_matches_run(ck, last, run_dir)
    check_fits_in_memory(ck.config)
    ds = build_dataset(ck.config, normalizer=ck.normalizer, thresholds=ck.thresholds)
    if not allow_data_change and data_changed(ck.fingerprint, ds.fingerprint):
        raise UserError(f"{describe_data_change(ck.fingerprint, ds.fingerprint, ck.windows, window_counts(ds))}; "
                        "restore the file, or pass --allow-data-change to resume anyway")
    rngs = {k: rng_from_state(v) for k, v in ck.rng_states.items()}
    saved = {k: ck.train_state[k] for k in TrainState().saved() if k in ck.train_state}
    state = TrainState(epoch=ck.epoch, global_step=ck.global_step, **saved)
    rows = metrics_log.truncate(run_dir / metrics_log.FILE, upto_epoch=ck.epoch)
    return _Session(run_dir, ck.config, ds, ck.params, ck.opt_state, rngs, state, rows, resumed_after=ck.epoch)


def _train_one_epoch(s: _Session, epoch: int, batches: list, total_steps: int, fixed_batch, progress):
    """Train one epoch and validate; -> (metrics row, improved)."""
    cfg, state = s.cfg, s.state
    try:
        with progress(epoch, cfg.train.epochs, len(batches)) as on_batch:
            st, state.global_step = train_epoch(s.params, s.opt_state, s.ds, cfg, batches, s.rngs["dropout"],
                                                state.global_step, total_steps, on_batch)
        val_loss, val_parts, val_acc = split_loss(s.params, s.ds, "val" if fixed_batch is None else fixed_batch,
                                                  cfg.model, cfg.train.batch_size)
        if not np.isfinite(val_loss):
            raise NonFiniteError(f"validation loss is {val_loss} after epoch {epoch}; lower train.lr")
    except NonFiniteError as err:
        kept = (f"last good checkpoint: epoch {state.epoch}, in {s.run_dir}" if state.epoch else
                f"no checkpoint was written; {s.run_dir} removed" if s.created else
                f"no checkpoint was written in {s.run_dir}")
        raise NonFiniteError(f"{err} ({kept})") from err
    improved = _update_early_stopping(state, epoch, val_loss, cfg)
    row = {"epoch": epoch, "train_loss": st.loss, **{f"train_{k}": v for k, v in st.parts.items()},
           "train_accuracy": st.accuracy, "val_loss": val_loss,
           **{f"val_{k}": v for k, v in val_parts.items()}, "val_accuracy": val_acc,
           "lr": st.lr, "grad_norm": st.grad_norm, "time_s": st.seconds,
           "samples_per_s": st.samples / st.seconds if st.seconds else None,
           "step": state.global_step, "note": "best" if improved else None}
    return row, improved


def _write_checkpoints(s: _Session, improved: bool) -> None:
    ds, state = s.ds, s.state
    ck = Checkpoint(params=s.params, opt_state=s.opt_state, config=s.cfg, normalizer=ds.normalizer,
                    thresholds=ds.thresholds, feature_names=ds.feature_names, fingerprint=ds.fingerprint,
                    data_range=ds.data_range, windows=window_counts(ds), epoch=state.epoch, global_step=state.global_step,
                    rng_states={k: r.bit_generator.state for k, r in s.rngs.items()},
                    train_state={**state.saved(), "eval_columns": EVAL_COLUMNS,
                                 "blas_threads": blas.threads_in_force()})   # evaluate and predict run with it
    if improved:
        save_checkpoint(s.run_dir / "checkpoints" / "best.npz", ck)
    save_checkpoint(s.run_dir / "checkpoints" / "last.npz", ck)


def _result(s: _Session, epochs_run: int, *, stopped_early: bool, already_stopped: bool) -> TrainResult:
    st = s.state
    return TrainResult(run_dir=s.run_dir, best_epoch=st.best_epoch, best_val_loss=st.best_val_loss,
                       epochs_run=epochs_run, last_epoch=st.epoch, stopped_early=stopped_early,
                       already_stopped=already_stopped, overfit=st.overfit_batch, config=s.cfg,
                       rows=s.rows)


def overfit_config(cfg: Config) -> Config:
    """One batch, no dropout, no weight penalty, a constant learning rate of at least
    OVERFIT_MIN_LR for at least OVERFIT_MIN_EPOCHS epochs: the loss must go to ~0."""
    cfg = cfg.model_copy(deep=True)
    cfg.train.epochs = max(cfg.train.epochs, OVERFIT_MIN_EPOCHS)
    cfg.train.lr = max(cfg.train.lr, OVERFIT_MIN_LR)
    cfg.train.warmup_steps = 0
    cfg.model.dropout = 0.0
    cfg.model.head_dropout = 0.0
    cfg.model.l2 = 0.0
    cfg.train.schedule = "constant"
    cfg.train.weight_decay = 0.0
    return cfg


def _update_early_stopping(state: TrainState, epoch: int, val_loss: float, cfg: Config) -> bool:
    best = state.best_val_loss
    if np.isfinite(val_loss) and (best is None or val_loss < best - cfg.train.min_delta):
        state.best_val_loss, state.best_epoch, state.bad_epochs = val_loss, epoch, 0
        return True
    state.bad_epochs += 1
    return False
