"""A figure rendered in a child process, on another core, while the caller goes on.

Importing matplotlib (~0.6 s) and drawing a figure are Python work: a thread takes turns with
the caller on the GIL (`backtest` on a million candles got slower that way), a process runs
beside it. `FigureProcess(fn)` starts `python -m cryptotrain.report.figure_process MODULE NAME`
at once: the child imports matplotlib and `fn`'s module while the caller loads and computes.
`submit(*args)` sends it the one call `fn(*args)` (a function of report/ returning PNG bytes; its
arguments pickled: plain data, small arrays) and returns a handle whose `result()` waits for the
bytes; an exception raised there is raised by `result()`. The child only renders: the caller
writes the file, so a killed caller never leaves a child writing into its outputs, and the child
ends when its input closes.

With one usable core (or `spawn=False`), or when the child cannot start or dies, `fn` runs in
this process when `result()` is called.

Kept because it pays (measured on `backtest --signals` of 1M candles, benchmarks/backtest.py's
files, fresh processes, variants interleaved, load 6-10 on 2 cores): drawing in this process
instead was +1.45 s and +0.18 s (medians of 8 and 6 runs; -0.66 s in a noisier first run of 5),
and together with one CSV formatting thread +1.31 s and +1.63 s.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from cryptotrain.blas import usable_cores

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])   # the directory holding cryptotrain/


class FigureProcess:
    """A child that renders one figure with `fn`; a context manager (the child is ended on exit)."""

    def __init__(self, fn: Callable[..., bytes], spawn: bool = True) -> None:
        self._fn = fn
        self._child: subprocess.Popen | None = None
        self._sender: threading.Thread | None = None
        if not spawn or usable_cores() < 2 or not sys.executable:
            return
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1",   # it draws; it needs no BLAS threads
               "PYTHONPATH": os.pathsep.join(p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH")) if p)}
        try:
            self._child = subprocess.Popen([sys.executable, "-m", __name__, fn.__module__, fn.__qualname__],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, env=env)
        except OSError:
            self._child = None

    def submit(self, *args: Any) -> "FigureProcess":
        """Send the call `fn(*args)` to the child (at most one call); `result()` gives its value."""
        self._args = args
        if self._child is not None:
            # a job larger than the pipe's buffer would block here until the child, still
            # importing, reads it: a thread sends it (the write releases the GIL)
            job = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
            self._sender = threading.Thread(target=_send, args=(self._child, job), daemon=True)
            self._sender.start()
        return self

    def result(self) -> bytes:
        if self._child is not None:
            try:
                answer = pickle.load(self._child.stdout)
            except (EOFError, pickle.UnpicklingError, OSError):
                answer = None   # the child died: render here
            self.close()
            if answer is not None:
                ok, value = answer
                if not ok:
                    raise value
                return value
        return self._fn(*self._args)

    def close(self) -> None:
        if self._child is not None:
            _end(self._child)
            if self._sender is not None:
                self._sender.join()
            self._child = self._sender = None

    def __enter__(self) -> "FigureProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _send(child: subprocess.Popen, job: bytes) -> None:
    try:
        child.stdin.write(job)
        child.stdin.close()
    except (OSError, ValueError):   # the child is gone (BrokenPipeError) or was ended: result() renders here
        pass


def _end(child: subprocess.Popen) -> None:
    """Kill the child if it still runs (first: a sender blocked on its full pipe is then released), reap it."""
    if child.poll() is None:
        child.kill()
    child.wait()
    for pipe in (child.stdin, child.stdout):
        try:
            pipe.close()
        except (OSError, ValueError):
            pass


def _serve(module: str, name: str) -> None:
    """The child: import matplotlib and the function now, then render the one call that arrives on stdin."""
    from cryptotrain.report.figures import pyplot

    answers, sys.stdout = sys.stdout.buffer, sys.stderr   # a stray print must not corrupt the answer
    pyplot()
    fn = getattr(importlib.import_module(module), name)
    try:
        args = pickle.load(sys.stdin.buffer)
    except EOFError:   # the caller finished (or died) without a job
        return
    try:
        answer = (True, fn(*args))
    except Exception as err:   # sent back, raised by the caller's result()
        answer = (False, err)
    try:
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:   # an exception that does not pickle: its text
        data = pickle.dumps((False, RuntimeError(f"{type(answer[1]).__name__}: {answer[1]}")))
    answers.write(data)
    answers.flush()


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
