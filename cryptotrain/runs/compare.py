"""`runs show` and `runs compare` as data: a run's config against the defaults, its headline
metrics, and several runs' config differences and headlines side by side with the better one named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptotrain.errors import UserError
from cryptotrain.runs.index import config_diff, diff_from_defaults, latest_name, read_entry
from cryptotrain.runs.reader import dig

# (key, label, which value is better: "higher", "lower" or None, where it is in a run record)
HEADLINES: list[tuple[str, str, str | None, tuple[str, ...]]] = [
    ("params", "parameters", None, ("model", "params")),
    ("epochs_done", "epochs done", None, ("epochs", "done")),
    ("best_val_loss", "best val loss", "lower", ("best_val_loss",)),
    ("test_accuracy", "test accuracy", "higher", ("evaluation", "accuracy")),
    ("test_balanced_accuracy", "test balanced accuracy", "higher", ("evaluation", "balanced_accuracy")),
    ("test_log_loss", "test log loss", "lower", ("evaluation", "log_loss")),
    ("edge", "edge (evaluate's claim)", None, ("evaluation", "edge")),
    ("return_pct", "backtest Return [%]", "higher", ("backtest", "model", "return_pct")),
    ("sharpe", "backtest Sharpe Ratio", "higher", ("backtest", "model", "sharpe")),
    ("max_drawdown_pct", "backtest Max. Drawdown [%]", "higher", ("backtest", "model", "max_drawdown_pct")),
    ("buy_hold_return_pct", "Buy & Hold Return [%]", None, ("backtest", "buy_and_hold", "return_pct")),
    ("buy_hold_sharpe", "Buy & Hold Sharpe Ratio", None, ("backtest", "buy_and_hold", "sharpe")),
    # universe runs: the pairs, the allocation policy, the portfolio's turnover and benchmarks
    ("n_pairs", "pairs", None, ("n_pairs",)),
    ("test_rank_ic", "test Rank IC (cross-section)", "higher", ("evaluation", "cross", "rank_ic")),
    ("test_ic", "test IC (cross-section)", "higher", ("evaluation", "cross", "ic")),
    ("test_rank_icir", "test Rank ICIR", "higher", ("evaluation", "cross", "rank_icir")),
    ("policy", "backtest policy", None, ("policy",)),
    ("turnover_per_year", "portfolio Turnover per Year", None, ("backtest", "turnover_per_year")),
    ("equal_weight_return_pct", "Equal weight Return [%]", None, ("backtest", "equal_weight", "return_pct")),
    ("momentum_return_pct", "Momentum Return [%]", None, ("backtest", "momentum", "return_pct")),
]
UNIVERSE_HEADLINES = {"n_pairs", "test_rank_ic", "test_ic", "test_rank_icir", "policy", "turnover_per_year", "equal_weight_return_pct", "momentum_return_pct"}


# kind -> (its name in a message, where its runs are, the first one)
GROUPS = {"walkforward": ("walk-forward", "folds", "1"), "sweep": ("sweep", "trials", "0")}


def headline(record: dict, key: str) -> Any:
    for k, _, _, where in HEADLINES:
        if k == key:
            return dig(record, *where)
    raise KeyError(key)


def show_run(path: Path) -> dict:
    """One run's record plus its config differences from the defaults."""
    path = Path(path)
    rec = read_entry(path)
    rec["latest"] = latest_name(path.parent) == path.name
    rec["config_vs_defaults"] = diff_from_defaults(rec.get("config")) if rec["kind"] == "run" else {}
    return rec


def better_index(values: list[Any], direction: str | None) -> list[int]:
    """Indices holding the best value (all ties), none when fewer than two runs have a number."""
    nums = [(i, v) for i, v in enumerate(values) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if direction is None or len(nums) < 2:
        return []
    best = (max if direction == "higher" else min)(v for _, v in nums)
    if all(v == best for _, v in nums):
        return []   # nobody is better when all are equal
    return [i for i, v in nums if v == best]


def compare_runs(paths: list[Path]) -> dict:
    """{"runs": [names], "config_diff": {key: [values]}, "metrics": {key: {label, values, better}}}."""
    if len(paths) < 2:
        raise UserError("runs compare needs at least two runs, e.g. cryptotrain runs compare RUN_A RUN_B")
    records = [read_entry(Path(p)) for p in paths]
    groups = [(r, GROUPS[r["kind"]]) for r in records if r["kind"] in GROUPS]
    if groups:   # their members are runs with their own configs: nothing of theirs lines up with a run's
        which = " and ".join(f"{r['path']} is a {what} directory" for r, (what, _, _) in groups)
        r, (_, members, first) = groups[0]
        raise UserError(f"runs compare compares training runs; {which}: compare the runs inside (e.g. "
                        f"{Path(r['path']) / members / first}) or see each with `cryptotrain runs show`")
    names = [r["name"] for r in records]
    metrics = {}
    for key, label, direction, _ in HEADLINES:
        values = [headline(r, key) for r in records]
        if key in UNIVERSE_HEADLINES and all(v is None for v in values):
            continue   # single-pair runs only: no rows of dashes
        best = better_index(values, direction)
        metrics[key] = {"label": label, "better": direction, "values": values,
                        "best": [names[i] for i in best], "best_index": best}
    return {"runs": names, "paths": [r["path"] for r in records], "states": [r["state"] for r in records],
            "config_diff": config_diff([r.get("config") for r in records]), "metrics": metrics,
            "problems": {r["name"]: r["problems"] for r in records if r["problems"]}}
