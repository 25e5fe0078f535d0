"""Evaluation of a trained run: `score` (scorer.py) computes prediction metrics, naive baselines on
the same windows, block-bootstrap confidence intervals, leakage warnings and attention analysis."""

from cryptotrain.evaluate.scorer import EvalResult, score  # noqa: F401
