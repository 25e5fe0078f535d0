"""Fixtures shared by the test files.

`local_ray`: one local Ray (2 CPUs) for every Ray test of the session instead of one start per
module (a start costs seconds). The executor that starts it (workers=2) owns it and shuts it down
at the end of the session; code under test that asks for Ray meanwhile finds it initialized and
uses it as it is, as in a notebook. In-process maps (workers=1) never touch it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def local_ray():
    ray = pytest.importorskip("ray")
    from cryptotrain.orchestration import Executor

    # Ray's workers import the test job functions (executor_jobs.py, probes.py) by name: tests/ on their path
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), saved) if p)
    try:
        with Executor(workers=2) as ex:
            assert ray.is_initialized() and ray.cluster_resources()["CPU"] == 2
            yield ex
        assert not ray.is_initialized()   # the instance the executor started is gone
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="session")
def tiny_trained(tmp_path_factory) -> Path:
    """configs/tiny.yaml trained once for the session through the CLI (its default settings): the
    run directory. Read-only: a test that changes a run takes a copy (`tiny_run`)."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    root = tmp_path_factory.mktemp("tiny_trained")
    res = CliRunner().invoke(app, ["train", "--config", str(TESTS.parent / "configs" / "tiny.yaml"),
                                   "--set", f"train.runs_dir={root}"])
    assert res.exit_code == 0, res.output
    (run,) = [p for p in root.iterdir() if p.is_dir()]
    return run


@pytest.fixture
def tiny_run(tiny_trained, tmp_path) -> Path:
    """A fresh copy of the session's tiny run, as tmp_path/runs/<its name>."""
    dst = tmp_path / "runs" / tiny_trained.name
    shutil.copytree(tiny_trained, dst)
    return dst
