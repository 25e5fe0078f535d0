"""Jobs as Ray tasks: a local Ray instance this process starts and stops, or an existing cluster.

Imported only when Ray is wanted (it is an optional extra). Each job is one task that calls
`jobs.execute` in a worker; Ray retries the task when its worker process is lost (`max_retries`,
system failures only: an exception in the job is its result, not a reason to run it again), and
the retried job resumes from its directory. Events travel through a `_Mailbox` actor: a job's
`send` waits until the driver has handled its event, so events arrive in order, all of them
before the job's result, and `report` can return the driver's answer to that very event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any, Mapping

import ray
from ray.exceptions import NodeDiedError, ObjectLostError, OutOfMemoryError, RayError, WorkerCrashedError

from cryptotrain import blas
from cryptotrain.orchestration.executor.jobs import Job, JobResult, execute, one_line
from cryptotrain.orchestration.executor.schedule import Driver

_POLL_SECONDS = 0.5  # the longest a driver waits on the mailbox before it looks at finished tasks


@ray.remote(num_cpus=0)
class _Mailbox:
    """Holds jobs' events until the driver takes them, and each sender until its answer comes."""

    def __init__(self) -> None:
        self._events: list[tuple[int, int, str, str, Any]] = []
        self._answers: dict[int, asyncio.Future] = {}
        self._arrived: asyncio.Event | None = None
        self._seq = 0

    def _signal(self) -> asyncio.Event:
        if self._arrived is None:  # created on the actor's event loop, not in __init__
            self._arrived = asyncio.Event()
        return self._arrived

    async def send(self, map_id: int, key: str, kind: str, data: Any) -> Any:
        self._seq += 1
        answer = asyncio.get_running_loop().create_future()
        self._answers[self._seq] = answer
        self._events.append((self._seq, map_id, key, kind, data))
        self._signal().set()
        return await answer

    async def take(self, timeout: float) -> list[tuple[int, int, str, str, Any]]:
        if not self._events:
            try:
                await asyncio.wait_for(self._signal().wait(), timeout)
            except asyncio.TimeoutError:
                pass
        events, self._events = self._events, []
        self._signal().clear()
        return events

    async def wake(self) -> None:
        """End the pending `take` now, with whatever it has."""
        self._signal().set()

    async def answer(self, replies: dict[int, Any]) -> None:
        for seq, reply in replies.items():
            future = self._answers.pop(seq, None)
            if future is not None and not future.done():
                future.set_result(reply)


def _run_task(job: Job, fn_ref: str, threads: int, mailbox, map_id: int) -> JobResult:
    def send(kind: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return ray.get(mailbox.send.remote(map_id, job.key, kind, data))

    return execute(job, fn_ref, threads, send)


_remote_task = ray.remote(_run_task)


class RaySession:
    """This process's connection to Ray and the mailbox its maps share.

    Address None starts a local instance that `close` shuts down; an address joins a cluster
    that `close` only leaves. A process where Ray is already initialized (a notebook) uses it
    as it is and leaves it running.
    """

    def __init__(self, workers: int, address: str | None, threads: int):
        started = time.perf_counter()
        # No usage statistics are sent, by this process or the ones it starts.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if address is not None:
            _probe(address)   # even when this process already has a Ray: the address the user named must answer
        self.owned = not ray.is_initialized()
        if self.owned:
            common = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                          runtime_env={"env_vars": blas.env_vars(threads)})
            if address is None:
                # "local" starts a new instance even when RAY_ADDRESS or a `ray start` cluster
                # exists. The object store carries only small results (the real ones are files).
                ray.init(address="local", num_cpus=workers, object_store_memory=100 * 1024 * 1024, **common)
            else:
                ray.init(address=address, **common)
        self.threads = threads
        # One mailbox for every map of the session: an actor's process takes a second or more to
        # start, which overlaps with the first tasks' workers starting (no wait for it here).
        self.mailbox = _Mailbox.options(max_concurrency=1000).remote()
        self.maps = 0
        self.startup_seconds = time.perf_counter() - started

    def close(self) -> None:
        ray.kill(self.mailbox)
        if self.owned:
            ray.shutdown()


def _probe(address: str, timeout: float = 5.0) -> None:
    """ConnectionError unless something accepts a TCP connection at HOST:PORT (`ray.init` waits for
    minutes on an address where nothing listens; "auto" is resolved by Ray itself and fails fast)."""
    host, sep, port = address.split("://", 1)[-1].rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ConnectionError(f"nothing answers at {host}:{port}: {reason.lower()}") from None


def cluster_cpus() -> int:
    return int(ray.cluster_resources().get("CPU", 1))


class RayBackend:
    def __init__(self, session: RaySession, fn_ref: str, threads: int, max_retries: int,
                 driver: Driver, max_jobs: int | None):
        self.fn_ref, self.threads, self.driver, self.max_jobs = fn_ref, threads, driver, max_jobs
        options: dict[str, Any] = {"max_retries": max_retries, "num_cpus": threads}
        if threads != session.threads:  # a fresh worker whose BLAS loads with this count
            options["runtime_env"] = {"env_vars": blas.env_vars(threads)}
        self.task = _remote_task.options(**options)
        session.maps += 1
        self.map_id, self.mailbox = session.maps, session.mailbox
        self.running: dict[Any, Job] = {}
        self.take = self.mailbox.take.remote(_POLL_SECONDS)
        self._slots, self._slots_at = 1, -1e9

    def capacity(self) -> int:
        # A cluster can grow while jobs run; ask it again at most every few seconds.
        if time.monotonic() - self._slots_at > 5.0:
            self._slots = max(1, cluster_cpus() // max(1, self.threads))
            self._slots_at = time.monotonic()
        return min(self._slots, self.max_jobs) if self.max_jobs else self._slots

    def submit(self, job: Job) -> None:
        self.running[self.task.remote(job, self.fn_ref, self.threads, self.mailbox, self.map_id)] = job

    def wait(self) -> list[JobResult]:
        while True:
            ready, _ = ray.wait([self.take, *self.running], num_returns=1)
            if self.take in ready:
                self._deliver(ray.get(self.take))
                self.take = self.mailbox.take.remote(_POLL_SECONDS)
            done = [ref for ref in ready if ref in self.running]
            if done:
                return [self._result(ref) for ref in done]

    def close(self) -> None:
        # Only after an error in the driver are jobs still running; they resume when run again.
        for ref in self.running:
            ray.cancel(ref, force=True)
        # The last `take` is still waiting in the mailbox: end it and answer what it holds, or it
        # would swallow the first event of the session's next map.
        self.mailbox.wake.remote()
        stale = ray.get(self.take)
        self.mailbox.answer.remote({seq: {} for seq, *_ in stale})

    def _deliver(self, events: list[tuple[int, int, str, str, Any]]) -> None:
        replies = {}
        try:
            for seq, map_id, key, kind, data in events:
                if map_id == self.map_id:  # (a cancelled job of an earlier map may still send)
                    replies[seq] = self.driver.handle(key, kind, data)
        finally:  # answer even when on_event raised, so no job waits for ever
            replies.update({seq: {} for seq, *_ in events if seq not in replies})
            self.mailbox.answer.remote(replies)

    def _result(self, ref) -> JobResult:
        job = self.running.pop(ref)
        try:
            return ray.get(ref)
        except RayError as exc:
            attempts = self.driver.attempts.get(job.key, 0)
            first = one_line(exc).split(". ")[0]
            if isinstance(exc, (WorkerCrashedError, NodeDiedError, OutOfMemoryError, ObjectLostError)):
                error = f"worker lost after {attempts} attempt(s): {first}"  # more often than max_retries
            else:  # e.g. a result that cannot be pickled
                error = f"Ray could not run the job: {first}"
            return JobResult(job.key, job.directory, ok=False, attempts=attempts, error=error)
