"""Candle files: the samples load cleanly, every bad-file case gives its one-line error
(also through `cryptotrain data inspect`), duplicates, sorting, timeframe, gap policies, writing."""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.ohlcv import load_ohlcv, validate_ohlcv_frame, write_ohlcv
from cryptotrain.data.timestamps import format_utc, ms_to_timeframe, parse_utc, timeframe_to_ms
from cryptotrain.data.synthetic import synthetic_candles
from cryptotrain.errors import UserError

SAMPLE_1H = "data/sample/BTC_USDT-1h.csv.gz"
SAMPLE_1M = "data/sample/BTC_USDT-1m.csv.gz"
HEADER = "timestamp,open,high,low,close,volume"
T0 = 1_704_067_200_000
H = 3_600_000


def _provenance_gaps() -> list[tuple[str, int]]:
    text = open("data/sample/PROVENANCE.md").read()
    return [(t, int(n)) for t, n in re.findall(r"^- (\d{4}-\d\d-\d\dT\d\d:\d\d) \((\d+)(?: missing)?\)", text, re.M)]


def test_sample_1h_matches_provenance():
    df, rep = load_ohlcv(SAMPLE_1H, "1h")
    expected = _provenance_gaps()
    assert len(expected) == 7
    assert [(format_utc(t), n) for t, n in rep.gaps] == expected
    assert (rep.rows, rep.missing, rep.zero_volume, rep.duplicates_dropped) == (47_900, 14, 2, 0)
    assert rep.timeframe == "1h" and rep.was_sorted
    assert list(df.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert df["timestamp"].dtype == np.int64 and all(df[c].dtype == np.float64 for c in df.columns[1:])
    assert isinstance(df.index, pd.RangeIndex)


def test_sample_1m_loads_without_gaps():
    df, rep = load_ohlcv(SAMPLE_1M)
    assert (rep.rows, rep.timeframe, rep.gaps, rep.zero_volume) == (43_199, "1m", [], 0)
    assert np.all(np.diff(df["timestamp"].to_numpy()) == 60_000)


def _rows(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


GOOD = [f"{T0},1,2,0.5,1.5,3", f"{T0 + H},1.5,2,1,1.2,4", f"{T0 + 2 * H},1.2,1.3,1.1,1.25,5"]

# name -> (file name, content (None: file absent), pattern that the one-line message must contain)
BAD_FILES = {
    "missing_column": ("a.csv", "timestamp,open,high,close\n1,1,1,1\n", r"missing column\(s\) low, volume"),
    "non_numeric": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,2,0.5,abc,3"), r"non-numeric value 'abc' in column 'close' at line 3"),
    "nan": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,2,0.5,,3"), r"column 'close' is NaN, missing or infinite at line 3"),
    "inf": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,inf,0.5,1,3"), r"column 'high' is NaN, missing or infinite at line 3"),
    "zero_price": ("a.csv", _rows(GOOD[0], f"{T0 + H},0,2,0.5,1,3"), r"column 'open' is not a positive price at line 3"),
    "negative_volume": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,2,0.5,1,-3"), r"negative volume at line 3"),
    "high_below": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,1.2,0.5,1.5,3"), r"high is below max\(open, close\) at line 3"),
    "low_above": ("a.csv", _rows(GOOD[0], f"{T0 + H},1,2,1.2,1.5,3"), r"low is above min\(open, close\) at line 3"),
    "conflicting_duplicate": ("a.csv", _rows(GOOD[0], f"{T0},1,2,0.5,1.6,3"), r"line 2 and line 3 share a timestamp with different values"),
    "empty_file": ("a.csv", "", r"file is empty"),
    "header_only": ("a.csv", _rows(), r"no candle rows"),
    "too_few_rows": ("a.csv", _rows(*GOOD), r"only 3 candle\(s\), need at least 10"),
    "not_found": ("a.csv", None, r"file not found"),
    "unknown_extension": ("a.txt", _rows(*GOOD), r"unknown file type; use \.csv, \.csv\.gz or \.parquet"),
    "bad_timestamp": ("a.csv", _rows(GOOD[0], f"yesterday,1,2,0.5,1.5,3"), r"cannot read timestamp 'yesterday' at line 3"),
    "corrupt_parquet": ("a.parquet", "not parquet", r"cannot read as parquet"),
    "wrong_timeframe": ("a.csv", _rows(*GOOD), r"candles are 1h apart .* but timeframe 1m was expected"),
}


def _write_bad(tmp_path, name):
    fname, content, pattern = BAD_FILES[name]
    path = tmp_path / fname
    if content is not None:
        path.write_text(content)
    return path, pattern


def _load_args(name):
    return {"too_few_rows": {"min_rows": 10}, "wrong_timeframe": {"timeframe": "1m"}}.get(name, {})


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_gives_clear_user_error(tmp_path, name):
    path, pattern = _write_bad(tmp_path, name)
    with pytest.raises(UserError) as info:
        load_ohlcv(path, **_load_args(name))
    msg = str(info.value)
    assert re.search(pattern, msg), msg
    assert "\n" not in msg and str(path) in msg or name == "unknown_extension"


@pytest.mark.parametrize("name", ["missing_column", "non_numeric", "nan", "high_below", "conflicting_duplicate",
                                  "empty_file", "not_found", "unknown_extension", "wrong_timeframe"])
def test_bad_file_through_cli_exits_2_without_traceback(tmp_path, name):
    path, pattern = _write_bad(tmp_path, name)
    args = ["data", "inspect", str(path)] + (["--timeframe", "1m"] if name == "wrong_timeframe" else [])
    result = CliRunner().invoke(app, args)
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, out
    assert "error:" in out and re.search(pattern, " ".join(out.split())), out
    assert "Traceback" not in out


def test_cli_inspect_sample_shows_gaps():
    result = CliRunner().invoke(app, ["data", "inspect", SAMPLE_1H, "--timeframe", "1h"])
    assert result.exit_code == 0, result.output
    assert "47,900" in result.output and "7 (14 missing candles)" in result.output
    assert "2021-08-13T01:00" in result.output


def test_identical_duplicates_dropped_with_warning_and_unsorted_sorted(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(_rows(GOOD[2], GOOD[0], GOOD[1], GOOD[0]))
    with pytest.warns(UserWarning, match="dropped 1 identical duplicate"):
        df, rep = load_ohlcv(path)
    assert rep.duplicates_dropped == 1 and not rep.was_sorted and rep.rows == 3
    assert df["timestamp"].tolist() == [T0, T0 + H, T0 + 2 * H]


def test_iso_timestamps_and_gzip(tmp_path):
    path = tmp_path / "iso.csv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(_rows("2024-01-01T00:00,1,2,0.5,1.5,3", "2024-01-01T01:00Z,1,2,0.5,1.5,3",
                       "2024-01-01 02:00:00+00:00,1,2,0.5,1.5,3"))
    df, rep = load_ohlcv(path, "1h")
    assert df["timestamp"].tolist() == [T0, T0 + H, T0 + 2 * H]


def _gappy(tmp_path):
    df = synthetic_candles(10)
    df = df.drop(index=[3, 4, 7]).reset_index(drop=True)  # gaps after rows 2 (2 missing) and 6 (1 missing)
    path = tmp_path / "gappy.parquet"
    write_ohlcv(df, path)
    return df, path


def test_gap_policies(tmp_path):
    df, path = _gappy(tmp_path)
    kept, rep = load_ohlcv(path, "1h")
    assert rep.gaps == [(T0 + 2 * H, 2), (T0 + 6 * H, 1)] and rep.filled == 0 and len(kept) == 7
    filled, rep = load_ohlcv(path, "1h", gap_policy="ffill")
    assert rep.filled == 3 and len(filled) == 10 and np.all(np.diff(filled["timestamp"]) == H)
    new = filled.iloc[[3, 4, 7]]
    assert (new["volume"] == 0).all() and (new["open"] == new["close"]).all()
    assert new["close"].tolist() == [df["close"][2], df["close"][2], df["close"][4]]
    assert rep.zero_volume == 0
    with pytest.raises(UserError, match=r"2 gap\(s\) \(3 missing candles\), first after 2024-01-01T02:00 \(2 missing\)"):
        load_ohlcv(path, "1h", gap_policy="error")


@pytest.mark.parametrize("name", ["c.parquet", "c.csv", "c.csv.gz"])
def test_write_roundtrip_is_exact(tmp_path, name):
    df = synthetic_candles(50, seed=3)
    write_ohlcv(df, tmp_path / name)
    back, _ = load_ohlcv(tmp_path / name)
    pd.testing.assert_frame_equal(back, df)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind


def test_validate_frame_used_by_fetch():
    df = synthetic_candles(5).iloc[[4, 0, 1, 1, 2, 3]]
    with pytest.warns(UserWarning):
        out = validate_ohlcv_frame(df)
    pd.testing.assert_frame_equal(out, synthetic_candles(5))
    bad = synthetic_candles(5)
    bad.loc[2, "low"] = 1e9
    with pytest.raises(UserError, match=r"low is above min\(open, close\) at row 3"):
        validate_ohlcv_frame(bad)


def test_time_helpers():
    assert timeframe_to_ms("1m") == 60_000 and timeframe_to_ms("4h") == 4 * H and timeframe_to_ms("1w") == 7 * 24 * H
    assert [ms_to_timeframe(x) for x in (60_000, H, 24 * H, 90_000)] == ["1m", "1h", "1d", "90s"]
    assert parse_utc("2024-01-01") == T0 and parse_utc("2024-01-01T02:00+01:00") == T0 + H
    assert parse_utc(str(T0)) == T0
    with pytest.raises(UserError, match="unknown timeframe"):
        timeframe_to_ms("1x")
    with pytest.raises(UserError, match="cannot read date"):
        parse_utc("someday")


# ----------------------------------------------------------------- issue 16: timestamps and paths
def _candles_csv(path, stamps) -> None:
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(f"{t},1,1,1,1,1\n" for t in stamps))


@pytest.mark.parametrize("unit, per_ms", [("seconds", 1 / 1000), ("microseconds", 1000), ("nanoseconds", 1_000_000)])
def test_timestamps_in_other_units_are_converted_with_a_warning(tmp_path, unit, per_ms):
    path = tmp_path / "a.csv"
    _candles_csv(path, [int((T0 + i * H) * per_ms) for i in range(5)])
    with pytest.warns(UserWarning, match=f"timestamps look like {unit} since the epoch"):
        df, rep = load_ohlcv(path, timeframe="1h")
    assert df["timestamp"].tolist() == [T0 + i * H for i in range(5)] and rep.timeframe == "1h"


@pytest.mark.parametrize("bad", ["1e308", "99999999999999999999", "1704067200"])
def test_one_timestamp_far_off_names_its_line(tmp_path, bad):
    path = tmp_path / "a.csv"
    _candles_csv(path, [T0, T0 + H, bad, T0 + 3 * H])
    with pytest.raises(UserError, match=r"timestamp .* at line 4 is not a time in milliseconds like the rest of the file"):
        load_ohlcv(path)
    res = CliRunner().invoke(app, ["data", "inspect", str(path)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output


def test_one_iso_timestamp_among_ms_names_the_line_that_differs(tmp_path):
    path = tmp_path / "a.csv"
    _candles_csv(path, [T0, T0 + H, "2024-01-01T02:00", T0 + 3 * H])
    with pytest.raises(UserError, match=r"'2024-01-01T02:00' at line 4 is an ISO datetime but the other timestamps "
                                        r"are numbers"):
        load_ohlcv(path)
    _candles_csv(path, ["2024-01-01T00:00", "2024-01-01T01:00", T0 + 2 * H])
    with pytest.raises(UserError, match=rf"'{T0 + 2 * H}' at line 4 is a number but the other timestamps are ISO"):
        load_ohlcv(path)


def test_conflicting_duplicates_name_both_file_lines_even_when_unsorted(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("timestamp,open,high,low,close,volume\n"
                    f"{T0 + 2 * H},1,1,1,1,1\n{T0},1,1,1,1,1\n{T0 + H},1,1,1,1,1\n{T0},1,1,1,1,2\n")
    with pytest.raises(UserError, match=r"line 3 and line 5 share a timestamp with different values \(2024-01-01T00:00"):
        load_ohlcv(path)


def test_a_directory_named_like_a_candle_file(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(UserError, match=r"dir.csv is a directory, not a candle file"):
        load_ohlcv(tmp_path / "dir.csv")
