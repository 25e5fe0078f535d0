"""What a fetch leaves behind and reports (issue 16): no empty directories when nothing was
fetched, and every gap of the requested range reported, whichever run downloaded it."""

from __future__ import annotations

import json
import socket

from fake_exchange import HOUR_MS, FakeBinance, make_history, no_internet, run_fetch, serve  # noqa: F401 (fixtures)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_exchange_creates_no_directory(serve, tmp_path, monkeypatch):
    server = serve(make_history(50))
    cfg = server.exchange_config()
    cfg["urls"]["api"] = {k: f"http://127.0.0.1:{_closed_port()}/api/v3" for k in cfg["urls"]["api"]}
    monkeypatch.chdir(tmp_path)
    for out in ([], ["--out", str(tmp_path / "new" / "deeper" / "o.parquet")]):
        r = run_fetch(server, tmp_path, "--since", "2024-01-01", *out, config=cfg, default_out=False)
        assert r.exit_code == 1 and "could not reach the exchange" in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exchange.json"]


def test_a_fetch_into_a_new_directory_creates_it(serve, tmp_path, monkeypatch):
    server = serve(make_history(30))
    monkeypatch.chdir(tmp_path)
    r = run_fetch(server, tmp_path, "--since", "2024-01-01", "--symbol", "BTC/USDT", default_out=False)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "data" / "binance" / "BTC_USDT-1h.parquet").is_file()


def test_a_resumed_fetch_reports_the_gaps_an_earlier_run_downloaded(serve, tmp_path):
    hist = make_history(300, gap=(40, 5))          # 5 candles missing after candle 39
    server = serve(hist)
    first = run_fetch(server, tmp_path, "--since", "2024-01-01", "--until", "2024-01-04", page_limit=50)
    assert first.exit_code == 0 and "after 2024-01-02T15:00: 5 missing" in first.output, first.output
    # the same command again without --until (the run that was "interrupted" at 2024-01-04)
    again = run_fetch(server, tmp_path, "--since", "2024-01-01", page_limit=50)
    assert again.exit_code == 0, again.output
    assert "gaps (candles the exchange does not have, not filled): after 2024-01-02T15:00: 5 missing" in again.output
    # a later --since leaves the gap out of the requested range
    later = run_fetch(server, tmp_path, "--since", "2024-01-03", page_limit=50)
    assert later.exit_code == 0 and "gaps" not in later.output, later.output
