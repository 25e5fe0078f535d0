"""The one executor: map a job function over jobs, in this process or on Ray.

`Executor(workers, address, blas_threads)` decides where jobs run and owns that place for its
lifetime (a local Ray instance it started is shut down by `close`; a cluster it joined is only
left). `map` runs jobs there; `run_jobs` is both in one call. See the package docstring for the
semantics a walk-forward or a sweep can rely on.
"""

from __future__ import annotations

import importlib
from typing import Iterable

from cryptotrain.errors import UserError, install_command
from cryptotrain.orchestration.executor import schedule
from cryptotrain.orchestration.executor.jobs import Job, JobFn, JobResult, execute, fn_reference
from cryptotrain.orchestration.executor.schedule import Driver, OnEvent

# The thread count of each job on Ray unless told otherwise: N jobs share N cores.
RAY_DEFAULT_THREADS = 1


def check_counts(workers: int, blas_threads: int | None = None) -> None:
    """The worker and BLAS thread counts as a command checks them before it makes any directory."""
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise UserError(f"--workers must be a whole number >= 1, got {workers!r}; --workers 1 runs in this process")
    if blas_threads is not None and (not isinstance(blas_threads, int) or blas_threads < 1):
        raise UserError(f"BLAS threads must be a whole number >= 1, got {blas_threads!r}")


class Executor:
    def __init__(self, workers: int = 1, address: str | None = None, blas_threads: int | None = None):
        check_counts(workers, blas_threads)
        self.workers, self.address = workers, address or None
        self.on_ray = workers > 1 or self.address is not None
        self.blas_threads = blas_threads if blas_threads is not None or not self.on_ray else RAY_DEFAULT_THREADS
        self.startup_seconds = 0.0     # time to start or join Ray (0 in process)
        self._ray = None               # the ray_backend module once connected
        self._session = None           # its RaySession

    @property
    def mode(self) -> str:
        return "cluster" if self.address else ("local-ray" if self.on_ray else "in-process")

    def start(self) -> "Executor":
        if self.on_ray and self._ray is None:
            try:  # by its module name, so a Ray uninstalled since (or blocked in a test) is seen
                ray_backend = importlib.import_module("cryptotrain.orchestration.executor.ray_backend")
            except ImportError:
                option = f"--address {self.address}" if self.address else f"--workers {self.workers}"
                raise UserError(f"{option} needs Ray, which is not installed: {install_command('ray')}") from None
            try:
                self._session = ray_backend.RaySession(self.workers, self.address, self.blas_threads)
            except ConnectionError as exc:
                if _caused_by(exc, "AuthenticationError"):
                    raise UserError(f"the Ray cluster at --address {self.address} wants its token: run with "
                                    "RAY_AUTH_MODE=token and the head's ~/.ray/auth_token on this machine "
                                    "(or RAY_AUTH_TOKEN set)") from None
                raise UserError(f"cannot reach a Ray cluster at --address {self.address} ({exc}); start one "
                                "with `ray start --head` or check the address (a local run needs no --address: "
                                "drop it, with --workers N for N jobs at once)") from None
            self._ray, self.startup_seconds = ray_backend, self._session.startup_seconds
        return self

    def close(self) -> None:
        if self._session is not None:
            self._session.close()  # shuts down a local instance; only leaves a cluster
            self._ray = self._session = None

    def __enter__(self) -> "Executor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def map(self, jobs: Iterable[Job], fn: str | JobFn, *, on_event: OnEvent | None = None,
            max_retries: int = 2, blas_threads: int | None = None) -> list[JobResult]:
        """Run every job once (resuming after lost workers); results in the order of `jobs`."""
        fn_ref = fn_reference(fn)
        threads = blas_threads if blas_threads is not None else self.blas_threads
        driver = Driver(on_event)
        self.start()
        if self._ray is None:
            return schedule.run(jobs, _InProcess(fn_ref, threads, driver), driver)
        backend = self._ray.RayBackend(self._session, fn_ref, threads, max_retries, driver,
                                       max_jobs=self.workers if self.address and self.workers > 1 else None)
        try:
            return schedule.run(jobs, backend, driver)
        finally:
            backend.close()


def run_jobs(jobs: Iterable[Job], fn: str | JobFn, *, workers: int = 1, address: str | None = None,
             blas_threads: int | None = None, on_event: OnEvent | None = None,
             max_retries: int = 2) -> list[JobResult]:
    """Run `fn` over `jobs` with an executor that lives for this call only."""
    with Executor(workers, address, blas_threads) as executor:
        return executor.map(jobs, fn, on_event=on_event, max_retries=max_retries)


def _caused_by(exc: BaseException, name: str) -> bool:
    """Whether `name` (a class name) is in exc's chain, as a class or in a message: Ray passes its
    AuthenticationError on as the text of a RuntimeError under the ConnectionError."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ == name or name in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _InProcess:
    """One job after another in this process; events go straight to the driver."""

    def __init__(self, fn_ref: str, threads: int | None, driver: Driver):
        self.fn_ref, self.threads, self.driver = fn_ref, threads, driver
        self.queue: list[Job] = []

    def capacity(self) -> int:
        return 1

    def submit(self, job: Job) -> None:
        self.queue.append(job)

    def wait(self) -> list[JobResult]:
        job = self.queue.pop(0)

        def send(kind, data):
            try:
                return self.driver.handle(job.key, kind, data)
            except Exception as exc:  # the driver's error, not the job's: it must not fail the job
                raise _DriverError(exc) from exc

        try:
            return [execute(job, self.fn_ref, self.threads, send)]
        except _DriverError as err:
            raise err.args[0] from None


class _DriverError(BaseException):
    """Carries an exception of `on_event` through the job's code (which catches Exception), so that
    in process, as on Ray, an error in the driver stops the map instead of failing one job."""
