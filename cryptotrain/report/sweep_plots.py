"""Figures of a sweep, drawn from plain data: optimization history with the running best,
hyperparameter importances, the objective against each drawn parameter, and the distribution of
the PBO logits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cryptotrain.report.figures import pyplot, save_figure


def plot_history(path: Path, values: list[tuple[int, float]], objective: str, *, minimize: bool) -> Path:
    """values: (trial number, objective) of the complete trials."""
    plt = pyplot()
    numbers = np.array([n for n, _ in values])
    v = np.array([x for _, x in values], dtype=float)
    running = np.minimum.accumulate(v) if minimize else np.maximum.accumulate(v)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.scatter(numbers, v, s=18, label=f"{objective} per complete trial")
    ax.step(numbers, running, where="post", color="tab:red", label="running best")
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.set_title("Optimization history")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


# Below this many complete trials, importances are mostly the sampler's noise: the figure says so.
MIN_IMPORTANCE_TRIALS = 20


def importance_warning(n_trials: int) -> str | None:
    if n_trials >= MIN_IMPORTANCE_TRIALS:
        return None
    return (f"warning: only {n_trials} complete trials (< {MIN_IMPORTANCE_TRIALS}): "
            "these importances are mostly noise")


def plot_importances(path: Path, importances: dict[str, float], method: str, n_trials: int) -> Path:
    """`n_trials`: the complete trials the importances come from (a warning in the title under 20)."""
    plt = pyplot()
    names = list(importances)[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.5))
    ax.barh(names, [importances[n] for n in names])
    ax.set_xlabel("importance (normalized to sum 1)")
    warn = importance_warning(n_trials)
    ax.set_title(f"Hyperparameter importances\n{method}, {n_trials} trials" + (f"\n{warn}" if warn else ""),
                 fontsize=10, color="darkred" if warn else "black")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_objective_vs_params(path: Path, points: list[tuple[dict[str, Any], float]], keys: list[str],
                             objective: str, log_keys: tuple[str, ...] = ()) -> Path:
    """points: (drawn values, objective) of the complete trials; one panel per key (log x for log_keys)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.2), squeeze=False)
    y = [p[1] for p in points]
    for ax, key in zip(axes[0], keys):
        x = [p[0].get(key) for p in points]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x):
            ax.scatter(x, y, s=18)
            if key in log_keys:
                ax.set_xscale("log")
        else:   # categorical: one column per choice
            labels = sorted({str(v) for v in x})
            ax.scatter([labels.index(str(v)) for v in x], y, s=18)
            ax.set_xticks(range(len(labels)), labels, rotation=30)
        ax.set_xlabel(key)
        ax.set_ylabel(objective)
    fig.suptitle("Objective against each parameter")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_pbo_logits(path: Path, logits: np.ndarray, pbo: float, n_strategies: int) -> Path:
    """Histogram of the CSCV logits lambda = log(omega / (1 - omega)) of the in-sample winner's
    out-of-sample relative rank omega (backtest/pbo.py); PBO = the share at or below 0."""
    plt = pyplot()
    lam = np.asarray(logits, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    values, counts = np.unique(np.round(lam, 9), return_counts=True)
    if len(values) <= 60:   # N trials give at most N + 1 ranks (ties halve): one bar per logit value
        gap = float(np.min(np.diff(values))) if len(values) > 1 else 1.0
        ax.bar(values, counts, width=0.8 * gap, color="tab:blue", alpha=0.8)
    else:
        ax.hist(lam, bins=60, color="tab:blue", alpha=0.8)
    ax.axvline(0.0, color="tab:red", linestyle="--", label="out-of-sample median (PBO = share at or left of it)")
    ax.set_xlabel("logit of the in-sample winner's out-of-sample rank")
    ax.set_ylabel("splits")
    ax.set_title(f"Probability of backtest overfitting {pbo:.2f} ({len(lam):,} splits, {n_strategies} trials)")
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
