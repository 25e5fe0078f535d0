"""Small job functions that measure the executor itself (the benchmark and the tests use them).

`noop` returns at once (after `reports` progress reports): its wall time through the executor is
the executor's overhead per job (and per report).
`gemm` multiplies seeded matrices with inner length `k` (504 by default: OpenBLAS rounds that
length differently with 1 and 2 threads), writes the product to `product.npy` in its directory
and returns its sha256 and the BLAS threads in force, so runs in different places can be
compared bit for bit.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from cryptotrain.fileio import atomic_path
from cryptotrain.orchestration.executor.jobs import JobContext


def noop(ctx: JobContext) -> dict:
    for i in range(int(ctx.payload.get("reports", 0))):
        ctx.report({"i": i})
    return {"pid": os.getpid(), "attempt": ctx.attempt}


def gemm(ctx: JobContext) -> dict:
    m, k, n = (int(ctx.payload.get(name, default)) for name, default in (("m", 64), ("k", 504), ("n", 96)))
    rng = np.random.default_rng(int(ctx.payload.get("seed", 0)))
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    product = a @ b
    with atomic_path(ctx.directory / "product.npy", suffix=".npy") as tmp:
        np.save(tmp, product)
    return {"sha256": hashlib.sha256(product.tobytes()).hexdigest(), "blas_threads": ctx.blas_threads}
