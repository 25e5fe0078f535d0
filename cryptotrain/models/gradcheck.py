"""Gradient check of a model: a small float64 instance of the configured model against numerical
derivatives, parameter by parameter (and the input); `cryptotrain gradcheck` (commands/gradcheck.py)
prints the table.

Numerical derivative (Richardson-extrapolated central differences, built on nn.gradcheck):

    D(h) = (f(x + h) - f(x - h)) / 2h,      g = (4 D(h) - D(2h)) / 3,      h = 1e-4

Its truncation error is O(h^4) instead of O(h^2), so h can be large enough that float64 rounding
in f (about 1e-16 |f| / h) stays near 1e-12: plain central differences at h = 1e-6 leave ~1e-10
absolute noise, which fails a 1e-6 relative test on any gradient element that happens to be
~1e-4. Error per tensor, max over elements (nn.gradcheck.rel_error with floor 1e-5):

    rel = |g_analytic - g_numeric| / max(|g_analytic| + |g_numeric|, 1e-5)

The floor matches the remaining noise (measured up to ~1e-11 absolute on these tiny models): an
element whose gradient is below ~1e-5 (a few always are, by chance) passes a 1e-6 tolerance only
if its absolute error is below 1e-11. A larger h lowers the noise but crosses ReLU/Huber kinks.

The small instance keeps the configured structure (type, layers, attention, pooling, causal,
layer norm, residual, dropout, head depth and activation, class weights, return loss) with
B = 2, T = 5, F = 3, H = 4 (or the next multiple of num_heads), head widths 4, and:
every loss weight set to 1 and l2 to 1e-3 if 0 (so every head and the l2 term are checked),
the first window left-padded by one step (so the mask path is checked), and dropout on with
masks fixed by re-seeding the rng for every evaluation of f. With model.symbol_embedding, three
pairs, the batch's windows of pairs 2, 0, 2, ... (one row of the table unused: its gradient is 0).
"""

from __future__ import annotations

import numpy as np

from cryptotrain.config import ModelConfig
from cryptotrain.models import init_params, model_backward, model_forward, model_loss
from cryptotrain.nn.gradcheck import rel_error, richardson_grad

H_STEP = 1e-4
FLOOR = 1e-5


def small_model_config(mcfg: ModelConfig) -> ModelConfig:
    """A tiny float64 copy of `mcfg` with the same structure (see the module docstring)."""
    H = mcfg.num_heads * -(-4 // mcfg.num_heads)
    return mcfg.model_copy(update={
        "hidden_size": H, "head_sizes": [4] * len(mcfg.head_sizes), "dtype": "float64",
        "w_action": 1.0, "w_confidence": 1.0, "w_return": 1.0, "l2": mcfg.l2 or 1e-3, "d_ff": 8})


def check_model_grads(mcfg: ModelConfig, *, B: int = 2, T: int = 5, F: int = 3, seed: int = 0,
                      padded: bool = True, h: float = H_STEP) -> dict[str, tuple[tuple, float, float]]:
    """{name: (shape, max abs error, max rel error)} for "x" and every parameter of a float64
    model built from `mcfg` as given (use small_model_config first for a configured model)."""
    r = np.random.default_rng(seed)
    params = init_params(mcfg, F, T, r, n_pairs=3)
    for k, v in params.items():   # non-trivial biases / norm params, so their paths are exercised
        if v.ndim == 1:
            v += 0.1 * r.normal(size=v.shape)
    x = r.normal(size=(B, T, F))
    mask = None
    if padded:
        mask = np.ones((B, T), dtype=bool)
        mask[0, 0] = False
    targets = {"action": np.arange(B) % 3, "confidence": r.random(B), "return": 0.01 * r.normal(size=B)}
    pairs = np.array([2, 0, 2][:B] + [1] * max(B - 3, 0)) if mcfg.symbol_embedding else None  # pair 2 twice: dE sums
    train = mcfg.dropout > 0 or mcfg.head_dropout > 0

    def run():
        out, cache = model_forward(params, x, mcfg, mask=mask, train=train, rng=np.random.default_rng(seed + 1),
                                   pairs=pairs)
        return out, cache, *model_loss(out, targets, mcfg, params)

    f = lambda: run()[2]
    _, cache, _, _, dout = run()
    dx, grads = model_backward(params, cache, dout, mcfg, need_dx=True)
    results = {}
    for name, tensor, grad in [("x", x, dx), *((k, params[k], grads[k]) for k in params)]:
        abs_err, rel = rel_error(grad, richardson_grad(f, tensor, h), floor=FLOOR)
        results[name] = (tensor.shape, abs_err, rel)
    return results
