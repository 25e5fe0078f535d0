"""`cryptotrain fetch` argument errors (exit 2, one line), unreachable exchange (exit 1), secrets.

Argument checks that need no network run before any request; the ones that do (symbol) use the
fake Binance. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import socket

import pytest
from fake_exchange import FakeBinance, make_history, run_fetch, no_internet  # noqa: F401 (fixtures)
from typer.testing import CliRunner

from cryptotrain.cli import app


@pytest.fixture(scope="module")
def server():
    fake = FakeBinance(make_history(120)).start()
    yield fake
    fake.stop()


def _cli(*args: str):
    return CliRunner().invoke(app, ["fetch", *args])


@pytest.mark.parametrize("args, message", [
    (["--exchange", "binanse"], "unknown exchange 'binanse'; did you mean binance"),
    (["--exchange", "bitflyer"], "exchange bitflyer does not provide candles (no fetchOHLCV"),
    (["--timeframe", "7m"], "binance has no '7m' candles; supported timeframes: 1s, 1m, 3m, 5m"),
    (["--timeframe", "1M"], "timeframe '1M' has no fixed length"),
    (["--since", "2024-02-01", "--until", "2024-01-01"], "--since 2024-02-01 is not before --until 2024-01-01"),
    (["--since", "yesterday-ish"], "cannot read date 'yesterday-ish'"),
    (["--format", "xlsx"], "--format 'xlsx' is not supported; use parquet or csv"),
    (["--out", "candles.txt"], "name must end with .parquet, .csv or .csv.gz"),
])
def test_bad_arguments_exit_2_before_any_request(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    r = _cli("--since", "2024-01-01", *args) if "--since" not in args else _cli(*args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert r.output.startswith("error:") and r.output.count("\n") == 1
    assert not (tmp_path / "data").exists()


def test_output_not_writable(tmp_path):
    (tmp_path / "file").write_text("x")
    r = _cli("--since", "2024-01-01", "--out", str(tmp_path / "file" / "sub" / "o.parquet"))
    assert r.exit_code == 2 and "is not writable" in r.output and "choose another --out" in r.output


def test_new_file_needs_since(server, tmp_path):
    r = run_fetch(server, tmp_path)
    assert r.exit_code == 2 and "give --since" in r.output


def test_since_in_the_future(server, tmp_path):
    r = run_fetch(server, tmp_path, "--since", "2030-01-01")
    assert r.exit_code == 2 and "is not before the exchange's current time (2024-01-06T00:20)" in r.output


def test_unknown_symbol_suggests_close_ones(server, tmp_path):
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", "--symbol", "BTC/USDX")
    assert r.exit_code == 2
    assert "unknown symbol 'BTC/USDX' on binance; did you mean BTC/USDT" in r.output
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", "--symbol", "eth/btc")
    assert r.exit_code == 2 and "did you mean ETH/BTC" in r.output


def test_since_after_the_file_end_would_leave_a_hole(server, tmp_path):
    assert run_fetch(server, tmp_path, "--since", "2024-01-01", "--until", "2024-01-02").exit_code == 0
    r = run_fetch(server, tmp_path, "--since", "2024-01-04")
    assert r.exit_code == 2 and "would leave a hole" in r.output


def test_bad_settings_key_suggests_the_right_one(server, tmp_path):
    cfg = server.exchange_config()
    cfg["cryptotrain"]["max_atempts"] = 3
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", config=cfg)
    assert r.exit_code == 2 and "unknown key 'cryptotrain.max_atempts'; did you mean 'max_attempts'?" in r.output


def test_missing_environment_variable(server, tmp_path, monkeypatch):
    monkeypatch.delenv("CT_NOT_SET", raising=False)
    cfg = server.exchange_config()
    cfg["apiKey"] = "${CT_NOT_SET}"
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", config=cfg)
    assert r.exit_code == 2 and "apiKey uses ${CT_NOT_SET} but that environment variable is not set" in r.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_exchange_exits_1(server, tmp_path):
    port = _closed_port()  # nothing listens there once the socket is closed
    cfg = server.exchange_config()
    cfg["urls"]["api"] = {k: f"http://127.0.0.1:{port}/api/v3" for k in cfg["urls"]["api"]}
    (tmp_path / "x.json").write_text(json.dumps(cfg))
    r = _cli("--since", "2024-01-01", "--exchange-config", str(tmp_path / "x.json"), "--out", str(tmp_path / "o.parquet"))
    assert r.exit_code == 1
    assert "could not reach the exchange binance" in r.output and "Nothing was written" in r.output
    assert not (tmp_path / "o.parquet").exists()


def test_secrets_from_the_environment_never_leave_ccxt(server, tmp_path, monkeypatch):
    key, secret, token = "AKIA-TEST-KEY-9f8e7d", "s3cr3t-value-4b5c6d", "tok-in-url-1a2b3c"
    monkeypatch.setenv("CT_KEY", key)
    monkeypatch.setenv("CT_SECRET", secret)
    monkeypatch.setenv("CT_TOKEN", token)
    cfg = server.exchange_config(max_attempts=2)
    cfg.update(apiKey="${CT_KEY}", secret="${CT_SECRET}")
    # the token sits in the URL, so ccxt's own error messages (timeouts, ...) contain it
    cfg["urls"]["api"]["public"] = cfg["urls"]["api"]["public"].replace("/api/v3", "/${CT_TOKEN}/api/v3")
    server.faults = {server.klines_count: "slow", server.klines_count + 1: "slow"}
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", config=cfg)
    assert r.exit_code == 1  # two timeouts: retries exhausted, the messages quote the URL
    assert "RequestTimeout" in r.output and "/***/api/v3/klines" in r.output
    r2 = run_fetch(server, tmp_path, "--since", "2024-01-01", config=cfg)
    assert r2.exit_code == 0, r2.output
    for text in (r.output, r2.output):
        assert key not in text and secret not in text and token not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key.encode() not in data and secret.encode() not in data and token.encode() not in data
