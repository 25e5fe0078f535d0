"""One evaluation report from arrays: model metrics, baselines on the same windows, bootstrap
intervals, plain-language verdicts, leakage warnings and attention analysis.

Shapes: N windows, K = 3 classes, T window length. Class indices 0 = sell, 1 = hold, 2 = buy.
Returns are in r_t units (the return head's output already divided by return_scale).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.evaluate.attention import attention_summary
from cryptotrain.config import BacktestConfig
from cryptotrain.data.labels import round_trip_cost
from cryptotrain.evaluate.baselines import BASELINE_LABELS, rate_matched_baseline
from cryptotrain.evaluate.bootstrap import bootstrap_intervals
from cryptotrain.evaluate.edge import compared_baselines, corrected_levels, edge_summary, per_call_edge
from cryptotrain.evaluate.fitted_baselines import FITTED_LABELS
from cryptotrain.evaluate.metrics import classification_metrics, confidence_metrics, direction_metrics, return_metrics
from cryptotrain.report.labels import BP_METRICS, METRIC_LABELS, advantage, in_display_units, labeled

# Leakage alarms: on crypto candles a real edge is a few points above chance. Above these,
# suspect look-ahead first. Only checked with at least MIN_WINDOWS windows (noise below).
DIRECTION_ACCURACY_MAX = 0.60   # sign accuracy where the model acts
BALANCED_ACCURACY_MAX = 0.60    # 3 classes: chance is 1/3
IC_MAX = 0.30                   # |Pearson| or |Spearman| of predicted vs realized return
MIN_WINDOWS = 100
LABELS = {**BASELINE_LABELS, **FITTED_LABELS}   # display names of every baseline, naive and fitted


def predictor_metrics(y_true, r, pred: dict, conf_target=None) -> dict:
    """Classification, direction and (when forecast) confidence and return metrics of one predictor.

    `pred`: "action" (N,), "probs" (N, K) or None, "pred_return" (N,) or None, optional "confidence" (N,).
    """
    out = {"classification": classification_metrics(y_true, pred["action"], pred.get("probs")),
           "direction": direction_metrics(pred["action"], r)}
    if pred.get("confidence") is not None and conf_target is not None:
        hit = np.asarray(pred["action"]) == np.asarray(y_true)
        out["confidence"] = confidence_metrics(pred["confidence"], conf_target, hit)
    if pred.get("pred_return") is not None:
        out["return"] = return_metrics(pred["pred_return"], r)
    return out


def verdict(label: str, diff: dict) -> str:
    """One descriptive sentence: on which metrics the model beats `label` beyond the 95% interval of
    model - baseline (above 0, or below 0 for LOWER_IS_BETTER metrics such as log loss and RMSE).
    Not a claim: one of many comparisons, not corrected for their number (edge.py makes the claim)."""
    ok = {m: d for m, d in diff.items() if np.isfinite(d["lo"]) and np.isfinite(d["hi"])}

    def names(ms: list[str]) -> str:
        labels = [METRIC_LABELS.get(m, m) for m in ms]
        return " and ".join(labels) if len(labels) < 3 else ", ".join(labels[:-1]) + " and " + labels[-1]

    def fmt(m: str, v: float) -> str:
        return f"{in_display_units(m, v):+.2f}" if m in BP_METRICS else f"{v:+.3f}"   # bp, as in the tables

    better = [m for m, d in ok.items() if advantage(m, d["lo"], d["hi"])[0] > 0]
    worse = [m for m, d in ok.items() if advantage(m, d["lo"], d["hi"])[1] < 0]
    head = (f"beats it beyond the 95% interval on {names(better)}" if better
            else "does not beat it beyond the 95% interval on any metric")
    if worse:
        head += f", and is worse beyond the interval on {names(worse)}"
    detail = "; ".join(f"{labeled(m)} {fmt(m, d['value'])} [{fmt(m, d['lo'])}, {fmt(m, d['hi'])}]"
                       for m, d in ok.items())
    return (f"Model vs {label} (descriptive: {len(ok)} metrics at 95% each, not corrected): {head}."
            + (f" Model - baseline [95% CI]: {detail}." if detail else ""))


def direction_verdict(boot: dict, coverage: float) -> str:
    """One descriptive sentence: the model's direction accuracy and its difference with each baseline
    that calls a sign, at 95% (uncorrected). The claim, against the strongest of them with the
    comparisons counted, is edge.py's; a coin's 0.5 is no null in a trending test period."""
    d = boot["model"].get("direction_accuracy")
    if d is None or not (np.isfinite(d["lo"]) and np.isfinite(d["hi"])):
        return "Direction: the model never says buy or sell, so it has no direction accuracy."
    out = (f"Direction (descriptive, 95% intervals, not corrected): on the {coverage:.1%} of windows it acts on, "
           f"the model calls the sign right {d['value']:.3f} [{d['lo']:.3f}, {d['hi']:.3f}] of the time")
    for b, v in boot["baselines"].items():
        diff = v["diff"].get("direction_accuracy")
        if diff is None or not (np.isfinite(diff["lo"]) and np.isfinite(diff["hi"])):
            continue                                  # a baseline that never calls a sign
        rel = "better than" if diff["lo"] > 0 else "worse than" if diff["hi"] < 0 else "not different from"
        out += (f"; {rel} {LABELS.get(b, b)} ({diff['value']:+.3f} [{diff['lo']:+.3f}, {diff['hi']:+.3f}])")
    return out + "."


def leakage_warnings(model: dict, timeframe: str, n: int) -> list[str]:
    """Warnings when accuracy or IC is implausibly high for crypto candles."""
    if n < MIN_WINDOWS:
        return []
    audit = ("audit for leakage: features or normalizer using candles after t, labels crossing "
             "the split boundary (embargo), or duplicated candles")
    out = []
    d = model["direction"]
    if d["n_acted"] >= MIN_WINDOWS and d["accuracy"] > DIRECTION_ACCURACY_MAX:
        out.append(f"directional accuracy {d['accuracy']:.1%} on {timeframe} candles ({d['n_acted']} windows "
                   f"acted on) is implausibly high (> {DIRECTION_ACCURACY_MAX:.0%}); {audit}")
    ba = model["classification"]["balanced_accuracy"]
    if ba > BALANCED_ACCURACY_MAX:
        out.append(f"balanced accuracy {ba:.1%} on {timeframe} candles is implausibly high "
                   f"(> {BALANCED_ACCURACY_MAX:.0%}, chance 33%); {audit}")
    for key in ("ic_pearson", "ic_spearman"):
        ic = model.get("return", {}).get(key, float("nan"))
        if np.isfinite(ic) and abs(ic) > IC_MAX:
            out.append(f"{METRIC_LABELS[key]} {ic:+.3f} on {timeframe} candles is implausibly high "
                       f"(|IC| > {IC_MAX}); {audit}")
    return out


def evaluation_report(*, y_true, r, conf_target, model: dict, baselines: dict[str, dict], attention=None,
                      timeframe: str = "?", horizon: int = 1, n_resamples: int = 1000, seed: int = 0,
                      notes: list[str] | None = None, costs: BacktestConfig | None = None,
                      on_progress=None) -> dict:
    """Everything `evaluate` reports, as one JSON-ready dict (NaN stays NaN; the writer maps it to null).
    on_progress: passed to bootstrap_intervals.

    A model head given as None (model["confidence"], model["pred_return"]) gets no metrics, no
    interval and no verdict; `notes` (e.g. why a head was left out) are reported as they are.
    The rate-matched random caller (baselines.py) is added to `baselines` here, from the model's
    actions. `costs`: the backtest settings whose round trip a sign edge is weighed against.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    r = np.asarray(r, dtype=np.float64)
    n = len(y_true)
    baselines = {**baselines, "rate_matched": rate_matched_baseline(model["action"], seed)}
    model_m = predictor_metrics(y_true, r, model, conf_target)
    base_m = {b: {"label": LABELS.get(b, b), **predictor_metrics(y_true, r, p), **({"fit": p["fit"]} if "fit" in p else {})}
              for b, p in baselines.items()}
    compared = compared_baselines(model["action"], baselines)
    boot = bootstrap_intervals(y_true, r, model, baselines, horizon=horizon, n_resamples=n_resamples, seed=seed,
                               corrected=corrected_levels(compared), on_progress=on_progress)
    verdicts = {b: verdict(LABELS.get(b, b), boot["baselines"][b]["diff"]) for b in baselines}
    per_call = per_call_edge(model["action"], r, None if costs is None else round_trip_cost(costs))
    return {"n_windows": n, "timeframe": timeframe, "horizon": int(horizon),
            "model": model_m, "baselines": base_m, "bootstrap": boot, "verdicts": verdicts,
            "direction_verdict": direction_verdict(boot, model_m["direction"]["coverage"]),
            "edge": edge_summary(boot, compared, LABELS, per_call, horizon),
            "warnings": leakage_warnings(model_m, timeframe, n), "notes": list(notes or []),
            "attention": attention_summary(attention)}
