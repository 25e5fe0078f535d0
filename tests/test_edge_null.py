"""The edge claim (evaluate/edge.py) holds under the null and finds a planted edge.

Every draw goes through `evaluation_report`, the function `evaluate` calls, with the same rule
(primary metric per kind, Holm over the baselines compared with one-sided bounds, the rate-matched
random caller among them). Two things are lighter than in the product, to keep the test well under
a minute on one core: 200 bootstrap resamples instead of 1000 (N_RESAMPLES; the bounds are then a
little coarser in their tails, which makes a false claim, if anything, more likely here), and the
naive baselines' return forecasts are dropped (IC and RMSE are descriptive, never part of the
claim, and their resampled ranks cost most of the time).

Labels come as real ones do: r_t is the sum of the next H one-candle returns, so neighbouring
windows share H - 1 candles and hits and misses come in runs.
"""

import numpy as np

from cryptotrain.evaluate.baselines import all_baselines
from cryptotrain.evaluate.summary import evaluation_report

H = 4                    # label horizon: overlapping labels
N_NULL = 1000            # windows per null draw
N_DRAWS = 500            # null predictors
N_EDGE = 5000            # acted windows of the planted edge
EDGE_DRAWS = 40
N_RESAMPLES = 200
KINDS = ("majority", "prior_random", "model_mix_random", "constant_sign_trending", "random_in_runs")


def _market(rng, n: int, drift: float = 0.0):
    """One-candle returns, their overlapping H-candle sums r (N,), labels y (N,) and closes."""
    step = rng.normal(drift, 0.01, n + H)
    r = np.convolve(step, np.ones(H), "valid")[1:n + 1]          # r_t = step[t+1] + ... + step[t+H]
    y = np.where(r > 0.005, 2, np.where(r < -0.005, 0, 1))
    close = 100 * np.exp(np.cumsum(step[:n]))
    return r, y, close


def _null_predictor(kind: str, rng, freq: np.ndarray, n: int, drift_sign: int) -> np.ndarray:
    """Actions that know nothing about the labels of the draw."""
    if kind == "majority":
        return np.full(n, int(np.argmax(freq)))
    if kind == "prior_random":
        return rng.choice(3, size=n, p=freq)
    if kind == "model_mix_random":                               # a class mix of its own, e.g. never hold
        return rng.choice(3, size=n, p=rng.dirichlet([1.0, 0.3, 1.0]))
    if kind == "constant_sign_trending":                         # always the sign of the trend
        return np.full(n, 1 + drift_sign)
    calls = rng.choice(3, size=n // 20 + 1, p=freq)              # random_in_runs: a call held for 20 windows
    return np.repeat(calls, 20)[:n]


def _baselines(y_train, close, n: int, seed: int) -> dict:
    """all_baselines without return forecasts (see the module docstring)."""
    return {b: {**p, "pred_return": None} for b, p in all_baselines(y_train, close, np.arange(n), seed=seed).items()}


def _claims(kind: str, draw: int) -> str:
    rng = np.random.default_rng([draw, 25])
    trending = kind == "constant_sign_trending"
    drift = rng.choice([-1, 1]) * 0.0015 if trending else 0.0   # 4-candle drift 0.6%: a clear trend
    r, y, close = _market(rng, N_NULL, drift)
    _, y_train, _ = _market(rng, 3 * N_NULL, drift)
    freq = np.bincount(y_train, minlength=3) / len(y_train)
    action = _null_predictor(kind, rng, freq, N_NULL, int(np.sign(drift)))
    rep = evaluation_report(y_true=y, r=r, conf_target=None, model={"action": action, "probs": None},
                            baselines=_baselines(y_train, close, N_NULL, draw),
                            horizon=H, n_resamples=N_RESAMPLES, seed=draw)
    return rep["edge"]["kind"]


def test_no_edge_is_claimed_on_random_predictors():
    """Catches an edge claimed on noise: a majority-class predictor beating stratified random on
    accuracy ("size"), a constant buy in an up-trending sample above a coin's 0.5 ("sign"), or any of
    several comparisons taken as a claim. 500 predictors of five kinds: at most 5% may claim."""
    kinds = [KINDS[i % len(KINDS)] for i in range(N_DRAWS)]
    claims = [_claims(k, i) for i, k in enumerate(kinds)]
    share = np.mean([c != "none" for c in claims])
    by_kind = {k: np.mean([c != "none" for c, kk in zip(claims, kinds) if kk == k]) for k in KINDS}
    print(f"null: {share:.1%} of {N_DRAWS} random predictors got an edge claim; by kind {by_kind}")
    assert share <= 0.05, (share, by_kind)
    assert all(v <= 0.10 for v in by_kind.values()), by_kind


def _planted(draw: int) -> tuple[str, float, float]:
    """Direction accuracy 0.54 on N_EDGE acted windows, errors in runs: the model calls the sign of
    r_t + e_t, with e_t an AR(1) noise of coefficient 0.75 (calls persist as a model's do, whose
    features change slowly) scaled so that exactly 54% of the calls are right; with the overlapping
    labels, a hit follows a hit more often than not (lag-1 autocorrelation of hits about 0.3)."""
    rng = np.random.default_rng([draw, 54])
    r, y, close = _market(rng, N_EDGE)
    _, y_train, _ = _market(rng, N_EDGE)
    z = rng.normal(0, 1, N_EDGE)
    e = np.empty(N_EDGE)
    e[0] = z[0]
    for t in range(1, N_EDGE):
        e[t] = 0.75 * e[t - 1] + np.sqrt(1 - 0.75 ** 2) * z[t]
    lo, hi = 0.001, 10.0                                         # bisect the noise scale to 54% right
    for _ in range(40):
        scale = np.sqrt(lo * hi)
        lo, hi = (scale, hi) if np.mean(np.sign(r + scale * e) == np.sign(r)) > 0.54 else (lo, scale)
    action = 1 + np.sign(r + scale * e).astype(np.int64)
    hit = np.sign(action - 1) == np.sign(r)
    rep = evaluation_report(y_true=y, r=r, conf_target=None, model={"action": action, "probs": None},
                            baselines=_baselines(y_train, close, N_EDGE, draw),
                            horizon=H, n_resamples=N_RESAMPLES, seed=draw)
    return rep["edge"]["kind"], rep["model"]["direction"]["accuracy"], float(np.corrcoef(hit[1:], hit[:-1])[0, 1])


def test_a_planted_sign_edge_is_claimed_in_most_draws():
    """Catches a rule too strict to find a real edge: direction accuracy 0.54 on 5,000 acted windows
    with errors in runs must get its sign claim in at least 80% of the draws."""
    out = [_planted(d) for d in range(EDGE_DRAWS)]
    power = np.mean([k == "sign" for k, _, _ in out])
    print(f"planted edge: claimed in {power:.1%} of {EDGE_DRAWS} draws (direction accuracy "
          f"{np.mean([a for _, a, _ in out]):.3f}, lag-1 autocorrelation of hits {np.mean([c for *_, c in out]):.2f})")
    assert all(abs(a - 0.54) < 0.001 for _, a, _ in out)
    assert np.mean([c for *_, c in out]) > 0.2                   # the errors do come in runs
    assert power >= 0.80, power
