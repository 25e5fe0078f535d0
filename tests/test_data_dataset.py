"""Dataset: normalizer fitted on training rows only, split boundaries and embargo, no window
across a gap, given normalizer/thresholds reused, short data errors, batches."""

from __future__ import annotations

import numpy as np
import pytest

from cryptotrain.config import config_from_dict
from cryptotrain.data.dataset import Normalizer, build_dataset
from cryptotrain.data.features.basic import compute_features
from cryptotrain.data.ohlcv import load_ohlcv
from cryptotrain.data.timestamps import parse_utc
from cryptotrain.errors import UserError

SAMPLE_1H = "data/sample/BTC_USDT-1h.csv.gz"
GAPPY = {"start": "2021-01-20", "end": "2021-10-15"}  # holds all 6 gaps of 2021


def _cfg(**sections):
    raw = {"data": {"path": SAMPLE_1H, "timeframe": "1h", "last_rows": 3000, "window": 24}}
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_dict(raw)


def _train_rows(ds):
    rows = set()
    for t in ds.splits["train"]:
        rows.update(range(t - ds.window + 1, t + 1))
    return np.array(sorted(rows))


@pytest.mark.parametrize("kind", ["zscore", "robust"])
def test_normalizer_statistics_come_from_training_rows_only(kind):
    cfg = _cfg(features={"normalizer": kind})
    ds = build_dataset(cfg)
    df, rep = load_ohlcv(SAMPLE_1H, "1h")
    X = compute_features(df.iloc[-3000:].reset_index(drop=True), cfg.features, rep.timeframe_ms)[0].astype(np.float64)
    rows = _train_rows(ds)
    assert rows.max() < ds.bounds["val"][0]
    Xt = X[rows]
    if kind == "zscore":
        center, scale = Xt.mean(axis=0), Xt.std(axis=0)
    else:
        center = np.median(Xt, axis=0)
        scale = np.percentile(Xt, 75, axis=0) - np.percentile(Xt, 25, axis=0)
    np.testing.assert_allclose(ds.normalizer.center, center, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ds.normalizer.scale, scale, rtol=1e-10)
    np.testing.assert_allclose(ds.features[rows].astype(np.float64), (Xt - center) / scale, rtol=1e-5, atol=1e-5)
    assert ds.features.dtype == np.float32


@pytest.mark.parametrize("horizon,embargo", [(1, None), (4, None), (3, 10)])
def test_split_boundaries_respect_the_embargo(horizon, embargo):
    ds = build_dataset(_cfg(labels={"horizon": horizon}, data={"split": {"embargo": embargo}}))
    E = embargo if embargo is not None else horizon + 1
    assert ds.embargo == E
    for name, ends in ds.splits.items():
        start, stop = ds.bounds[name]
        assert len(ends) and ends.min() - ds.window + 1 >= start  # the window stays in its split
        if name != "test":
            assert ends.max() <= stop - 1 - E
            assert ends.max() + 1 + horizon < stop  # the label never reads the next split
        assert np.isfinite(ds.ret[ends]).all() and (ds.action[ends] >= 0).all()
    assert ds.splits["val"].min() - ds.splits["train"].max() >= E + ds.window
    assert ds.splits["test"].min() - ds.splits["val"].max() >= E + ds.window


def test_embargo_below_horizon_plus_one_is_an_error():
    with pytest.raises(UserError, match=r"data.split.embargo = 2 is below labels.horizon \+ 1 = 4"):
        build_dataset(_cfg(labels={"horizon": 3}, data={"split": {"embargo": 2}}))


def test_date_splits():
    ds = build_dataset(_cfg(data={"split": {"val_start": "2026-04-20", "test_start": "2026-05-20"}}))
    a, b = ds.bounds["val"]
    assert ds.timestamps[a] == parse_utc("2026-04-20") and ds.timestamps[b] == parse_utc("2026-05-20")
    assert ds.timestamps[ds.splits["val"]].min() >= parse_utc("2026-04-20")


@pytest.mark.parametrize("policy", ["keep", "ffill"])
def test_no_window_crosses_a_gap(policy):
    ds = build_dataset(_cfg(data={**GAPPY, "last_rows": None, "gap_policy": policy}))
    tf = 3_600_000
    ends = np.concatenate(list(ds.splits.values()))
    span = ds.timestamps[ends] - ds.timestamps[ends - ds.window + 1]
    assert np.all(span == (ds.window - 1) * tf)  # T consecutive candles, no missing one inside
    later = ds.timestamps[np.minimum(ends + 1 + ds.horizon, len(ds.timestamps) - 1)]
    assert np.all(later - ds.timestamps[ends] == (1 + ds.horizon) * tf)  # labels do not reach across a gap
    if policy == "keep":
        assert len(ds.report.gaps) == 7 and np.any(np.diff(ds.timestamps) > tf)
    else:
        assert ds.report.filled == 14 and np.all(np.diff(ds.timestamps) == tf)


def test_given_normalizer_and_thresholds_are_not_refitted():
    base = build_dataset(_cfg())
    norm = Normalizer(kind="zscore", center=base.normalizer.center + 1.0, scale=base.normalizer.scale * 2.0)
    ds = build_dataset(_cfg(data={"last_rows": 2000}), normalizer=norm, thresholds=(-0.5, 0.5))
    assert ds.normalizer is norm and ds.thresholds == (-0.5, 0.5)
    assert (ds.action[ds.splits["train"]] == 1).all()  # |r| < 50% everywhere: hold
    wrong = Normalizer(kind="zscore", center=np.zeros(3), scale=np.ones(3))
    with pytest.raises(UserError, match="normalizer has 3 features but the config gives 24"):
        build_dataset(_cfg(), normalizer=wrong)


def test_too_short_data_names_the_numbers():
    with pytest.raises(UserError, match=r"300 candles give 0 val windows \(val rows 210\.\.254: 45 rows"):
        build_dataset(_cfg(data={"last_rows": 300, "window": 48}))
    with pytest.raises(UserError, match="keep no candles"):
        build_dataset(_cfg(data={"start": "2030-01-01"}))
    with pytest.raises(UserError, match="data.end: 'soon' is not a valid date"):
        build_dataset(_cfg(data={"end": "soon"}))


def test_batch_shapes_dtypes_and_quantile_balance():
    ds = build_dataset(_cfg(model={"dtype": "float64"}))
    idx = ds.splits["val"][:5]
    x, tg = ds.batch(idx)
    assert x.shape == (5, 24, len(ds.feature_names)) and x.dtype == np.float64 and np.isfinite(x).all()
    np.testing.assert_array_equal(x[:, -1], ds.features[idx])
    np.testing.assert_array_equal(x[:, 0], ds.features[idx - 23])
    assert tg["action"].dtype == np.int64 and set(tg) == {"action", "confidence", "return"}
    counts = np.bincount(ds.action[ds.splits["train"]], minlength=3)
    assert counts.max() - counts.min() <= 2
    fp = ds.fingerprint
    assert fp["rows"] == 3000 and fp["sha256"].startswith("b5caf12d6404baa8") and fp["last_ts"] == ds.timestamps[-1]


def test_ffill_candles_are_marked_and_no_label_uses_their_made_up_open():
    ds = build_dataset(_cfg(data={**GAPPY, "last_rows": None, "gap_policy": "ffill"}, labels={"horizon": 3}))
    h, n = ds.horizon, len(ds.timestamps)
    assert ds.filled.sum() == 13 and (ds.volume[ds.filled] == 0).all()   # the 2021 gaps: 1+1+2+3+4+2 candles
    t = np.arange(n - h - 1)
    touches = ds.filled[t + 1] | ds.filled[t + 1 + h]        # fill at open[t+1] or exit at open[t+1+h] made up
    assert touches.sum() >= 14 and np.isnan(ds.ret[t[touches]]).all() and (ds.action[t[touches]] == -1).all()
    assert np.isfinite(ds.ret[t[~touches]]).all()             # every other label stays defined
    ends = np.concatenate(list(ds.splits.values()))
    assert not (ds.filled[ends + 1] | ds.filled[ends + 1 + h]).any()
    keep = build_dataset(_cfg(data={**GAPPY, "last_rows": None}))
    assert not keep.filled.any()
