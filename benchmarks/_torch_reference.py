"""The PyTorch twin of our gru_attention / lstm_attention benchmark model (benchmarks/train_throughput.py).

Same architecture as cryptotrain.models with attention "additive", concat_last, one ReLU head
layer of width H and w_return = 0:

    h = nn.GRU | nn.LSTM (batch_first, num_layers L)(x)              (B, T, H)
    alpha = softmax_t(tanh(h W + b) . v);  ctx = [sum_t alpha_t h_t, h_{T-1}]   (B, 2H)
    z = relu(ctx W_0 + b_0) W_out + b_out                              (B, 5)
    loss = CE(z[:, :3], action) + w_conf * MSE(sigmoid(z[:, 3]), confidence)

A training step is forward, backward, clip_grad_norm_ and Adam, as ours in train/loop.py.
`ours_from_torch` copies the torch weights into our parameter dict, so both sides train the same
numbers and `check_same_model` can compare the losses and gradients of one step.
"""

from __future__ import annotations

import numpy as np
import torch

from cryptotrain.nn.gru import gru_from_torch
from cryptotrain.nn.lstm import lstm_from_torch


class TorchRecurrentAttention(torch.nn.Module):
    def __init__(self, kind: str, F: int, H: int, L: int):
        super().__init__()
        rnn = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[kind]
        self.kind, self.L = kind, L
        self.rnn = rnn(F, H, L, batch_first=True)
        self.pool = torch.nn.Linear(H, H)
        self.pool_v = torch.nn.Parameter(torch.randn(H) / H ** 0.5)
        self.hidden = torch.nn.Linear(2 * H, H)
        self.out = torch.nn.Linear(H, 5)

    def forward(self, x):
        h, _ = self.rnn(x)                                               # (B, T, H)
        alpha = torch.softmax(torch.tanh(self.pool(h)) @ self.pool_v, dim=1)
        ctx = torch.bmm(alpha[:, None, :], h)[:, 0]                      # (B, H)
        return self.out(torch.relu(self.hidden(torch.cat([ctx, h[:, -1]], dim=1))))


def torch_loss(model, x, action, confidence, w_conf: float):
    z = model(x)
    return (torch.nn.functional.cross_entropy(z[:, :3], action)
            + w_conf * torch.nn.functional.mse_loss(torch.sigmoid(z[:, 3]), confidence))


def torch_train_step(model, opt, x, action, confidence, w_conf: float, clip: float) -> float:
    loss = torch_loss(model, x, action, confidence, w_conf)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item()


def ours_from_torch(model: TorchRecurrentAttention, params: dict) -> dict:
    """Our params (keys and shapes of `params`, from init_params) holding the torch model's weights."""
    a = lambda t: t.detach().numpy().astype(params["pool.W"].dtype)  # noqa: E731
    conv = gru_from_torch if model.kind == "gru" else lstm_from_torch
    new = {}
    for l in range(model.L):
        w = [a(getattr(model.rnn, f"{n}_l{l}")) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        new.update({f"rnn.{l}.{k}": v for k, v in conv(*w).items()})
    new.update({"pool.W": a(model.pool.weight).T, "pool.b": a(model.pool.bias), "pool.v": a(model.pool_v),
                "head.0.W": a(model.hidden.weight).T, "head.0.b": a(model.hidden.bias),
                "head.out.W": a(model.out.weight).T, "head.out.b": a(model.out.bias)})
    assert new.keys() == params.keys(), sorted(set(new) ^ set(params))
    out = {}
    for k, v in params.items():
        assert new[k].shape == v.shape, (k, new[k].shape, v.shape)
        out[k] = np.ascontiguousarray(new[k])
    return out


def torch_grads_as_ours(model: TorchRecurrentAttention) -> dict:
    """The torch model's .grad in our key layout (float64), for check_same_model."""
    g = lambda t: t.grad.detach().double().numpy()  # noqa: E731
    conv = gru_from_torch if model.kind == "gru" else lstm_from_torch
    out = {}
    for l in range(model.L):
        w = [g(getattr(model.rnn, f"{n}_l{l}")) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        grads = conv(*w)
        grads["b"] = w[2]       # b sums b_ih and (parts of) b_hh: its gradient is b_ih's, not their sum
        out.update({f"rnn.{l}.{k}": v for k, v in grads.items()})
    out.update({"pool.W": g(model.pool.weight).T, "pool.b": g(model.pool.bias), "pool.v": g(model.pool_v),
                "head.0.W": g(model.hidden.weight).T, "head.0.b": g(model.hidden.bias),
                "head.out.W": g(model.out.weight).T, "head.out.b": g(model.out.bias)})
    return out
