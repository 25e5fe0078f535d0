"""`cryptotrain backtest --weights W.csv --data-dir DIR`: files in, files out, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.backtest.portfolio_engine import run_portfolio
from cryptotrain.cli import app

H = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % H
N = 300


@pytest.fixture
def data_dir(tmp_path):
    """BTC all along, ETH listed at row 50, SOL ending at row 200 (and a 1m BTC file beside)."""
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for sym, rows in (("BTC_USDT", slice(0, N)), ("ETH_USDT", slice(50, N)), ("SOL_USDT", slice(0, 200))):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, N)))
        open_ = np.concatenate(([100.0], close[:-1]))
        df = pd.DataFrame({"timestamp": T0 + np.arange(N) * H, "open": open_, "high": np.maximum(open_, close) * 1.001,
                           "low": np.minimum(open_, close) * 0.999, "close": close, "volume": 1.0}).iloc[rows]
        df.to_csv(d / f"{sym}-1h.csv.gz", index=False)
    btc = pd.read_csv(d / "BTC_USDT-1h.csv.gz")
    btc.assign(timestamp=T0 + np.arange(N) * 60_000).to_csv(d / "BTC_USDT-1m.csv", index=False)
    return d


def invoke(*args):
    return CliRunner().invoke(app, ["backtest", *map(str, args)])


def long_rows():
    rows = []
    for k, t in enumerate(range(0, 280, 20)):
        rows.append((T0 + t * H, "BTC/USDT", 0.3 if k % 2 else 0.4))
        if k % 2 == 0:     # SOL decided every other time: its wide cells in between are empty (no change)
            rows.append((T0 + t * H, "SOL_USDT", 0.4 if t < 220 else 0.0))
        if t >= 40:
            rows.append((T0 + t * H, "ETH_USDT", 0.2))
    return pd.DataFrame(rows, columns=["timestamp", "symbol", "weight"])


def test_long_and_wide_files_trade_the_same_and_write_every_output(tmp_path, data_dir):
    """Catches a wide cell read as a decision when empty, a layout read differently from the other, an
    output missing, weights.csv listing rows where nothing changed and per-pair P&L that does not add
    up to the portfolio's; the equity is that of the engine run on the same candles."""
    lw = long_rows()
    lw.to_csv(tmp_path / "long.csv", index=False)
    wide = lw.assign(symbol=lw["symbol"].str.replace("/", "_")).pivot(index="timestamp", columns="symbol",
                                                                      values="weight")
    wide.reset_index().to_csv(tmp_path / "wide.csv", index=False)
    res = invoke("--weights", tmp_path / "long.csv", "--data-dir", data_dir, "--fee-bps", 10, "--slippage-bps", 2)
    assert res.exit_code == 0, res.output
    assert "SOL_USDT: its data ends at" in res.output and "days" in res.output   # ended pair; short span warned
    res2 = invoke("--weights", tmp_path / "wide.csv", "--data-dir", data_dir, "--fee-bps", 10, "--slippage-bps", 2)
    assert res2.exit_code == 0, res2.output
    a, b = (tmp_path / f"{n}_backtest" for n in ("long", "wide"))
    eq = pd.read_csv(a / "equity.csv")
    np.testing.assert_allclose(eq["equity"], pd.read_csv(b / "equity.csv")["equity"], rtol=1e-12)  # pair order differs
    for f in ("stats.json", "equity.csv", "weights.csv", "trades.csv", "plots/equity.png", "plots/weights.png",
              "plots/contribution.png"):
        assert (a / f).is_file(), f
    doc = json.loads((a / "stats.json").read_text())
    assert set(doc) >= {"portfolio", "equal_weight", "btc_buy_and_hold", "per_pair", "settings", "verdict", "ended"}
    assert doc["portfolio"]["PSR(0) [%]"] is not None and "Avg. Holdings" in doc["portfolio"]
    contrib = sum(p["P&L Contribution [$]"] for p in doc["per_pair"].values())
    assert contrib == pytest.approx(doc["portfolio"]["Equity Final [$]"] - 10_000, abs=1e-6)
    w = pd.read_csv(a / "weights.csv")
    btc = w[w["symbol"] == "BTC_USDT"]["weight"].to_numpy()
    assert (np.diff(btc) != 0).all()                                   # only where it changes
    trades = pd.read_csv(a / "trades.csv")
    assert set(trades["symbol"]) == {"BTC_USDT", "ETH_USDT", "SOL_USDT"}
    # the same decisions through the engine directly
    data = {s: pd.read_csv(data_dir / f"{s}-1h.csv.gz").set_index("timestamp") for s in ("BTC_USDT", "SOL_USDT",
                                                                                          "ETH_USDT")}
    grid = np.arange(T0, T0 + 262 * H, H)        # the last decision (row 260) and one candle after
    op = np.column_stack([data[s]["open"].reindex(grid).to_numpy() for s in data])
    cl = np.column_stack([data[s]["close"].reindex(grid).to_numpy() for s in data])
    W = np.full((len(grid), 3), np.nan)
    for t, s, v in lw.itertuples(index=False):
        W[(t - T0) // H, list(data).index(s.replace("/", "_"))] = v
    direct = run_portfolio(grid, op, cl, W, cash=10_000, fee_bps=10, slippage_bps=2, timeframe_ms=H,
                           data_end=np.array([T0 + 299 * H, T0 + 199 * H, T0 + 299 * H]))
    np.testing.assert_allclose(eq["equity"], direct.equity, rtol=1e-12)


BAD = {
    "unknown pair": ("timestamp,symbol,weight\n{t},DOT_USDT,0.5\n", "unknown pair 'DOT_USDT' at line 2"),
    "duplicate row": ("timestamp,symbol,weight\n{t},BTC_USDT,0.5\n{t},BTC/USDT,0.2\n", "duplicate row at line 3"),
    "duplicate wide": ("timestamp,BTC_USDT\n{t},0.5\n{t},0.2\n", "duplicate timestamp at line 3"),
    "NaN weight": ("timestamp,symbol,weight\n{t},BTC_USDT,nan\n", "not a finite number"),
    "missing weight": ("timestamp,symbol,weight\n{t},BTC_USDT,\n", "weight missing at line 2"),
    "inf in wide": ("timestamp,BTC_USDT,ETH_USDT\n{t},inf,\n", "not a finite number"),
    "off the grid": ("timestamp,symbol,weight\n{off},SOL_USDT,0.5\n", "is not a 1h candle"),
    "gross": ("timestamp,symbol,weight\n{t},BTC_USDT,0.8\n{t},SOL_USDT,-0.7\n", "gross of 1.5, above the cap 1"),
    "no pairs": ("timestamp\n{t}\n", "no timestamp column and pair columns"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_weight_files_are_one_line_and_exit_2_writing_nothing(tmp_path, data_dir, case):
    """Catches a traceback, exit 1 or a half-written output directory for each kind of bad file."""
    text, needle = BAD[case]
    path = tmp_path / "w.csv"
    path.write_text(text.format(t=T0 + 10 * H, off=T0 + 10 * H + 1800_000))
    res = invoke("--weights", path, "--data-dir", data_dir)
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output and len(res.output.strip().splitlines()) <= 3
    assert not (tmp_path / "w_backtest").exists()


def test_allow_leverage_and_option_errors(tmp_path, data_dir):
    """Catches --allow-leverage not lifting the cap, the options that need each other, and a timeframe
    guessed when the directory holds two for a pair."""
    path = tmp_path / "w.csv"
    path.write_text(f"timestamp,symbol,weight\n{T0 + 10 * H},BTC_USDT,0.8\n{T0 + 10 * H},SOL_USDT,-0.7\n")
    res = invoke("--weights", path, "--data-dir", data_dir, "--allow-leverage")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "w_backtest" / "stats.json").read_text())["settings"]["gross"] == 1.5
    res = invoke("--weights", path)
    assert res.exit_code == 2 and "--weights and --data-dir go together" in res.output
    res = invoke("--weights", path, "--data-dir", tmp_path / "nowhere")
    assert res.exit_code == 2 and "is not a directory" in res.output
    btc = tmp_path / "btc.csv"
    btc.write_text(f"timestamp,BTC_USDT\n{T0 + 10 * H},1\n")
    res = invoke("--weights", btc, "--data-dir", data_dir)
    assert res.exit_code == 2 and "several timeframes (1h, 1m); pass --timeframe" in res.output
    assert invoke("--weights", btc, "--data-dir", data_dir, "--timeframe", "1h").exit_code == 0


def test_set_overrides_backtest_keys_type_checked(tmp_path, data_dir):
    """Catches --set values taken untyped or unchecked, a misspelt key accepted silently, another
    section's key accepted, and --set beating an explicit option."""
    path = tmp_path / "w.csv"
    path.write_text(f"timestamp,symbol,weight\n{T0 + 10 * H},BTC_USDT,0.8\n{T0 + 10 * H},SOL_USDT,-0.7\n")
    res = invoke("--weights", path, "--data-dir", data_dir, "--set", "backtest.gross=1.5", "--set",
                 "backtest.fee_bps=3", "--fee-bps", 4)
    assert res.exit_code == 0, res.output
    settings = json.loads((tmp_path / "w_backtest" / "stats.json").read_text())["settings"]
    assert settings["gross"] == 1.5 and settings["fee_bps"] == 4.0
    for item, needle in (("backtest.gross=lots", "backtest.gross"), ("backtest.gros=1", "did you mean 'gross'"),
                         ("model.hidden_size=8", "backtest.KEY=VALUE only"), ("backtest.rebalance=-1", "rebalance")):
        res = invoke("--weights", path, "--data-dir", data_dir, "--set", item)
        assert res.exit_code == 2 and needle in res.output and "Traceback" not in res.output, (item, res.output)
