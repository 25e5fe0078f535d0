"""`cryptotrain fetch --symbols` / `--config`: several pairs into one folder (commands/fetch_many.py),
against the fake Binance of fake_exchange.py (nothing leaves 127.0.0.1)."""

from __future__ import annotations

import pytest
from fake_exchange import FakeBinance, make_history, run_fetch, no_internet  # noqa: F401 (fixtures)

from cryptotrain.data.ohlcv import load_ohlcv


@pytest.fixture(scope="module")
def server():
    fake = FakeBinance(make_history(120)).start()
    yield fake
    fake.stop()


def test_one_failing_pair_loses_no_other_pairs_candles(server, tmp_path):
    """An unknown symbol between two good ones: the good pairs' files are complete, the command exits 1
    naming the failed pair (a loop that stops at the first failure, or exits 0, would fail this); a
    rerun of the good pairs resumes their files (nothing new, same candles)."""
    out = tmp_path / "pairs"
    r = run_fetch(server, tmp_path, "--symbols", "BTC/USDT,XXX/USDT,ETH/USDT", "--since", "2024-01-01",
                  "--out", str(out))
    assert r.exit_code == 1, r.output
    assert "1 of 3 pairs failed: XXX/USDT" in r.output and "FAILED" in r.output
    files = {p.name: load_ohlcv(p, "1h")[0] for p in out.iterdir()}
    assert set(files) == {"BTC_USDT-1h.parquet", "ETH_USDT-1h.parquet"}
    assert all(len(df) == 120 for df in files.values())
    again = run_fetch(server, tmp_path, "--symbols", "BTC/USDT,ETH/USDT", "--out", str(out))
    assert again.exit_code == 0, again.output
    assert again.output.count("already up to date") == 2 and "2 of 2 pairs fetched" in again.output


def test_fetch_config_fetches_the_universe_into_its_dir(server, tmp_path):
    """fetch --config: the config's pairs into its data.dir, named as the universe dataset finds them."""
    cfg = tmp_path / "u.yaml"
    cfg.write_text(f"data:\n  universe: [BTC/USDT, ETH/BTC]\n  dir: {tmp_path / 'u'}\n  timeframe: 1h\n")
    r = run_fetch(server, tmp_path, "--config", str(cfg), "--since", "2024-01-01", default_out=False)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "u").iterdir()) == ["BTC_USDT-1h.parquet", "ETH_BTC-1h.parquet"]
