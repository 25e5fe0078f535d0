"""BLAS thread pinning, and the thread count a computation actually ran with.

OpenBLAS rounds some matrix products differently with 1 and 2 threads (with its SkylakeX kernels:
inner length above 448 and not a multiple of 32; with its Haswell kernels also many small
products, differently per batch column), so "same config, same numbers" needs the same thread
count. A Ray worker gets its count through environment variables set when the process starts,
before NumPy loads its BLAS (`env_vars`); every job, in a worker or in this process, also runs
under threadpoolctl's `threadpool_limits` (`limited`), and records what threadpoolctl reports as
in force while it runs (`threads_in_force`). Training records the count in its checkpoints, and
evaluate and predict run the model with it (`limited`), so they reproduce training's numbers.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

# OpenBLAS, OpenMP (used by some BLAS builds and by LightGBM) and MKL each read their own variable.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which a container or `taskset` may narrow
    below os.cpu_count()), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def env_vars(threads: int) -> dict[str, str]:
    """Environment variables that pin a fresh process's BLAS pools to `threads`."""
    return {name: str(threads) for name in THREAD_VARIABLES}


@contextmanager
def limited(threads: int | None) -> Iterator[None]:
    """Run the body with every BLAS/OpenMP pool limited to `threads`; None leaves them as they are."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def threads_in_force() -> int | None:
    """The BLAS thread count now in force (the largest over the loaded BLAS libraries).

    NumPy is imported first: a worker that has not loaded it yet has no BLAS to report.
    None when no BLAS library is loaded at all.
    """
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl inspects)
    from threadpoolctl import threadpool_info

    counts = [int(lib["num_threads"]) for lib in threadpool_info() if lib.get("user_api") == "blas"]
    return max(counts) if counts else None
