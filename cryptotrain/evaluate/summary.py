"""One evaluation report from arrays: model metrics, baselines on the same windows, bootstrap
intervals, plain-language verdicts, leakage warnings and attention analysis.

Shapes: N windows, K = 3 classes, T window length. Class indices 0 = sell, 1 = hold, 2 = buy.
Returns are in r_t units (the return head's output already divided by return_scale).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.evaluate.attention import attention_summary
from cryptotrain.evaluate.baselines import BASELINE_LABELS
from cryptotrain.evaluate.fitted_baselines import FITTED_LABELS
from cryptotrain.evaluate.bootstrap import bootstrap_intervals
from cryptotrain.evaluate.metrics import classification_metrics, confidence_metrics, direction_metrics, return_metrics
from cryptotrain.report.labels import METRIC_LABELS, advantage

# Leakage alarms: on crypto candles a real edge is a few points above chance. Above these,
# suspect look-ahead first. Only checked with at least MIN_WINDOWS windows (noise below).
DIRECTION_ACCURACY_MAX = 0.60   # sign accuracy where the model acts
BALANCED_ACCURACY_MAX = 0.60    # 3 classes: chance is 1/3
IC_MAX = 0.30                   # |Pearson| or |Spearman| of predicted vs realized return
MIN_WINDOWS = 100


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
    """One sentence: on which metrics the model beats `label` beyond the interval of model - baseline
    (above 0, or below 0 for LOWER_IS_BETTER metrics such as log loss and RMSE)."""
    ok = {m: d for m, d in diff.items() if np.isfinite(d["lo"]) and np.isfinite(d["hi"])}

    def names(ms: list[str]) -> str:
        return " and ".join(METRIC_LABELS.get(m, m) for m in ms)

    def fmt(m: str, v: float) -> str:
        return f"{v:+.2e}" if m == "rmse" else f"{v:+.3f}"   # RMSE differences are ~1e-4 in r_t units

    better = [m for m, d in ok.items() if advantage(m, d["lo"], d["hi"])[0] > 0]
    worse = [m for m, d in ok.items() if advantage(m, d["lo"], d["hi"])[1] < 0]
    head = (f"beats it beyond the 95% interval on {names(better)}" if better
            else "does not beat it beyond the 95% interval on any metric")
    if worse:
        head += f", and is worse beyond the interval on {names(worse)}"
    detail = "; ".join(f"{METRIC_LABELS.get(m, m)} {fmt(m, d['value'])} [{fmt(m, d['lo'])}, {fmt(m, d['hi'])}]"
                       for m, d in ok.items())
    return f"Model vs {label}: {head}." + (f" Model - baseline [95% CI]: {detail}." if detail else "")


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
                      notes: list[str] | None = None) -> dict:
    """Everything `evaluate` reports, as one JSON-ready dict (NaN stays NaN; the writer maps it to null).

    A model head given as None (model["confidence"], model["pred_return"]) gets no metrics, no
    interval and no verdict; `notes` (e.g. why a head was left out) are reported as they are.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(y_true)
    model_m = predictor_metrics(y_true, r, model, conf_target)
    labels = {**BASELINE_LABELS, **FITTED_LABELS}
    base_m = {b: {"label": labels.get(b, b), **predictor_metrics(y_true, r, p), **({"fit": p["fit"]} if "fit" in p else {})}
              for b, p in baselines.items()}
    boot = bootstrap_intervals(y_true, r, model, baselines, horizon=horizon, n_resamples=n_resamples, seed=seed)
    verdicts = {b: verdict(labels.get(b, b), boot["baselines"][b]["diff"]) for b in baselines}
    return {"n_windows": n, "timeframe": timeframe, "horizon": int(horizon),
            "model": model_m, "baselines": base_m, "bootstrap": boot, "verdicts": verdicts,
            "warnings": leakage_warnings(model_m, timeframe, n), "notes": list(notes or []),
            "attention": attention_summary(attention)}
