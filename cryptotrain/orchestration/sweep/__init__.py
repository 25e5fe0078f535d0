"""Optuna sweeps on the executor: the search space (`space`), the study and its trials
(`search`), one trial's job (`trial`) and the outputs and the final test (`results`)."""
