"""What the executor maps: jobs, the context a job function gets, events and results.

A job is plain data (a key, a directory, a payload); its function is an importable top-level
callable `fn(ctx: JobContext) -> value` that writes its results as files in `ctx.directory`
and resumes from whatever an earlier attempt left there. `execute` is the one place that runs
a job, in this process or in a Ray worker: it pins the BLAS threads, announces the start,
calls the function and turns an exception into a failed `JobResult` with a one-line message.
"""

from __future__ import annotations

import importlib
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from cryptotrain import blas

# Event kinds, in the order a job produces them (retry only after a lost worker).
START, PROGRESS, RETRY, FINISH, FAIL = "start", "progress", "retry", "finish", "fail"


@dataclass(frozen=True)
class Job:
    key: str                           # unique among the jobs of one map; names the job in events and results
    directory: Path                    # the job's results live here, and nothing of it elsewhere
    payload: Mapping[str, Any] = field(default_factory=dict)  # plain, picklable data (a config dict, options)
    after: tuple[str, ...] = ()        # keys of earlier jobs that must finish first (e.g. a warm start)

    def __post_init__(self) -> None:
        object.__setattr__(self, "directory", Path(self.directory))
        object.__setattr__(self, "after", tuple(self.after))


@dataclass(frozen=True)
class Event:
    kind: str                          # start | progress | retry | finish | fail
    key: str                           # the job's key
    attempt: int                       # 1 for the first run, 2 after the first lost worker, ...
    data: Mapping[str, Any]            # progress: what the job reported; start: pid, host, blas_threads;
                                       # finish/fail: the JobResult's fields; retry: the reason
    time: float                        # time.time() in the driver when it handled the event


@dataclass(frozen=True)
class JobResult:
    key: str
    directory: Path
    ok: bool                           # the function returned (also when it stopped on request)
    value: Any = None                  # what the function returned (small: the real results are files)
    error: str | None = None           # one line: "ExceptionType: message", or why the worker was lost
    traceback: str | None = None       # the job's traceback, for --debug; never shown by default
    attempts: int = 1                  # runs started (more than 1 after lost workers)
    blas_threads: int | None = None    # BLAS threads in force while the job ran (threadpoolctl)
    seconds: float = 0.0               # wall time of the last attempt, in the process that ran it
    stopped: bool = False              # the driver asked the job to stop (on_event returned True)


class JobContext:
    """What a job function gets: its job, and a channel to the driver.

    `report(data)` sends a progress event (plain picklable data: epoch, val_loss, ...) and
    returns after the driver's `on_event` has handled it, with True when the driver asks the job
    to stop (a pruned trial): the job then writes its files as it sees fit and returns. Reports
    cost a round trip to the driver (a few milliseconds on Ray), so report per epoch,
    not per batch.
    """

    def __init__(self, job: Job, attempt: int, blas_threads: int | None, stop: bool,
                 send: Callable[[str, Mapping[str, Any]], Mapping[str, Any]]):
        self.job = job
        self.attempt = attempt
        self.blas_threads = blas_threads
        self._stop = stop
        self._send = send

    @property
    def key(self) -> str:
        return self.job.key

    @property
    def directory(self) -> Path:
        return self.job.directory

    @property
    def payload(self) -> Mapping[str, Any]:
        return self.job.payload

    @property
    def stop_requested(self) -> bool:
        return self._stop

    def report(self, data: Mapping[str, Any]) -> bool:
        reply = self._send(PROGRESS, dict(data))
        self._stop = self._stop or bool(reply.get("stop"))
        return self._stop


JobFn = Callable[[JobContext], Any]


def fn_reference(fn: str | JobFn) -> str:
    """'module:qualname' for a job function, checked to import back to a top-level callable.

    Workers import the function by this name (so it must be importable there too); a lambda,
    a closure or a function defined in __main__ cannot be, and is refused here, in the driver.
    """
    if isinstance(fn, str):
        ref = fn
    else:
        module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
        if not module or module == "__main__" or "<" in qualname or "." in qualname:
            raise ValueError(f"job function {fn!r} must be a top-level function of an importable module")
        ref = f"{module}:{qualname}"
    resolve(ref)
    return ref


def resolve(ref: str) -> JobFn:
    module, sep, name = ref.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"job function reference {ref!r} must look like 'package.module:function'")
    fn = getattr(importlib.import_module(module), name, None)
    if not callable(fn):
        raise ValueError(f"job function reference {ref!r} names nothing callable")
    return fn


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(job: Job, fn_ref: str, threads: int | None,
            send: Callable[[str, Mapping[str, Any]], Mapping[str, Any]]) -> JobResult:
    """Run one attempt of `job` here, under `threads` BLAS threads (None: as they are).

    `send(kind, data) -> reply` delivers an event to the driver and returns its answer; the
    start event's answer carries the attempt number and whether a stop was already requested.
    """
    started = time.perf_counter()
    with blas.limited(threads):
        in_force = blas.threads_in_force()
        reply = send(START, {"pid": os.getpid(), "host": socket.gethostname(), "blas_threads": in_force})
        attempt = int(reply.get("attempt", 1))
        ctx = JobContext(job, attempt, in_force, bool(reply.get("stop")), send)
        try:
            value = resolve(fn_ref)(ctx)
        except Exception as exc:  # a job's failure is its result; the other jobs go on
            return JobResult(job.key, job.directory, ok=False, error=one_line(exc),
                             traceback=traceback.format_exc(), attempts=attempt, blas_threads=in_force,
                             seconds=time.perf_counter() - started, stopped=ctx.stop_requested)
    return JobResult(job.key, job.directory, ok=True, value=value, attempts=attempt,
                     blas_threads=in_force, seconds=time.perf_counter() - started,
                     stopped=ctx.stop_requested)
