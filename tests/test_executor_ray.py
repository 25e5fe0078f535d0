"""The executor on a real local Ray (2 CPUs, started once for the session: tests/conftest.py): same numbers as in
process at the same BLAS thread count, failures, lost workers resumed from their directory,
progress and stop answers, dependencies, and joining an existing cluster by address."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from cryptotrain.orchestration import Executor, Job, run_jobs  # noqa: E402

GEMM = "probes:gemm"
COUNTER = "executor_jobs:counter"


@pytest.fixture
def executor(local_ray):
    return local_ray   # the session's Ray (tests/conftest.py)


def test_a_job_on_a_ray_worker_gives_the_same_bits_as_in_process(executor, tmp_path):
    jobs = [Job(f"g{seed}", tmp_path / "ray1" / str(seed), {"seed": seed}) for seed in range(2)]
    on_ray = executor.map(jobs, GEMM)  # default on Ray: 1 thread per worker
    assert [r.blas_threads for r in on_ray] == [1, 1]
    for threads in (1, 2):
        local = run_jobs([Job(j.key, tmp_path / f"local{threads}" / j.key, j.payload) for j in jobs],
                         GEMM, blas_threads=threads)
        assert [r.blas_threads for r in local] == [threads, threads]
        if threads == 1:
            assert [r.value["sha256"] for r in on_ray] == [r.value["sha256"] for r in local]
            assert all((tmp_path / "ray1" / str(s) / "product.npy").read_bytes()
                       == (tmp_path / "local1" / f"g{s}" / "product.npy").read_bytes() for s in range(2))
        else:
            two = executor.map([Job(j.key, tmp_path / "ray2" / j.key, j.payload) for j in jobs], GEMM,
                               blas_threads=2)
            assert [r.blas_threads for r in two] == [2, 2]
            assert [r.value["sha256"] for r in two] == [r.value["sha256"] for r in local]


def test_failures_are_one_line_and_the_other_jobs_finish(executor, tmp_path):
    jobs = [Job("bad", tmp_path / "bad", {"steps": 4, "fail_at": 2}),
            Job("ok", tmp_path / "ok", {"steps": 2}),
            Job("skipped", tmp_path / "skipped", {"steps": 1}, after=("bad",))]
    events = []
    bad, ok, skipped = executor.map(jobs, COUNTER, on_event=events.append)
    assert bad.error == "FloatingPointError: non-finite loss at step 2 in job bad" and bad.attempts == 1
    assert ok.ok and ok.value["steps"] == 2
    assert skipped.error == "not run: it needs bad, which failed"
    assert [e.kind for e in events if e.key == "bad"] == ["start", "progress", "fail"]


def test_progress_arrives_in_order_before_the_result_and_stop_lands_on_its_report(executor, tmp_path):
    events = []

    def on_event(event):
        events.append(event)
        return event.kind == "progress" and event.key == "t1" and event.data["step"] == 3

    jobs = [Job("t0", tmp_path / "t0", {"steps": 4}), Job("t1", tmp_path / "t1")]
    counter = executor.map(jobs[:1], COUNTER, on_event=on_event)
    stopped = executor.map(jobs[1:], "executor_jobs:until_stopped", on_event=on_event)
    assert counter[0].ok and stopped[0].stopped and stopped[0].value == {"stopped_at": 3}
    assert [(e.kind, e.data.get("step")) for e in events if e.key == "t0"] == [
        ("start", None), ("progress", 1), ("progress", 2), ("progress", 3), ("progress", 4), ("finish", None)]
    assert events[0].data["pid"] != os.getpid()


def test_dependent_jobs_start_after_their_predecessor_finished(executor, tmp_path):
    events = []
    jobs = [Job("fold0", tmp_path / "0", {"steps": 2, "sleep": 0.05}),
            Job("fold1", tmp_path / "1", {"steps": 2}, after=("fold0",))]
    assert all(r.ok for r in executor.map(jobs, COUNTER, on_event=events.append))
    order = [(e.key, e.kind) for e in events if e.kind in ("start", "finish")]
    assert order == [("fold0", "start"), ("fold0", "finish"), ("fold1", "start"), ("fold1", "finish")]


def test_a_killed_worker_is_retried_and_the_job_resumes_from_its_checkpoint(executor, tmp_path):
    payload = {"steps": 8, "sleep": 0.15}
    events = []

    def kill_after_step_3(event):
        events.append(event)
        if event.kind == "progress" and event.attempt == 1 and event.data["step"] == 3:
            os.kill(event.data["pid"], signal.SIGKILL)

    [killed] = executor.map([Job("k", tmp_path / "killed", payload)], COUNTER, on_event=kill_after_step_3)
    [whole] = run_jobs([Job("k", tmp_path / "whole", payload)], COUNTER)
    assert killed.ok and killed.attempts == 2
    assert [(e.kind, e.attempt) for e in events if e.kind != "progress"] == [
        ("start", 1), ("retry", 2), ("start", 2), ("finish", 2)]
    resumed = [e.data["resumed_from"] for e in events if e.kind == "progress" and e.attempt == 2]
    assert resumed and resumed[0] >= 3  # not from scratch
    for name in ("checkpoint.json", "result.json"):
        assert (tmp_path / "killed" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    assert killed.value == whole.value


def test_a_job_whose_worker_is_lost_more_than_max_retries_fails(executor, tmp_path):
    def kill_every_attempt(event):
        if event.kind == "progress" and event.data["step"] >= 1:
            os.kill(event.data["pid"], signal.SIGKILL)

    [lost] = executor.map([Job("k", tmp_path / "k", {"steps": 50, "sleep": 0.05})], COUNTER,
                          on_event=kill_every_attempt, max_retries=1)
    assert not lost.ok and lost.attempts == 2
    assert lost.error.startswith("worker lost after 2 attempt(s): ")
    assert "\n" not in lost.error


def test_an_existing_cluster_is_joined_by_address_and_left_running(executor, tmp_path):
    address = ray.get_runtime_context().gcs_address
    code = ("import sys, json; from cryptotrain.orchestration import Executor, Job\n"
            "with Executor(address=sys.argv[1]) as ex:\n"
            "    [r] = ex.map([Job('c', sys.argv[2], {'steps': 2})], 'executor_jobs:counter')\n"
            "print(json.dumps([ex.mode, r.ok, r.blas_threads, r.value]))\n")
    out = subprocess.run([sys.executable, "-c", code, address, str(tmp_path / "c")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    mode, ok, threads, value = json.loads(out.stdout.strip().splitlines()[-1])
    assert (mode, ok, threads, value["steps"]) == ("cluster", True, 1, 2)
    assert json.loads((tmp_path / "c" / "result.json").read_text()) == value
    # The driver that joined has left; this module's instance still runs jobs.
    [again] = executor.map([Job("c", tmp_path / "c", {"steps": 2})], COUNTER)
    assert again.ok and again.value == value


def test_an_error_in_on_event_stops_the_map_and_the_session_goes_on(executor, tmp_path):
    def explode(event):
        if event.kind == "progress":
            raise RuntimeError("display broke")

    jobs = [Job(f"j{i}", tmp_path / f"j{i}", {"steps": 20, "sleep": 0.05}) for i in range(2)]
    with pytest.raises(RuntimeError, match="display broke"):
        executor.map(jobs, COUNTER, on_event=explode)
    # The cancelled jobs left checkpoints; running the same map again finishes them from there.
    events = []
    results = executor.map(jobs, COUNTER, on_event=events.append)
    assert all(r.ok and r.value["steps"] == 20 for r in results)
    resumed = {e.key: e.data["resumed_from"] for e in events if e.kind == "progress"}
    assert resumed["j0"] >= 1  # j0 had reported (after its first checkpoint) when the map stopped
