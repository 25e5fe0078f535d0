"""The edge claim of `evaluate`: does the model know the sign of moves, or their size, better than
every baseline scored on the same windows, with the comparisons counted?

The rule, declared here and nowhere else:
- PRIMARY: the one metric each kind of edge is judged on. sign -> direction accuracy (the share of
  right signs among the windows the model calls buy or sell: what a long-short position earns
  from); size -> balanced accuracy (mean recall of sell, hold and buy: telling hold from move, with
  no prize for always calling the majority class, whose balanced accuracy is 1/3).
- The baselines compared: for sign, every baseline that calls buy or sell on at least MIN_CALLS
  windows, among them the rate-matched random caller (the model's own calls at random places:
  the null in a trending test period, where a coin's 0.5 is not); for size, every baseline.
  Baselines with identical actions count once.
- Claimed when model - baseline is above 0 beyond its Holm-corrected one-sided block-bootstrap
  bound for EVERY one of the m baselines compared, so also the strongest (the baseline with the
  highest point value: the null the sentence names). One-sided, because the claim is one-sided:
  the model is better. Holm over m: sort the baselines by the bootstrap p-value of "the model is not
  better" (the share of resampled differences <= 0), smallest first; the i-th must have its lower
  bound at confidence 1 - ALPHA / (m - i + 1) above 0 (the first at 1 - ALPHA / m, as Bonferroni;
  the last at 1 - ALPHA), the lower end of the percentile interval at 1 - 2 ALPHA / (m - i + 1).
  The family-wise error is at most ALPHA, so when the model knows nothing the chance of a claim of
  one kind is at most ALPHA (tests/test_edge_null.py measures it on 500 random predictors).
Every other comparison evaluate prints is descriptive: 95% intervals, not corrected.
The cross-sectional claim of a universe run (`cross_edge_summary`) is the same test on one more
kind, ranking -> CROSS_METRIC, the mean Rank IC across the pairs (evaluate/cross_summary.py): the
model ranks the pairs by their next move better than every baseline ranking of the same cells
(cross-sectional momentum and reversal, the pooled fitted baselines), Holm over those m.

Shapes: N windows; actions (N,) class indices 0 = sell, 1 = hold, 2 = buy; r (N,) forward returns.
"""

from __future__ import annotations

import numpy as np

from cryptotrain.report.labels import METRIC_LABELS

ALPHA = 0.05                                           # family-wise error of one kind's claim
CORRECTION = "Holm"
PRIMARY = {"sign": "direction_accuracy", "size": "balanced_accuracy"}   # both: higher is better
MIN_CALLS = 10                                         # fewer buy/sell calls: no direction accuracy to test
KIND_NAMES = {"sign": "the sign of moves", "size": "the size of moves (hold vs move)",
              "ranking": "the ranking of pairs by their next move"}
CROSS_METRIC = "rank_ic"                               # the ranking claim's metric: higher is better


def compared_baselines(model_action: np.ndarray, baselines: dict[str, dict]) -> dict[str, list[str]]:
    """kind -> the baselines its claim is tested against (first of each group of identical actions)."""
    out: dict[str, list[str]] = {k: [] for k in PRIMARY}
    seen: dict[str, list[np.ndarray]] = {k: [] for k in PRIMARY}
    for name, p in baselines.items():
        a = np.asarray(p["action"])
        for kind in PRIMARY:
            if kind == "sign" and int((a != 1).sum()) < MIN_CALLS:
                continue
            if not any(np.array_equal(a, s) for s in seen[kind]):
                seen[kind].append(a)
                out[kind].append(name)
    if int((np.asarray(model_action) != 1).sum()) < MIN_CALLS:
        out["sign"] = []                               # the model has no direction accuracy to test
    return out


def holm_levels(m: int) -> list[float]:
    """The two-sided levels 1 - 2 ALPHA / j, j = 1..m, whose lower ends are the Holm one-sided bounds
    at 1 - ALPHA / j."""
    return [1.0 - 2 * ALPHA / j for j in range(1, m + 1)]


def corrected_levels(compared: dict[str, list[str]]) -> dict[str, list[float]]:
    """Primary metric -> holm_levels over its baselines (for bootstrap_intervals)."""
    return {PRIMARY[k]: holm_levels(len(names)) for k, names in compared.items() if names}


def edge_test(boot: dict, kind: str, names: list[str], metric: str | None = None) -> dict:
    """The claim of one kind: is model - baseline of `metric` (default PRIMARY[kind]) above its Holm
    one-sided lower bound for every baseline in `names`? (A baseline whose bound is undefined is not
    beaten.) Each row's "level" is the one-sided confidence of its bound "lo"."""
    metric = metric or PRIMARY[kind]
    nan = float("nan")
    diffs = {b: boot["baselines"][b]["diff"].get(metric) or {"value": nan, "p_value": nan, "levels": []}
             for b in names}
    # Holm: the smallest p-value first, its bound at 1 - ALPHA / m; then 1 - ALPHA / (m - 1), ...
    order = sorted(names, key=lambda b: (not np.isfinite(diffs[b]["p_value"]), diffs[b]["p_value"]))
    rows = []
    for i, b in enumerate(order):
        j = len(names) - i
        at = next((lv for lv in diffs[b]["levels"] if np.isclose(lv["level"], 1.0 - 2 * ALPHA / j)), {"lo": nan})
        rows.append({"baseline": b, "value": boot["baselines"][b]["metrics"][metric]["value"],
                     "diff": diffs[b]["value"], "p_value": diffs[b]["p_value"], "level": 1.0 - ALPHA / j,
                     "lo": at["lo"], "beaten": bool(np.isfinite(at["lo"]) and at["lo"] > 0)})
    finite = [r for r in rows if np.isfinite(r["value"])]
    strongest = max(finite, key=lambda r: r["value"]) if finite else None
    return {"kind": kind, "metric": metric, "model": boot["model"].get(metric, {"value": nan})["value"],
            "m": len(names), "beaten": sum(r["beaten"] for r in rows),
            "claimed": bool(rows) and all(r["beaten"] for r in rows), "strongest": strongest, "rows": rows}


def per_call_edge(action: np.ndarray, r: np.ndarray, round_trip: float | None) -> dict:
    """What the calls earn before costs: mean over the buy/sell windows of sign(call) x r_t (r_t runs
    from the open after the decision to the open h candles later: the backtest's fill rule), in bp,
    against one round trip (entry + exit fill) of the backtest settings."""
    a = np.asarray(action)
    acted = (a != 1) & np.isfinite(r)
    gross = float(np.mean(np.sign(a[acted] - 1) * r[acted]) * 1e4) if acted.any() else float("nan")
    cost = None if round_trip is None else float(round_trip * 1e4)
    return {"calls": int(acted.sum()), "gross_bp": gross, "round_trip_bp": cost,
            "net_bp": None if cost is None else gross - cost}


def _pct(level: float) -> str:
    """99.17%, 97.5%, 95%: two decimals at most, trailing zeros dropped."""
    return f"{100 * level:.2f}".rstrip("0").rstrip(".") + "%"


def _part(t: dict, labels: dict[str, str]) -> str:
    """One kind's test as a clause: the primary metric, how many of the m baselines it beat beyond
    the corrected intervals, and the null (the strongest) with its difference."""
    what = t["kind"].capitalize()
    name = METRIC_LABELS[t["metric"]]
    if t["kind"] == "sign" and t["m"] == 0:
        return (f"{what}: the model calls buy or sell on fewer than {MIN_CALLS} windows, so there is no "
                "direction accuracy to test")
    s = t["strongest"]
    count = f"all {t['m']}" if t["claimed"] else f"{t['beaten'] or 'none'} of the {t['m']}"
    base = "baselines that call a sign" if t["kind"] == "sign" else "baselines"
    head = (f"{what}: {name} {t['model']:.3f} beats {count} {base} beyond their {CORRECTION}-corrected one-sided "
            f"bounds ({CORRECTION} over {t['m']} comparisons, {_pct(1 - ALPHA / t['m'])} to {_pct(1 - ALPHA)})")
    if s is None:
        return head
    return (head + f"; the null, the strongest of them, is {labels.get(s['baseline'], s['baseline'])} at "
            f"{s['value']:.3f} (model - null {s['diff']:+.3f}, lower bound {s['lo']:+.3f} at {_pct(s['level'])})")


def _cost_clause(pc: dict, horizon: int) -> str:
    if pc["round_trip_bp"] is None or not np.isfinite(pc["gross_bp"]):
        return ""
    eats = ("costs take all of it and more" if pc["net_bp"] <= 0 else
            f"{pc['net_bp']:+.1f} bp per call after costs, if each call were one trade")
    span = f"{horizon} candle" + ("s" if horizon != 1 else "")
    return (f" Per call this edge is worth {pc['gross_bp']:+.1f} bp of return over the label horizon ({span}) before costs "
            f"(mean of sign(call) x r_t over {pc['calls']} calls) against a round trip of {pc['round_trip_bp']:.1f} bp "
            f"at the backtest settings: {eats}.")


def edge_summary(boot: dict, compared: dict[str, list[str]], labels: dict[str, str], per_call: dict,
                 horizon: int = 1) -> dict:
    """{"kind": "sign" | "size" | "none", "sentence", "tests", "per_call", "rule"}: sign when its
    test passes (the only kind a long-short backtest earns from), else size when its test passes."""
    tests = {k: edge_test(boot, k, compared[k]) for k in PRIMARY}
    parts = {k: _part(t, labels) for k, t in tests.items()}
    if tests["sign"]["claimed"]:
        kind = "sign"
        sentence = (f"Edge: {KIND_NAMES['sign']}. {parts['sign']}." + _cost_clause(per_call, horizon)
                    + f" {parts['size']}.")
    elif tests["size"]["claimed"]:
        kind = "size"
        sentence = (f"Edge: {KIND_NAMES['size']}, not their sign, and only the sign pays in a backtest. "
                    f"{parts['size']}. {parts['sign']}.")
    else:
        kind = "none"
        sentence = f"Edge: none. {parts['sign']}. {parts['size']}."
    return {"kind": kind, "sentence": sentence, "tests": tests, "per_call": per_call,
            "rule": {"alpha": ALPHA, "correction": CORRECTION, "bounds": "one-sided, block bootstrap",
                     "primary": dict(PRIMARY), "min_calls": MIN_CALLS}}


def cross_edge_summary(boot: dict, names: list[str], labels: dict[str, str]) -> dict:
    """{"kind": "ranking" | "none", "sentence", "test", "rule"}: the cross-sectional claim, edge_test on
    CROSS_METRIC against the baselines `names` (boot: cross_summary's intervals, same layout as
    bootstrap_intervals')."""
    t = edge_test(boot, "ranking", names, CROSS_METRIC)
    part = _part(t, labels) if names else "Ranking: no baseline to compare with"
    kind = "ranking" if t["claimed"] else "none"
    head = f"Cross-sectional edge: {KIND_NAMES['ranking']}." if t["claimed"] else "Cross-sectional edge: none."
    return {"kind": kind, "sentence": f"{head} {part}.", "test": t,
            "rule": {"alpha": ALPHA, "correction": CORRECTION, "bounds": "one-sided, block bootstrap over timestamps",
                     "primary": CROSS_METRIC}}
