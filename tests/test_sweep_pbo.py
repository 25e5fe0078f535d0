"""The sweep's probability of backtest overfitting: computed from the complete trials' saved
validation returns on the candles they all traded, near 0 when one trial has a real edge and about
0.5 among noise, a note for a val_loss sweep, and on the tiny config a val_sharpe sweep prints the
PBO sentence beside the DSR line, saves it in sweep.json and draws plots/pbo_logits.png."""

import io
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.orchestration.sweep.results import sweep_pbo
from cryptotrain.orchestration.sweep.search import TrialRow
from cryptotrain.orchestration.sweep.trial import RETURNS

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3_600_000


def _trials(tmp_path, returns: list[np.ndarray], starts: list[int]) -> list[TrialRow]:
    rows = []
    for k, (r, start) in enumerate(zip(returns, starts)):
        d = tmp_path / "trials" / str(k)
        d.mkdir(parents=True)
        buf = io.BytesIO()
        np.savez(buf, timestamp=(start + np.arange(len(r))) * HOUR, r=r)
        (d / RETURNS).write_bytes(buf.getvalue())
        rows.append(TrialRow(k, "complete", {}, directory=str(d)))
    return rows


def test_pbo_of_a_sweep_uses_the_common_candles_and_tells_an_edge_from_noise(tmp_path):
    """Catches trials compared on different candles (a trial whose backtest starts later would shift
    every other column: PBO would compare candle t of one with t + k of another), and a PBO that
    does not come from the saved returns: one trial with an edge among noise gives PBO < 0.1, noise
    alone about 0.5, and a trial starting 40 candles late leaves 1600 - 40 common candles."""
    rng = np.random.default_rng(0)
    noise = [rng.normal(0, 0.01, 1600) for _ in range(8)]
    edge = [noise[0] + 0.004, *noise[1:]]
    starts = [0, 40, 0, 0, 0, 0, 0, 0]
    got = sweep_pbo(_trials(tmp_path / "edge", edge, starts), "val_sharpe")
    assert got["pbo"] < 0.1 and got["candles"] == 1560 and got["n_strategies"] == 8 and got["trials"] == list(range(8))
    assert got["sentence"].startswith("Probability of backtest overfitting") and len(got["logits"]) == 12_870
    flat = sweep_pbo(_trials(tmp_path / "noise", noise, starts), "val_sharpe")
    assert 0.2 < flat["pbo"] < 0.8
    one = sweep_pbo(_trials(tmp_path / "one", noise[:1], starts[:1]), "val_sharpe")
    assert "at least 2 complete trials" in one["note"]
    assert "selects by validation loss" in sweep_pbo([], "val_loss")["note"]


def _sweep(tmp_path, objective, *more):
    space = tmp_path / "space.yaml"
    space.write_text("train.lr: {float: [1e-4, 1e-2], log: true}\n")
    return CliRunner().invoke(app, ["sweep", "--config", str(ROOT / "configs/tiny.yaml"), "--space", str(space),
                                    "--trials", "3", "--pruner", "none", "--objective", objective,
                                    "--set", f"train.runs_dir={tmp_path / 'runs'}", "--set", "train.epochs=1",
                                    "--set", "train.max_batches_per_epoch=3",
                                    "--set", f"data.path={ROOT / 'data/sample/BTC_USDT-1h.csv.gz'}", *more])


def test_a_val_sharpe_sweep_prints_and_saves_its_pbo_beside_the_dsr(local_ray, tmp_path):
    """Catches a sweep that keeps no validation returns, or computes PBO and neither prints nor saves
    it: the tiny val_sharpe sweep's output has the PBO sentence after the deflated Sharpe line,
    sweep.json its value over the 3 trials, plots/pbo_logits.png the logits (trials on the session's Ray: the returns are files a worker wrote)."""
    res = _sweep(tmp_path, "val_sharpe", "--workers", "2")
    assert res.exit_code == 0, res.output
    sweep = tmp_path / "runs" / "sweep-tiny"
    saved = json.loads((sweep / "sweep.json").read_text())["pbo"]
    assert saved["n_strategies"] == 3 and 0.0 <= saved["pbo"] <= 1.0 and saved["n_blocks"] == 16
    lines = res.output.splitlines()
    dsr = next(i for i, line in enumerate(lines) if "deflated Sharpe ratio" in line)
    assert any(line.startswith("Probability of backtest overfitting (CSCV, 16 blocks") for line in lines[dsr:])
    assert (sweep / "plots" / "pbo_logits.png").stat().st_size > 1000
    assert all((sweep / "trials" / str(k) / RETURNS).is_file() for k in range(3))
