"""Display names of metric keys, shared by the verdict sentences (evaluate/summary.py) and the
evaluation tables (eval_tables.py); it lives in report so that report never imports evaluate."""

METRIC_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                 "direction_accuracy": "direction accuracy",
                 "ic_pearson": "IC (Pearson)", "ic_spearman": "IC (Spearman)",
                 "log_loss": "log loss", "rmse": "return RMSE",
                 "rank_ic": "mean Rank IC"}   # across the pairs at each timestamp (evaluate/cross_section.py)
# Return errors are shown in one unit everywhere, basis points of r_t (1 bp = 1e-4): an RMSE is
# ~100 bp and its differences ~1 bp, which r_t with a few decimals would print as 0.000.
BP_METRICS = frozenset({"rmse", "mae"})


def labeled(metric: str) -> str:
    """The display name with its unit where it has one: `return RMSE [bp]`."""
    return METRIC_LABELS.get(metric, metric) + (" [bp]" if metric in BP_METRICS else "")


def in_display_units(metric: str, value: float) -> float:
    """`value` of `metric` in the unit its label names (bp for BP_METRICS, else as it is)."""
    return value * 1e4 if metric in BP_METRICS else value
# Metrics where lower is better: a verdict's "beats" means model - baseline below 0.
LOWER_IS_BETTER = frozenset({"log_loss", "rmse"})


def advantage(metric: str, lo: float, hi: float) -> tuple[float, float]:
    """The interval of model - baseline turned into the model's advantage (positive = better),
    lower end first: negated for LOWER_IS_BETTER metrics. Beats beyond the interval: first > 0;
    worse beyond it: second < 0."""
    return (-hi, -lo) if metric in LOWER_IS_BETTER else (lo, hi)
