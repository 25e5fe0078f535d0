"""The driver side of a map, shared by the in-process and the Ray backends.

`Driver` turns what jobs send into `Event`s for `on_event` (numbering attempts: a second start
of a job means its worker was lost and Ray retried it) and remembers which jobs were asked to
stop. `run` pulls jobs from the caller's iterable only when a slot is free (a sweep's generator
asks its study for the next trial at that moment), holds back a job until the jobs named in its
`after` have finished, and fails it without running when one of them failed.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Callable, Iterable, Mapping, Protocol

from cryptotrain.orchestration.executor.jobs import FAIL, FINISH, PROGRESS, RETRY, START, Event, Job, JobResult

OnEvent = Callable[[Event], Any]


class Backend(Protocol):
    def capacity(self) -> int: ...          # jobs that can run at once now
    def submit(self, job: Job) -> None: ...
    def wait(self) -> list[JobResult]: ...  # block until at least one submitted job has finished


class Driver:
    def __init__(self, on_event: OnEvent | None):
        self.on_event = on_event
        self.attempts: dict[str, int] = {}
        self.stops: set[str] = set()

    def handle(self, key: str, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Deliver one event a job sent; the reply goes back to the job."""
        if kind == START:
            attempt = self.attempts.get(key, 0) + 1
            self.attempts[key] = attempt
            if attempt > 1:
                self._emit(RETRY, key, attempt, {"reason": "worker lost; the job resumes from its directory"})
            self._emit(START, key, attempt, data)
            return {"attempt": attempt, "stop": key in self.stops}
        if self._emit(PROGRESS, key, self.attempts.get(key, 1), data):
            self.stops.add(key)
        return {"stop": key in self.stops}

    def finished(self, result: JobResult) -> None:
        data = {k: v for k, v in asdict(result).items() if k not in ("key", "traceback")}
        self._emit(FINISH if result.ok else FAIL, result.key, result.attempts, data)

    def _emit(self, kind: str, key: str, attempt: int, data: Mapping[str, Any]) -> bool:
        if self.on_event is None:
            return False
        return bool(self.on_event(Event(kind, key, attempt, dict(data), time.time())))


def run(jobs: Iterable[Job], backend: Backend, driver: Driver) -> list[JobResult]:
    """Run every job once through `backend`; results in the order the jobs came."""
    source = iter(jobs)
    order: list[str] = []
    results: dict[str, JobResult] = {}
    waiting: list[Job] = []            # taken from the source, not yet submitted
    running = 0
    exhausted = False

    def blocker(job: Job) -> str | None:
        return next((dep for dep in job.after if dep in results and not results[dep].ok), None)

    def ready(job: Job) -> bool:
        return all(dep in results for dep in job.after)

    while True:
        moved = True
        while moved:
            moved = False
            for job in list(waiting):
                failed_dep = blocker(job)
                if failed_dep is not None:
                    waiting.remove(job)
                    results[job.key] = JobResult(job.key, job.directory, ok=False, attempts=0,
                                                 error=f"not run: it needs {failed_dep}, which failed")
                    driver.finished(results[job.key])
                    moved = True
                elif ready(job) and running < max(1, backend.capacity()):
                    waiting.remove(job)
                    backend.submit(job)
                    running += 1
                    moved = True
            capacity = max(1, backend.capacity())
            if (not exhausted and running < capacity and len(waiting) < capacity
                    and not any(ready(job) for job in waiting)):
                job = next(source, None)
                if job is None:
                    exhausted = True
                else:
                    _check(job, order)
                    order.append(job.key)
                    waiting.append(job)
                    moved = True
        if running == 0:
            if exhausted and not waiting:
                break
            continue  # cannot spin: the earliest waiting job's predecessors are all finished
        for result in backend.wait():
            running -= 1
            results[result.key] = result
            driver.finished(result)
    return [results[key] for key in order]


def _check(job: Job, seen: list[str]) -> None:
    if not isinstance(job, Job):
        raise TypeError(f"expected a Job, got {type(job).__name__}")
    if job.key in seen:
        raise ValueError(f"two jobs have the key {job.key!r}; keys must be unique")
    unknown = [dep for dep in job.after if dep not in seen]
    if unknown:
        raise ValueError(f"job {job.key!r} runs after {unknown[0]!r}, which is not an earlier job")
