"""The cross-sectional part of a universe run's evaluation, from plain data: the table of IC, Rank IC,
ICIR and quantile spread of the model and its baselines with intervals, the verdict, and the figure
(cumulative Rank IC; cumulative forward return of each score group).

Reads the report dict of evaluate/cross_summary.py (`cross_section_report`); the figure takes arrays.
Shapes: T' timestamps with a cross-section, q score groups.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.console import Console

from cryptotrain.report.figures import pyplot, save_figure
from cryptotrain.report.tables import print_fitted_table

# (row label, key, scale, format): returns in bp of r_t (1 bp = 1e-4), as every return error is shown
CROSS_ROWS = [
    ("mean IC", "ic", 1.0, "{:+.4f}"),
    ("IC std", "ic_std", 1.0, "{:.4f}"),
    ("ICIR", "icir", 1.0, "{:+.3f}"),
    ("IC > 0 [share]", "ic_positive", 1.0, "{:.3f}"),
    ("mean Rank IC", "rank_ic", 1.0, "{:+.4f}"),
    ("Rank IC std", "rank_ic_std", 1.0, "{:.4f}"),
    ("Rank ICIR", "rank_icir", 1.0, "{:+.3f}"),
    ("Rank IC > 0 [share]", "rank_ic_positive", 1.0, "{:.3f}"),
    ("top group return [bp]", "top_return", 1e4, "{:+.2f}"),
    ("bottom group return [bp]", "bottom_return", 1e4, "{:+.2f}"),
    ("spread top - bottom [bp]", "spread", 1e4, "{:+.2f}"),
]


def _cell(d: dict | None, scale: float, fmt: str, interval: bool) -> str:
    if d is None or not math.isfinite(d["value"]):
        return "-"
    s = fmt.format(d["value"] * scale)
    if interval and math.isfinite(d["lo"]) and math.isfinite(d["hi"]):
        s += f" [{fmt.format(d['lo'] * scale)}, {fmt.format(d['hi'] * scale)}]"
    return s


def print_cross_section(console: Console, rep: dict) -> None:
    """The table (model with its interval, each baseline's value) and the verdict sentence."""
    cols = {f"model [{rep['level']:.0%} CI]": [_cell(rep.get(k), sc, f, True) for _, k, sc, f in CROSS_ROWS]}
    for b, v in rep["baselines"].items():
        cols[rep["labels"].get(b, b)] = [_cell(v["metrics"].get(k), sc, f, False) for _, k, sc, f in CROSS_ROWS]
    title = (f"Across the pairs: {rep['n_timestamps']} timestamps with at least {rep['min_pairs']} of the "
             f"{rep['n_pairs']} pairs ({rep['pairs_per_timestamp']:.1f} on average), {rep['quantiles']} score groups; "
             f"{rep['level']:.0%} intervals by {rep['method']}, block length {rep['block_length']}, "
             f"{rep['n_resamples']} resamples; score: {rep.get('score', 'the model')}, returns: "
             + ("excess forward returns (each pair's minus the pairs' mean, labels.target excess)"
                if rep.get("target") == "excess" else "forward returns r_t"))
    print_fitted_table(console, title, "statistic", [r[0] for r in CROSS_ROWS], cols, styles={next(iter(cols)): "bold"})
    console.print(rep["edge"]["sentence"], style="bold", soft_wrap=True, markup=False)


def cumulative_groups(groups: np.ndarray, horizon: int) -> np.ndarray:
    """(T', q) each score group's cumulative sum of its mean forward return divided by h, in % (labels of
    h candles overlap, so each candle's move would otherwise count h times); a NaN adds nothing."""
    return 100.0 * np.cumsum(np.nan_to_num(groups), axis=0) / horizon


def plot_cross_section(timestamps: np.ndarray, rank_ic: np.ndarray, groups: np.ndarray, horizon: int,
                       path: Path, excess: bool = False) -> Path:
    """Two panels over the decision times (ms): the cumulative sum of RankIC_t, and for each score group
    the cumulative sum of its mean forward return (`excess`: the excess return of labels.target excess)
    divided by h (labels of h candles overlap, so each candle's move would otherwise count h times), in %."""
    plt = pyplot()
    t = np.asarray(timestamps, dtype=np.int64).astype("datetime64[ms]")
    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    a.plot(t, np.cumsum(np.nan_to_num(rank_ic)), color="tab:blue", lw=1.2)
    a.axhline(0.0, color="grey", lw=0.8)
    a.set_ylabel("cumulative Rank IC")
    a.set_title(f"Rank IC across the pairs: mean {np.nanmean(rank_ic):+.4f} over {len(t)} timestamps", fontsize=10)
    q, cum = groups.shape[1], cumulative_groups(groups, horizon)
    for k in range(q):
        name, color = ("bottom", "tab:red") if k == 0 else ("top", "tab:green") if k == q - 1 else \
            (f"group {k + 1}", str(0.35 + 0.3 * k / q))            # middle groups in shades of grey
        b.plot(t, cum[:, k], color=color, lw=1.1,
               label=f"{name} (score group {k + 1} of {q})")
    b.axhline(0.0, color="grey", lw=0.8)
    what = "excess return" if excess else "forward return"
    b.set_ylabel(f"cumulative mean {what} / h [%]")
    b.set_title(f"Score groups' mean {what} over the label horizon h = {horizon}, summed and divided by h",
                fontsize=10)
    b.legend(fontsize=8, loc="best")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return save_figure(fig, path)
