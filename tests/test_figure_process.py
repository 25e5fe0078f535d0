"""report.figure_process: the call runs in a child process and its value (or its exception) comes
back; without a child (one core, spawn=False, a dead child) it runs here. The backtest figure
rendered there has the bytes of the one rendered here."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from cryptotrain.report.equity_figure import equity_panels, equity_png
from cryptotrain.report.figure_process import FigureProcess


def test_the_call_runs_in_a_child_and_its_value_comes_back():
    with FigureProcess(os.getpid) as child:
        pid = child.submit().result()
    assert pid != os.getpid()


def test_an_exception_raised_in_the_child_is_raised_by_result():
    with FigureProcess(math.sqrt) as child, pytest.raises(ValueError, match="math domain error"):
        child.submit(-1.0).result()


def test_without_a_child_the_call_runs_here():
    assert FigureProcess(os.getpid, spawn=False).submit().result() == os.getpid()
    dead = FigureProcess(os.getpid)
    if dead._child is None:
        pytest.skip("one usable core: no child is started")
    dead._child.kill()       # the child dies before the job arrives
    dead._child.wait()
    assert dead.submit().result() == os.getpid()


def test_the_backtest_figure_from_the_child_is_the_one_drawn_here():
    n = 50_000
    rng = np.random.default_rng(0)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    position = rng.choice([-1.0, 0.0, 1.0], n)
    panels = equity_panels(1_700_000_000_000 + 60_000 * np.arange(n), equity, equity / np.maximum.accumulate(equity) - 1,
                           position, others={"Buy & Hold": equity[::-1].copy()})
    with FigureProcess(equity_png) as child:
        png = child.submit(panels, "Backtest test", "Signals").result()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert png == equity_png(panels, "Backtest test", "Signals")


def test_the_figure_data_keeps_every_series_extremes():
    n = 1_000_003
    rng = np.random.default_rng(1)
    equity = 10_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    drawdown = equity / np.maximum.accumulate(equity) - 1
    other = 10_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    panels = equity_panels(np.arange(n) * 60_000, equity, drawdown, rng.choice([-1.0, 1.0], n), others={"B": other})
    assert len(panels["time"]) < 10_000   # of a million
    for drawn, full in ((panels["equity"], equity), (panels["drawdown"], drawdown), (panels["others"]["B"], other)):
        assert drawn.min() == full.min() and drawn.max() == full.max() and drawn[-1] == full[-1]
