"""Memory of one training step, for benchmarks/train_throughput.py; each side in a fresh process.

Ours:  activation cache = bytes of the distinct arrays (their base buffers) that model_forward's
       cache holds for the backward, found by walking the cache (tracemalloc would miss the
       recurrent layers' buffers, which are reused from a pool, nn/buffers.py);
       RSS peak increase = VmHWM during the first training step minus VmRSS before it (peak
       reset through /proc/self/clear_refs; the buffer pool is still empty, so the step's whole
       working set is new memory), and the absolute VmHWM (peak_rss_mb).
Torch: saved tensors = bytes of the distinct storages autograd saves for the backward
       (torch.autograd.graph.saved_tensors_hooks), the analogue of our cache; RSS peak increase
       as above, after a warm-up step on 2 samples (Adam state, .grad buffers, thread pools,
       kernel caches exist before the measured step). Torch's allocations are invisible to
       tracemalloc, hence RSS for its peak.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

MB = 2.0 ** 20


def _status() -> dict[str, float]:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmHWM", "VmRSS")):
                key, val = line.split(":")
                out[key] = int(val.split()[0]) * 1024 / MB
    return out


def _rss_step(run) -> dict[str, float]:
    """RSS growth of run() above the RSS before it (peak reset first), and the absolute peak."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _status()["VmRSS"]
    run()
    peak = _status()["VmHWM"]
    return {"rss_delta_mb": peak - before, "peak_rss_mb": peak}


def cache_bytes(obj, seen=None) -> int:
    """Bytes of the distinct array buffers reachable from obj (dicts, lists, tuples, arrays)."""
    seen = {} if seen is None else seen
    if isinstance(obj, np.ndarray):
        while isinstance(obj.base, np.ndarray):
            obj = obj.base
        seen[id(obj)] = obj.nbytes
    elif isinstance(obj, dict):
        for v in obj.values():
            cache_bytes(v, seen)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            cache_bytes(v, seen)
    return sum(seen.values())


def _ours(pair) -> dict[str, float]:
    from cryptotrain.models import model_forward

    res = _rss_step(lambda: pair["ours"](1))
    out, cache = model_forward(pair["params"], pair["data"].x, pair["cfg"].model, train=True, rng=pair["rng"])
    res["cache_mb"] = cache_bytes(cache) / MB
    return res


def _torch(pair) -> dict[str, float]:
    import torch
    from _torch_reference import torch_loss

    x, a, c = pair["tensors"]
    pair["torch"](1, x[:2], a[:2], c[:2])                 # warm-up on 2 samples
    res = _rss_step(lambda: pair["torch"](1))
    seen = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = torch_loss(pair["net"], x, a, c, 0.1)
    loss.backward()
    res["cache_mb"] = sum(seen.values()) / MB
    return res


def memory_child(argv, build_pair) -> None:
    side, model, cfg_name = argv
    pair = build_pair(model, cfg_name, side == "torch")
    print(json.dumps(_ours(pair) if side == "ours" else _torch(pair)))


def measure_memory(script: str, model: str, cfg_name: str, with_torch: bool) -> dict:
    """{"ours": {...}, "torch": {...} (with_torch only)}, each from a fresh `script --memory-child`."""
    res = {}
    for side in ("ours", "torch") if with_torch else ("ours",):
        out = subprocess.run([sys.executable, script, "--memory-child", side, model, cfg_name],
                             capture_output=True, text=True, check=True)
        res[side] = json.loads(out.stdout.strip().splitlines()[-1])
    return res
