"""Resuming `cryptotrain fetch`: kill -9 and Ctrl-C mid-way, incremental updates, prepends.

The server counts its requests, so these tests also check that nothing already stored is
downloaded again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from fake_exchange import (HOUR_MS, T0, FakeBinance, candles, make_history, no_internet,  # noqa: F401 (fixtures)
                           run_fetch, serve)


def _spawn(fake_server: FakeBinance, tmp_path, *args: str) -> subprocess.Popen:
    cfg = tmp_path / "exchange.json"
    cfg.write_text(json.dumps(fake_server.exchange_config(page_limit=20, pages_per_write=1)))
    cmd = [sys.executable, "-m", "cryptotrain.cli", "fetch", "--exchange-config", str(cfg),
           "--out", str(tmp_path / "out.parquet"), *args]
    return subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(path, rows: int, proc: subprocess.Popen, timeout: float = 20.0) -> int:
    """Wait until the (atomically replaced) file holds at least `rows` candles; -> rows seen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            # one open file handle pins one inode: reading by path lets pyarrow open it twice and
            # mix the old and the new file while the fetch renames a fresh chunk over it
            with open(path, "rb") as fh:
                n = len(pd.read_parquet(fh))
            if n >= rows:
                return n
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the fetch did not progress")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_fetch_resumes_to_the_same_file(serve, tmp_path, sig):
    hist = make_history(600, gap=(333, 4))
    server = serve(hist, delay_s=0.05)
    proc = _spawn(server, tmp_path, "--since", "2024-01-01")
    _wait_for_rows(tmp_path / "out.parquet", 100, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 1 and "interrupted" in err and "Run the same command again to resume" in err
    kept = candles(tmp_path / "out.parquet")
    assert 100 <= len(kept) < len(hist)
    assert np.array_equal(kept, hist[: len(kept)])  # a valid file holding a contiguous prefix

    server.delay_s, n_before = 0.0, len(server.klines_requests())
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", page_limit=20)
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)
    again = server.klines_requests()[n_before:]
    assert int(again[0]["startTime"]) == int(kept[-1, 0]) + HOUR_MS  # nothing stored is asked for again
    assert len(again) == -(-(len(hist) - len(kept)) // 20)  # pages of 20 for exactly what is missing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json", "out.parquet"]  # no stale temp files


def test_incremental_update_fetches_only_new_candles(serve, tmp_path):
    full = make_history(500)
    server = serve(full[:300])
    assert run_fetch(server, tmp_path, "--since", "2024-01-01", page_limit=50).exit_code == 0
    n0 = len(server.klines_requests())

    r = run_fetch(server, tmp_path, page_limit=50)  # up to date: no candle requested
    assert r.exit_code == 0 and "already up to date" in r.output
    assert len(server.klines_requests()) == n0

    server.set_history(full)  # 200 more candles closed since
    r = run_fetch(server, tmp_path, page_limit=50)
    assert r.exit_code == 0, r.output
    new = server.klines_requests()[n0:]
    assert [int(q["startTime"]) for q in new] == [int(full[300, 0]) + k * 50 * HOUR_MS for k in range(4)]
    assert np.array_equal(candles(tmp_path / "out.parquet"), full)
    assert "200 new candles" in r.output


def test_since_before_the_file_prepends_only_the_missing_history(serve, tmp_path):
    hist = make_history(400)
    server = serve(hist)
    start = pd.Timestamp(int(hist[100, 0]), unit="ms").isoformat()
    assert run_fetch(server, tmp_path, "--since", start, page_limit=50).exit_code == 0
    n0 = len(server.klines_requests())
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", page_limit=50)
    assert r.exit_code == 0, r.output
    new = server.klines_requests()[n0:]
    assert [int(q["startTime"]) for q in new] == [int(hist[0, 0]), int(hist[50, 0])]
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json", "out.parquet"]  # side file gone


def test_interrupted_prepend_resumes_from_its_side_file(serve, tmp_path):
    hist = make_history(400)
    server = serve(hist)
    start = pd.Timestamp(int(hist[300, 0]), unit="ms").isoformat()
    assert run_fetch(server, tmp_path, "--since", start, page_limit=50).exit_code == 0
    main_before = candles(tmp_path / "out.parquet")
    n0 = server.klines_count
    server.faults = {n0 + 3 + k: "500" for k in range(3)}  # prepend pages 0-2 arrive, page 3 fails
    # --since before the exchange's first candle (2024-01-01): the side file's name keeps the asked start
    args = ("--since", "2023-12-25")
    r = run_fetch(server, tmp_path, *args, page_limit=50, max_attempts=3, pages_per_write=1)
    assert r.exit_code == 1 and "Run the same command again to resume" in r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), main_before)  # main file untouched, still contiguous
    side = tmp_path / f"out.prepend-{T0 - 7 * 24 * HOUR_MS}.parquet"
    assert np.array_equal(candles(side), hist[:150])

    for rerun in (args, ()):  # the same command, or no --since: both continue where the side file ends
        n1 = len(server.klines_requests())
        r = run_fetch(server, tmp_path, *rerun, page_limit=50)
        assert r.exit_code == 0, r.output
        new = server.klines_requests()[n1:]
        if rerun:
            assert [int(q["startTime"]) for q in new] == [int(hist[150, 0]), int(hist[200, 0]), int(hist[250, 0])]
            assert not side.exists()
        else:
            assert new == [] and "already up to date" in r.output
        assert np.array_equal(candles(tmp_path / "out.parquet"), hist)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json", "out.parquet"]


def test_until_then_continue(serve, tmp_path):
    hist = make_history(200)
    server = serve(hist)
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", "--until", "2024-01-03")
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist[:48])
    r = run_fetch(server, tmp_path)
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)


def test_progress_lines_when_not_a_terminal(serve, tmp_path):
    server = serve(make_history(120))
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", page_limit=20, pages_per_write=2)
    assert r.exit_code == 0, r.output
    assert "fetch: 40/120 candles, 4 requests, 0 retries, at 2024-01-02T16:00" in r.output


def test_progress_bar_on_a_terminal(serve, tmp_path):
    import io

    from rich.console import Console

    from cryptotrain.commands.fetch import fetch_command
    server = serve(make_history(120))
    cfg = tmp_path / "exchange.json"
    cfg.write_text(json.dumps(server.exchange_config()))
    buf = io.StringIO()
    res = fetch_command(exchange="binance", symbol="BTC/USDT", timeframe="1h", since="2024-01-01", until=None,
                        out=tmp_path / "o.parquet", fmt="parquet", exchange_config=cfg,
                        console=Console(file=buf, force_terminal=True, width=200))
    text = buf.getvalue()
    assert res.rows == 120 and res.added == 120 and res.requests == 5  # markets, time, 3 pages of 50
    assert "120/120 candles" in text and "requests" in text and "retries 0" in text
    assert os.path.exists(tmp_path / "o.parquet")


def test_side_file_of_a_later_prepend_is_discarded_for_an_earlier_since(serve, tmp_path):
    from cryptotrain.data.fetch.plan import side_path
    from cryptotrain.data.ohlcv import write_ohlcv
    hist = make_history(200)
    server = serve(hist)
    start = pd.Timestamp(int(hist[100, 0]), unit="ms").isoformat()
    assert run_fetch(server, tmp_path, "--since", start).exit_code == 0
    stale = side_path(tmp_path / "out.parquet", int(hist[50, 0]))
    write_ohlcv(pd.DataFrame(hist[50:60], columns=["timestamp", "open", "high", "low", "close", "volume"])
                .astype({"timestamp": "int64"}), stale)
    r = run_fetch(server, tmp_path, "--since", "2024-01-01")
    assert r.exit_code == 0, r.output
    assert "discarding" in r.output and not stale.exists()
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)
