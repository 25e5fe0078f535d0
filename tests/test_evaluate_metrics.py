"""Evaluation metrics against values computed by hand on small arrays."""

import math

import numpy as np
import pytest

from cryptotrain.evaluate.metrics import (average_ranks, brier_score, classification_metrics, confidence_metrics,
                                          confusion_matrix, direction_metrics, log_loss, pearson, return_metrics,
                                          spearman)
from cryptotrain.models.inference import predicted_action

Y_TRUE = np.array([0, 0, 1, 1, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 0, 0])  # buy is never predicted
PROBS = np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.25, 0.5, 0.25],
                  [0.0, 1.0, 0.0], [0.5, 0.25, 0.25], [0.5, 0.0, 0.5]])


def test_confusion_matrix_rows_are_true_classes():
    assert confusion_matrix(Y_TRUE, Y_PRED).tolist() == [[1, 1, 0], [0, 2, 0], [2, 0, 0]]


def test_classification_with_a_class_never_predicted():
    m = classification_metrics(Y_TRUE, Y_PRED, PROBS)
    assert m["accuracy"] == pytest.approx(0.5)
    pc = m["per_class"]
    assert pc["sell"]["precision"] == pytest.approx(1 / 3) and pc["sell"]["recall"] == pytest.approx(0.5)
    assert pc["hold"]["precision"] == pytest.approx(2 / 3) and pc["hold"]["recall"] == pytest.approx(1.0)
    assert pc["buy"]["precision"] == 0.0 and pc["buy"]["recall"] == 0.0 and pc["buy"]["f1"] == 0.0
    assert pc["sell"]["f1"] == pytest.approx(0.4) and pc["hold"]["f1"] == pytest.approx(0.8)
    assert [pc[c]["support"] for c in ("sell", "hold", "buy")] == [2, 2, 2]
    assert m["macro_f1"] == pytest.approx(0.4)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    assert any("buy never predicted" in note for note in m["notes"])
    # p[true] = .5, .25, .5, 1, .25, .5 -> log loss = -(3 log .5 + 2 log .25 + log 1) / 6
    assert m["log_loss"] == pytest.approx(-(3 * math.log(0.5) + 2 * math.log(0.25)) / 6)
    # Brier rows: .375, (.5625 + .25 + .0625), .375, 0, (.25 + .0625 + .5625), (.25 + 0 + .25)
    assert m["brier"] == pytest.approx((0.375 + 0.875 + 0.375 + 0 + 0.875 + 0.5) / 6)


def test_single_class_present():
    m = classification_metrics(np.array([1, 1, 1]), np.array([1, 1, 1]))
    assert m["accuracy"] == 1.0 and m["balanced_accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert math.isnan(m["log_loss"]) and math.isnan(m["brier"])  # no probabilities given
    m = classification_metrics(np.array([1, 1, 1]), np.array([1, 1, 0]))
    assert m["accuracy"] == pytest.approx(2 / 3) and m["balanced_accuracy"] == pytest.approx(2 / 3)
    # classes in use: sell (predicted, F1 0) and hold (P 1, R 2/3, F1 .8); buy is ignored
    assert m["macro_f1"] == pytest.approx(0.4)
    assert any("sell absent" in note for note in m["notes"])


def test_log_loss_clips_zero_probability():
    assert log_loss(np.array([0]), np.array([[0.0, 0.5, 0.5]])) == pytest.approx(-math.log(1e-15))
    assert brier_score(np.array([2]), np.array([[1.0, 0.0, 0.0]])) == pytest.approx(2.0)


def test_direction_accuracy_and_coverage():
    d = direction_metrics(np.array([0, 2, 1, 2, 0]), np.array([-0.01, 0.02, 0.5, -0.01, 0.0]))
    assert d == {"accuracy": 0.5, "coverage": 0.8, "n_acted": 4}  # r = 0 counts as a miss
    d = direction_metrics(np.array([1, 1]), np.array([0.1, -0.1]))
    assert math.isnan(d["accuracy"]) and d["coverage"] == 0.0


def test_confidence_mse_and_reliability_bins():
    pred = np.array([0.05, 0.15, 0.12, 0.95, 1.0])
    target = np.array([0.0, 0.2, 0.2, 1.0, 0.5])
    hit = np.array([True, False, True, True, True])
    c = confidence_metrics(pred, target, hit)
    assert c["mse"] == pytest.approx(np.mean((pred - target) ** 2))
    rows = c["reliability"]
    assert [r["count"] for r in rows] == [1, 2, 2]  # empty bins are left out; 1.0 goes to the last bin
    assert rows[1]["mean_predicted"] == pytest.approx(0.135) and rows[1]["mean_target"] == pytest.approx(0.2)
    assert rows[1]["hit_rate"] == 0.5 and rows[2]["lo"] == 0.9


def test_return_metrics_by_hand():
    m = return_metrics(np.array([1.0, 2, 3, 4]), np.array([1.0, 3, 2, 4]))
    assert m["rmse"] == pytest.approx(math.sqrt(0.5)) and m["mae"] == pytest.approx(0.5)
    assert m["ic_pearson"] == pytest.approx(0.8) and m["ic_spearman"] == pytest.approx(0.8)


def test_spearman_ties_use_average_ranks():
    assert average_ranks(np.array([3, 1, 3, 2, 3.0])).tolist() == [4, 1, 4, 2, 4]
    assert spearman(np.array([1.0, 1, 2, 3]), np.array([1.0, 2, 3, 4])) == pytest.approx(4.5 / math.sqrt(22.5))


def test_constant_input_gives_nan_not_a_crash():
    with np.errstate(all="raise"):
        assert math.isnan(pearson(np.ones(5), np.arange(5.0)))
        assert math.isnan(spearman(np.arange(5.0), np.full(5, 0.1)))
        m = return_metrics(np.zeros(4), np.array([0.1, -0.2, 0.3, 0.0]))
    assert math.isnan(m["ic_pearson"]) and math.isnan(m["ic_spearman"]) and m["mae"] == pytest.approx(0.15)


def test_row_wise_correlations_match_one_at_a_time():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(5, 30)).astype(float)  # many ties
    y = rng.normal(size=(5, 30))
    for i in range(5):
        assert spearman(x, y)[i] == pytest.approx(spearman(x[i], y[i]))
        assert pearson(x, y)[i] == pytest.approx(np.corrcoef(x[i], y[i])[0, 1])


def test_predicted_action_ties_go_to_hold():
    p = np.array([[0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3], [0.4, 0.2, 0.4], [0.45, 0.45, 0.1]])
    assert predicted_action(p).tolist() == [2, 1, 0, 1]
