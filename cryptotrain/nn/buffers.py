"""Reusable arrays for the recurrent layers and the additive pooling: a training step reuses the big
buffers of the previous step instead of asking the allocator for fresh memory.

Why: every step allocates the same large arrays (gate buffers, states, per-step gradients and
their (C, T*B) copies). Large allocations get fresh memory mappings from the C allocator, and the
first touch of each 4 KiB page is a page fault in which the kernel zeroes the page. Measured on
the benchmark models with one BLAS thread: a step took 1.2-1.5x longer than with an allocator that
keeps freed memory (perf: clear_page_erms and exc_page_fault in the kernel).

Ownership rule (no reference counts, nothing inferred): an array handed out by `empty` inside a
`with step():` block belongs to that block, the innermost one open in this thread, and goes back
to the pool when the block exits, never before. Outside any block `empty` is plain np.empty (an
array nobody else will ever be given). So within one step no two `empty` calls share memory, and
an array is reused only by a later step. What a step returns to its caller must therefore not be
a pooled array (or a view of one): models.loss_and_grads opens the block around forward and
backward and returns only fresh arrays (tests/test_speed_paths.py checks both rules).

The free lists keep at most MAX_ARRAYS arrays; beyond that the least recently used shapes are let
go. Like a caching allocator, the pool keeps the working set of the largest step alive between
steps.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

MAX_ARRAYS = 256
_local = threading.local()


def _state():
    """This thread's (free lists {(shape, dtype char): [arrays]}, stack of open steps' lists)."""
    if not hasattr(_local, "free"):
        _local.free, _local.steps = {}, []
    return _local.free, _local.steps


@contextlib.contextmanager
def step():
    """Scope of one training step: arrays from `empty` inside it are released when it exits."""
    free, steps = _state()
    held: list[np.ndarray] = []
    steps.append(held)
    try:
        yield
    finally:
        steps.pop()
        for a in held:
            free.setdefault((a.shape, a.dtype.char), []).append(a)
        _trim(free)


def empty(shape, dtype) -> np.ndarray:
    """An uninitialised array of `shape` and `dtype`, from the pool inside a `step()`, else np.empty."""
    free, steps = _state()
    if not steps:
        return np.empty(shape, dtype)
    key = (tuple(shape), np.dtype(dtype).char)
    arrs = free.pop(key, [])
    a = arrs.pop() if arrs else np.empty(shape, dtype)
    if arrs:
        free[key] = arrs                   # re-inserted last: dict order is least recently used first
    steps[-1].append(a)
    return a


def zeros(shape, dtype) -> np.ndarray:
    a = empty(shape, dtype)
    a.fill(0)
    return a


def _trim(free: dict) -> None:
    excess = sum(len(v) for v in free.values()) - MAX_ARRAYS
    for key in list(free):
        if excess <= 0:
            return
        arrs = free[key]
        n = min(excess, len(arrs))
        del arrs[:n]
        excess -= n
        if not arrs:
            del free[key]


def pooled(a: np.ndarray) -> bool:
    """Whether `a` shares memory with an array in this thread's pool (free or held by a step)."""
    free, steps = _state()
    return any(np.shares_memory(a, b) for arrs in (*free.values(), *steps) for b in arrs)
