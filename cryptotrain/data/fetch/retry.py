"""Retries for exchange calls: bounded attempts, exponential backoff with jitter, Retry-After.

Retried: ccxt `OperationFailed`, which holds `NetworkError` (RequestTimeout,
ExchangeNotAvailable, DDoSProtection, RateLimitExceeded) and also the temporary errors ccxt
maps from exchange error codes (Binance answers HTTP 500 with code -1001 "internal error, try
again", which ccxt raises as OperationFailed), plus `BadPage`: an answer that parsed but failed
our checks (ccxt turns a truncated or non-JSON body into an empty list, not an error).
Not retried: `ExchangeError` (bad symbol, bad request, ...), which will not fix itself.

Delay before retry k (1-based):  d_k = min(backoff_max_s, backoff_base_s * 2**(k-1)) * U,
U ~ uniform(1 - jitter, 1), raised to the server's Retry-After (capped at max_retry_after_s)
when the failed response carried one. ccxt ignores Retry-After; we read it from
`exchange.last_response_headers`, cleared before every call so a stale header is never used.
"""

from __future__ import annotations

import email.utils
import random
import time
from typing import Any, Callable, Optional

import ccxt
from pydantic import BaseModel, ConfigDict, Field


class FetchSettings(BaseModel):
    """Knobs of the download; read from the `cryptotrain:` key of --exchange-config (not passed to ccxt)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=8, ge=1)          # tries per request (1 = no retry)
    connect_attempts: int = Field(default=3, ge=1)      # tries of the first request (markets): fail fast offline
    backoff_base_s: float = Field(default=1.0, ge=0)    # first retry delay [s]; doubles each retry
    backoff_max_s: float = Field(default=60.0, ge=0)    # cap of the exponential delay [s]
    jitter: float = Field(default=0.5, ge=0, le=1)      # delay is multiplied by uniform(1 - jitter, 1)
    max_retry_after_s: float = Field(default=600.0, ge=0)  # cap on a server's Retry-After [s]
    page_limit: Optional[int] = Field(default=None, ge=1)  # candles per request; default: the exchange's maximum
    empty_page_attempts: int = Field(default=3, ge=1)   # an empty page before the end is asked again this often
    pages_per_write: int = Field(default=10, ge=1)      # rewrite the file (atomically) after this many pages
    write_every_s: float = Field(default=15.0, ge=0)    # ... or when this much time has passed since the last write


class BadPage(Exception):
    """A page that arrived but is malformed or inconsistent; asked again like a network error."""


class RetriesExhausted(Exception):
    """Every attempt of one request failed; `last` is the final error."""

    def __init__(self, what: str, attempts: int, last: BaseException):
        super().__init__(f"{what} failed {attempts} time(s); last error: {type(last).__name__}: {last}")
        self.what, self.attempts, self.last = what, attempts, last


RETRYABLE = (ccxt.OperationFailed, BadPage)


def parse_retry_after(value: Any, now_s: float | None = None) -> float | None:
    """Retry-After header -> seconds to wait: a number of seconds or an HTTP date; None if unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now_s is None else now_s))


def _header(headers: Any, name: str) -> Any:
    if not headers:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    for key, value in items:
        if str(key).lower() == name.lower():
            return value
    return None


class Retrier:
    """Runs exchange calls with retries; counts requests and retries for the progress display.

    `on_retry(attempt, max_attempts, delay_s, error, what)` is called before each sleep.
    """

    def __init__(self, exchange: Any, settings: FetchSettings, on_retry: Callable[..., None] | None = None,
                 sleep: Callable[[float], None] = time.sleep, rng: random.Random | None = None):
        self.exchange, self.settings = exchange, settings
        self.on_retry = on_retry or (lambda *a: None)
        self.sleep, self.rng = sleep, rng or random.Random()
        self.requests = 0
        self.retries = 0

    def backoff(self, retry: int) -> float:
        """Delay [s] before retry number `retry` (1-based), with jitter."""
        s = self.settings
        base = min(s.backoff_max_s, s.backoff_base_s * 2.0 ** (retry - 1))
        return base * self.rng.uniform(1.0 - s.jitter, 1.0)

    def delay_for(self, retry: int, err: BaseException) -> float:
        delay = self.backoff(retry)
        if isinstance(err, ccxt.OperationFailed):
            after = parse_retry_after(_header(getattr(self.exchange, "last_response_headers", None), "Retry-After"))
            if after is not None:
                delay = max(delay, min(after, self.settings.max_retry_after_s))
        return delay

    def call(self, fn: Callable[[], Any], what: str) -> Any:
        """fn() with retries on RETRYABLE errors; RetriesExhausted after settings.max_attempts tries."""
        n = self.settings.max_attempts
        for attempt in range(1, n + 1):
            self.exchange.last_response_headers = None  # so a Retry-After is from this response only
            self.requests += 1
            try:
                return fn()
            except RETRYABLE as err:
                if attempt == n:
                    raise RetriesExhausted(what, n, err) from err
                self.pause(attempt, err, what)
        raise AssertionError("unreachable")

    def pause(self, retry: int, err: BaseException, what: str, attempts: int | None = None) -> None:
        """Count one retry (of `attempts` tries in all), report it, sleep the backoff or Retry-After delay."""
        delay = self.delay_for(retry, err)
        self.retries += 1
        self.on_retry(retry, attempts or self.settings.max_attempts, delay, err, what)
        self.sleep(delay)
