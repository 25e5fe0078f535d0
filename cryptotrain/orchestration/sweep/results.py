"""What a finished sweep leaves: trials.csv, sweep.json, best.yaml, figures, and the one look at
the test split (`final_test`: the best trial evaluated and backtested on test, the deflated
Sharpe ratio of its validation Sharpe among the N complete trials, PSR(0) of its test backtest).
A val_sharpe sweep also gets the probability of backtest overfitting of its selection (`sweep_pbo`:
CSCV over the complete trials' validation returns on the candles they all traded) and
plots/pbo_logits.png; a val_loss sweep gets a note instead.

The test split is read here only, after every trial has finished.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from cryptotrain.backtest import run as run_backtest
from cryptotrain.backtest.stats import periods_per_year
from cryptotrain.backtest.pbo import pbo, sentence
from cryptotrain.backtest.universe_backtest import is_universe_run, run as run_universe_backtest
from cryptotrain.errors import UserError
from cryptotrain.evaluate import score
from cryptotrain.fileio import atomic_write_text, to_jsonable
from cryptotrain.orchestration.sweep.search import SweepSettings, TrialRow
from cryptotrain.orchestration.sweep.trial import RETURNS
from cryptotrain.backtest.deflated_sharpe import backtest_candle_stats, deflated_sharpe, psr, verdict
from cryptotrain.report.sweep_plots import plot_history, plot_importances, plot_objective_vs_params, plot_pbo_logits


def write_trials_csv(path: Path, rows: list[TrialRow], keys: list[str]) -> None:
    """One row per trial: number, state, every drawn value, results, run directory."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["number", "state", *keys, "best_val_loss", "val_sharpe", "val_ic", "epochs", "seconds", "error",
                "run_dir"])
    for r in rows:
        w.writerow([r.number, r.state, *(r.values.get(k, "") for k in keys),
                    *("" if v is None else v for v in (r.best_val_loss, r.val_sharpe, r.val_ic, r.epoch, r.seconds,
                                                       r.error)),
                    r.directory])
    atomic_write_text(path, buf.getvalue())


def importances(study: optuna.Study) -> tuple[dict[str, float], str]:
    """Hyperparameter importances: Optuna's fANOVA (needs scikit-learn), else its PED-ANOVA."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2 or not complete[0].params:
        return {}, "too few complete trials"
    try:
        import sklearn  # noqa: F401  (fANOVA's random forest)
        evaluator, name = optuna.importance.FanovaImportanceEvaluator(seed=0), "fANOVA"
    except ImportError:
        evaluator, name = optuna.importance.PedAnovaImportanceEvaluator(), "PED-ANOVA (fANOVA needs scikit-learn)"
    try:
        return dict(optuna.importance.get_param_importances(study, evaluator=evaluator)), name
    except (RuntimeError, ValueError) as exc:   # e.g. every trial drew the same value
        return {}, f"{name}: {exc}"


def write_outputs(sweep_dir: Path, study: optuna.Study, rows: list[TrialRow], keys: list[str],
                  s: SweepSettings, log_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """trials.csv, best.yaml, figures; -> the summary (sweep.json is written by `final_test`)."""
    write_trials_csv(sweep_dir / "trials.csv", rows, keys)
    counts = {state: sum(r.state == state for r in rows) for state in ("complete", "pruned", "failed", "running")}
    complete = [r for r in rows if r.state == "complete"]
    best = _best(study)
    summary: dict[str, Any] = {"settings": asdict(s), "counts": counts, "n_trials": len(rows),
                               "objective": s.objective, "best": None}
    if best is not None:
        best_dir = sweep_dir / "trials" / str(best.number)
        shutil.copyfile(best_dir / "config.yaml", sweep_dir / "best.yaml.tmp")
        (sweep_dir / "best.yaml.tmp").replace(sweep_dir / "best.yaml")
        summary["best"] = {"number": best.number, "value": best.value, "params": best.params,
                           "run_dir": str(best_dir), "best_val_loss": best.user_attrs.get("best_val_loss"),
                           "val_sharpe": best.user_attrs.get("val_sharpe")}
    values = [(r.number, _objective(r, s.objective)) for r in complete]
    imp, method = importances(study)
    summary["importances"], summary["importance_method"] = imp, method
    plots = sweep_dir / "plots"
    if values:
        plot_history(plots / "history.png", values, s.objective, minimize=s.objective == "val_loss")
        plot_objective_vs_params(plots / "objective_vs_params.png",
                                 [(r.values, _objective(r, s.objective)) for r in complete], keys, s.objective,
                                 log_keys)
    if imp:
        plot_importances(plots / "importances.png", imp, method, n_trials=len(complete))
    summary["pbo"] = sweep_pbo(complete, s.objective)
    logits = summary["pbo"].pop("logits", None)
    if logits is not None:
        plot_pbo_logits(plots / "pbo_logits.png", logits, summary["pbo"]["pbo"], summary["pbo"]["n_strategies"])
    return summary


def sweep_pbo(complete: list[TrialRow], objective: str) -> dict[str, Any]:
    """PBO (backtest/pbo.py) of picking the best complete trial by its validation backtest, over the
    candles every complete trial with saved returns traded. -> PBOResult.to_dict() with "sentence",
    "trials", "candles" and "logits" (C,), or {"note": why there is none}."""
    if objective in ("val_loss", "val_ic"):
        by = "validation loss" if objective == "val_loss" else "validation Rank IC"
        return {"note": f"no probability of backtest overfitting: this sweep selects by {by}, and PBO "
                        "resamples returns, so it would judge a selection the sweep did not make "
                        "(--objective val_sharpe, or val_portfolio_sharpe for a universe, selects by the returns)"}
    series: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for r in complete:
        path = Path(r.directory) / RETURNS
        if path.is_file():
            with np.load(path) as z:          # plain arrays: never allow_pickle
                series[r.number] = (z["timestamp"], z["r"])
    if len(series) < 2:
        return {"note": f"no probability of backtest overfitting: it needs at least 2 complete trials with a "
                        f"validation backtest, this sweep has {len(series)}"}
    common = functools.reduce(np.intersect1d, [ts for ts, _ in series.values()])   # the candles all traded
    returns = np.column_stack([r[np.isin(ts, common)] for ts, r in series.values()])   # (T, N)
    try:
        res = pbo(returns)
    except UserError as err:
        return {"note": f"no probability of backtest overfitting: {err}"}
    return {**res.to_dict(), "sentence": sentence(res, "trials"), "trials": list(series), "candles": len(common),
            "logits": res.logits}


def final_test(sweep_dir: Path, study: optuna.Study, summary: dict[str, Any]) -> dict[str, Any]:
    """The best trial on the test split, once; DSR and PSR; writes sweep.json. -> the final dict."""
    best = _best(study)
    if best is None:
        atomic_write_text(sweep_dir / "sweep.json", json.dumps(to_jsonable(summary), indent=2))
        return summary
    best_dir = sweep_dir / "trials" / str(best.number)
    evaluated = score(best_dir, split="test")
    universe = is_universe_run(best_dir)
    traded = (run_universe_backtest if universe else run_backtest)(best_dir, split="test")
    name = "portfolio" if universe else "model"
    states = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False)
    tried = [t for t in trials if t.state in (states.COMPLETE, states.PRUNED, states.FAIL)]   # N: every draw made
    srs = [t.user_attrs.get("val_sharpe_candle", float("nan")) for t in tried]   # the spread: those with a backtest
    a = best.user_attrs
    d = deflated_sharpe(a["val_sharpe_candle"], srs, a["val_candles"], a["val_skew"], a["val_kurtosis"],
                        n_trials=len(tried))
    t = backtest_candle_stats(traded.results[name])
    test_psr = psr(t["sharpe"], 0.0, t["n"], t["skew"], t["kurtosis"])
    per_year = periods_per_year(traded.results[name].timeframe_ms)
    final = {"n_complete": sum(t.state == states.COMPLETE for t in trials), "n_tried": d["n_trials"],
             "n_sharpes": d["n_sharpes"], "periods_per_year": per_year,
             "val_sharpe_candle": a["val_sharpe_candle"], "sr0": d["sr0"],
             "val_sharpe_ann": a["val_sharpe_candle"] * math.sqrt(per_year), "sr0_ann": d["sr0"] * math.sqrt(per_year),
             "dsr": d["dsr"], "test_sharpe": traded.stats[name]["Sharpe Ratio"],
             "test_sharpe_candle": t["sharpe"], "test_psr0": test_psr,
             "sentence": verdict(d["dsr"], test_psr, d["n_trials"]),
             "test_eval_dir": str(best_dir / "eval" / "test"), "test_backtest_dir": str(traded.out_dir)}
    summary["final"] = final
    atomic_write_text(sweep_dir / "sweep.json", json.dumps(to_jsonable(summary), indent=2))
    return {**summary, "eval": evaluated.metrics, "backtest": traded}


def _objective(r: TrialRow, objective: str) -> float:
    return {"val_loss": r.best_val_loss, "val_ic": r.val_ic}.get(objective, r.val_sharpe)


def _best(study: optuna.Study):
    try:
        return study.best_trial
    except ValueError:
        return None
