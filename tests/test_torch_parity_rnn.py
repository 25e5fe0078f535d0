"""Parity with PyTorch (skipped without torch): our GRU / LSTM stacks with torch's weights give
the same outputs and gradients (x, h0/c0, every weight) as torch.nn.GRU / nn.LSTM, float64.

Gate-order mapping (nn/gru.py gru_from_torch, nn/lstm.py lstm_from_torch): same gate order as
torch (r, z, n / i, f, g, o), weights transposed, and for the GRU the recurrent biases of r, z
folded into b while the n part stays apart as bhn (it sits inside r * (...))."""

import numpy as np
import pytest

from cryptotrain.nn.gru import gru_from_torch
from cryptotrain.nn.lstm import lstm_from_torch
from cryptotrain.nn.recurrent import StackSpec, rnn_stack_backward, rnn_stack_forward

torch = pytest.importorskip("torch")

B, T, F, H = 3, 6, 3, 4
ATOL = 1e-10


def _torch_weights(mod, l):
    return [getattr(mod, f"{n}_l{l}").detach().numpy().copy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _grad(mod, name, l):
    return getattr(mod, f"{name}_l{l}").grad.numpy()


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_matches_torch(kind, num_layers):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cls, from_torch = {"gru": (torch.nn.GRU, gru_from_torch), "lstm": (torch.nn.LSTM, lstm_from_torch)}[kind]
    mod = cls(F, H, num_layers=num_layers, batch_first=True, dtype=torch.float64)
    params = {}
    for l in range(num_layers):
        params.update({f"rnn.{l}.{k}": v for k, v in from_torch(*_torch_weights(mod, l)).items()})
    x = rng.normal(size=(B, T, F))
    h0 = rng.normal(size=(num_layers, B, H))
    c0 = rng.normal(size=(num_layers, B, H))
    dy = rng.normal(size=(B, T, H))

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True)
    yt, _ = mod(xt, h0t if kind == "gru" else (h0t, c0t))
    (yt * torch.tensor(dy)).sum().backward()

    our_h0 = [h0[l] if kind == "gru" else (h0[l], c0[l]) for l in range(num_layers)]
    y, cache = rnn_stack_forward(params, x, StackSpec(kind, num_layers), h0=our_h0)
    dx, grads, dh0 = rnn_stack_backward(params, cache, dy)

    close = lambda a, b, what: np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=what)
    close(y, yt.detach().numpy(), "output")
    close(dx, xt.grad.numpy(), "dx")
    for l in range(num_layers):
        g = {k.split(".")[-1]: v for k, v in grads.items() if k.startswith(f"rnn.{l}.")}
        close(g["Wx"], _grad(mod, "weight_ih", l).T, f"layer {l} Wx")
        close(g["Wh"], _grad(mod, "weight_hh", l).T, f"layer {l} Wh")
        close(g["b"], _grad(mod, "bias_ih", l), f"layer {l} b vs bias_ih")
        b_hh = _grad(mod, "bias_hh", l)
        if kind == "gru":
            close(g["b"][:2 * H], b_hh[:2 * H], f"layer {l} b[r,z] vs bias_hh")
            close(g["bhn"], b_hh[2 * H:], f"layer {l} bhn")
            close(dh0[l], h0t.grad.numpy()[l], f"layer {l} dh0")
        else:
            close(g["b"], b_hh, f"layer {l} b vs bias_hh")
            close(dh0[l][0], h0t.grad.numpy()[l], f"layer {l} dh0")
            close(dh0[l][1], c0t.grad.numpy()[l], f"layer {l} dc0")
