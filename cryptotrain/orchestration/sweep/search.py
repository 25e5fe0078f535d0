"""`run_sweep`: search configurations with Optuna on the validation split, trials run by the executor.

The study (TPE seeded from train.seed, multivariate; a median or successive-halving pruner fed
each epoch's validation loss) lives in SWEEP_DIR/study.journal (Optuna's journal file storage)
or at `storage` (an RDB URL). Trial k trains in SWEEP_DIR/trials/k, a normal run directory.
Asks happen when a worker is free (a generator handed to the executor); tells happen in
`on_event`. Rerunning continues: finished trials stay as they are, trials left running by a
killed driver are run again under their number and resume from their checkpoints
(sweep/trial.py), and new trials are asked until the study holds `trials` in all. The results
(trials.csv, sweep.json, best.yaml, figures) and the one look at the test split are in
sweep/results.py.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import optuna

from cryptotrain.config import Config, config_from_yaml_text, config_to_dict, config_to_yaml
from cryptotrain.dirlock import dir_lock
from cryptotrain.errors import RunFailure, UserError
from cryptotrain.fileio import atomic_write_text
from cryptotrain.orchestration.executor.executor import Executor, check_counts
from cryptotrain.orchestration.executor.jobs import FAIL, FINISH, PROGRESS, START, Event, Job, one_line
from cryptotrain.orchestration.sweep.space import check_keys, draw, draw_config
from cryptotrain.orchestration.sweep.storage import JOURNAL, check_journal, check_storage_url, study_name
from cryptotrain.orchestration.sweep.trial import train_trial

OBJECTIVES = {"val_loss": "minimize", "val_sharpe": "maximize", "val_ic": "maximize",
              "val_portfolio_sharpe": "maximize"}
UNIVERSE_OBJECTIVES = ("val_ic", "val_portfolio_sharpe")   # a universe config's (sweep/trial.py)
PRUNERS = ("median", "halving", "none")
TS = optuna.trial.TrialState


@dataclass
class SweepSettings:
    trials: int = 20
    workers: int = 1
    address: str | None = None
    objective: str = "val_loss"
    storage: str | None = None           # an RDB URL; default: the journal file in the sweep dir
    pruner: str = "median"
    warmup: int = 2                      # epochs before a trial may be pruned
    blas_threads: int | None = None

    def check(self) -> None:
        if self.objective not in OBJECTIVES:
            raise UserError(f"--objective {self.objective!r}: choose one of {', '.join(OBJECTIVES)}")
        if self.pruner not in PRUNERS:
            raise UserError(f"--pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        if not isinstance(self.trials, int) or self.trials < 1:
            raise UserError(f"--trials must be a whole number >= 1, got {self.trials!r}")
        if self.warmup < 0:
            raise UserError(f"--warmup must be >= 0 epochs, got {self.warmup}")
        check_counts(self.workers, self.blas_threads)
        if self.storage is not None:
            check_storage_url(self.storage)


@dataclass
class TrialRow:
    """What the live table and trials.csv show of one trial."""
    number: int
    state: str                           # running | pruned | complete | failed
    values: dict[str, Any]
    epoch: int | None = None
    best_val_loss: float | None = None
    val_sharpe: float | None = None      # a universe trial's: its portfolio's (val_portfolio_sharpe)
    val_ic: float | None = None          # a universe trial's mean validation Rank IC
    seconds: float | None = None
    error: str | None = None
    directory: str = ""


def check_universe(cfg: Config, objective: str) -> None:
    """val_ic and val_portfolio_sharpe rank and trade many pairs; val_sharpe trades one."""
    universe = cfg.data.universe is not None
    if objective in UNIVERSE_OBJECTIVES and not universe:
        raise UserError(f"--objective {objective} needs a universe config (data.universe: [BTC/USDT, ...]); "
                        "for one pair use val_loss or val_sharpe")
    if objective == "val_sharpe" and universe:
        raise UserError("--objective val_sharpe backtests one pair; for a universe config use val_portfolio_sharpe "
                        "(its policy's portfolio), val_ic or val_loss")


def rdb_storage(url: str) -> optuna.storages.RDBStorage:
    """The study's database, connected (and its tables made) before the sweep makes its directory."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)   # a library prints nothing
    try:
        return optuna.storages.RDBStorage(url)
    except Exception as exc:  # a server that does not answer, a driver that fails: one line of its message
        raise UserError(f"--storage {url}: {one_line(exc).split(' (Background on this error')[0]}") from None


def open_study(sweep_dir: Path, cfg: Config, s: SweepSettings, storage: Any = None) -> optuna.Study:
    """The sweep's study in `storage` (an RDBStorage), else in its checked journal file."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage is None and s.storage:
        storage = rdb_storage(s.storage)
    if storage is None:
        from optuna.storages.journal import JournalFileBackend, JournalStorage
        lost = check_journal(sweep_dir / JOURNAL)
        if lost:
            warnings.warn(lost)
        storage = JournalStorage(JournalFileBackend(str(sweep_dir / JOURNAL)))
    pruner = {"median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=s.warmup),
              "halving": lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=max(s.warmup, 1)),
              "none": optuna.pruners.NopPruner}[s.pruner]()
    try:
        study = optuna.create_study(storage=storage, study_name=study_name(sweep_dir, s.storage), load_if_exists=True,
                                    pruner=pruner, direction=OBJECTIVES[s.objective])
    except Exception as exc:  # the database refused: Optuna's own message, on one line
        raise UserError(f"--storage {s.storage or sweep_dir / JOURNAL}: "
                        f"{one_line(exc).split(' (Background on this error')[0]}") from None
    if study.direction.name.lower() != OBJECTIVES[s.objective]:
        raise UserError(f"the sweep in {sweep_dir} was started with the other objective; rerun it with that "
                        "--objective or start a new sweep with --run-name")
    # the seed moves on with the history, so a continued sweep does not redraw its first trials
    n_before = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=cfg.train.seed + n_before, multivariate=True)
    return study


def run_sweep(cfg: Config, space: dict, sweep_dir: Path, s: SweepSettings, *, origin: str = "config",
              on_update: Callable[[list[TrialRow], int | None], None] | None = None,
              on_event: Callable[[Event], None] | None = None) -> tuple[optuna.Study, list[TrialRow]]:
    """Run (or continue) the sweep until the study holds s.trials trials; -> (study, rows by number).

    Everything is checked before the directory is made (a database URL is connected to first);
    then the sweep holds the directory's lock (dirlock.py) to the end: a second sweep there is refused."""
    s.check()
    check_universe(cfg, s.objective)
    check_keys(space, cfg, origin)
    storage = rdb_storage(s.storage) if s.storage else None
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(sweep_dir, "sweep"):
        return _run_sweep(cfg, space, sweep_dir, s, storage, origin, on_update, on_event)


def _run_sweep(cfg, space, sweep_dir, s, storage, origin, on_update, on_event):
    _pin_base(sweep_dir, cfg)
    study = open_study(sweep_dir, cfg, s, storage)
    rows: dict[int, TrialRow] = {t.number: _row(t, sweep_dir) for t in study.get_trials(deepcopy=False)}
    live: dict[str, optuna.Trial] = {}
    last_epoch: dict[str, int] = {}     # a trial judged on its last epoch has nothing left to save

    def show() -> None:
        if on_update is not None:
            on_update([rows[k] for k in sorted(rows)], _best_number(study))

    def job(trial: optuna.Trial, values: dict) -> Job | None:
        directory = sweep_dir / "trials" / str(trial.number)
        rows[trial.number] = TrialRow(trial.number, "running", values, directory=str(directory))
        try:
            trial_cfg = draw_config(cfg, values, origin)
        except UserError as err:   # a draw the config rejects: a failed trial with the config's message
            _fail(study, trial, str(err), rows)
            show()
            return None
        live[str(trial.number)] = trial
        last_epoch[str(trial.number)] = trial_cfg.train.epochs
        return Job(str(trial.number), directory, {"config": config_to_dict(trial_cfg)})

    def jobs():
        for frozen in study.get_trials(deepcopy=False, states=(TS.RUNNING,)):  # left by a killed driver
            trial = optuna.trial.Trial(study, frozen._trial_id)
            if set(frozen.params) != set(space):   # killed while drawing (or the space changed): not the base config
                _fail(study, trial, f"its values were not all drawn (it has {sorted(frozen.params) or 'none'}): "
                      "the sweep was stopped while drawing them, or the space changed; not trained", rows)
                continue
            j = job(trial, dict(frozen.params))
            if j is not None:
                yield j
        while len(study.get_trials(deepcopy=False)) < s.trials:
            trial = study.ask()
            j = job(trial, draw(trial, space))
            if j is not None:
                yield j

    def handle(e: Event) -> bool:
        if on_event is not None:
            on_event(e)
        trial, row = live.get(e.key), rows.get(int(e.key))
        stop = False
        if e.kind == START:
            row.state = "running"
        elif e.kind == PROGRESS:
            row.epoch = e.data["epoch"]
            loss = e.data["val_loss"]
            row.best_val_loss = loss if row.best_val_loss is None else min(row.best_val_loss, loss)
            with warnings.catch_warnings():   # a resumed trial reports its re-run epochs again
                warnings.simplefilter("ignore")
                trial.report(loss, row.epoch)
            stop = s.pruner != "none" and row.epoch < last_epoch[e.key] and trial.should_prune()
        elif e.kind == FINISH:
            _finish(study, trial, e.data["value"], row, s.objective, e.data["seconds"])
        elif e.kind == FAIL:
            _fail(study, trial, e.data["error"], rows, seconds=e.data["seconds"])
        show()
        return stop

    show()
    with Executor(s.workers, s.address, s.blas_threads) as executor:
        executor.map(jobs(), train_trial, on_event=handle)
    ordered = [rows[k] for k in sorted(rows)]
    if ordered and all(r.state == "failed" for r in ordered):
        raise RunFailure(f"all {len(ordered)} trials failed; the first: {ordered[0].error}")
    return study, ordered


def _finish(study, trial, value: dict, row: TrialRow, objective: str, seconds: float) -> None:
    for k, v in value.items():
        if k != "val_losses":
            trial.set_user_attr(k, v)
    trial.set_user_attr("seconds", seconds)
    row.epoch, row.best_val_loss, row.seconds = value["epochs"], value["best_val_loss"], seconds
    row.val_sharpe = value.get("val_sharpe", value.get("val_portfolio_sharpe"))
    row.val_ic = value.get("val_ic")
    if value["state"] == "pruned":
        row.state = "pruned"
        study.tell(trial, state=TS.PRUNED)
        return
    score = value["best_val_loss"] if objective == "val_loss" else value.get(objective)
    if score is None or score != score:
        row.state, row.error = "failed", f"{objective} is undefined " + (
            "(no validation timestamp with a defined Rank IC)" if objective == "val_ic" else
            "(the model never took a position)")
        trial.set_user_attr("error", row.error)
        study.tell(trial, state=TS.FAIL)
        return
    row.state = "complete"
    study.tell(trial, score)


def _fail(study, trial, error: str, rows: dict, seconds: float | None = None) -> None:
    row = rows[trial.number]
    row.state, row.error, row.seconds = "failed", error, seconds
    trial.set_user_attr("error", error)
    study.tell(trial, state=TS.FAIL)


def _row(t: optuna.trial.FrozenTrial, sweep_dir: Path) -> TrialRow:
    """A stored trial as a row (a continued sweep shows its history)."""
    state = {TS.COMPLETE: "complete", TS.PRUNED: "pruned", TS.FAIL: "failed"}.get(t.state, "running")
    a = t.user_attrs
    losses = list(t.intermediate_values.values())
    best = a.get("best_val_loss", min(losses) if losses else None)
    return TrialRow(t.number, state, dict(t.params), a.get("epochs", max(t.intermediate_values, default=None)),
                    best, a.get("val_sharpe", a.get("val_portfolio_sharpe")), a.get("val_ic"), a.get("seconds"),
                    a.get("error"),
                    str(sweep_dir / "trials" / str(t.number)))


def _best_number(study: optuna.Study) -> int | None:
    try:
        return study.best_trial.number
    except ValueError:   # no complete trial yet
        return None


def _pin_base(sweep_dir: Path, cfg: Config) -> None:
    """The base config is written once; a continued sweep must search around the same one."""
    base = sweep_dir / "base.yaml"
    text = config_to_yaml(cfg)
    if base.is_file():
        if config_to_yaml(config_from_yaml_text(base.read_text(), str(base))) != text:
            raise UserError(f"{sweep_dir} was started from another config (see {base}); rerun with that config "
                            "or start a new sweep with --run-name")
        return
    (sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
    atomic_write_text(base, text)
