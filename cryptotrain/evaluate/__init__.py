"""Evaluation of a trained run: `score` (scorer.py) computes prediction metrics, naive and fitted
baselines on the same windows, block-bootstrap confidence intervals, leakage warnings, attention
analysis and (on request) permutation importance."""

from cryptotrain.evaluate.scorer import EvalResult, score  # noqa: F401
