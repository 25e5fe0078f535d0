"""Benchmark: training throughput of our NumPy transformer vs torch.nn.TransformerEncoder.

One full training step, samples/s: forward, the three losses, backward, global-norm clipping
(5.0), Adam. Both sides float32, same model from the same weights (benchmarks/_torch_transformer.py;
the evaluation-mode losses of both are printed as a check): input projection F -> d_model plus sinusoidal
positions, `layers` pre-norm encoder layers (tanh-GELU, dropout 0.1 on attention weights and
sub-layer outputs; torch also drops the FF hidden activation) with a final LayerNorm, additive
attention pooling concatenated with the last step, a ReLU head of width 64, 5 fused outputs, and
loss = CE + 0.1 MSE(sigmoid confidence) + 0.1 Huber(return). Rounds alternate ours / torch
(A B A B) so that load from other processes hits both alike; the medians over rounds are printed.
BLAS threads (NumPy) and torch intra-op threads are both limited to --threads.

    .venv/bin/python benchmarks/transformer_throughput.py [--rounds 7] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

try:
    import torch
except ModuleNotFoundError:
    sys.exit("transformer_throughput.py compares with PyTorch, which is not installed here: "
             "run `make bench` (it installs the optional torch extra) or `.venv/bin/pip install torch==2.13.0`")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _torch_transformer import TorchTransformer, model_options, ours_from_torch  # noqa: E402

from cryptotrain.config import ModelConfig, TrainConfig  # noqa: E402
from cryptotrain.models import init_params, loss_and_grads  # noqa: E402
from cryptotrain.optim import adam_init, adam_step, clip_gradients  # noqa: E402

B, T, F, D, NH, DFF, L, HEAD = 64, 48, 32, 64, 4, 128, 2, 64
DROPOUT, CLIP, LR = 0.1, 5.0, 1e-3


def torch_loss(model, x, y, conf, ret):
    z = model(x)
    return (torch.nn.functional.cross_entropy(z[:, :3], y)
            + 0.1 * torch.nn.functional.mse_loss(torch.sigmoid(z[:, 3]), conf)
            + 0.1 * torch.nn.functional.huber_loss(z[:, 4], 100.0 * ret))


def torch_step(model, opt, x, y, conf, ret):
    loss = torch_loss(model, x, y, conf, ret)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    opt.step()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10, help="training steps per round and side")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, F)).astype(np.float32)
    targets = {"action": rng.integers(0, 3, B), "confidence": rng.random(B).astype(np.float32),
               "return": (0.01 * rng.normal(size=B)).astype(np.float32)}

    mcfg = ModelConfig(type="transformer", hidden_size=D, num_layers=L, dropout=DROPOUT, head_sizes=[HEAD],
                       w_action=1.0, w_confidence=0.1, w_return=0.1, return_loss="huber", **model_options(D))
    assert (mcfg.num_heads, mcfg.d_ff) == (NH, DFF)
    tcfg = TrainConfig(lr=LR, clip_norm=CLIP)
    model = TorchTransformer(F, D, L, T, NH, DFF, norm_first=True, dropout=DROPOUT, head=HEAD)
    params = ours_from_torch(model, init_params(mcfg, F, T, rng))   # both sides start from the same weights
    state = adam_init(params)

    def ours():
        _, _, grads, _ = loss_and_grads(params, x, targets, mcfg, train=True, rng=rng)
        clip_gradients(grads, CLIP, None)
        adam_step(params, grads, state, LR, tcfg)

    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.tensor(x), torch.tensor(targets["action"])
    ct, rt = torch.tensor(targets["confidence"]), torch.tensor(targets["return"])
    with torch.no_grad():   # same model check: the evaluation-mode losses agree (float32)
        loss_torch = float(torch_loss(model.eval(), xt, yt, ct, rt))
    loss_ours = loss_and_grads(params, x, targets, mcfg, train=False)[0]
    model.train()
    theirs = lambda: torch_step(model, opt, xt, yt, ct, rt)   # noqa: E731

    n_ours = sum(p.size for p in params.values())
    n_torch = sum(p.numel() for p in model.parameters())
    print(f"B={B} T={T} F={F} d_model={D} heads={NH} d_ff={DFF} layers={L}, float32, {args.threads} threads; "
          f"parameters ours {n_ours:,} / torch {n_torch:,} (+ torch's key bias); "
          f"same-weights loss ours {loss_ours:.6f} / torch {loss_torch:.6f}")
    rates = {"ours": [], "torch": []}
    with threadpool_limits(args.threads):
        ours(), theirs()   # warm-up
        for _ in range(args.rounds):
            for name, fn in (("ours", ours), ("torch", theirs)):
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    fn()
                rates[name].append(B * args.steps / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    for k, v in rates.items():
        print(f"  {k:6s} median {med[k]:8.0f} samples/s   rounds: " + " ".join(f"{r:.0f}" for r in v))
    print(f"  ours / torch = {med['ours'] / med['torch']:.2f}")


if __name__ == "__main__":
    main()
