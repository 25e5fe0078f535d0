"""Walk-forward figures from plain data: the stitched equity with fold boundaries and each fold's
return, per-fold accuracy with intervals against the baselines, and the folds' timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cryptotrain.report.figures import pyplot, save_figure

PART_COLORS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}


def _dt(ms) -> np.ndarray:
    return np.asarray(ms, dtype=np.int64).astype("datetime64[ms]")


def _finish(fig, ax, path: Path, *, xlabel: str, ylabel: str, title: str, legend: str, dates: bool) -> Path:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(loc=legend, fontsize=8)
    ax.grid(alpha=0.3)
    if dates:
        fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)


def plot_wf_equity(path: Path, timestamps: np.ndarray, equity: np.ndarray, benchmarks: dict[str, np.ndarray],
                   folds: list[dict], model: str = "walk-forward model") -> Path:
    """Equity [$] of the stitched signals (`model`) and the benchmarks (label -> equity); a line at each
    fold's test start, its return [%] above. folds: [{"fold", "start_ts", "return_pct"}]."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    t = _dt(timestamps)
    for (label, curve), color in zip(benchmarks.items(), ("grey", "tab:orange", "tab:green")):
        ax.plot(t, curve, lw=1.0, color=color, label=label)
    ax.plot(t, equity, lw=1.2, color="tab:blue", label=model)
    top = float(np.nanmax(np.r_[equity, *benchmarks.values()]))
    for f in folds:
        x = _dt([f["start_ts"]])[0]
        ax.axvline(x, color="black", lw=0.6, ls=":")
        ax.text(x, top, f" {f['fold']}: {f['return_pct']:+.1f}%", fontsize=7, va="top", rotation=90)
    return _finish(fig, ax, path, xlabel="time (UTC)", ylabel="equity [$]", legend="lower left", dates=True,
                   title="Stitched out-of-sample equity; dotted lines: fold test starts (fold: return [%])")


def plot_fold_accuracy(path: Path, rows: list[dict]) -> Path:
    """Per fold: model accuracy with its interval, and the baselines' accuracy (model - diff)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4))
    k = np.array([r["fold"] for r in rows])
    acc = np.array([r["accuracy"] for r in rows], dtype=float)
    ci = [r.get("accuracy_ci") or {} for r in rows]
    lo = acc - np.array([c.get("lo", a) for c, a in zip(ci, acc)], dtype=float)
    hi = np.array([c.get("hi", a) for c, a in zip(ci, acc)], dtype=float) - acc
    ax.errorbar(k, acc, yerr=[lo, hi], fmt="o", color="tab:blue", capsize=3, label="model (95% interval)")
    for name, key, marker in (("majority", "minus_majority", "_"), ("persistence", "minus_persistence", "x")):
        base = [a - (r.get(key) or {}).get("value", np.nan) for a, r in zip(acc, rows)]
        ax.scatter(k, base, marker=marker, s=80, label=name)
    ics = [r.get("ic") for r in rows]
    if any(v is not None for v in ics):
        ax2 = ax.twinx()
        ax2.bar(k, [np.nan if v is None else v for v in ics], width=0.3, alpha=0.25, color="tab:green")
        ax2.set_ylabel("IC (Pearson, bars)")
    ax.set_xticks(k)
    return _finish(fig, ax, path, xlabel="fold", ylabel="accuracy", legend="best", dates=False,
                   title="Per-fold test accuracy against the baselines")


def plot_timeline(path: Path, folds: list[dict]) -> Path:
    """One row per fold: its train, val and test parts as bars in time."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 0.4 * len(folds) + 1.5))
    for f in folds:
        for part, color in PART_COLORS.items():
            a, b = _dt([f["first_ts"][part], f["last_ts"][part]])
            ax.barh(f["fold"], b - a, left=a, color=color, height=0.6,
                    label=part if f is folds[0] else None)
    ax.invert_yaxis()
    ax.set_yticks([f["fold"] for f in folds])
    return _finish(fig, ax, path, xlabel="time (UTC)", ylabel="fold", legend="lower right", dates=True,
                   title="Walk-forward folds: train, validation and test parts")
