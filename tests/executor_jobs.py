"""Job functions for the executor tests (imported by Ray workers too: tests/ is on their path).

`counter` is a toy training run: `steps` steps of a deterministic recurrence, a checkpoint file
after each step, a result file at the end; it resumes from its checkpoint and reports every step
(with its pid, so a test can kill its worker); with `fail_at` it raises at that step, as a
training run with a non-finite loss does. `until_stopped` runs until the
driver asks it to stop and records the step it stopped at.
"""

from __future__ import annotations

import json
import math
import os
import time

from cryptotrain.fileio import atomic_write_text
from cryptotrain.orchestration import JobContext


def counter(ctx: JobContext) -> dict:
    done = ctx.directory / "result.json"
    if done.exists():
        return json.loads(done.read_text())
    checkpoint = ctx.directory / "checkpoint.json"
    state = json.loads(checkpoint.read_text()) if checkpoint.exists() else {"step": 0, "x": 1.0}
    resumed_from = state["step"]
    for step in range(state["step"], int(ctx.payload["steps"])):
        if step + 1 == ctx.payload.get("fail_at"):
            raise FloatingPointError(f"non-finite loss at step {step + 1}\nin job {ctx.key}")
        state = {"step": step + 1, "x": state["x"] * 1.01 + math.sin(step)}
        atomic_write_text(checkpoint, json.dumps(state))
        ctx.report({"step": step + 1, "pid": os.getpid(), "resumed_from": resumed_from})
        time.sleep(float(ctx.payload.get("sleep", 0.0)))
    result = {"x": state["x"], "steps": state["step"]}
    atomic_write_text(done, json.dumps(result))
    return result


def until_stopped(ctx: JobContext) -> dict:
    for step in range(1, 1000):
        if ctx.report({"step": step}):
            atomic_write_text(ctx.directory / "stopped.json", json.dumps({"step": step}))
            return {"stopped_at": step}
    raise AssertionError("never asked to stop")
