"""Training: `fit` (trainer.py) runs the epoch loop (loop.py), writes checkpoints (checkpoint.py),
run directories (rundir.py) and the metrics log (metrics_log.py); the command is commands/train.py."""

from typing import Any

_TRAINER = ("TrainCallbacks", "TrainPlan", "TrainResult", "fit")


def __getattr__(name: str) -> Any:
    """`from cryptotrain.train import fit` loads the trainer (and the models) on first use: reading a
    run directory (train.rundir, train.metrics_log: `cryptotrain report`, `runs`) does not need them."""
    if name in _TRAINER:
        from cryptotrain.train import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
