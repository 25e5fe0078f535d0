"""`cryptotrain train`: build data and model from the config, run epochs, checkpoint, resume.

Order at the end of every epoch (so a kill at any moment is safe): validation, metrics line,
`best.npz` when improved, `last.npz`, figure (redrawn at most every PLOT_EVERY_S and at the end).
A resume truncates `metrics.jsonl` to the epochs that `last.npz` holds and re-runs the rest;
since an epoch is a pure function of the checkpoint (parameters, optimizer moments, generator
states), the final parameters are bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from cryptotrain.config import Config, config_to_yaml
from cryptotrain.data.dataset import build_dataset
from cryptotrain.errors import UserError
from cryptotrain.evaluate.predict import split_loss
from cryptotrain.fileio import atomic_write_text
from cryptotrain.models import init_params
from cryptotrain.optim import adam_init
from cryptotrain.report.training import plot_training, print_epoch
from cryptotrain.train.checkpoint import Checkpoint, load_checkpoint, rng_from_state, save_checkpoint
from cryptotrain.train.loop import NonFiniteError, batches_per_epoch, epoch_batches, train_epoch
from cryptotrain.train.progress import epoch_progress
from cryptotrain.train.rundir import create_run_dir, set_latest

OVERFIT_STEPS_PER_EPOCH = 25
OVERFIT_MIN_EPOCHS = 12      # >= 300 steps on the one batch
OVERFIT_MIN_LR = 3e-3        # constant; a tiny model at 1e-3 needs far more steps to reach ~0
PLOT_EVERY_S = 30.0          # redraw plots/training.png at most this often (and at the end)


def train_command(cfg: Config | None, *, run_name: str | None = None, resume: Path | None = None,
                  overfit_batch: bool = False, allow_data_change: bool = False,
                  console: Console | None = None) -> Path:
    """Train (or resume) a run; returns its directory."""
    console = console or Console()
    if resume is not None:
        run_dir, ck = _open_resume(Path(resume))
        cfg = ck.config
        ds = build_dataset(cfg, normalizer=ck.normalizer, thresholds=ck.thresholds)
        _check_fingerprint(ck.fingerprint, ds.fingerprint, allow_data_change)
        params, opt_state = ck.params, ck.opt_state
        rngs = {k: rng_from_state(v) for k, v in ck.rng_states.items()}
        state = dict(ck.train_state, epoch=ck.epoch, global_step=ck.global_step)
        rows = _read_metrics(run_dir / "metrics.jsonl", upto_epoch=ck.epoch)
        console.print(f"resuming {run_dir} after epoch {ck.epoch}")
    else:
        if cfg is None:
            raise UserError("train needs --config CONFIG (or --resume RUN_DIR)")
        if overfit_batch:
            cfg = _overfit_config(cfg)
        ds = build_dataset(cfg)
        run_dir = create_run_dir(cfg, run_name or ("overfit" if overfit_batch else None))
        atomic_write_text(run_dir / "config.yaml", config_to_yaml(cfg))
        seed = cfg.train.seed
        params = init_params(cfg.model, len(ds.feature_names), cfg.data.window, np.random.default_rng(seed))
        opt_state = adam_init(params)
        rngs = {"shuffle": np.random.default_rng([seed, 1]), "dropout": np.random.default_rng([seed, 2])}
        state = {"epoch": 0, "global_step": 0, "best_val_loss": None, "best_epoch": None, "bad_epochs": 0,
                 "overfit_batch": overfit_batch}
        rows = []
        atomic_write_text(run_dir / "metrics.jsonl", "")
        if not overfit_batch:  # a sanity run is not a model to evaluate
            set_latest(run_dir)

    overfit = bool(state.get("overfit_batch"))
    train_idx = ds.splits["train"]
    fixed_batch = train_idx[: cfg.train.batch_size] if overfit else None
    n_batches = OVERFIT_STEPS_PER_EPOCH if overfit else batches_per_epoch(len(train_idx), cfg)
    total_steps = n_batches * cfg.train.epochs
    _print_intro(console, cfg, ds, run_dir, n_batches, overfit)

    if state["epoch"] and not overfit and state["bad_epochs"] >= cfg.train.patience:
        console.print(f"{run_dir} already stopped early after epoch {state['epoch']} "
                      f"(patience {cfg.train.patience}); nothing to resume")
        return run_dir
    first_epoch = state["epoch"] + 1
    last_plot = time.monotonic()
    for epoch in range(first_epoch, cfg.train.epochs + 1):
        if overfit:
            batches = [fixed_batch] * n_batches
        else:
            batches = epoch_batches(train_idx, cfg.train.batch_size, rngs["shuffle"], cfg.train.max_batches_per_epoch)
        try:
            with epoch_progress(console, epoch, cfg.train.epochs, len(batches)) as on_batch:
                st, state["global_step"] = train_epoch(params, opt_state, ds, cfg, batches, rngs["dropout"],
                                                       state["global_step"], total_steps, on_batch)
            val_loss, val_parts, val_acc = split_loss(params, ds, fixed_batch if overfit else "val",
                                                      cfg.model, cfg.train.batch_size)
            if not np.isfinite(val_loss):
                raise NonFiniteError(f"validation loss is {val_loss} after epoch {epoch}; lower train.lr")
        except NonFiniteError as err:
            kept = f"last good checkpoint: epoch {state['epoch']}" if state["epoch"] else "no checkpoint was written"
            raise NonFiniteError(f"{err} ({kept}, in {run_dir})") from err
        improved = _update_early_stopping(state, epoch, val_loss, cfg)
        row = {"epoch": epoch, "train_loss": st.loss, **{f"train_{k}": v for k, v in st.parts.items()},
               "train_accuracy": st.accuracy, "val_loss": val_loss,
               **{f"val_{k}": v for k, v in val_parts.items()}, "val_accuracy": val_acc,
               "lr": st.lr, "grad_norm": st.grad_norm, "time_s": st.seconds,
               "samples_per_s": st.samples / st.seconds if st.seconds else None,
               "step": state["global_step"], "note": "best" if improved else None}
        rows.append(row)
        _append_metrics(run_dir / "metrics.jsonl", row)
        print_epoch(console, row, first=epoch == first_epoch)
        state["epoch"] = epoch
        ck = Checkpoint(params=params, opt_state=opt_state, config=cfg, normalizer_kind=ds.normalizer.kind,
                        norm_center=ds.normalizer.center, norm_scale=ds.normalizer.scale,
                        thresholds=ds.thresholds, feature_names=ds.feature_names, fingerprint=ds.fingerprint,
                        data_range=ds.data_range, epoch=epoch, global_step=state["global_step"],
                        rng_states={k: r.bit_generator.state for k, r in rngs.items()},
                        train_state={k: state[k] for k in ("best_val_loss", "best_epoch", "bad_epochs", "overfit_batch")})
        if improved:
            save_checkpoint(run_dir / "checkpoints" / "best.npz", ck)
        save_checkpoint(run_dir / "checkpoints" / "last.npz", ck)
        if time.monotonic() - last_plot >= PLOT_EVERY_S:
            plot_training(rows, run_dir / "plots" / "training.png")
            last_plot = time.monotonic()
        if not overfit and state["bad_epochs"] >= cfg.train.patience:
            console.print(f"early stopping: no validation improvement above {cfg.train.min_delta} "
                          f"for {cfg.train.patience} epochs")
            break

    plot_training(rows, run_dir / "plots" / "training.png")

    _print_summary(console, state, rows, run_dir, overfit)
    return run_dir


def _overfit_config(cfg: Config) -> Config:
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


def _update_early_stopping(state: dict, epoch: int, val_loss: float, cfg: Config) -> bool:
    best = state["best_val_loss"]
    if np.isfinite(val_loss) and (best is None or val_loss < best - cfg.train.min_delta):
        state.update(best_val_loss=val_loss, best_epoch=epoch, bad_epochs=0)
        return True
    state["bad_epochs"] += 1
    return False


def _open_resume(run_dir: Path) -> tuple[Path, Checkpoint]:
    last = run_dir / "checkpoints" / "last.npz"
    if not last.is_file():
        raise UserError(f"cannot resume {run_dir}: {last} not found (the run never finished an epoch); start a new run")
    return run_dir, load_checkpoint(last)


def _check_fingerprint(stored: dict, current: dict, allow: bool) -> None:
    keys = ("rows", "first_ts", "last_ts", "sha256")
    if any(stored.get(k) != current.get(k) for k in keys) and not allow:
        raise UserError(f"the data file {current.get('path')} differs from the one this run was trained on "
                        f"(rows {stored.get('rows')} -> {current.get('rows')}); restore it, "
                        "or pass --allow-data-change to resume anyway")


def _append_metrics(path: Path, row: dict) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()


def _read_metrics(path: Path, upto_epoch: int) -> list[dict]:
    """Epoch rows up to the checkpoint; rewrites the file without rows of a killed, unfinished epoch."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a crash: its epoch was never checkpointed
            if row["epoch"] <= upto_epoch:
                rows.append(row)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _print_intro(console, cfg, ds, run_dir, n_batches, overfit) -> None:
    n = {k: len(v) for k, v in ds.splits.items()}
    console.print(f"[bold]{cfg.model.type}[/] on {cfg.data.symbol} {ds.timeframe} from {cfg.data.path}: "
                  f"{len(ds.feature_names)} features, window {cfg.data.window}, "
                  f"windows train/val/test {n['train']}/{n['val']}/{n['test']}")
    mode = (f"overfit-batch sanity mode: one batch of {cfg.train.batch_size} windows, {n_batches} steps per epoch, "
            f"constant lr {cfg.train.lr:g}, no dropout; the val columns score that same batch in eval mode"
            if overfit else f"{n_batches} batches of {cfg.train.batch_size} per epoch")
    console.print(f"{mode}, up to {cfg.train.epochs} epochs; run directory {run_dir}")


def _print_summary(console, state, rows, run_dir, overfit) -> None:
    if overfit and rows:
        first, last = rows[0]["train_loss"], rows[-1]["train_loss"]
        console.print(f"overfit-batch: training loss {first:.4f} -> {last:.4f} "
                      f"({'OK, it goes to ~0' if last < 0.1 * first else 'did NOT go to ~0: check the model'})")
    if state["best_epoch"] is not None:
        console.print(f"best epoch {state['best_epoch']}: validation loss {state['best_val_loss']:.5f}")
    console.print(f"run written to [bold]{run_dir}[/] (checkpoints/best.npz, metrics.jsonl, plots/training.png)")
