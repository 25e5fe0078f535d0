"""Walk-forward and sweep directories read for `runs show`, without changing a byte of them.

Walk-forward: plan.json (the folds and their dates), metrics.json (each fold's test scores and the
stitched ones), folds/<k>/fold.json (which folds finished), backtest/stats.json (the stitched
backtest). Sweep: sweep.json (objective, counts, best trial, deflated Sharpe ratio) and trials.csv
(one row per trial). Each file is optional: a missing one leaves its part empty, a damaged one is
a line in "problems".
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from cryptotrain.runs.reader import backtest_summary, dig, number, read_json


def walkforward_details(path: Path, rec: dict) -> dict:
    """`rec` (read_group's record) with "walkforward": plan, per-fold scores, stitched scores, backtest."""
    plan = read_json(path / "plan.json", []) or {}   # (read_group reported a damaged plan.json)
    metrics = read_json(path / "metrics.json", rec["problems"]) or {}
    scores = {f.get("fold"): f for f in _dicts(metrics.get("folds"))}
    folds = []
    for f in _dicts(plan.get("folds")):
        s = scores.get(f.get("fold"), {})
        test, windows = dig(f, "dates", "test"), f.get("windows")
        folds.append({"fold": f.get("fold"), "test": [str(t) for t in test] if isinstance(test, list) else None,
                      "windows": windows if isinstance(windows, dict) else {},
                      "done": (path / "folds" / str(f.get("fold")) / "fold.json").is_file(),
                      "accuracy": number(s.get("accuracy")), "balanced_accuracy": number(s.get("balanced_accuracy")),
                      "minus_majority": number(dig(s, "minus_majority", "value")),
                      "best_epoch": number(s.get("best_epoch"))})
    stats = read_json(path / "backtest" / "stats.json", rec["problems"])
    rec["walkforward"] = {
        "mode": plan.get("mode"), "embargo": number(plan.get("embargo")), "folds": folds,
        "stitched": {"n_windows": number(metrics.get("n_windows")),
                     "accuracy": number(dig(metrics, "model", "classification", "accuracy")),
                     "balanced_accuracy": number(dig(metrics, "model", "classification", "balanced_accuracy"))}
        if metrics else None,
        "backtest": backtest_summary(stats) if stats else None}
    return rec


def sweep_details(path: Path, rec: dict) -> dict:
    """`rec` (read_group's record) with "sweep": objective, counts, best trial, DSR, one row per trial."""
    doc = read_json(path / "sweep.json", []) or {}   # (read_group reported a damaged sweep.json)
    counts, best = doc.get("counts"), doc.get("best")
    rec["sweep"] = {"objective": doc.get("objective"), "counts": counts if isinstance(counts, dict) else {},
                    "best": best if isinstance(best, dict) else None, "dsr": number(dig(doc, "final", "dsr")),
                    "test_psr0": number(dig(doc, "final", "test_psr0")), "trials": _trials(path / "trials.csv", rec)}
    return rec


def _dicts(v: Any) -> list[dict]:
    """The mappings of a JSON list (an edited or damaged file may hold anything else)."""
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _value(text: str | None) -> Any:
    """A CSV cell as JSON would hold it: int, finite float, text, or None when empty or NaN."""
    if text is None or text == "":
        return None
    for kind in (int, float):
        try:
            return number(kind(text)) if kind is float else kind(text)
        except ValueError:
            pass
    return text


def _trials(path: Path, rec: dict) -> list[dict[str, Any]]:
    try:
        with open(path, newline="") as fh:
            return [{k: _value(v) for k, v in row.items()} for row in csv.DictReader(fh)]
    except FileNotFoundError:
        return []
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        rec["problems"].append(f"{path.name} cannot be read ({err.__class__.__name__}); re-run the sweep to rewrite it")
        return []
