"""Fitted baselines on the decision candle: a linear model (logistic + ridge) and LightGBM.

What a model without memory learns from the same inputs: each window's LAST row (the decision
candle t) of the normalized features, X (N, F), on the same windows the model is scored on.
Fitted on the training split's windows only; the validation split's labels choose the L2
strength (linear) or the number of boosting rounds (LightGBM) and nothing else; the evaluated
split's labels are never read here. Deterministic: same rows -> same numbers.

Shapes: N rows, F features, D = F + 1 (with the bias column), K = 3 classes, P = K - 1.

- linear, classification: multinomial logistic regression
      p(. | x) = softmax([0, x W + b]),   W (F, P), b (P,)
      minimize  mean_i -log p(y_i | x_i) + lam / 2 * ||W||^2
  Class 0's logits are fixed at 0 so that the problem is strictly convex for lam > 0; the bias
  is not penalized. Solved by Newton's method with step halving (converges in a few steps).
  lam is the value of LAMBDAS with the lowest validation log loss.
- linear, return: ridge regression r = x w + c, minimize mean (r_i - x_i w - c)^2 + lam ||w||^2
  (c not penalized; closed form on centred data); lam from LAMBDAS by validation RMSE.
- lightgbm: a multiclass booster (and a regression booster for r) with LGB_PARAMS, seeded,
  num_threads 1 and deterministic, early-stopped on the validation loss (patience
  LGB_PATIENCE); skipped with a note when lightgbm is not installed (the `lightgbm` extra).
Undefined labels (action < 0, r NaN) are left out of fitting; NaN features count as 0 (the mean).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from cryptotrain.errors import install_command
from cryptotrain.evaluate.metrics import K, LOG_EPS
from cryptotrain.models.inference import predicted_action

LAMBDAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # L2 strengths tried, largest first when fitting
NEWTON_MAX_STEPS = 50
NEWTON_TOL = 1e-7                               # max |gradient| at which Newton stops
NEWTON_MIN_STEP = 1e-3                          # a step halved below this without progress: at the optimum (rounding)
LGB_PARAMS = {"learning_rate": 0.05, "num_leaves": 15, "min_data_in_leaf": 50, "lambda_l2": 1.0,
              "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1,
              "num_threads": 1, "deterministic": True, "force_col_wise": True, "verbosity": -1}
LGB_MAX_ROUNDS = 500
LGB_PATIENCE = 30
FITTED_LABELS = {"linear": "logistic/ridge regression", "lightgbm": "LightGBM"}


def decision_rows(features: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(N, F) float64 features of the decision candles `idx` (NaN -> 0, the normalized mean)."""
    return np.nan_to_num(np.asarray(features[np.asarray(idx, dtype=np.int64)], dtype=np.float64))


def _with_bias(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((len(X), 1))])


def _logistic_probs(X1: np.ndarray, theta: np.ndarray) -> np.ndarray:
    logits = np.hstack([np.zeros((len(X1), 1)), X1 @ theta])       # (N, K)
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _logistic_loss(X1, y, theta, lam) -> float:
    p = _logistic_probs(X1, theta)[np.arange(len(y)), y]
    return float(-np.mean(np.log(np.clip(p, LOG_EPS, 1.0))) + 0.5 * lam * np.sum(theta[:-1] ** 2))


def fit_logistic(X: np.ndarray, y: np.ndarray, lam: float, theta0: np.ndarray | None = None) -> np.ndarray:
    """theta (D, P) = [W; b] minimizing the penalized log loss on (X, y) (see the module docstring)."""
    X1 = _with_bias(X)
    n, d = X1.shape
    P = K - 1
    Y = np.eye(K)[y][:, 1:]                                          # (N, P) one-hot of the free classes
    penalty = np.r_[np.full(d - 1, lam), 1e-10]                      # tiny on b: finite when a class is absent
    theta = np.zeros((d, P)) if theta0 is None else theta0.copy()
    loss = _logistic_loss(X1, y, theta, lam)
    for _ in range(NEWTON_MAX_STEPS):
        p = _logistic_probs(X1, theta)[:, 1:]                        # (N, P)
        grad = X1.T @ (p - Y) / n + penalty[:, None] * theta         # (D, P)
        if np.max(np.abs(grad)) < NEWTON_TOL:
            break
        H = np.zeros((P * d, P * d))                                 # class-major blocks
        for j in range(P):
            for k in range(P):
                w = p[:, j] * ((j == k) - p[:, k])
                H[j * d:(j + 1) * d, k * d:(k + 1) * d] = (X1 * w[:, None]).T @ X1 / n
        H += np.diag(np.tile(penalty, P))
        step = np.linalg.solve(H, grad.T.ravel()).reshape(P, d).T    # (D, P)
        t = 1.0
        while t >= NEWTON_MIN_STEP:                                  # halve until the loss goes down
            cand = theta - t * step
            new = _logistic_loss(X1, y, cand, lam)
            if new <= loss:
                break
            t /= 2
        if t < NEWTON_MIN_STEP:
            break
        theta, loss = cand, new
    return theta


def logistic_path(X: np.ndarray, y: np.ndarray) -> dict[float, np.ndarray]:
    """lam -> theta for every lam of LAMBDAS, each fit warm-started from the next larger lam's."""
    thetas, theta = {}, None
    for lam in sorted(LAMBDAS, reverse=True):
        theta = thetas[lam] = fit_logistic(X, y, lam, theta)
    return thetas


def logistic_probs(X: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return _logistic_probs(_with_bias(X), theta)


def fit_ridge(X: np.ndarray, r: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """(w (F,), c) minimizing mean (r - X w - c)^2 + lam ||w||^2."""
    xm, rm = X.mean(axis=0), r.mean()
    Xc = X - xm
    w = np.linalg.solve(Xc.T @ Xc / len(X) + lam * np.eye(X.shape[1]), Xc.T @ (r - rm) / len(X))
    return w, float(rm - xm @ w)


def _labelled(X, y, r):
    ok_a = y >= 0
    ok_r = np.isfinite(r)
    return (X[ok_a], y[ok_a]), (X[ok_r], r[ok_r])


def linear_baseline(train: tuple, val: tuple, X_eval: np.ndarray) -> dict:
    """train, val = (X (M, F), action (M,), r (M,)); -> baseline dict on X_eval plus "fit" facts."""
    (Xa, ya), (Xr, rr) = _labelled(*train)
    (Va, va), (Vr, vr) = _labelled(*val)
    thetas = logistic_path(Xa, ya)
    val_loss = {lam: _logistic_loss(_with_bias(Va), va, th, 0.0) for lam, th in thetas.items()}
    lam_c = min(LAMBDAS, key=lambda lam: (val_loss[lam], -lam)) if len(va) else max(LAMBDAS)
    ridges = {lam: fit_ridge(Xr, rr, lam) for lam in LAMBDAS}
    val_rmse = {lam: float(np.sqrt(np.mean((Vr @ w + c - vr) ** 2))) for lam, (w, c) in ridges.items()}
    lam_r = min(LAMBDAS, key=lambda lam: (val_rmse[lam], -lam)) if len(vr) else max(LAMBDAS)
    probs = logistic_probs(X_eval, thetas[lam_c])
    w, c = ridges[lam_r]
    return {"action": predicted_action(probs), "probs": probs, "pred_return": X_eval @ w + c,
            "fit": {"logistic_l2": lam_c, "ridge_l2": lam_r, "n_train": int(len(ya)),
                    "val_log_loss": val_loss[lam_c] if len(va) else None}}


def lightgbm_available() -> bool:
    try:
        import lightgbm  # noqa: F401
    except ImportError:
        return False
    return True


def _boost(lgb, params: dict, X, y, V, v, rounds: int | None):
    """A booster on (X, y), early-stopped on (V, v) unless `rounds` is given."""
    train = lgb.Dataset(X, y, params={"verbosity": -1}, free_raw_data=False)
    if rounds is not None:
        return lgb.train(params, train, num_boost_round=rounds)
    val = lgb.Dataset(V, v, reference=train)
    return lgb.train(params, train, num_boost_round=LGB_MAX_ROUNDS, valid_sets=[val],
                     callbacks=[lgb.early_stopping(LGB_PATIENCE, verbose=False)])


def lightgbm_baseline(train: tuple, val: tuple, X_eval: np.ndarray, seed: int,
                      rounds: tuple[int, int] | None = None) -> dict:
    """As `linear_baseline`, with boosters; `rounds` = (classifier, regressor) fixes the number of
    rounds instead of early stopping (used by the test that the fit reads training rows only)."""
    import lightgbm as lgb
    (Xa, ya), (Xr, rr) = _labelled(*train)
    (Va, va), (Vr, vr) = _labelled(*val)
    base = {**LGB_PARAMS, "seed": int(seed)}
    clf = _boost(lgb, {**base, "objective": "multiclass", "num_class": K}, Xa, ya, Va, va,
                 None if rounds is None else rounds[0])
    reg = _boost(lgb, {**base, "objective": "regression"}, Xr, rr, Vr, vr, None if rounds is None else rounds[1])
    n_clf = clf.best_iteration or clf.current_iteration()
    n_reg = reg.best_iteration or reg.current_iteration()
    probs = np.asarray(clf.predict(X_eval, num_iteration=n_clf), dtype=np.float64)
    return {"action": predicted_action(probs), "probs": probs,
            "pred_return": np.asarray(reg.predict(X_eval, num_iteration=n_reg), dtype=np.float64),
            "fit": {"rounds_classifier": int(n_clf), "rounds_regressor": int(n_reg), "n_train": int(len(ya))}}


def fitted_baselines(src, X_eval: np.ndarray, seed: int,
                     on_progress: Callable[[str, int, int], None] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Both baselines fitted on `src`'s train split (L2 / rounds from its val split), evaluated on
    X_eval; and notes (why one was skipped). `src`: a Dataset (features, action, ret, splits).
    on_progress("fitting baselines", fitted, to fit) before and after each."""
    rows = {s: np.asarray(src.splits[s], dtype=np.int64) for s in ("train", "val")}
    if len(rows["train"]) < 2 * K or len(rows["val"]) == 0:
        return {}, [f"fitted baselines skipped: {len(rows['train'])} training and {len(rows['val'])} validation "
                    "windows (they need training windows to fit on and validation windows to tune on)"]
    part = {s: (decision_rows(src.features, r), src.action[r], src.ret[r]) for s, r in rows.items()}
    tick, total = on_progress or (lambda step, done, total: None), 1 + lightgbm_available()
    tick("fitting baselines", 0, total)
    out = {"linear": linear_baseline(part["train"], part["val"], X_eval)}
    tick("fitting baselines", 1, total)
    notes = []
    if lightgbm_available():
        out["lightgbm"] = lightgbm_baseline(part["train"], part["val"], X_eval, seed)
        tick("fitting baselines", 2, total)
    else:
        notes.append(f"LightGBM baseline skipped: lightgbm is not installed ({install_command('lightgbm')})")
    return out, notes
