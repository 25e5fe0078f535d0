"""`cryptotrain fetch` against a fake Binance (real ccxt, local HTTP server) that misbehaves.

Every test asserts the stored file equals the server's closed history exactly: no candle lost,
none duplicated, the still-open candle dropped, gaps reported and not filled.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from fake_exchange import HOUR_MS, candles, make_history, run_fetch, serve, no_internet  # noqa: F401 (fixtures)

ALLOWED_PATHS = {"/api/v3/exchangeInfo", "/api/v3/time", "/api/v3/klines"}


def test_clean_fetch_is_exactly_the_history(serve, tmp_path):
    hist = make_history(230)
    fake = serve(hist)
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01")
    assert r.exit_code == 0, r.output
    assert len(fake._open) == 1  # the server also sends the still-open candle after the history ...
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)  # ... which is not stored
    assert fake.paths() <= ALLOWED_PATHS
    starts = [int(q["startTime"]) for q in fake.klines_requests()]
    assert starts == [int(hist[0, 0]) + k * 50 * HOUR_MS for k in range(5)]  # 230 candles, 50 a page
    assert "230 new candles" in r.output and "0 retries" in r.output


@pytest.mark.parametrize("faults", [
    {1: "429"},
    {1: "500", 2: "500", 3: "500"},          # a burst of 5xx
    {2: "502", 3: "503"},
    {1: "slow"},                             # beyond the 0.4 s client timeout
    {1: "truncated", 3: "truncated"},        # 200 with half a JSON body: ccxt returns []
    {1: "garbage"},                          # 200 with an HTML page: ccxt returns []
    {1: "empty"},
    {1: "drop", 2: "drop"},                  # connection closed without an answer
    {1: "overlap", 2: "overlap"},
    {1: "repeat", 3: "repeat"},
], ids=lambda f: "+".join(sorted(set(f.values()))))
def test_each_fault_is_survived_exactly(serve, tmp_path, faults):
    hist = make_history(160)
    fake = serve(hist, faults=dict(faults), retry_after=0.05)
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01")
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)
    assert not fake.faults  # every scheduled fault was served
    assert fake.paths() <= ALLOWED_PATHS


def test_all_faults_and_a_gap_together(serve, tmp_path):
    hist = make_history(400, gap=(120, 7))  # 7 candles the exchange does not have
    faults = {1: "429", 2: "500", 3: "502", 4: "slow", 5: "truncated", 6: "garbage", 7: "drop", 8: "overlap",
              9: "repeat", 10: "empty", 12: "503", 13: "503", 14: "503", 15: "repeat", 17: "overlap"}
    fake = serve(hist, faults=faults, retry_after=0.05)
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", pages_per_write=2)
    assert r.exit_code == 0, r.output
    got = candles(tmp_path / "out.parquet")
    assert np.array_equal(got, hist)
    assert len(np.unique(got[:, 0])) == len(got)
    gap_after = int(hist[119, 0])
    assert "gaps (candles the exchange does not have, not filled): after 2024-01-05T23:00: 7 missing" in r.output
    assert time.strftime("%Y-%m-%dT%H:%M", time.gmtime(gap_after / 1000)) == "2024-01-05T23:00"
    assert "retry" in r.output and "repeated candles dropped" in r.output


def test_retry_after_header_is_honoured(serve, tmp_path):
    hist = make_history(120)
    fake = serve(hist, faults={1: "429"}, retry_after=0.6)
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", backoff_base_s=0.001, backoff_max_s=0.001)
    assert r.exit_code == 0, r.output
    times = [t for t, p, _ in fake.requests if p.endswith("/klines")]
    assert times[2] - times[1] >= 0.55  # the retry waited for Retry-After, not the 1 ms backoff
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)


def test_server_page_cap_below_the_limit_loses_nothing(serve, tmp_path):
    hist = make_history(130)
    fake = serve(hist, max_limit=17)  # the server sends fewer candles than asked: short pages mid-history
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01")
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)


def test_since_before_listing_and_until_exclusive(serve, tmp_path):
    hist = make_history(150)
    fake = serve(hist)
    r = run_fetch(fake, tmp_path, "--since", "2023-12-30", "--until", "2024-01-05T00:00", "--format", "csv",
                  "--out", str(tmp_path / "o.csv"))
    assert r.exit_code == 0, r.output
    want = hist[hist[:, 0] < int(hist[0, 0]) + 96 * HOUR_MS]
    assert np.array_equal(candles(tmp_path / "o.csv"), want)
    assert "no candles from 2023-12-30T00:00 to 2024-01-01T00:00" in r.output


def test_retries_exhausted_keep_the_prefix_and_rerun_completes(serve, tmp_path):
    hist = make_history(300)
    fake = serve(hist, faults={3 + k: "503" for k in range(4)})  # pages 0-2 arrive, page 3 fails 4 times
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", max_attempts=4)
    assert r.exit_code == 1
    assert "Run the same command again to resume" in r.output and "failed 4 time(s)" in r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist[:150])  # a contiguous prefix
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", max_attempts=4)
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "out.parquet"), hist)


def test_conflicting_duplicates_in_a_page_are_an_error(serve, tmp_path):
    hist = make_history(120)
    fake = serve(hist, always={"conflict"})
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", max_attempts=2)
    assert r.exit_code == 1
    assert "share a timestamp with different values" in r.output


def test_candle_contradicting_the_stored_file_is_an_error(serve, tmp_path):
    hist = make_history(120)
    fake = serve(hist)
    assert run_fetch(fake, tmp_path, "--since", "2024-01-03").exit_code == 0
    stored = candles(tmp_path / "out.parquet")
    import pandas as pd

    from cryptotrain.data.ohlcv import write_ohlcv
    df = pd.read_parquet(tmp_path / "out.parquet")
    df.loc[1, "volume"] += 1.0  # the file now disagrees with the exchange on its second candle
    write_ohlcv(df, tmp_path / "out.parquet")
    r = run_fetch(fake, tmp_path, "--since", "2024-01-02", max_attempts=2)  # prepend overlaps the file
    assert r.exit_code == 1
    assert "conflicting duplicate candle at 2024-01-03T01:00" in r.output
    assert np.array_equal(candles(tmp_path / "out.parquet")[2:], stored[2:])  # file untouched


def test_default_output_path(serve, tmp_path, monkeypatch):
    hist = make_history(60)
    fake = serve(hist)
    monkeypatch.chdir(tmp_path)
    r = run_fetch(fake, tmp_path, "--since", "2024-01-01", "--symbol", "ETH/BTC", default_out=False)
    assert r.exit_code == 0, r.output
    assert np.array_equal(candles(tmp_path / "data" / "binance" / "ETH_BTC-1h.parquet"), hist)
