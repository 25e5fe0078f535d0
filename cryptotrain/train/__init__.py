"""Training: the epoch loop, checkpoints, run directories and the metrics log."""
