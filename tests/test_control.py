"""`cryptotrain control`: the planted candles (no look-ahead, the oracle at the generator's known
value, the shape from training rows only), the detection rule, and the command on the tiny config:
cells under runs/control-..., the oracle column equal to the generator's, a strong trend learned,
a rerun that reuses finished cells and prints the same table, bad options as one line."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.config import load_config
from cryptotrain.data.labels import forward_returns
from cryptotrain.data.planted import Shape, direction_accuracy, measure_shape, oracle_calls, planted_candles
from cryptotrain.data.planted import planted_returns
from cryptotrain.orchestration.control.run import ControlSettings, power_table

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3_600_000


@pytest.mark.parametrize("family", ["trend", "reversion"])
def test_the_planted_drift_reads_only_earlier_candles(family):
    """Catches a drift that looks ahead (mu_t from x_t or later: a signal no model could use at
    the close of t - 1): changing the shocks from candle 500 on leaves mu[:501] and x[:500] as they were."""
    rng = np.random.default_rng(1)
    eps = rng.standard_normal(2000)
    later = eps.copy()
    later[500:] = rng.standard_normal(1500)
    x, mu = planted_returns(eps, 0.01, family, 0.3)
    x2, mu2 = planted_returns(later, 0.01, family, 0.3)
    assert np.array_equal(mu[:501], mu2[:501]) and np.array_equal(x[:500], x2[:500])
    assert not np.array_equal(mu[501:], mu2[501:])
    assert (mu != 0).mean() > (0.9 if family == "trend" else 0.05)   # it plants something


def test_the_oracle_of_the_issue_trend_calls_the_4_candle_sign_about_0_6_and_noise_plants_nothing():
    """Catches a trend family that is not issue 30's (0.25 sigma tanh of the last 12 candles' return
    in sigmas: an oracle calls the 4-hour sign ~0.60 on 24,000 hourly candles), an oracle call that is
    not the sign of the next drift, and a strength 0 that is not the same random walk."""
    shape = Shape(24_000, HOUR, 1_704_067_200_000, 100.0, 0.01, 3.0, 1.0)
    df, mu = planted_candles(shape, "trend", 0.25, 0)
    acc, n = direction_accuracy(oracle_calls(mu), forward_returns(df["open"].to_numpy(), 4))
    assert 0.59 < acc < 0.64 and n > 23_900
    noise, mu0 = planted_candles(shape, "trend", 0.0, 0)
    assert not mu0.any()
    x0 = np.diff(np.log(noise["close"].to_numpy()))
    assert abs(np.std(x0) / 0.01 - 1) < 0.02 and abs(np.corrcoef(x0[1:], x0[:-1])[0, 1]) < 0.03
    assert (noise["high"] >= noise[["open", "close"]].max(axis=1)).all() and (noise["volume"] > 0).all()


def test_the_shape_is_measured_on_the_training_rows_only(tmp_path):
    """Catches volatility or volume measured on the whole file (the control would read the test
    candles): changing every candle after the training split leaves the shape as it was."""
    df = pd.read_csv(ROOT / "data/sample/BTC_USDT-1h.csv.gz").iloc[-3000:].reset_index(drop=True)
    df.to_csv(tmp_path / "a.csv", index=False)
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"data.path={tmp_path / 'a.csv'}"])
    before = measure_shape(cfg)
    cut = int(0.7 * 3000)
    later = df.copy()
    later.loc[cut:, ["open", "high", "low", "close"]] *= np.exp(np.cumsum(np.full(3000 - cut, 0.01)))[:, None]
    later.loc[cut:, "volume"] *= 50
    later.to_csv(tmp_path / "a.csv", index=False)
    assert measure_shape(cfg) == before
    assert before.n == 3000 and 0.001 < before.sigma < 0.05
    later.loc[10, ["open", "high", "low", "close"]] *= 1.2
    later.to_csv(tmp_path / "a.csv", index=False)
    assert measure_shape(cfg).sigma > before.sigma


def _cell(strength, seed, detected, edge="sign"):
    return {"cell": f"s{strength:g}-seed{seed}", "ok": True, "error": None, "strength": strength, "seed": seed,
            "detected": detected, "edge": edge, "oracle_direction_accuracy": 0.6, "model_direction_accuracy": 0.55,
            "return_pct": 1.0, "buy_hold_return_pct": 0.0}


def test_detected_needs_2_of_3_seeds_and_a_detection_at_0_is_a_false_discovery():
    """Catches a strength called detected on one lucky seed of three, and a detection at strength 0
    that is not flagged."""
    s = ControlSettings(strengths=(0.0, 0.1, 0.2), seeds=3)
    cells = ([_cell(0.0, k, k == 0) for k in range(3)] + [_cell(0.1, k, k == 0) for k in range(3)]
             + [_cell(0.2, k, k > 0) for k in range(3)])
    t = power_table(cells, s)
    assert [r["detected"] for r in t["rows"]] == [False, False, True] and t["smallest_detected"] == 0.2
    assert t["false_discovery"] and t["rows"][0]["detections"] == 1
    clean = power_table([c for c in cells if c["strength"] > 0] + [_cell(0.0, k, False, "none") for k in range(3)], s)
    assert not clean["false_discovery"] and clean["rows"][0]["edge_claims"] == {"sign": 0, "size": 0}


def _control(tmp_path, *more):
    return CliRunner().invoke(app, ["control", "--config", str(ROOT / "configs/tiny.yaml"), "--strengths", "0,0.5",
                                    "--seeds", "1", "--set", f"train.runs_dir={tmp_path / 'runs'}",
                                    "--set", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}", *more])


def test_control_runs_the_pipeline_per_cell_and_a_rerun_reuses_them_bit_for_bit(tmp_path):
    """Catches an oracle column that is not the generator's, cells that are not whole runs (train,
    evaluate, backtest), a strong planted trend the tiny pipeline does not learn, and a rerun that
    retrains finished cells or prints another table."""
    res = _control(tmp_path, "--json")
    assert res.exit_code == 0, res.output
    table = json.loads(res.output)
    cdir = tmp_path / "runs" / "control-tiny-trend"
    assert [r["strength"] for r in table["rows"]] == [0.0, 0.5]
    for name in ("s0-seed0", "s0.5-seed0"):
        run = cdir / name
        assert (run / "checkpoints/best.npz").is_file() and (run / "eval/test/metrics.json").is_file()
        assert (run / "backtest/test/stats.json").is_file() and (cdir / "data" / f"{name}.csv.gz").is_file()
    # the oracle column, recomputed from the generator on the windows evaluate scored
    strong = next(c for c in table["cells"] if c["strength"] == 0.5)
    shape = Shape(**table["shape"])
    _, mu = planted_candles(shape, "trend", 0.5, [0, 0])
    preds = pd.read_csv(cdir / "s0.5-seed0/eval/test/predictions.csv")
    rows = (preds["timestamp"].to_numpy() - shape.start_ms) // shape.timeframe_ms
    want, _ = direction_accuracy(oracle_calls(mu)[rows], preds["forward_return"].to_numpy())
    assert strong["oracle_direction_accuracy"] == pytest.approx(want, abs=1e-12) and want > 0.65
    assert strong["model_direction_accuracy"] > 0.56         # the strong trend is learned (0.5: a coin)
    noise = next(c for c in table["cells"] if c["strength"] == 0.0)
    assert noise["oracle_calls"] == 0 and abs(noise["model_direction_accuracy"] - 0.5) < 0.08
    stamp = {p: p.stat().st_mtime_ns for p in cdir.rglob("*") if p.is_file() and p.name != "control.json"}
    again = _control(tmp_path, "--json")
    assert again.exit_code == 0 and again.output == res.output
    assert {p: p.stat().st_mtime_ns for p in cdir.rglob("*") if p.is_file() and p.name != "control.json"} == stamp
    text = _control(tmp_path)
    assert "smallest strength detected" in text.output or "no strength above 0 detected" in text.output
    assert "strength 0 (a random walk)" in text.output and "Oracle dir. acc." in text.output


def test_an_interrupted_cell_restarts_and_gives_the_cell_an_uninterrupted_run_gave(tmp_path):
    """Catches a resume that reuses a half-finished cell (no cell.json) or rewrites its candle file
    with other bytes: after removing a finished cell's results the rerun gives the same cell.json."""
    assert _control(tmp_path, "--json", "--strengths", "0.5").exit_code == 0
    cell = tmp_path / "runs/control-tiny-trend/s0.5-seed0"
    whole = (cell / "cell.json").read_text()
    data = (tmp_path / "runs/control-tiny-trend/data/s0.5-seed0.csv.gz").read_bytes()
    (cell / "cell.json").unlink()
    for sub in ("eval", "backtest"):
        shutil.rmtree(cell / sub)
    assert _control(tmp_path, "--json", "--strengths", "0.5").exit_code == 0
    assert (cell / "cell.json").read_text() == whole
    assert (tmp_path / "runs/control-tiny-trend/data/s0.5-seed0.csv.gz").read_bytes() == data


@pytest.mark.parametrize("args, message", [(["--strengths", "0,x"], "--strengths '0,x': give numbers"),
                                           (["--family", "wave"], "--family 'wave': choose one of trend, reversion"),
                                           (["--seeds", "0"], "--seeds must be a whole number from 1"),
                                           (["--set", "data.universe=[BTC/USDT, ETH/USDT]", "--set",
                                             f"data.dir={ROOT / 'data/sample'}"], "plants a signal in one pair's")])
def test_bad_options_are_one_line_and_leave_nothing(tmp_path, args, message):
    """Catches a traceback, or a control directory made, for options the command could have refused first."""
    res = _control(tmp_path, *args)
    assert res.exit_code == 2 and message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "runs").exists()


def test_cells_run_two_at_once_on_the_session_ray(local_ray, tmp_path):
    """Catches cells that bypass the executor (run in the driver whatever --workers says): with
    workers 2 on the session's Ray both cells start in other processes than this one, overlap in
    time, run with 1 BLAS thread each, and give a whole table."""
    import os

    from cryptotrain.orchestration.control.run import run_control

    cfg = load_config(ROOT / "configs/tiny.yaml", [f"train.runs_dir={tmp_path / 'runs'}",
                                                   f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}"])
    seen: dict[str, dict] = {}

    def on_event(e):
        if e.kind in ("start", "finish"):
            seen.setdefault(e.key, {})[e.kind] = (e.time, e.data)

    table = run_control(cfg, tmp_path / "runs" / "c", ControlSettings(strengths=(0.0, 0.5), seeds=1, workers=2),
                        on_event=on_event)
    assert [r["finished"] for r in table["rows"]] == [1, 1] and not table["failed"]
    starts = {k: v["start"] for k, v in seen.items()}
    assert all(data["pid"] != os.getpid() and data["blas_threads"] == 1 for _, data in starts.values())
    first_finish = min(v["finish"][0] for v in seen.values())
    assert max(t for t, _ in starts.values()) < first_finish     # both ran at once


def test_a_cell_interrupted_mid_training_resumes_to_the_cell_of_an_uninterrupted_run(tmp_path):
    """Catches a resume that starts a half-trained cell afresh with other numbers, or reads a
    rewritten candle file: a cell stopped after its first epoch (checkpoints kept, no cell.json) and
    finished by the control gives the cell.json of a control that ran it in one go."""
    from cryptotrain.config import config_from_dict
    from cryptotrain.data.ohlcv import write_ohlcv
    from cryptotrain.orchestration.control.run import cell_job
    from cryptotrain.train import TrainCallbacks, fit

    assert _control(tmp_path, "--json", "--strengths", "0.5").exit_code == 0
    whole = json.loads((tmp_path / "runs/control-tiny-trend/s0.5-seed0/cell.json").read_text())
    cfg = load_config(ROOT / "configs/tiny.yaml", [f"train.runs_dir={tmp_path / 'runs'}",
                                                   f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}"])
    cdir = tmp_path / "runs" / "cut"
    job = cell_job(cfg, cdir, measure_shape(cfg).to_dict(), "trend", 0.5, 0)
    candles, _ = planted_candles(Shape(**job.payload["shape"]), "trend", 0.5, job.payload["data_seed"])
    write_ohlcv(candles, job.payload["config"]["data"]["path"])
    stopped = fit(config_from_dict(dict(job.payload["config"])), job.directory,
                  callbacks=TrainCallbacks(on_epoch=lambda row, first: row["epoch"] == 1))
    assert stopped.stopped_on_request and not (job.directory / "cell.json").exists()
    assert _control(tmp_path, "--json", "--strengths", "0.5", "--run-name", "cut").exit_code == 0
    assert json.loads((job.directory / "cell.json").read_text()) == whole
    assert len((job.directory / "metrics.jsonl").read_text().splitlines()) == 2   # epoch 2 only added


def test_a_detection_at_strength_0_is_printed_as_a_false_discovery():
    """Catches a false discovery computed but not shown: the printed table says FALSE DISCOVERY."""
    import io

    from rich.console import Console

    from cryptotrain.report.control_report import print_power_table

    s = ControlSettings(strengths=(0.0, 0.2), seeds=3)
    t = power_table([_cell(0.0, k, k < 2) for k in range(3)] + [_cell(0.2, k, True) for k in range(3)], s)
    t.update(shape={"n": 100, "sigma": 0.01}, directory="runs/c")
    out = io.StringIO()
    print_power_table(Console(file=out, width=120), t)
    assert "FALSE DISCOVERY: strength 0 (a random walk) detected in 2 of 3 seeds" in out.getvalue()
    assert "smallest strength detected: 0.2" in out.getvalue()
