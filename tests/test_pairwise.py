"""Tests of the paired model comparisons against slow direct computations
and hand-checked examples."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, norm
from sklearn.metrics import roc_auc_score

from benchmarks.evaluation.pairwise import (auc_components, delong_test, holm, mcnemar_exact,
                                            not_below_best, paired_bootstrap_auc_difference,
                                            pairwise_comparisons)


def _slow_delong(y, a, b):
    """DeLong et al. (1988) written out: the Mann-Whitney kernel over every
    (positive, negative) pair, structural components, their covariance."""
    y = np.asarray(y).astype(bool)

    def components(s):
        x, z = s[y], s[~y]
        kernel = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        return kernel.mean(), kernel.mean(axis=1), kernel.mean(axis=0)
    auc_a, v10_a, v01_a = components(np.asarray(a, float))
    auc_b, v10_b, v01_b = components(np.asarray(b, float))
    s10 = np.cov(np.stack([v10_a, v10_b]))
    s01 = np.cov(np.stack([v01_a, v01_b]))
    s = s10 / y.sum() + s01 / (~y).sum()
    variance = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    z = (auc_a - auc_b) / np.sqrt(variance)
    return auc_a, auc_b, variance, 2 * norm.sf(abs(z))


def test_fast_delong_matches_the_slow_direct_computation():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    a = np.round(y + rng.normal(0, 1.0, 120), 1)  # rounded: many ties
    b = np.round(y + rng.normal(0, 1.5, 120), 1)
    fast = delong_test(y, a, b)
    auc_a, auc_b, variance, p = _slow_delong(y, a, b)
    assert fast["auc_a"] == pytest.approx(auc_a) == pytest.approx(roc_auc_score(y, a))
    assert fast["auc_b"] == pytest.approx(auc_b)
    assert fast["variance"] == pytest.approx(variance, rel=1e-10)
    assert fast["p_value"] == pytest.approx(p, rel=1e-10)


def test_delong_small_example_by_hand():
    # a separates perfectly (AUC 1, no variance). b: positives 0.4, 0.2, 0.6 beat
    # 2, 1, 3 of the negatives: V10 = (2/3, 1/3, 1); negatives 0.1, 0.5, 0.3 are
    # beaten by 3, 1, 2 positives: V01 = (1, 1/3, 2/3). Both sample variances
    # are 1/9, so var(a - b) = 1/9/3 + 1/9/3 = 2/27 and z = (1/3) / sqrt(2/27).
    y = [0, 0, 0, 1, 1, 1]
    result = delong_test(y, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.5, 0.3, 0.4, 0.2, 0.6])
    assert result["auc_b"] == pytest.approx(2 / 3)
    assert result["variance"] == pytest.approx(2 / 27)
    assert result["p_value"] == pytest.approx(2 * norm.sf((1 / 3) / np.sqrt(2 / 27)))
    _, v10, v01 = auc_components(y, [0.1, 0.5, 0.3, 0.4, 0.2, 0.6])
    assert v10[0] == pytest.approx([2 / 3, 1 / 3, 1])
    assert v01[0] == pytest.approx([1, 1 / 3, 2 / 3])


def test_identical_models_give_p_one_and_shuffled_predictions_p_below_0001():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    scores = y + rng.normal(0, 0.8, 500)
    assert delong_test(y, scores, scores)["p_value"] == 1.0
    shuffled = rng.permutation(scores)
    result = delong_test(y, scores, shuffled)
    assert result["p_value"] < 0.001
    low, high = paired_bootstrap_auc_difference(y, scores, shuffled, n_boot=300)
    assert low < result["difference"] < high and low > 0


def test_multiclass_delong_reduces_to_binary_for_two_classes():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 80)
    a, b = rng.random(80), rng.random(80)
    binary = delong_test(y, a, b)
    as_columns = delong_test(y, np.column_stack([1 - a, a]), np.column_stack([1 - b, b]))
    assert as_columns["p_value"] == pytest.approx(binary["p_value"])
    three = delong_test(rng.integers(0, 3, 80), rng.dirichlet([1, 1, 1], 80),
                        rng.dirichlet([1, 1, 1], 80))
    assert 0 <= three["p_value"] <= 1 and three["variance"] > 0


def test_mcnemar_exact_on_a_hand_made_table():
    # 2x2 table of (a right?, b right?): 20 both, 7 only a, 1 only b, 2 neither
    a = [1] * 20 + [1] * 7 + [0] * 1 + [0] * 2
    b = [1] * 20 + [0] * 7 + [1] * 1 + [0] * 2
    result = mcnemar_exact(a, b)
    assert (result["only_a"], result["only_b"]) == (7, 1)
    assert result["p_value"] == pytest.approx(2 * binom.cdf(1, 8, 0.5))  # = 18/256
    assert result["p_value"] == pytest.approx(18 / 256)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1])["p_value"] == 1.0


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # the running maximum makes the last 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # 2 * 0.5, then max(1.0, 0.9)
    adjusted = holm([np.nan, 0.02])
    assert np.isnan(adjusted[0]) and adjusted[1] == pytest.approx(0.02)


def test_pairwise_table_and_the_models_not_below_the_best():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    good = y + rng.normal(0, 0.5, 300)
    scores = {"good": good, "twin": good + rng.normal(0, 0.05, 300),  # nearly the same
              "chance": rng.random(300)}
    frames = []
    for name, s in scores.items():
        p = 1 / (1 + np.exp(-(s - 0.5) * 3))
        frames.append(pd.DataFrame({"id": [f"i{k}" for k in range(300)], "split": "test",
                                    "fold": 0, "model": name, "y_true": y,
                                    "proba_no": 1 - p, "proba_yes": p}))
    table = pairwise_comparisons(pd.concat(frames), task="binary",
                                 class_names=("no", "yes"), n_boot=100)
    assert len(table) == 3
    row = table[(table["model_a"] == "good") & (table["model_b"] == "chance")].iloc[0]
    assert row["auc_a"] == pytest.approx(roc_auc_score(y, scores["good"]))
    assert row["delong_p"] < 1e-6
    assert table["delong_p_holm"].tolist() == pytest.approx(holm(table["delong_p"]).tolist())
    best, kept = not_below_best(table)
    assert best in ("good", "twin") and kept == {"good", "twin"}


def test_pooled_folds_use_each_folds_threshold_for_mcnemar():
    # Two folds of out-of-fold predictions; model "a" has threshold 0.7 in fold 1,
    # which turns its 0.6 there into a (wrong) negative.
    frame = pd.DataFrame({
        "id": ["i0", "i1", "i2", "i3"] * 2, "split": "test", "fold": [0, 0, 1, 1] * 2,
        "model": ["a"] * 4 + ["b"] * 4, "y_true": [0, 1, 0, 1] * 2,
        "proba_no": [0.8, 0.4, 0.9, 0.4, 0.8, 0.4, 0.9, 0.4],
        "proba_yes": [0.2, 0.6, 0.1, 0.6, 0.2, 0.6, 0.1, 0.6]})
    plain = pairwise_comparisons(frame, task="binary", class_names=("no", "yes"), n_boot=10)
    assert (plain["only_a_correct"].iloc[0], plain["only_b_correct"].iloc[0]) == (0, 0)
    tuned = pairwise_comparisons(frame, task="binary", class_names=("no", "yes"), n_boot=10,
                                 thresholds={("a", 1): 0.7})
    row = tuned.iloc[0]
    assert (row["accuracy_a"], row["accuracy_b"]) == (0.75, 1.0)
    assert (row["only_a_correct"], row["only_b_correct"], row["mcnemar_p"]) == (0, 1, 1.0)
    assert row["n"] == 4 and row["delong_p"] == 1.0  # same scores, same AUC


def test_paired_bootstrap_matches_resampling_with_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 60)
    a, b = np.round(y + rng.normal(0, 1, 60), 1), rng.random(60)
    low, high = paired_bootstrap_auc_difference(y, a, b, n_boot=50, seed=7)
    draws = np.random.default_rng(7).integers(0, 60, size=(50, 60))
    slow = [roc_auc_score(y[d], a[d]) - roc_auc_score(y[d], b[d]) for d in draws]
    assert (low, high) == pytest.approx(tuple(np.percentile(slow, [2.5, 97.5])))
