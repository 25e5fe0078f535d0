"""Central-difference gradient checking, shared by the tests and `cryptotrain gradcheck`.

Relative error used everywhere (max over elements):

    rel = |g_analytic - g_numeric| / max(|g_analytic| + |g_numeric|, floor)

with `floor` guarding elements whose true gradient is ~0 (then the absolute error is what
counts). Numeric gradients use float64 and central differences D(h) = (f(x + h) - f(x - h)) / 2h,
or, for deep or curved computations where no single h keeps both rounding and truncation error
under the tolerance, Richardson extrapolation g = (4 D(h) - D(2h)) / 3 (truncation O(h^4)).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def numeric_grad(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences; `x` is perturbed in place and restored."""
    g = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def richardson_grad(f: Callable[[], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Fourth-order numeric gradient (4 D(h) - D(2h)) / 3 built from two central differences."""
    return (4.0 * numeric_grad(f, x, h) - numeric_grad(f, x, 2 * h)) / 3.0


def rel_error(analytic: np.ndarray, numeric: np.ndarray, floor: float = 1e-8) -> tuple[float, float]:
    """(max absolute error, max relative error) with the formula in the module docstring."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    diff = np.abs(a - n)
    rel = diff / np.maximum(np.abs(a) + np.abs(n), floor)
    return float(diff.max(initial=0.0)), float(rel.max(initial=0.0))


def check_grads(f: Callable[[], float], tensors: dict[str, np.ndarray], grads: dict[str, np.ndarray],
                eps: float = 1e-6, tol: float = 1e-6, richardson: bool = False,
                floor: float = 1e-8) -> dict[str, tuple[float, float, bool]]:
    """Compare analytic `grads[name]` with numeric gradients of `f` w.r.t. `tensors[name]`
    (central differences with step `eps`, or Richardson-extrapolated with h = eps).

    Returns {name: (max_abs_err, max_rel_err, passed)}.
    """
    out = {}
    for name, x in tensors.items():
        num = richardson_grad(f, x, eps) if richardson else numeric_grad(f, x, eps)
        abs_err, rel = rel_error(grads[name], num, floor)
        out[name] = (abs_err, rel, rel < tol)
    return out


def assert_grads_close(f, tensors, grads, eps: float = 1e-6, tol: float = 1e-6,
                       richardson: bool = False, floor: float = 1e-8) -> None:
    """Test helper: raise AssertionError naming every tensor whose gradient is off."""
    res = check_grads(f, tensors, grads, eps, tol, richardson, floor)
    bad = {k: v for k, v in res.items() if not v[2]}
    assert not bad, "gradient mismatch: " + ", ".join(
        f"{k} (max abs {a:.3e}, max rel {r:.3e})" for k, (a, r, _) in bad.items())
