"""Reusable arrays for the recurrent layers and the additive pooling: a training step reuses the big
buffers of the previous step instead of asking the allocator for fresh memory.

Why: every step allocates the same large arrays (gate buffers, states, per-step gradients and
their (C, T*B) copies). Large allocations get fresh memory mappings from the C allocator, and the
first touch of each 4 KiB page is a page fault in which the kernel zeroes the page. Measured on
the benchmark models with one BLAS thread: a step took 1.2-1.5x longer than with an allocator that
keeps freed memory (perf: clear_page_erms and exc_page_fault in the kernel).

`empty(shape, dtype)` is np.empty, except that it hands out again an array of that shape and dtype
from this thread's pool once nothing else refers to it (its CPython reference count shows the
pool's list as the only owner: every cache, view and result that used it has been dropped), and
keeps each new array it makes in the pool. Reuse is therefore safe by construction. The pool
keeps at most MAX_ARRAYS arrays; beyond that the free ones of the least recently used shapes are
let go. Like a caching allocator, it keeps the working set of the largest step alive between
steps (e.g. 310 MB for the benchmark's large GRU).
"""

from __future__ import annotations

import sys
import threading

import numpy as np

MAX_ARRAYS = 256
_local = threading.local()


def _free(a: np.ndarray) -> bool:
    """Whether the pool's list holds the only reference to `a`: references are that list, the
    caller's loop variable and getrefcount's argument."""
    return sys.getrefcount(a) == 4         # + the argument of _free itself


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised array of `shape` and `dtype`, reused from the pool when one is free."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    key = (tuple(shape), np.dtype(dtype).char)
    arrs = pool.pop(key, None)
    if arrs is None:
        arrs = []
    pool[key] = arrs                       # dict order: least recently used shapes first
    for a in arrs:
        if _free(a):
            return a
    a = np.empty(shape, dtype)
    arrs.append(a)
    if sum(len(v) for v in pool.values()) > MAX_ARRAYS:
        _trim(pool)
    return a


def _trim(pool: dict) -> None:
    excess = sum(len(v) for v in pool.values()) - MAX_ARRAYS
    for key in list(pool):
        if excess <= 0:
            return
        arrs = pool[key]
        kept = []
        for a in arrs:
            if excess > 0 and _free(a):
                excess -= 1
            else:
                kept.append(a)
        arrs[:] = kept
        if not kept:
            del pool[key]


def zeros(shape, dtype) -> np.ndarray:
    a = empty(shape, dtype)
    a.fill(0)
    return a
