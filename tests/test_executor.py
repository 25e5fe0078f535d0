"""The executor in this process: order, events, failures, dependencies, stop requests, BLAS
threads, lazy job sources, and the one-line error without Ray. (Ray: test_executor_ray.py.)"""

from __future__ import annotations

import json
import os
import sys

import pytest

import executor_jobs
from cryptotrain.errors import UserError
from cryptotrain.orchestration import Executor, Job, run_jobs
from cryptotrain.orchestration.executor.jobs import fn_reference

COUNTER = "executor_jobs:counter"


def test_jobs_run_in_order_with_events_and_resume_from_their_directory(tmp_path):
    events = []
    jobs = [Job(f"j{i}", tmp_path / f"j{i}", {"steps": 3}) for i in range(3)]
    results = run_jobs(jobs, executor_jobs.counter, on_event=events.append)
    assert [r.key for r in results] == ["j0", "j1", "j2"] and all(r.ok for r in results)
    kinds = [(e.key, e.kind, e.data.get("step")) for e in events]
    assert kinds[:5] == [("j0", "start", None), ("j0", "progress", 1), ("j0", "progress", 2),
                         ("j0", "progress", 3), ("j0", "finish", None)]
    assert len(kinds) == 15
    first = {r.key: r.value for r in results}
    # A second run finds the finished files and returns the same results without stepping again.
    events.clear()
    again = run_jobs(jobs, COUNTER, on_event=events.append)
    assert {r.key: r.value for r in again} == first
    assert not [e for e in events if e.kind == "progress"]


def test_a_failing_job_is_one_line_and_the_others_finish(tmp_path):
    jobs = [Job("ok1", tmp_path / "a", {"steps": 2}), Job("bad", tmp_path / "b", {"steps": 5, "fail_at": 3}),
            Job("ok2", tmp_path / "c", {"steps": 2})]
    events = []
    results = run_jobs(jobs, COUNTER, on_event=events.append)
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error == "FloatingPointError: non-finite loss at step 3 in job bad"
    assert "Traceback" in results[1].traceback
    assert [e.kind for e in events if e.key == "bad"] == ["start", "progress", "progress", "fail"]
    assert json.loads((tmp_path / "b" / "checkpoint.json").read_text())["step"] == 2


def test_dependencies_wait_and_a_failed_dependency_skips(tmp_path):
    jobs = [Job("bad", tmp_path / "bad", {"steps": 3, "fail_at": 1}),
            Job("a", tmp_path / "a", {"steps": 1}),
            Job("b", tmp_path / "b", {"steps": 1}, after=("a",)),
            Job("c", tmp_path / "c", {"steps": 1}, after=("a", "bad"))]
    results = {r.key: r for r in run_jobs(jobs, COUNTER)}
    assert results["b"].ok and not results["c"].ok
    assert results["c"].error == "not run: it needs bad, which failed" and results["c"].attempts == 0
    assert not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="'b' runs after 'z', which is not an earlier job"):
        run_jobs([Job("b", tmp_path / "b", {"steps": 1}, after=("z",))], COUNTER)
    with pytest.raises(ValueError, match="two jobs have the key 'a'"):
        run_jobs([Job("a", tmp_path / "a", {"steps": 1})] * 2, COUNTER)


def test_on_event_returning_true_stops_the_job_at_that_report(tmp_path):
    def stop_at_4(event):
        return event.kind == "progress" and event.data["step"] == 4

    [result] = run_jobs([Job("t", tmp_path / "t")], "executor_jobs:until_stopped", on_event=stop_at_4)
    assert result.ok and result.stopped and result.value == {"stopped_at": 4}


def test_jobs_are_taken_from_the_source_only_when_a_slot_is_free(tmp_path):
    # A sweep's generator asks its study for a trial only after the previous results were told.
    finished = []

    def source():
        for i in range(3):
            assert len(finished) == i
            yield Job(f"t{i}", tmp_path / f"t{i}", {"steps": 1})

    run_jobs(source(), COUNTER, on_event=lambda e: finished.append(e.key) if e.kind == "finish" else None)
    assert finished == ["t0", "t1", "t2"]


def test_blas_threads_in_process_are_applied_and_recorded(tmp_path):
    products = {}
    for threads in (1, 2):
        [r] = run_jobs([Job("g", tmp_path / f"g{threads}")], "probes:gemm",
                       blas_threads=threads)
        assert r.blas_threads == threads == r.value["blas_threads"]
        products[threads] = r.value["sha256"]
    [again] = run_jobs([Job("g", tmp_path / "again")], "probes:gemm", blas_threads=1)
    assert again.value["sha256"] == products[1]


def test_job_functions_must_be_importable_by_name():
    with pytest.raises(ValueError, match="top-level function"):
        fn_reference(lambda ctx: None)
    with pytest.raises(ValueError, match="must look like"):
        fn_reference("executor_jobs.counter")
    with pytest.raises(ValueError, match="names nothing callable"):
        fn_reference("executor_jobs:no_such_job")
    assert fn_reference(executor_jobs.counter) == "executor_jobs:counter"


def test_parallel_workers_without_ray_say_how_to_install_it(monkeypatch, tmp_path):
    # Python's own way to make an import fail: a None entry in sys.modules.
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.delitem(sys.modules, "cryptotrain.orchestration.executor.ray_backend", raising=False)
    with pytest.raises(UserError) as err:
        run_jobs([Job("a", tmp_path / "a", {"steps": 1})], COUNTER, workers=2)
    # the exact command for the Python running (`make demo`'s .venv has the core only), from the checkout's root
    assert str(err.value) == (f'--workers 2 needs Ray, which is not installed: '
                              f'{os.path.relpath(sys.executable)} -m pip install -e ".[ray]"')
    with pytest.raises(UserError, match=r'--address auto needs Ray.* -m pip install -e "\.\[ray\]"'):
        Executor(address="auto").start()
    assert not (tmp_path / "a").exists()
    with pytest.raises(UserError, match="--workers must be a whole number >= 1, got 0"):
        Executor(workers=0)


def test_an_error_in_on_event_stops_the_map_instead_of_failing_the_job(tmp_path):
    def explode(event):
        if event.kind == "progress":
            raise RuntimeError("display broke")

    with pytest.raises(RuntimeError, match="display broke"):
        run_jobs([Job("a", tmp_path / "a", {"steps": 3})], COUNTER, on_event=explode)
    assert json.loads((tmp_path / "a" / "checkpoint.json").read_text())["step"] == 1
