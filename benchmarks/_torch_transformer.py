"""The PyTorch twin of our transformer model, for the throughput benchmarks
(benchmarks/transformer_throughput.py and the transformer rows of benchmarks/train_throughput.py).

Same architecture as cryptotrain/models/transformer.py with sinusoidal positions, additive pooling
with concat_last and one ReLU head layer:

    h = TransformerEncoder(L x TransformerEncoderLayer(batch_first, tanh-GELU), final LayerNorm if
        pre-norm)(x W_in + b_in + PE)                                   (B, T, H)
    alpha = softmax_t(tanh(h W + b) . v);  ctx = [sum_t alpha_t h_t, h_{T-1}]   (B, 2H)
    z = relu(ctx W_0 + b_0) W_out + b_out                              (B, 5)

torch's layer has a key bias our attention lacks (the softmax cancels it) and also drops the FF
hidden activation when dropout > 0. `ours_from_torch` copies the torch weights into our parameter
dict, so both sides start from the same numbers.

Legend: B batch, T time, F features, H d_model, L layers, NH heads, Dff feed-forward width.
"""

from __future__ import annotations

import numpy as np
import torch

from cryptotrain.nn.transformer import encoder_layer_from_torch, sinusoidal_encoding


def gelu_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")   # ours is the tanh approximation


def model_options(H: int) -> dict:
    """The transformer fields of the benchmarked ModelConfig (as configs/transformer_1h.yaml; pooling
    is the default additive with concat_last)."""
    return dict(num_heads=4, d_ff=2 * H, norm_first=True, positional="sinusoidal", ff_activation="gelu")


class TorchTransformer(torch.nn.Module):
    def __init__(self, F: int, H: int, L: int, T: int, num_heads: int, d_ff: int, norm_first: bool = True,
                 dropout: float = 0.0, head: int | None = None):
        super().__init__()
        head = head or H
        self.L = L
        self.in_proj = torch.nn.Linear(F, H)
        self.register_buffer("pe", torch.from_numpy(sinusoidal_encoding(T, H)))
        layer = torch.nn.TransformerEncoderLayer(H, num_heads, d_ff, dropout, activation=gelu_tanh,
                                                 batch_first=True, norm_first=norm_first)
        self.enc = torch.nn.TransformerEncoder(layer, L, norm=torch.nn.LayerNorm(H) if norm_first else None,
                                               enable_nested_tensor=False)
        self.pool = torch.nn.Linear(H, H)
        self.pool_v = torch.nn.Parameter(torch.randn(H) / H ** 0.5)
        self.hidden = torch.nn.Linear(2 * H, head)
        self.out = torch.nn.Linear(head, 5)

    def forward(self, x):
        h = self.enc(self.in_proj(x) + self.pe[: x.shape[1]])            # (B, T, H)
        alpha = torch.softmax(torch.tanh(self.pool(h)) @ self.pool_v, dim=1)
        ctx = torch.bmm(alpha[:, None, :], h)[:, 0]                      # (B, H)
        return self.out(torch.relu(self.hidden(torch.cat([ctx, h[:, -1]], dim=1))))


def ours_from_torch(model: TorchTransformer, params: dict) -> dict:
    """Our params (keys and shapes of `params`, from init_params) holding the torch model's weights."""
    a = lambda t: t.detach().numpy().astype(params["pool.W"].dtype)  # noqa: E731
    new = {"in_proj.W": a(model.in_proj.weight).T, "in_proj.b": a(model.in_proj.bias)}
    for l, layer in enumerate(model.enc.layers):
        new.update(encoder_layer_from_torch({n: a(t) for n, t in layer.named_parameters()}, prefix=f"enc.{l}"))
    if model.enc.norm is not None:
        new.update({"enc_norm.gamma": a(model.enc.norm.weight), "enc_norm.beta": a(model.enc.norm.bias)})
    new.update({"pool.W": a(model.pool.weight).T, "pool.b": a(model.pool.bias), "pool.v": a(model.pool_v),
                "head.0.W": a(model.hidden.weight).T, "head.0.b": a(model.hidden.bias),
                "head.out.W": a(model.out.weight).T, "head.out.b": a(model.out.bias)})
    assert new.keys() == params.keys(), sorted(set(new) ^ set(params))
    for k, v in params.items():
        assert new[k].shape == v.shape, (k, new[k].shape, v.shape)
    return {k: np.ascontiguousarray(new[k]) for k in params}


def encoder_gemm_shapes(B: int, T: int, F: int, H: int, L: int, NH: int, Dff: int) -> list[tuple[int, int, int, int]]:
    """The matrix products of the input projection and the encoder layers in one training step, as
    (m, k, n, count) for an (m, k) @ (k, n) product: forward, weight gradients, activation
    gradients (not the gradient w.r.t. the input data). Pooling and heads are the caller's."""
    N, Dh = T * B, H // NH
    out = [(N, F, H, 1), (F, N, H, 1)]                             # input projection: forward, dW
    for _ in range(L):
        for k, n in ((H, 3 * H), (H, H), (H, Dff), (Dff, H)):      # Wqkv, Wo, W1, W2
            out += [(N, k, n, 1), (k, N, n, 1), (N, n, k, 1)]      # forward, dW, dx
        out += [(T, Dh, T, B * NH), (T, T, Dh, B * NH)]            # forward: Q K^T, P V
        out += [(T, T, Dh, 3 * B * NH), (T, Dh, T, B * NH)]        # backward: dQ, dK, dV; dP
    return out
