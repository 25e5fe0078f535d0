"""Display names of metric keys, shared by the verdict sentences (evaluate/summary.py) and the
evaluation tables (eval_tables.py); it lives in report so that report never imports evaluate."""

METRIC_LABELS = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy",
                 "direction_accuracy": "direction accuracy",
                 "ic_pearson": "IC (Pearson)", "ic_spearman": "IC (Spearman)"}
