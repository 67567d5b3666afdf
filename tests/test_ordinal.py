"""Tests of the ordinal grade metrics and grade order, against hand-computed values."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from benchmarks import Dataset
from benchmarks.evaluation.ordinal import grade_order, ordinal_metrics, reorder_classes


def test_kappa_and_grade_errors_by_hand():
    # observed [[1,1,0],[0,1,0],[0,1,0]], expected outer([2,1,1],[1,3,0])/4,
    # weights (i-j)^2/4: sum w*O = 0.5, sum w*E = 0.875, kappa = 1 - 0.5/0.875 = 3/7
    y, grades = [0, 0, 1, 2], np.array([0, 1, 1, 1])
    metrics = ordinal_metrics(y, grades)
    assert metrics["quadratic_kappa"] == pytest.approx(3 / 7)
    assert metrics["grade_mae"] == pytest.approx(0.5)
    assert metrics["within_one_accuracy"] == pytest.approx(1.0)


def test_metrics_from_probabilities_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    proba = rng.dirichlet(np.ones(5), 200)
    proba[np.arange(200), y] += rng.random(200)  # better than chance
    proba /= proba.sum(1, keepdims=True)
    pred = proba.argmax(1)
    metrics = ordinal_metrics(y, proba)
    assert metrics["quadratic_kappa"] == pytest.approx(
        cohen_kappa_score(y, pred, weights="quadratic"))
    assert metrics["grade_mae"] == pytest.approx(np.abs(pred - y).mean())
    assert metrics["within_one_accuracy"] == pytest.approx(np.mean(np.abs(pred - y) <= 1))


def test_a_grade_two_off_costs_more_than_one_off():
    y = [0, 1, 2, 3, 4]
    one_off = ordinal_metrics(y, np.array([1, 1, 2, 3, 4]))
    two_off = ordinal_metrics(y, np.array([2, 1, 2, 3, 4]))
    assert two_off["quadratic_kappa"] < one_off["quadratic_kappa"]
    assert (one_off["within_one_accuracy"], two_off["within_one_accuracy"]) == (1.0, 0.8)


def test_grade_order_natural_sort_or_given():
    assert grade_order(["KL10", "KL2", "KL1"]) == ("KL1", "KL2", "KL10")
    assert grade_order(["mild", "none"], ["none", "mild"]) == ("none", "mild")
    with pytest.raises(ValueError, match="name each class once"):
        grade_order(["mild", "none"], ["none", "severe"])


def test_reorder_classes_renumbers_labels_so_index_is_grade():
    ds = Dataset(labels=[0, 1, 2, 0], class_names=("severe", "none", "mild"),
                 task="multiclass", ids=list("abcd"), images=np.zeros((4, 4, 4), np.uint8))
    graded = reorder_classes(ds, ["none", "mild", "severe"])
    assert graded.class_names == ("none", "mild", "severe")
    assert [graded.class_names[i] for i in graded.labels] == \
        [ds.class_names[i] for i in ds.labels]
