import numpy as np
import pytest

from benchmarks.evaluation.metrics import (bootstrap_ci, choose_threshold, confusion_matrices,
                                           evaluate_predictions, summarize_folds)

BINARY = ("normal", "fracture")


def one_hot_scores(y_pred, n_classes, high=0.8):
    """Probabilities whose argmax is ``y_pred``."""
    proba = np.full((len(y_pred), n_classes), (1 - high) / (n_classes - 1))
    proba[np.arange(len(y_pred)), y_pred] = high
    return proba


def noisy_binary(n, seed=0, separation=0.3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.clip(separation * y + (1 - separation) * rng.random(n), 0, 1)


# ------------------------------------------------------ evaluate_predictions
def test_perfect_classifier_scores_one_and_a_diagonal_confusion_matrix():
    y = np.array([0, 1, 0, 1, 1, 0])
    row = evaluate_predictions(y, np.where(y == 1, 0.9, 0.1), task="binary",
                               class_names=BINARY)
    for key in ("accuracy", "balanced_accuracy", "precision", "recall", "specificity",
                "f1", "roc_auc", "average_precision"):
        assert row[key] == 1.0, key
    assert row["n"] == 6 and row["threshold"] == 0.5
    counts, normalised = confusion_matrices(y, y, labels=[0, 1])
    assert counts.tolist() == [[3, 0], [0, 3]]
    assert normalised.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_perfect_multiclass_classifier():
    y = np.array([0, 1, 2, 2, 1, 0, 2])
    row = evaluate_predictions(y, one_hot_scores(y, 3), task="multiclass",
                               class_names=("a", "b", "c"))
    assert row["f1"] == row["f1_weighted"] == row["roc_auc"] == row["accuracy"] == 1.0
    assert np.isnan(row["threshold"])  # argmax, no threshold
    counts, _ = confusion_matrices(y, y, labels=range(3))
    assert np.array_equal(counts, np.diag([2, 2, 3]))


def test_constant_model_has_roc_auc_one_half():
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    row = evaluate_predictions(y, np.full(8, 0.3), task="binary", class_names=BINARY)
    assert row["roc_auc"] == 0.5
    assert row["recall"] == 0.0 and row["specificity"] == 1.0 and row["f1"] == 0.0


def test_binary_metrics_match_a_hand_computed_two_by_two():
    # TP = 3, FN = 1, FP = 2, TN = 4
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0])
    proba = np.column_stack([1 - (0.2 + 0.6 * y_pred), 0.2 + 0.6 * y_pred])
    row = evaluate_predictions(y, proba, task="binary", class_names=BINARY)
    assert row["precision"] == pytest.approx(3 / 5)
    assert row["recall"] == pytest.approx(3 / 4)
    assert row["specificity"] == pytest.approx(4 / 6)
    assert row["f1"] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert row["accuracy"] == pytest.approx(7 / 10)
    assert row["balanced_accuracy"] == pytest.approx((3 / 4 + 4 / 6) / 2)
    counts, normalised = confusion_matrices(y, y_pred, labels=[0, 1])
    assert counts.tolist() == [[4, 2], [1, 3]]
    assert normalised[1].tolist() == [0.25, 0.75]


def test_multiclass_metrics_match_a_hand_computed_three_by_three():
    matrix = np.array([[3, 1, 0],
                       [0, 2, 2],
                       [1, 0, 4]])
    y = np.repeat([0, 0, 0, 1, 1, 1, 2, 2, 2], matrix.ravel())
    y_pred = np.repeat([0, 1, 2, 0, 1, 2, 0, 1, 2], matrix.ravel())
    row = evaluate_predictions(y, one_hot_scores(y_pred, 3), task="multiclass",
                               class_names=("a", "b", "c"))
    counts, _ = confusion_matrices(y, y_pred, labels=[0, 1, 2])
    assert np.array_equal(counts, matrix)
    # per class: (TP, FN, FP, TN) = a (3, 1, 1, 8), b (2, 2, 1, 8), c (4, 1, 2, 6)
    precision, recall = [3 / 4, 2 / 3, 4 / 6], [3 / 4, 2 / 4, 4 / 5]
    f1 = [6 / 8, 4 / 7, 8 / 11]
    specificity = [8 / 9, 8 / 9, 6 / 8]
    for name, p, r, f in zip("abc", precision, recall, f1):
        assert row[f"precision_{name}"] == pytest.approx(p)
        assert row[f"recall_{name}"] == pytest.approx(r)
        assert row[f"f1_{name}"] == pytest.approx(f)
    assert row["precision"] == pytest.approx(np.mean(precision))
    assert row["recall"] == pytest.approx(np.mean(recall))
    assert row["f1"] == pytest.approx(np.mean(f1))
    assert row["specificity"] == pytest.approx(np.mean(specificity))
    assert row["f1_weighted"] == pytest.approx((f1[0] * 4 + f1[1] * 4 + f1[2] * 5) / 13)
    assert row["accuracy"] == pytest.approx(9 / 13)


def test_multilabel_metrics_per_label_and_exact_match_accuracy():
    y = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    proba = np.array([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7], [0.6, 0.1]])
    # label x: TP 2, FP 1, TN 1 -> F1 4/5; label y: TP 1, FN 1, TN 2 -> F1 2/3
    row = evaluate_predictions(y, proba, task="multilabel", class_names=("x", "y"))
    assert row["f1_x"] == pytest.approx(4 / 5) and row["f1_y"] == pytest.approx(2 / 3)
    assert row["f1"] == pytest.approx((4 / 5 + 2 / 3) / 2)
    assert row["accuracy"] == pytest.approx(2 / 4)  # rows 0 and 2 fully right
    assert row["roc_auc_x"] == 1.0 and row["roc_auc_y"] == 1.0
    counts, _ = confusion_matrices(y, (proba >= 0.5).astype(int), labels=["x", "y"])
    assert counts.shape == (2, 2, 2) and counts[0].tolist() == [[1, 1], [0, 2]]


def test_single_class_gives_nan_roc_auc_not_an_error():
    row = evaluate_predictions([1, 1, 1], [0.2, 0.7, 0.9], task="binary", class_names=BINARY)
    assert np.isnan(row["roc_auc"]) and row["recall"] == pytest.approx(2 / 3)
    row = evaluate_predictions([0, 0], [0.2, 0.7], task="binary", class_names=BINARY)
    assert np.isnan(row["roc_auc"]) and np.isnan(row["average_precision"])


@pytest.mark.parametrize("y, proba, task, names, message", [
    ([0, 1], [0.2, 1.7], "binary", BINARY, "probabilities in \\[0, 1\\]"),
    ([0, 1], [0.2, np.nan], "binary", BINARY, "finite"),
    ([0, 1, 1], [0.2, 0.7], "binary", BINARY, "one row per image"),
    ([0, 2], [0.2, 0.7], "binary", BINARY, "class indices in 0..1"),
    ([0, 1], [[0.5, 0.5], [0.2, 0.8]], "multiclass", ("a", "b", "c"), "3 names"),
    ([0, 1], [0.2, 0.7], "regression", BINARY, "task must be one of"),
])
def test_invalid_inputs_are_refused(y, proba, task, names, message):
    with pytest.raises(ValueError, match=message):
        evaluate_predictions(y, proba, task=task, class_names=names)


def test_confusion_matrices_refuse_class_names_for_index_labels():
    with pytest.raises(TypeError, match="range\\(len\\(class_names\\)\\)"):
        confusion_matrices([0, 1], [0, 1], labels=BINARY)


# ------------------------------------------------------------ thresholds
def test_youden_threshold_on_separable_scores_lies_between_the_classes():
    y = np.array([0] * 5 + [1] * 5)
    scores = np.array([0.05, 0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.75, 0.8, 0.95])
    threshold = choose_threshold(y, scores, method="youden")
    assert 0.35 < threshold <= 0.6
    assert threshold == pytest.approx(0.475)  # midway between the classes


def test_sensitivity_threshold_is_the_highest_that_reaches_the_target():
    y, scores = noisy_binary(300, seed=4)
    threshold = choose_threshold(y, scores, method="sensitivity", target_sensitivity=0.9)
    assert 0 <= threshold <= 1
    assert (scores[y == 1] >= threshold).mean() >= 0.9
    assert (scores[y == 1] >= np.nextafter(threshold, 1)).mean() < 0.9


def test_choose_threshold_validates_its_arguments():
    with pytest.raises(ValueError, match="method must be one of"):
        choose_threshold([0, 1], [0.1, 0.9], method="f1")
    with pytest.raises(ValueError, match="target_sensitivity"):
        choose_threshold([0, 1], [0.1, 0.9], method="sensitivity", target_sensitivity=1.5)
    with pytest.raises(ValueError, match="both classes"):
        choose_threshold([1, 1], [0.1, 0.9])


# ------------------------------------------------------------- bootstrap
@pytest.mark.parametrize("metric", ["f1", "roc_auc"])
def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_images(metric):
    widths = []
    for n in (150, 2400):
        y, scores = noisy_binary(n, seed=1)
        estimate = evaluate_predictions(y, scores, task="binary", class_names=BINARY)[metric]
        low, high = bootstrap_ci(y, scores, metric, n_boot=400, seed=0)
        assert low < estimate < high
        widths.append(high - low)
    assert widths[1] < widths[0] / 2  # about 1 / sqrt(16) as wide


@pytest.mark.parametrize("task, metric", [
    ("binary", "roc_auc"), ("binary", "f1"), ("binary", "average_precision"),
    ("binary", "balanced_accuracy"), ("multiclass", "roc_auc"),
    ("multiclass", "f1_b"), ("multilabel", "roc_auc_y"), ("multilabel", "accuracy"),
])
def test_bootstrap_matches_evaluate_predictions_on_every_resample(task, metric):
    rng = np.random.default_rng(2)
    n, n_boot = 40, 25
    if task == "binary":
        y, proba, names = rng.integers(0, 2, n), rng.random(n).round(1), BINARY
    elif task == "multiclass":
        y, names = rng.integers(0, 3, n), ("a", "b", "c")
        proba = rng.random((n, 3)).round(1) + 0.01
        proba /= proba.sum(axis=1, keepdims=True)
    else:
        y, proba, names = rng.integers(0, 2, (n, 2)), rng.random((n, 2)).round(1), ("x", "y")
    draws = np.random.default_rng(7).integers(0, n, size=(n_boot, n))
    values = np.array([evaluate_predictions(y[d], proba[d], task=task,
                                            class_names=names)[metric] for d in draws])
    values = values[~np.isnan(values)]
    expected = np.percentile(values, [5, 95])
    got = bootstrap_ci(y, proba, metric, n_boot=n_boot, seed=7, alpha=0.1, task=task,
                       class_names=names)
    assert got == pytest.approx(tuple(expected))


def test_bootstrap_skips_single_class_resamples_and_validates_metric():
    y = np.array([0] * 19 + [1])
    low, high = bootstrap_ci(y, np.linspace(0, 1, 20), "roc_auc", n_boot=200)
    assert low == high == 1.0  # resamples without the positive are skipped
    with pytest.raises(ValueError, match="metric must be one of"):
        bootstrap_ci(y, np.linspace(0, 1, 20), "auroc")


# ------------------------------------------------------ folds and files
def test_summarize_folds_gives_mean_and_sample_std_ignoring_nan_and_text():
    rows = [{"model": "m", "fold": 0, "f1": 0.6, "roc_auc": 0.8},
            {"model": "m", "fold": 1, "f1": 0.8, "roc_auc": float("nan")},
            {"model": "m", "fold": 2, "f1": 1.0, "roc_auc": 0.9}]
    summary = summarize_folds(rows)
    assert summary["n_folds"] == 3
    assert summary["f1"] == pytest.approx(0.8) and summary["f1_std"] == pytest.approx(0.2)
    assert summary["roc_auc"] == pytest.approx(0.85)
    assert "model" not in summary and "fold" not in summary
