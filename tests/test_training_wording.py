"""What train and the figures say matches what happened: "early stopping" only when epochs were
left; the accuracy figure's reference line is the validation split's majority class; a long-only
equity figure has no short side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cryptotrain.cli import app
from cryptotrain.data.labels import majority_rate
from cryptotrain.report import equity_figure, training

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("epochs, stops", [(2, False), (3, True)])
def test_early_stopping_is_said_only_when_planned_epochs_were_left(tmp_path, epochs, stops):
    """Catches "early stopping: no validation improvement" printed when patience ran out at the
    last planned epoch, which simply ended the run as planned. min_delta 10: no epoch improves."""
    res = CliRunner().invoke(app, ["train", "-c", str(REPO / "configs/tiny.yaml"), "--set",
                                   f"train.runs_dir={tmp_path}", "--set", f"train.epochs={epochs}", "--set",
                                   "train.patience=1", "--set", "train.min_delta=10"])
    assert res.exit_code == 0, res.output
    assert ("early stopping" in res.output) == stops, res.output
    run = next(p for p in tmp_path.iterdir() if p.is_dir() and p.name != "latest")
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2   # both stop after epoch 2
    if not stops:   # a resume finds nothing to do and does not call it stopped early either
        again = CliRunner().invoke(app, ["train", "--resume", str(run)])
        assert again.exit_code == 0 and "stopped early" not in again.output, again.output


def _captured(monkeypatch, module, name):
    figs = []
    monkeypatch.setattr(module, name, lambda fig, *a, **k: figs.append(fig) or b"")
    return figs


def test_the_accuracy_figure_draws_the_validation_majority_rate_not_one_third(monkeypatch, tmp_path):
    """Catches the "1/3 (chance, balanced classes)" line under cost-threshold labels, whose hold
    class can be most of the split: the line to beat is the majority class's share."""
    figs = _captured(monkeypatch, training, "save_figure")
    actions = np.array([1] * 70 + [0] * 20 + [2] * 10 + [-1] * 5)   # -1: undefined, not counted
    assert majority_rate(actions) == pytest.approx(0.7)
    rows = [{"epoch": e, "train_loss": 1.0, "val_loss": 1.0, "train_accuracy": 0.6, "val_accuracy": 0.65}
            for e in (1, 2)]
    training.plot_training(rows, tmp_path / "t.png", majority_rate(actions))
    ax = figs[0].axes[1]
    labels = ax.get_legend_handles_labels()[1]
    assert "0.700 (validation majority class)" in labels and not any("1/3" in t for t in labels)
    assert any(np.allclose(line.get_ydata(), 0.7) for line in ax.get_lines())


def test_a_return_regressions_figure_shows_its_validation_loss_not_the_untrained_accuracy(monkeypatch, tmp_path):
    """model.w_action = 0: the right panel was the accuracy of an action head that never trained; it is
    the validation loss on its own scale with the best epoch marked."""
    figs = _captured(monkeypatch, training, "save_figure")
    rows = [{"epoch": e, "train_loss": 0.45, "val_loss": v, "train_accuracy": 0.3, "val_accuracy": 0.35}
            for e, v in ((1, 0.2616), (2, 0.2609), (3, 0.2624))]
    training.plot_training(rows, tmp_path / "t.png", 0.356, action_trained=False)
    ax = figs[0].axes[1]
    assert ax.get_ylabel() == "loss" and "untrained" in ax.get_title()
    assert "best: epoch 2, 0.26090" in ax.get_legend_handles_labels()[1]
    assert not any(np.allclose(line.get_ydata(), 0.35) for line in ax.get_lines())


@pytest.mark.parametrize("long_only", [True, False])
def test_a_long_only_equity_figure_has_no_short_side(monkeypatch, long_only):
    """Catches the long-only figure's "net short" legend entry and its exposure axis down to -1."""
    figs = _captured(monkeypatch, equity_figure, "figure_png")
    n = 500
    equity = 10_000 + np.cumsum(np.random.default_rng(0).normal(size=n))
    position = (np.arange(n) % 7 < 3).astype(float) * (1.0 if long_only else np.sign(np.sin(np.arange(n))))
    panels = equity_figure.equity_panels(np.arange(n) * 60_000, equity, equity / np.maximum.accumulate(equity) - 1,
                                         position, long_only=long_only)
    equity_figure.equity_png(panels)
    ax_pos = figs[0].axes[2]
    labels = ax_pos.get_legend_handles_labels()[1]
    assert ("net short" in labels) == (not long_only)
    assert (ax_pos.get_ylim()[0] < -1) == (not long_only)
