"""Orchestration: the one executor that walk-forward and sweep share (executor/), and those two
(walkforward/, sweep/), with their common training job (train_job.py).

A map of pure jobs (STYLE habit 17): a job is plain data and a directory, its result is the files
in that directory, and running it twice, or again after a crash, gives the same files. Ray only
schedules; nothing of a result lives in Ray.

API
---
    Job(key: str, directory: Path, payload: Mapping = {}, after: tuple[str, ...] = ())
    run_jobs(jobs: Iterable[Job], fn: str | Callable[[JobContext], Any], *, workers: int = 1,
             address: str | None = None, blas_threads: int | None = None,
             on_event: Callable[[Event], Any] | None = None, max_retries: int = 2) -> list[JobResult]
    Executor(workers=1, address=None, blas_threads=None)    # context manager: start() / close()
        .map(jobs, fn, *, on_event=None, max_retries=2, blas_threads=None) -> list[JobResult]
        .mode ("in-process" | "local-ray" | "cluster"), .startup_seconds

The job function, `fn(ctx: JobContext) -> value`, is a top-level function of an importable module
(given as the function or as "package.module:function"; workers import it by that name, so on a
cluster every machine needs the same cryptotrain install and the data files at the same paths).
It must be idempotent: it looks at `ctx.directory`, reuses what is finished there, resumes what is
not (e.g. `fit` resuming from checkpoints/last.npz), writes files atomically and returns a small
plain value. `ctx.payload` is the job's data, `ctx.attempt` counts runs (2 after one lost worker),
`ctx.blas_threads` is the BLAS thread count in force (record it in the run), and
`ctx.report(dict) -> bool` sends a progress event (per epoch: epoch, val_loss, ...) to the driver's
`on_event` and returns True when the driver asks the job to stop.

Where jobs run:
- workers=1, no address: in this process, one after another, each under threadpoolctl's
  `threadpool_limits(blas_threads)` when blas_threads is given (None: as configured).
- workers=N > 1: Ray tasks on a local Ray instance started for the executor and shut down after
  (`num_cpus=N`, no dashboard, no usage statistics, Ray's logging quiet).
- address="auto" or "HOST:PORT": Ray tasks on an existing cluster, which is left running; at most
  `workers` jobs at once when workers > 1, else as many as the cluster has CPUs for. (A cluster of
  `ray start` uses token authentication: the driver needs RAY_AUTH_MODE=token and the token.)
- Ray already initialized in this process (a notebook): used as it is and left running.
On Ray every worker process gets OPENBLAS/OMP/MKL_NUM_THREADS (default 1) in its environment before
NumPy loads, each task asks Ray for that many CPUs, and the job runs under the same
`threadpool_limits`: a job gives the same numbers on a worker as in this process with the same
thread count (tested). Without Ray installed, workers > 1 or an address is a UserError naming
`pip install -e ".[ray]"`.

Scheduling: jobs are taken from the iterable only when a slot is free, so a sweep can pass a
generator that asks its Optuna study for the next trial at that moment and tells it results from
`on_event`. A job runs after the jobs named in its `after` (they must come earlier in the
iterable) and is failed without running ("not run: it needs K, which failed") when one of them
failed; a chain of `after`s (warm-started folds) therefore runs in sequence on any backend.

Events (`Event(kind, key, attempt, data, time)`, delivered in the driver, in order per job):
"start" (data: pid, host, blas_threads), "progress" (what the job reported), "retry" (before the
start of attempt 2, 3, ... after a lost worker), "finish" / "fail" (data: the JobResult's fields).
A job's `report` waits until `on_event` has returned (a few milliseconds on Ray), so every
progress event of a job reaches the driver before its result, and a True returned by `on_event`
for a progress event reaches that very `report` call (a pruner's decision lands on the epoch it
judged, in process and on Ray alike). Keep `on_event` quick: jobs wait for it.

How the two users look (sketches; `train_fold` / `train_trial` are their job functions):

    # walk-forward: one job per fold; with warm_start each fold runs after the one before
    jobs = [Job(f"fold-{k}", run / "folds" / str(k), {"config": fold_cfg[k]},
                after=(f"fold-{k - 1}",) if warm and k else ()) for k in range(n)]
    results = run_jobs(jobs, train_fold, workers=workers, address=address, on_event=display.update)

    # sweep: Optuna's ask-and-tell; the generator asks when a slot is free, on_event tells and prunes
    def trials():
        while budget_left():
            t = study.ask(); yield Job(str(t.number), run / "trials" / str(t.number), {"config": draw(t)})
    def on_event(e):
        if e.kind == "progress":
            live[e.key].report(e.data["val_loss"], e.data["epoch"])
            return live[e.key].should_prune()        # True reaches that epoch's ctx.report
        if e.kind in ("finish", "fail"):
            study.tell(...)
    with Executor(workers, address) as ex:
        ex.map(trials(), train_trial, on_event=on_event)

Faults: an exception in a job makes it "fail" with a one-line `error` ("Type: message", the
traceback kept in `JobResult.traceback`) and the other jobs go on; it is not retried (a
deterministic job would fail again). A lost worker process (killed, out of memory, machine gone)
is retried by Ray up to `max_retries` times and the job resumes from its directory; after that
it fails with "worker lost after N attempt(s): ...". In process there is no worker to lose: a
killed driver is resumed by running the same map again.
"""

from cryptotrain.orchestration.executor.executor import Executor, run_jobs
from cryptotrain.orchestration.executor.jobs import Event, Job, JobContext, JobResult

__all__ = ["Event", "Executor", "Job", "JobContext", "JobResult", "run_jobs"]
