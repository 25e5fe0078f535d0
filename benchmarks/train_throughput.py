"""Benchmark: training throughput (samples/s) of our NumPy GRU/LSTM-attention models vs PyTorch CPU.

One training step = the production step of train/loop.py (forward, losses, backward, non-finite
check, global-norm clipping at 5.0, Adam), float32, on a fixed random batch. The model is
gru_attention / lstm_attention with additive attention pooling (concat_last), one ReLU head
layer of width H and the action + confidence heads (w_return = 0); the PyTorch twin
(benchmarks/_torch_reference.py: nn.GRU / nn.LSTM batch_first, same heads and losses,
clip_grad_norm_, Adam) starts from the same weights. Each row runs in a fresh process, whose
rounds alternate ours / torch (A B A B ...) and one large float32 NumPy GEMM, so that load from
other processes hits all alike; the medians over rounds are printed, and only ratios measured
together should be compared.

Model FLOPs per step = 2 * m * k * n summed over every matrix product of the forward and the
backward (weight gradients and activation gradients; not the gradient w.r.t. the input data,
which training does not need); elementwise work is not counted (see `gemm_shapes`).

    .venv/bin/python benchmarks/train_throughput.py [--configs small,medium] [--models gru_attention]
        [--rounds 5] [--round-seconds 1.0] [--no-memory] [--json] [--profile medium]
        [--threads 1,2] [--modes train,infer]

--threads runs every row at each BLAS thread count (each row still a fresh process);
--modes infer adds rows of the eval-mode forward (evaluate, predict, validation loss) against
the torch model's forward under torch.inference_mode().
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _throughput_memory import measure_memory  # noqa: E402

from cryptotrain.config import Config, ModelConfig  # noqa: E402
from cryptotrain.models import init_params  # noqa: E402
from cryptotrain.models.inference import predict_with_loss  # noqa: E402
from cryptotrain.optim import adam_init  # noqa: E402
from cryptotrain.train.loop import train_epoch  # noqa: E402

CONFIGS = {  # name: (B, T, F, H, L)
    "small": (64, 48, 32, 64, 1),
    "medium": (128, 48, 64, 128, 2),
    "large": (128, 96, 95, 256, 3),
    "minute": (256, 60, 16, 64, 2),
}
MODELS = {"gru_attention": "gru", "lstm_attention": "lstm", "transformer": "transformer"}
W_CONF, CLIP, LR = 0.1, 5.0, 1e-3
GEMM_N = 2048


def transformer_options(H: int) -> dict:
    from _torch_transformer import model_options   # pre-norm, 4 heads, d_ff 2H, tanh-GELU, sinusoidal

    return model_options(H)


def make_config(model: str, cfg_name: str) -> Config:
    B, T, F, H, L = CONFIGS[cfg_name]
    mcfg = ModelConfig(type=model, hidden_size=H, num_layers=L, attention="additive", concat_last=True,
                       head_sizes=[H], head_activation="relu", w_action=1.0, w_confidence=W_CONF, w_return=0.0,
                       **(transformer_options(H) if model == "transformer" else {}))
    cfg = Config(model=mcfg)
    cfg.train.lr, cfg.train.clip_norm, cfg.train.batch_size = LR, CLIP, B
    return cfg


def gemm_shapes(kind: str, B: int, T: int, F: int, H: int, L: int) -> list[tuple[int, int, int, int]]:
    """Every matrix product of one training step as (m, k, n, count): an (m, k) @ (k, n) product."""
    K = 3 if kind == "gru" else 4
    out = []
    if kind == "transformer":   # input projection and encoder layers instead of the recurrent stack
        from _torch_transformer import encoder_gemm_shapes

        opts = transformer_options(H)
        out, L = encoder_gemm_shapes(B, T, F, H, L, opts["num_heads"], opts["d_ff"]), 0
    for l in range(L):
        Fl = F if l == 0 else H
        out += [(T * B, Fl, K * H, 1), (B, H, K * H, T)]          # forward: input projections, recurrence
        out += [(Fl, T * B, K * H, 1), (H, T * B, K * H, 1)]      # backward: dWx, dWh
        out += [(B, K * H, H, T)]                                 # backward: dh_prev
        if l > 0:
            out += [(T * B, K * H, Fl, 1)]                        # backward: dx into the layer below
    out += [(T * B, H, H, 3)]                                     # pooling W: forward, dW, dh
    out += [(B, T, H, 2), (B, H, T, 1)]                           # ctx = alpha h; dh, dalpha
    out += [(B, 2 * H, H, 3), (B, H, 5, 3)]                       # head layers: forward, dW, dx
    return out


def forward_shapes(kind: str, B: int, T: int, F: int, H: int, L: int) -> list[tuple[int, int, int, int]]:
    """The matrix products of the eval-mode forward alone (mode "infer"): `gemm_shapes` without
    any backward product."""
    if kind == "transformer":
        raise ValueError("inference rows are for the recurrent models")
    K = 4 if kind == "lstm" else 3
    out = []
    for l in range(L):
        out += [(T * B, F if l == 0 else H, K * H, 1), (B, H, K * H, T)]
    return out + [(T * B, H, H, 1), (B, T, H, 1), (B, 2 * H, H, 1), (B, H, 5, 1)]


def step_flops(shapes) -> float:
    return float(sum(2 * m * k * n * c for m, k, n, c in shapes))


class FixedBatch:
    """Stands in for data.dataset.Dataset: every batch is the same random one."""

    def __init__(self, B, T, F, seed=0):
        self.timestamps, self.timeframe = np.arange(B) * 3_600_000, "1h"   # the eval pass's batch columns
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(B, T, F)).astype(np.float32)
        self.targets = {"action": rng.integers(0, 3, B), "confidence": rng.random(B).astype(np.float32),
                        "return": (0.01 * rng.normal(size=B)).astype(np.float32)}

    def batch(self, idx):
        return self.x, self.targets


def build_pair(model: str, cfg_name: str, with_torch: bool, mode: str = "train") -> dict:
    """Both sides on the same weights: {"ours": f(n), "torch": f(n) or None} run n training steps
    (mode "train") or n eval-mode forward passes of one batch (mode "infer": ours is
    models.inference.predict_with_loss, the pass of `evaluate` and of training's validation loss;
    torch's is the model under torch.inference_mode()); also "cfg", "params", "data" and (with
    torch) "net", "opt" for the memory measurements."""
    B, T, F, H, L = CONFIGS[cfg_name]
    cfg = make_config(model, cfg_name)
    data = FixedBatch(B, T, F)
    params = init_params(cfg.model, F, T, np.random.default_rng(0))
    pair = {"cfg": cfg, "data": data, "torch": None}
    if with_torch:
        import torch
        from _torch_reference import TorchRecurrentAttention, ours_from_torch, torch_loss, torch_train_step

        torch.manual_seed(0)
        if model == "transformer":   # the twin: torch.nn.TransformerEncoder with the same heads
            from _torch_transformer import TorchTransformer, ours_from_torch

            net = TorchTransformer(F, H, L, T, cfg.model.num_heads, cfg.model.d_ff, cfg.model.norm_first)
        else:
            net = TorchRecurrentAttention(MODELS[model], F, H, L)
        params = ours_from_torch(net, params)
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        tx, ta, tc = (torch.from_numpy(a) for a in (data.x, data.targets["action"], data.targets["confidence"]))

        def torch_step(n, x=tx, a=ta, c=tc):
            if mode == "infer":
                with torch.inference_mode():
                    for _ in range(n):
                        torch_loss(net, x, a, c, W_CONF)
                return
            for _ in range(n):
                torch_train_step(net, opt, x, a, c, W_CONF, CLIP)

        pair.update(torch=torch_step, net=net, opt=opt, tensors=(tx, ta, tc))

    opt_state = adam_init(params)
    rng = np.random.default_rng(1)
    idx = np.arange(B)

    def ours_step(n):
        if mode == "infer":
            for _ in range(n):
                predict_with_loss(params, data, idx, cfg.model, B)
            return
        step = opt_state["step"]
        train_epoch(params, opt_state, data, cfg, [idx] * n, rng, step, step + n + 1)

    pair.update(ours=ours_step, params=params, rng=rng)
    return pair


def gemm_once(a, b, out) -> float:
    t0 = time.perf_counter()
    np.matmul(a, b, out=out)
    return 2.0 * GEMM_N ** 3 / (time.perf_counter() - t0) / 1e9


def _timed(fn, n) -> float:
    t0 = time.perf_counter()
    fn(n)
    return (time.perf_counter() - t0) / n


def bench_row(model, cfg_name, with_torch, rounds, round_s, gemm_args, mode="train") -> dict:
    pair = build_pair(model, cfg_name, with_torch, mode)
    ours, torch_step = pair["ours"], pair["torch"]
    sides = {"ours": ours} if torch_step is None else {"ours": ours, "torch": torch_step}
    steps = {}
    for name, fn in sides.items():              # warm-up, and steps per round from the step time
        fn(1)
        steps[name] = max(1, round(round_s / _timed(fn, 1)))
    per_step = {name: [] for name in sides}
    gemm = []
    for _ in range(rounds):                     # A B A B ...: load hits both sides alike
        for name, fn in sides.items():
            per_step[name].append(_timed(fn, steps[name]))
        gemm.append(gemm_once(*gemm_args))
    B = CONFIGS[cfg_name][0]
    shapes = gemm_shapes(MODELS[model], *CONFIGS[cfg_name])
    flops = step_flops(forward_shapes(MODELS[model], *CONFIGS[cfg_name]) if mode == "infer" else shapes)
    t_ours = statistics.median(per_step["ours"])
    t_torch = statistics.median(per_step["torch"]) if "torch" in per_step else None
    gemm_gflops = statistics.median(gemm)
    torch_gflops = None if t_torch is None else flops / t_torch / 1e9
    return {"model": model, "config": cfg_name, "ours_sps": B / t_ours,
            "torch_sps": None if t_torch is None else B / t_torch,
            "ratio": None if t_torch is None else t_torch / t_ours,
            # torch's step at our FLOP count, and the ratio we would reach if every FLOP of our step
            # ran at the GEMM's rate (no elementwise work, no overhead): a ceiling for "ratio"
            "torch_gflops": torch_gflops, "ceiling": None if t_torch is None else gemm_gflops / torch_gflops,
            "gflops": flops / t_ours / 1e9, "gemm_gflops": gemm_gflops,
            "peak_rss_mb": None, "gflop_per_step": flops / 1e9, "rounds": rounds, "steps_per_round": steps,
            "mode": mode, "threads": blas_threads(), "kernel": blas_kernel()}


def gemm_operands():
    rng = np.random.default_rng(0)
    a, b = (rng.normal(size=(GEMM_N, GEMM_N)).astype(np.float32) for _ in range(2))
    return a, b, np.empty_like(a)


def row_in_fresh_process(model, cfg_name, with_torch, rounds, round_s, mode="train", threads=None) -> dict:
    """bench_row in a new process: no row inherits another's allocator heap or buffer pool
    (torch's steps were up to 1.6x faster after a large row had grown the C heap: fewer
    page faults). threads: the BLAS threads of both sides (OPENBLAS_NUM_THREADS for ours,
    torch.set_num_threads for torch); None keeps the environment's."""
    args = [sys.executable, __file__, "--row-child", model, cfg_name, str(rounds), str(round_s), str(int(with_torch)),
            mode]
    env = dict(os.environ)
    if threads is not None:
        env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run(args, capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"{model} {cfg_name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def row_child(argv) -> None:
    model, cfg_name, rounds, round_s, with_torch, mode = argv
    if with_torch == "1":
        import torch
        torch.set_num_threads(blas_threads())
    print(json.dumps(bench_row(model, cfg_name, with_torch == "1", int(rounds), float(round_s), gemm_operands(),
                               mode)))


def blas_summary() -> str:
    rows = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture', '-')}) threads={i['num_threads']}"
            f" [{Path(i['filepath']).name}]" for i in threadpool_info()]
    return "; ".join(rows)


def blas_kernel() -> str:
    """The BLAS library and the kernels it chose, as threadpoolctl reports them ("openblas Haswell")."""
    return ", ".join(sorted({f"{i.get('internal_api')} {i.get('architecture', '-')}" for i in threadpool_info()
                             if i["user_api"] == "blas"})) or "-"


def blas_threads() -> int:
    return max([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] or [1])


def print_table(rows, out=print) -> None:
    out(f"{'model':<15} {'config':<7} {'mode':<5} {'thr':>3} {'ours [samples/s]':>16} {'torch [samples/s]':>17} {'ratio':>6} "
        f"{'ceiling':>7} {'GFLOP/step':>10} {'GFLOP/s':>8} {'torch GFLOP/s':>13} {'GEMM GFLOP/s':>12} {'% GEMM':>6} "
        f"{'peak RSS [MB]':>13}")
    for r in rows:
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        out(f"{r['model']:<15} {r['config']:<7} {r['mode']:<5} {r['threads']:>3} {r['ours_sps']:>16.0f} {fmt(r['torch_sps'], '>17.0f')} "
            f"{fmt(r['ratio'], '>6.2f')} {fmt(r['ceiling'], '>7.2f')} {r['gflop_per_step']:>10.2f} {r['gflops']:>8.1f} "
            f"{fmt(r['torch_gflops'], '>13.1f')} {r['gemm_gflops']:>12.1f} {100 * r['gflops'] / r['gemm_gflops']:>5.0f}% "
            f"{fmt(r['peak_rss_mb'], '>13.0f')}")
    out("ceiling = GEMM GFLOP/s / torch GFLOP/s: the ratio our step would reach if all of its FLOPs ran at the GEMM's "
        "rate (torch GFLOP/s = our FLOP count / torch's step time)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ",".join(CONFIGS))
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ",".join(MODELS))
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per row (medians are reported)")
    ap.add_argument("--round-seconds", type=float, default=1.0, help="time per side per round")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory measurements (subprocesses)")
    ap.add_argument("--json", action="store_true", help="print the rows as a JSON list only")
    ap.add_argument("--profile", metavar="CONFIG", help="profile our training step on CONFIG instead")
    ap.add_argument("--threads", help="comma-separated BLAS thread counts, e.g. 1,2: every row at each "
                                      "(default: the environment's)")
    ap.add_argument("--modes", default="train", help="comma-separated: train (a training step), infer (the "
                                                     "eval-mode forward of evaluate and predict)")
    args = ap.parse_args()
    configs, models = args.configs.split(","), args.models.split(",")
    for c in configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; choose from {', '.join(CONFIGS)}")
    for m in models:
        if m not in MODELS:
            ap.error(f"unknown model {m!r}; choose from {', '.join(MODELS)}")
    threads = [None] if not args.threads else [int(t) for t in args.threads.split(",")]
    modes = args.modes.split(",")
    for mode in modes:
        if mode not in ("train", "infer"):
            ap.error(f"unknown mode {mode!r}; choose from train, infer")
    if "infer" in modes and "transformer" in models:
        ap.error("--modes infer is for gru_attention and lstm_attention; leave the transformer out (--models)")
    if args.profile:
        from _throughput_profile import profile_config

        if args.profile not in CONFIGS:
            ap.error(f"unknown config {args.profile!r}; choose from {', '.join(CONFIGS)}")
        return profile_config(args.profile, models[0], build_pair,
                              gemm_shapes(MODELS[models[0]], *CONFIGS[args.profile]))
    try:
        import torch
        with_torch = not args.no_torch
        torch.set_num_threads(blas_threads())
    except ImportError:
        with_torch = False
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    log(f"BLAS: {blas_summary()}")
    if with_torch:
        log(f"torch {torch.__version__}, intra-op threads {torch.get_num_threads()}")
    rows, memory = [], []
    for t in threads:
        for mode in modes:
            for m in models:
                for c in configs:
                    row = row_in_fresh_process(m, c, with_torch, args.rounds, args.round_seconds, mode, t)
                    if not args.no_memory and mode == "train" and t == threads[0]:
                        mem = measure_memory(__file__, m, c, with_torch and c == "large")
                        row["peak_rss_mb"] = mem["ours"]["peak_rss_mb"]
                        if "torch" in mem:
                            row["cache_mb"], row["torch_peak_increase_mb"] = (mem["ours"]["cache_mb"],
                                                                              mem["torch"]["rss_delta_mb"])
                        memory.append((m, c, mem))
                    rows.append(row)
                    log(f"  {m} {c} {mode} threads={row['threads']}: ours {row['ours_sps']:.0f} samples/s" +
                        ("" if row["ratio"] is None else f", torch {row['torch_sps']:.0f}, ratio {row['ratio']:.2f}"))
    if args.json:
        keys = ("model", "config", "mode", "threads", "kernel", "ours_sps", "torch_sps", "ratio", "ceiling", "gflops",
                "torch_gflops", "gemm_gflops", "peak_rss_mb")
        extra = ("cache_mb", "torch_peak_increase_mb")   # the large training rows, with memory measured
        print(json.dumps([{k: r[k] for k in keys + extra if k in r} for r in rows], indent=1))
        return
    print()
    print_table(rows)
    for m, c, mem in memory:
        if "torch" in mem:
            o, t = mem["ours"], mem["torch"]
            print(f"\nmemory, {m} {c} (each side in a fresh process; MB):\n"
                  f"  ours:  activation cache {o['cache_mb']:.0f} (arrays the forward keeps for the backward), "
                  f"RSS peak increase {o['rss_delta_mb']:.0f}\n"
                  f"  torch: saved tensors {t['cache_mb']:.0f} (saved_tensors_hooks), "
                  f"RSS peak increase {t['rss_delta_mb']:.0f}\n"
                  f"  cache / torch RSS peak increase = {o['cache_mb'] / t['rss_delta_mb']:.2f} (target <= 0.75)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        from _throughput_memory import memory_child

        memory_child(sys.argv[2:], build_pair)
    elif len(sys.argv) > 1 and sys.argv[1] == "--row-child":
        row_child(sys.argv[2:])
    else:
        main()
