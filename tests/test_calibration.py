"""Tests of calibration: ECE and Brier with hand-checked values, and post-hoc
calibration recovering a known over-confidence."""

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from benchmarks.evaluation.calibration import (calibration_metrics, expected_calibration_error,
                                               fit_calibrator, reliability_table)

TEMPERATURE = 2.5


def _over_confident(n, seed, *, classes=None):
    """Labels drawn from known true probabilities, and a model whose logits
    are those true logits times TEMPERATURE (over-confident by that factor)."""
    rng = np.random.default_rng(seed)
    if classes is None:
        logits = rng.normal(0, 1.5, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
        return y, 1 / (1 + np.exp(-TEMPERATURE * logits))
    logits = rng.normal(0, 1.2, (n, classes))
    truth = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    y = np.array([rng.choice(classes, p=row) for row in truth])
    sharp = np.exp(TEMPERATURE * logits)
    return y, sharp / sharp.sum(1, keepdims=True)


def test_ece_by_hand():
    # bins (0, .5] and (.5, 1]: |0.125 - 0.5| * 2/4 + |0.925 - 1| * 2/4
    assert expected_calibration_error([0, 1, 1, 1], [0.1, 0.15, 0.9, 0.95],
                                      n_bins=2) == pytest.approx(0.225)
    # a perfectly calibrated bin: half of the 0.5 predictions are right
    assert expected_calibration_error([0, 1] * 5, [0.5] * 10) == pytest.approx(0.0)
    table = reliability_table([0.0, 0.05, 0.5, 1.0], [0, 0, 1, 1], n_bins=10)
    assert table["count"].tolist() == [2, 1, 1]  # 0 and 0.05 share the first bin


def test_top_label_ece_and_multiclass_brier_by_hand():
    y = [0, 1, 2]
    proba = [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]
    # confidences 0.8 (right), 0.7 (right), 0.6 (wrong), one per bin
    assert expected_calibration_error(y, proba, task="multiclass") == pytest.approx(
        (0.2 + 0.3 + 0.6) / 3)
    brier = (0.04 + 0.01 + 0.01 + 0.04 + 0.09 + 0.01 + 0.36 + 0.09 + 0.81) / 3
    assert calibration_metrics(y, proba, task="multiclass")["brier"] == pytest.approx(brier)
    assert calibration_metrics([0, 1, 1], [0.2, 0.6, 0.9], task="binary")["brier"] == \
        pytest.approx(brier_score_loss([0, 1, 1], [0.2, 0.6, 0.9]))


@pytest.mark.parametrize("classes", [None, 3])
def test_temperature_scaling_on_val_recovers_the_temperature(classes):
    task = "binary" if classes is None else "multiclass"
    y_val, p_val = _over_confident(4000, 0, classes=classes)
    y_test, p_test = _over_confident(4000, 1, classes=classes)
    calibrator = fit_calibrator(y_val, p_val, method="temperature", task=task)
    assert calibrator.temperature_ == pytest.approx(TEMPERATURE, rel=0.10)
    before = expected_calibration_error(y_test, p_test, task=task)
    after = expected_calibration_error(y_test, calibrator.transform(p_test), task=task)
    assert after < before / 2
    assert before > 0.05


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_isotonic_and_sigmoid_reduce_the_error_of_an_over_confident_model(method):
    y_val, p_val = _over_confident(3000, 2)
    y_test, p_test = _over_confident(3000, 3)
    calibrator = fit_calibrator(y_val, np.column_stack([1 - p_val, p_val]), method=method,
                                task="binary")
    calibrated = calibrator.transform(np.column_stack([1 - p_test, p_test]))
    assert calibrated.shape == (3000, 2) and np.allclose(calibrated.sum(1), 1)
    assert expected_calibration_error(y_test, calibrated) < \
        expected_calibration_error(y_test, p_test) / 2


def test_multilabel_is_calibrated_per_label():
    y0, p0 = _over_confident(2000, 4)
    y1, p1 = _over_confident(2000, 5)
    y, p = np.column_stack([y0, y1]), np.column_stack([p0, p1])
    calibrator = fit_calibrator(y, p, method="temperature", task="multilabel")
    assert calibrator.temperature_ == pytest.approx(TEMPERATURE, rel=0.10)
    assert calibration_metrics(y, calibrator.transform(p), task="multilabel")["ece"] < \
        calibration_metrics(y, p, task="multilabel")["ece"]


def test_bad_method_is_named():
    with pytest.raises(ValueError, match="method must be one of"):
        fit_calibrator([0, 1], [0.2, 0.8], method="platt", task="binary")
