"""The MLP head stack shared by the models: hidden layers, then the three outputs.

Legend: B batch, D_0 input width (pooled context), D_i = head_sizes[i-1], O = 5 fused outputs.

    a_0 = x;  a_i = dropout(act(a_{i-1} W_i + b_i))   for i = 1..len(head_sizes)
    z = a_k W_out + b_out  (B, 5) -> logits z[:, 0:3] (sell, hold, buy),
                                     confidence sigmoid(z[:, 3]), return z[:, 4]
One fused output matrix keeps it one GEMM; its columns are the three heads.

params ("{prefix}." + key):  {i}.W (D_i, D_{i+1}), {i}.b (D_{i+1},) for i = 0..k-1;
                             out.W (D_k, 5), out.b (5,)
"""

from __future__ import annotations

import numpy as np

from cryptotrain.nn.layers import (ACTIVATIONS, dropout_backward, dropout_forward, linear_backward,
                                   linear_forward, sigmoid_backward, sigmoid_forward)
from cryptotrain.nn.init import glorot_uniform

N_OUT = 5  # 3 logits + confidence + return


def head_init(n_in: int, head_sizes: list[int], rng: np.random.Generator, dtype=np.float32,
              prefix: str = "head") -> dict:
    params = {}
    widths = [n_in, *head_sizes]
    for i in range(len(head_sizes)):
        params[f"{prefix}.{i}.W"] = glorot_uniform(rng, widths[i], widths[i + 1], dtype)  # (D_i, D_{i+1})
        params[f"{prefix}.{i}.b"] = np.zeros(widths[i + 1], dtype=dtype)                   # (D_{i+1},)
    params[f"{prefix}.out.W"] = glorot_uniform(rng, widths[-1], N_OUT, dtype)             # (D_k, 5)
    params[f"{prefix}.out.b"] = np.zeros(N_OUT, dtype=dtype)                               # (5,)
    return params


def head_forward(params: dict, x: np.ndarray, n_hidden: int, activation: str = "relu",
                 dropout: float = 0.0, *, train: bool = False, rng=None, prefix: str = "head"):
    """x (B, D_0) -> ({"logits" (B, 3), "confidence" (B,), "return" (B,)}, cache)."""
    act_fwd = ACTIVATIONS[activation][0]
    layers = []
    a = x
    for i in range(n_hidden):
        z, c_lin = linear_forward(params[f"{prefix}.{i}.W"], params[f"{prefix}.{i}.b"], a)
        a, c_act = act_fwd(z)
        a, c_do = dropout_forward(a, dropout, train, rng)
        layers.append((c_lin, c_act, c_do))
    z, c_out = linear_forward(params[f"{prefix}.out.W"], params[f"{prefix}.out.b"], a)
    conf, c_sig = sigmoid_forward(z[:, 3])
    out = {"logits": z[:, 0:3], "confidence": conf, "return": z[:, 4]}
    cache = {"prefix": prefix, "activation": activation, "layers": layers, "c_out": c_out, "c_sig": c_sig}
    return out, cache


def head_backward(params: dict, cache: dict, dout: dict):
    """dout: {"logits", "confidence", "return"} gradients (a missing key counts as zero).
    Returns dx (B, D_0) and the grads of this head's keys; walks head_forward in reverse."""
    p = cache["prefix"]
    act_bwd = ACTIVATIONS[cache["activation"]][1]
    dz = np.zeros_like(cache["c_out"], shape=(cache["c_out"].shape[0], N_OUT))
    if dout.get("logits") is not None:
        dz[:, 0:3] = dout["logits"]
    if dout.get("confidence") is not None:
        dz[:, 3] = sigmoid_backward(cache["c_sig"], dout["confidence"])
    if dout.get("return") is not None:
        dz[:, 4] = dout["return"]
    grads = {}
    da, grads[f"{p}.out.W"], grads[f"{p}.out.b"] = linear_backward(params[f"{p}.out.W"], cache["c_out"], dz)
    for i in reversed(range(len(cache["layers"]))):
        c_lin, c_act, c_do = cache["layers"][i]
        da = act_bwd(c_act, dropout_backward(c_do, da))
        da, grads[f"{p}.{i}.W"], grads[f"{p}.{i}.b"] = linear_backward(params[f"{p}.{i}.W"], c_lin, da)
    return da, grads
