"""csv_writer.write_csv writes what pandas' to_csv writes, byte for byte (it is only faster), and
report.equity_figure.thin keeps every bucket's extremes of every series it thins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cryptotrain import csv_writer
from cryptotrain.csv_writer import write_csv
from cryptotrain.report.equity_figure import thin

SPECIAL = [0.0, -0.0, 1.0, -3.0, 1e-5, 1e-4, 9.999e-5, 1e-7, 5e-324, -1e-300, 123456.0, 999999.0, 1e6, 1e14,
           8.877672825940878e14, 1e15, 9.99e15, 1e16, 2.0 ** 53, 1e22, 1.7976931348623157e308, 0.1, np.nan,
           np.inf, -np.inf]


def _both(tmp_path, frame: pd.DataFrame) -> tuple[bytes, bytes]:
    write_csv(frame, tmp_path / "fast.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False)
    return (tmp_path / "fast.csv").read_bytes(), (tmp_path / "pandas.csv").read_bytes()


def _mixed_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "any_magnitude": rng.uniform(1, 10, n) * 10.0 ** rng.integers(-320, 308, n) * rng.choice([-1, 1], n),
        "near_switches": rng.uniform(1, 10, n) * 10.0 ** rng.integers(-8, 18, n),   # where the notations change
        "whole": np.round(rng.normal(0, 1, n) * 10.0 ** rng.integers(0, 18, n)),
        "few_digits": np.round(rng.normal(0, 1e4, n), 2),
        "special": np.resize(np.array(SPECIAL), n),
        "ints": rng.integers(-2 ** 62, 2 ** 62, n),
        "flags": rng.random(n) < 0.5,
        "side": rng.choice(["long", "short", "0 days 01:44:00"], n),
    })


def test_float_text_is_pandas_text_on_every_magnitude(tmp_path):
    fast, slow = _both(tmp_path, _mixed_frame(20_000))
    assert fast == slow, next(f"line {i + 1}: {a!r} != pandas {b!r}" for i, (a, b) in
                              enumerate(zip(fast.splitlines(), slow.splitlines())) if a != b)


def test_a_column_of_few_values_is_pandas_text(tmp_path):
    """float_text writes a column of a few distinct values (a position) through their dictionary:
    -0.0 stays apart from 0.0, NaN stays empty, exponents as pandas writes them."""
    rng = np.random.default_rng(3)
    few = np.array([-1.0, 0.0, -0.0, 0.5, 1.0, np.nan, 1e-05, 1e16])
    frame = pd.DataFrame({"position": rng.choice(few, 5_000), "flips": rng.choice([-1.0, 1.0], 5_000)})
    fast, slow = _both(tmp_path, frame)
    assert fast == slow and b"-0.0" in fast


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"x": [1.0, 2.0], "y": [np.nan, 3.0]}).iloc[:0],                       # header only
    pd.DataFrame({"x": [np.nan, 1.0]}),                                                  # one column: pandas path
    pd.DataFrame({"x": [np.nan, np.nan], "y": [1, 2]}),
    pd.DataFrame({"x": ["a,b", "c"], "y": [1.5, 2.0]}),                                  # needs quotes
    pd.DataFrame({"a b": [1.5], "t": pd.to_datetime([0], unit="ms")}),                   # a datetime column
    pd.DataFrame({"x": np.array([1, 2], dtype=np.int32), "y": np.array([0.5, 1], dtype=np.float32)}),
])
def test_edge_frames_are_written_as_pandas_writes_them(tmp_path, frame):
    fast, slow = _both(tmp_path, frame)
    assert fast == slow


def test_thin_keeps_each_buckets_min_and_max_of_every_series():
    rng = np.random.default_rng(1)
    n = 100_003
    a, b = np.cumsum(rng.normal(size=n)), rng.normal(size=n)
    a[77_777] = 1e6                                   # one spike: must survive
    idx = thin([a, b], buckets=100)
    assert idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) > 0)
    assert len(idx) <= 100 * 5 + 1
    step = -(-n // 100)
    for lo in range(0, n, step):
        kept = idx[(idx >= lo) & (idx < lo + step)]
        for s in (a, b):
            assert s[kept].max() == s[lo:lo + step].max() and s[kept].min() == s[lo:lo + step].min()
    assert 77_777 in idx
    np.testing.assert_array_equal(thin([a[:4000]]), np.arange(4000))   # short series: every point


@pytest.mark.parametrize("n,w", [(1, 1), (7, 3), (50, 4), (1000, 5), (1000, 200), (333, 333)])
def test_moving_mean_is_the_centred_convolution(n, w):
    """The equity figure's mean exposure: the O(n) cumulative-sum form equals np.convolve(..., "same")."""
    from cryptotrain.report.equity_figure import moving_mean

    x = np.random.default_rng(n + w).choice([-1.0, 0.0, 0.5, 1.0], size=n)
    assert np.allclose(moving_mean(x, w), np.convolve(x, np.ones(w) / w, mode="same"), rtol=0, atol=1e-12)


def test_rows_written_in_chunks_are_the_bytes_in_order(tmp_path, monkeypatch):
    """A frame longer than a chunk is formatted chunk by chunk: the same bytes
    as pandas, the chunks in order (20,000 rows in chunks of 777: 26 of them, the last one short)."""
    monkeypatch.setattr(csv_writer, "_CHUNK_ROWS", 777)
    fast, slow = _both(tmp_path, _mixed_frame(20_000))
    assert fast == slow
    fast, slow = _both(tmp_path, _mixed_frame(777))   # exactly one chunk
    assert fast == slow
