"""A local HTTP server that impersonates Binance's public spot REST API, with injectable faults.

Real, unmodified ccxt is pointed at it through `--exchange-config` URL overrides
(`exchange_config()` builds that mapping), so the fetch code under test runs exactly as it
would against binance.com, but nothing leaves 127.0.0.1.

Endpoints: /api/v3/exchangeInfo, /api/v3/time, /api/v3/klines. Any other path answers 404 and
is recorded, so a test can assert that ccxt asked for nothing else.

Faults are scheduled per klines request number (0-based) with `FakeBinance.faults`:
  "429"         HTTP 429 with a Retry-After header (seconds, `retry_after`)
  "500", "502", "503"   server errors (a burst = several consecutive numbers)
  "slow"        sleep `slow_s` (longer than the client timeout), then answer normally
  "truncated"   status 200, the JSON body cut in half
  "garbage"     status 200, an HTML page instead of JSON
  "empty"       status 200, []
  "drop"        close the connection without answering
  "overlap"     answer from `overlap` candles before the requested startTime
  "repeat"      every candle of the page sent twice
  "conflict"    a candle of the page repeated with a different volume
Once-off faults are consumed; `always` faults (a set of kinds) apply to every klines request.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

HOUR_MS = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z

_TIMEFRAMES_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": HOUR_MS, "4h": 4 * HOUR_MS, "1d": 24 * HOUR_MS}


def make_history(n: int, start: int = T0, step: int = HOUR_MS, gap: tuple[int, int] | None = None,
                 seed: int = 0) -> np.ndarray:
    """(n, 6) float64 rows [ts, open, high, low, close, volume] on the grid; `gap=(i, k)` removes
    candles i..i+k-1 (a genuine hole the exchange does not have). Prices have 8 decimals, as Binance."""
    rng = np.random.default_rng(seed)
    ts = start + step * np.arange(n, dtype=np.int64)
    close = np.round(40_000 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]], 2)
    high = np.round(np.maximum(open_, close) * (1 + rng.uniform(0, 0.003, n)), 2)
    low = np.round(np.minimum(open_, close) * (1 - rng.uniform(0, 0.003, n)), 2)
    vol = np.round(rng.uniform(1, 100, n), 8)
    rows = np.column_stack([ts.astype(np.float64), open_, high, low, close, vol])
    if gap is not None:
        i, k = gap
        rows = np.delete(rows, np.s_[i:i + k], axis=0)
    return rows


@dataclass
class FakeBinance:
    """Serves `history` (closed candles) plus one still-open candle at `now_ms`."""

    history: np.ndarray
    timeframe: str = "1h"
    symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "ETHBTC")
    max_limit: int = 1000
    faults: dict[int, str] = field(default_factory=dict)
    always: set[str] = field(default_factory=set)
    retry_after: float = 1.0
    slow_s: float = 1.0
    overlap: int = 3
    now_ms: int | None = None
    requests: list[tuple[float, str, dict]] = field(default_factory=list)
    klines_count: int = 0

    delay_s: float = 0.0  # added to every klines answer (to kill a fetch mid-way)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.set_history(self.history, self.now_ms)

    def set_history(self, history: np.ndarray, now_ms: int | None = None) -> None:
        """Serve `history`; the clock defaults to a third into the candle after the last one."""
        step = _TIMEFRAMES_MS[self.timeframe]
        last = int(history[-1, 0])
        self.history = history
        self.now_ms = now_ms if now_ms is not None else last + step + step // 3
        open_ts = (self.now_ms // step) * step
        # the still-open candle: served like Binance does, must never be stored
        self._open = np.array([[open_ts, 1.0, 2.0, 0.5, 1.5, 3.0]]) if open_ts > last else np.empty((0, 6))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeBinance":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                fake._handle(self)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def exchange_config(self, timeout_ms: int = 400, **fetch_settings) -> dict:
        """ccxt constructor config pointing every Binance API URL at this server (spot only)."""
        import ccxt

        urls = {key: self.base + "/" + url.split("://", 1)[1].split("/", 1)[1]
                for key, url in ccxt.binance().urls["api"].items()}
        cfg = {"urls": {"api": urls}, "timeout": timeout_ms, "enableRateLimit": False,
               "options": {"defaultType": "spot", "fetchMarkets": ["spot"], "fetchCurrencies": False,
                           "fetchMargins": False}}  # margin pairs are private (signed) calls
        settings = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 5, "page_limit": 50}
        settings.update(fetch_settings)
        cfg["cryptotrain"] = settings
        return cfg

    def klines_requests(self) -> list[dict]:
        return [q for _, p, q in self.requests if p.endswith("/klines")]

    def paths(self) -> set[str]:
        return {p for _, p, _ in self.requests}

    # ------------------------------------------------------------------ handlers
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.requests.append((time.monotonic(), url.path, query))
        if url.path.endswith("/api/v3/exchangeInfo"):  # any prefix: a test may put one in the URL
            return self._json(h, 200, self._exchange_info())
        if url.path.endswith("/api/v3/time"):
            return self._json(h, 200, {"serverTime": self.now_ms})
        if url.path.endswith("/api/v3/klines"):
            return self._klines(h, query)
        return self._json(h, 404, {"code": -1, "msg": "not found"})

    def _klines(self, h: BaseHTTPRequestHandler, q: dict) -> None:
        with self._lock:
            n = self.klines_count
            self.klines_count += 1
        fault = self.faults.pop(n, None)
        if self.delay_s:
            time.sleep(self.delay_s)
        kinds = set(self.always) | ({fault} if fault else set())
        if q.get("symbol") not in self.symbols:
            return self._json(h, 400, {"code": -1121, "msg": "Invalid symbol."})
        if "429" in kinds:
            return self._json(h, 429, {"code": -1003, "msg": "Too many requests."},
                              {"Retry-After": f"{self.retry_after:g}"})
        for code in ("500", "502", "503"):
            if code in kinds:
                return self._json(h, int(code), {"code": -1001, "msg": "Internal error."})
        if "drop" in kinds:
            h.close_connection = True
            h.connection.shutdown(2)
            return None
        if "slow" in kinds:
            time.sleep(self.slow_s)
        rows = self._page(q, overlap=self.overlap if "overlap" in kinds else 0)
        if "repeat" in kinds:
            rows = np.repeat(rows, 2, axis=0)
        if "conflict" in kinds and len(rows) > 2:
            bad = rows[1].copy()
            bad[5] += 1.0  # same candle, another volume
            rows = np.insert(rows, 2, bad, axis=0)
        body = [self._kline(r) for r in rows]
        if "empty" in kinds:
            body = []
        raw = json.dumps(body).encode()
        if "truncated" in kinds:
            raw = raw[: max(1, len(raw) // 2)]
        if "garbage" in kinds:
            raw = b"<html><body>502 Bad Gateway (cloudflare)</body></html>"
        return self._raw(h, 200, raw, "application/json" if "garbage" not in kinds else "text/html")

    def _page(self, q: dict, overlap: int) -> np.ndarray:
        step = _TIMEFRAMES_MS[q.get("interval", self.timeframe)]
        rows = np.vstack([self.history, self._open])
        limit = min(int(q.get("limit", 500)), self.max_limit)
        ts = rows[:, 0].astype(np.int64)
        mask = np.ones(len(rows), bool)
        if "startTime" in q:
            mask &= ts >= int(q["startTime"]) - overlap * step
        if "endTime" in q:
            mask &= ts <= int(q["endTime"])
        return rows[mask][:limit]

    def _kline(self, r: np.ndarray) -> list:
        step = _TIMEFRAMES_MS[self.timeframe]
        ts = int(r[0])
        return [ts, f"{r[1]:.8f}", f"{r[2]:.8f}", f"{r[3]:.8f}", f"{r[4]:.8f}", f"{r[5]:.8f}",
                ts + step - 1, "0.0", 10, "0.0", "0.0", "0"]

    def _exchange_info(self) -> dict:
        def market(sym: str) -> dict:
            base, quote = (sym[:-4], sym[-4:]) if sym.endswith("USDT") else (sym[:-3], sym[-3:])
            return {"symbol": sym, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
                    "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                    "orderTypes": ["LIMIT", "MARKET"], "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False, "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
                    "filters": [{"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000.00",
                                 "tickSize": "0.01"},
                                {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000.0",
                                 "stepSize": "0.00001"}]}

        return {"timezone": "UTC", "serverTime": self.now_ms, "rateLimits": [], "exchangeFilters": [],
                "symbols": [market(s) for s in self.symbols]}

    # ------------------------------------------------------------------ raw I/O
    def _json(self, h, status: int, obj, headers: dict | None = None) -> None:
        self._raw(h, status, json.dumps(obj).encode(), "application/json", headers)

    def _raw(self, h, status: int, raw: bytes, ctype: str, headers: dict | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        try:
            h.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass


# ---------------------------------------------------------------------- test helpers
@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Autouse where imported: any HTTP(S) request not to 127.0.0.1 goes to a dead proxy and fails,
    so a test can never reach a real exchange (requests, hence ccxt, honours these variables)."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def serve():
    """Fixture: serve(history, **FakeBinance fields) -> a started FakeBinance, stopped after the test."""
    started: list[FakeBinance] = []

    def start(history: np.ndarray, **kw) -> FakeBinance:
        fake = FakeBinance(history, **kw).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def candles(path) -> np.ndarray:
    """A fetched file as (N, 6) float64 rows, comparable with `make_history` output."""
    import pandas as pd

    df = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    assert list(df.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert df["timestamp"].dtype == np.int64
    return df.to_numpy(dtype=np.float64)


def run_fetch(fake: FakeBinance, tmp_path, *args: str, config: dict | None = None, default_out: bool = True,
              **settings):
    """`cryptotrain fetch` in-process against `fake` -> typer Result. The output is tmp_path/out.parquet
    unless --out is given or `default_out` is False; `settings` go to the `cryptotrain:` config section."""
    from typer.testing import CliRunner

    from cryptotrain.cli import app

    cfg_path = tmp_path / "exchange.json"
    cfg_path.write_text(json.dumps(config if config is not None else fake.exchange_config(**settings)))
    argv = ["fetch", "--exchange-config", str(cfg_path), *args]
    if "--out" not in args and default_out:
        argv += ["--out", str(tmp_path / "out.parquet")]
    return CliRunner().invoke(app, argv)
