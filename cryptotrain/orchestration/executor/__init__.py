"""The executor: a map of pure jobs in this process or on Ray (see orchestration/__init__.py).

`executor` (Executor, run_jobs), `jobs` (Job, JobContext, JobResult, Event), `schedule` (the
driver side shared by both backends), `ray_backend` (Ray tasks).
"""
