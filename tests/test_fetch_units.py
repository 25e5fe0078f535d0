"""Pieces of the fetch without a server: backoff, Retry-After, page checks, the paging loop on an
exchange that answers by time window (unlike Binance), and the config file reader."""

from __future__ import annotations

import random

import ccxt
import numpy as np
import pandas as pd
import pytest
from fake_exchange import HOUR_MS, T0, make_history, no_internet  # noqa: F401 (fixtures)

from cryptotrain.data.fetch.exchange import Redactor, load_exchange_config
from cryptotrain.data.fetch.pages import Job, Segment, fetch_range, page_frame
from cryptotrain.data.fetch.retry import BadPage, FetchSettings, Retrier, RetriesExhausted, parse_retry_after


class _Ex:
    last_response_headers = None


def test_backoff_doubles_with_jitter_and_is_capped():
    s = FetchSettings(backoff_base_s=1.0, backoff_max_s=5.0, jitter=0.5)
    r = Retrier(_Ex(), s, rng=random.Random(0))
    for k, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        d = [r.backoff(k) for _ in range(200)]
        assert min(d) >= 0.5 * cap and max(d) <= cap and np.std(d) > 0  # jittered within [cap/2, cap]


def test_retry_after_overrides_a_shorter_backoff_and_is_capped():
    ex = _Ex()
    sleeps: list[float] = []
    r = Retrier(ex, FetchSettings(backoff_base_s=0.01, max_retry_after_s=30), sleep=sleeps.append)
    calls = iter(range(10))

    def flaky():
        if next(calls) < 2:
            ex.last_response_headers = {"retry-after": "7" if not sleeps else "120"}
            raise ccxt.RateLimitExceeded("429")
        return "ok"

    assert r.call(flaky, "x") == "ok"
    assert sleeps == [7.0, 30.0] and r.retries == 2 and r.requests == 3


def test_stale_retry_after_is_not_used_for_a_timeout():
    ex = _Ex()
    ex.last_response_headers = {"Retry-After": "50"}  # from an earlier answer
    sleeps: list[float] = []
    r = Retrier(ex, FetchSettings(backoff_base_s=0.01, max_attempts=2), sleep=sleeps.append)
    with pytest.raises(RetriesExhausted, match="failed 2 time"):
        r.call(lambda: (_ for _ in ()).throw(ccxt.RequestTimeout("slow")), "x")
    assert sleeps and sleeps[0] < 0.02


def test_permanent_exchange_errors_are_not_retried():
    r = Retrier(_Ex(), FetchSettings(), sleep=lambda s: None)
    with pytest.raises(ccxt.BadSymbol):
        r.call(lambda: (_ for _ in ()).throw(ccxt.BadSymbol("no")), "x")
    assert r.requests == 1


def test_parse_retry_after_seconds_and_http_date():
    assert parse_retry_after("3") == 3.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_s=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize("raw, match", [
    ("[]", "expected a list"),
    ([[T0, 1, 2, 0.5]], "malformed candle"),
    ([[T0, 1, 2, 0.5, 1, None]], "non-numeric"),
    ([[T0 + HOUR_MS, 1, 2, 0.5, 1, 1], [T0, 1, 2, 0.5, 1, 1]], "not in order"),
    ([[T0, 1, 2, 0.5, 1, 1], [T0 + 1000, 1, 2, 0.5, 1, 1]], "off the"),
    ([[T0, 1, 0.9, 0.5, 1, 1]], "high is below"),
    ([[T0, 1, 2, 0.5, 1, 1], [T0, 1, 2, 0.5, 1.5, 1]], "share a timestamp"),
])
def test_page_checks(raw, match):
    with pytest.raises(BadPage, match=match):
        page_frame(raw, HOUR_MS, None)


def test_page_repeats_are_dropped_and_counted():
    page, repeats = page_frame([[T0, 1, 2, 0.5, 1, 1]] * 3 + [[T0 + HOUR_MS, 1, 2, 0.5, 1, 2]], HOUR_MS, T0)
    assert repeats == 2 and page["timestamp"].tolist() == [T0, T0 + HOUR_MS]


class _WindowExchange(_Ex):
    """Answers [since, since + limit * tf) like exchanges that page by time window (not Binance):
    a hole longer than a page is an empty answer in the middle of the history."""

    def __init__(self, rows: np.ndarray):
        self.rows, self.asked = rows, []

    def fetch_ohlcv(self, symbol, timeframe, since, limit):
        self.asked.append(since)
        ts = self.rows[:, 0]
        sel = self.rows[(ts >= since) & (ts < since + limit * HOUR_MS)]
        return [[int(r[0]), *r[1:].tolist()] for r in sel]


def test_loop_skips_a_long_hole_on_a_window_exchange(tmp_path):
    hist = make_history(200, gap=(60, 45))  # a hole of 45 candles, longer than a 20-candle page
    ex = _WindowExchange(hist)
    now = int(hist[-1, 0]) + 2 * HOUR_MS
    seg = Segment(tmp_path / "o.parquet", "parquet")
    job = Job(exchange=ex, symbol="X/Y", timeframe="1h", tf_ms=HOUR_MS, start=T0, stop=now, now_ms=now, limit=20,
              segment=seg)
    settings = FetchSettings(backoff_base_s=0.0, empty_page_attempts=2, pages_per_write=3)
    fetch_range(job, Retrier(ex, settings, sleep=lambda s: None), settings, lambda *a: None)
    got = pd.read_parquet(tmp_path / "o.parquet").to_numpy(np.float64)
    assert np.array_equal(got, hist)
    assert ex.asked.count(T0 + 80 * HOUR_MS) == 2  # the empty window was asked twice before being skipped


def test_exchange_config_expands_env_and_separates_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("CT_PW", "hunter2-long")
    monkeypatch.setenv("CT_UID", "123456789")
    monkeypatch.setenv("CT_TIMEOUT", "1234")
    p = tmp_path / "ex.yaml"
    p.write_text("password: ${CT_PW}\nuid: ${CT_UID}\ntimeout: ${CT_TIMEOUT}\noptions: {x: [a, '${CT_PW}']}\n"
                 "cryptotrain: {max_attempts: 2}\n")
    cfg, settings, redact = load_exchange_config(p)
    assert cfg == {"password": "hunter2-long", "uid": "123456789", "timeout": 1234,  # a whole ${VAR} is typed
                   "options": {"x": ["a", "hunter2-long"]}}
    assert settings.max_attempts == 2
    assert redact("pw hunter2-long, timeout 1234") == "pw ***, timeout 1234"
    assert Redactor(["abc"])("xabcx") == "x***x"
