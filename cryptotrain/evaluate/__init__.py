"""Evaluation of a trained run: prediction metrics, naive baselines on the same windows,
block-bootstrap confidence intervals, leakage warnings and attention analysis."""
