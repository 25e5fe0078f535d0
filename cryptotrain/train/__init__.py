"""Training: `fit` (trainer.py) runs the epoch loop (loop.py), writes checkpoints (checkpoint.py),
run directories (rundir.py) and the metrics log (metrics_log.py); the command is commands/train.py."""

from cryptotrain.train.trainer import TrainCallbacks, TrainPlan, TrainResult, fit  # noqa: F401
