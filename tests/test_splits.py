from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.evaluation.splits import (LeakageError, Split, check_group_leakage,
                                          find_duplicate_images, make_splits)


def make_dataset(labels, *, groups=None, split=None, task="binary"):
    """The attributes of a Dataset that make_splits reads."""
    return SimpleNamespace(labels=np.asarray(labels), groups=groups, split=split,
                           task=task, name="toy")


def imbalanced(n=200, positive_share=0.3):
    labels = np.zeros(n, dtype=int)
    labels[: int(n * positive_share)] = 1
    return labels


def patients(n_images, n_patients, seed=0):
    """Patient id of every image: each patient has several images."""
    rng = np.random.default_rng(seed)
    return np.array([f"p{i:03d}" for i in rng.integers(0, n_patients, n_images)])


def assert_partition(split, n, *, covers=True):
    sets = [set(split.train.tolist()), set(split.val.tolist()), set(split.test.tolist())]
    assert not sets[0] & sets[1] and not sets[0] & sets[2] and not sets[1] & sets[2]
    if covers:
        assert set().union(*sets) == set(range(n))


# ------------------------------------------------------------------ Split
def test_split_stores_read_only_int_arrays_and_counts_in_repr():
    split = Split(0, [0, 1, 2], [], [4, 5])
    assert split.val.shape == (0,) and split.train.dtype == np.intp
    assert repr(split) == "Split(fold=0, train=3, val=0, test=2)"
    with pytest.raises(ValueError):
        split.train[0] = 7


def test_split_rejects_float_indices():
    with pytest.raises(TypeError, match="integer indices"):
        Split(0, [0.5, 1.0], [], [2])


# ---------------------------------------------------------------- holdout
def test_holdout_keeps_class_ratio_in_every_set():
    labels = imbalanced(400, 0.3)
    (split,) = make_splits(make_dataset(labels), strategy="holdout", seed=3)
    assert_partition(split, 400)
    assert len(split.test) == 80 and len(split.val) == 60 and len(split.train) == 260
    for part in (split.train, split.val, split.test):
        assert labels[part].mean() == pytest.approx(0.3, abs=0.01)


def test_holdout_is_reproducible_and_depends_on_seed():
    data = make_dataset(imbalanced())
    first = make_splits(data, strategy="holdout", seed=1)[0]
    again = make_splits(data, strategy="holdout", seed=1)[0]
    other = make_splits(data, strategy="holdout", seed=2)[0]
    assert np.array_equal(first.test, again.test) and np.array_equal(first.val, again.val)
    assert not np.array_equal(first.test, other.test)


def test_holdout_with_val_size_zero_has_empty_val():
    (split,) = make_splits(make_dataset(imbalanced()), strategy="holdout", val_size=0)
    assert len(split.val) == 0
    assert_partition(split, 200)


# --------------------------------------------------------------------- cv
def test_cv_puts_every_image_in_exactly_one_test_fold_with_stratified_folds():
    labels = imbalanced(250, 0.2)
    splits = make_splits(make_dataset(labels), strategy="cv", n_folds=5, seed=0)
    assert [s.fold for s in splits] == [0, 1, 2, 3, 4]
    tests = np.concatenate([s.test for s in splits])
    assert np.array_equal(np.sort(tests), np.arange(250))
    for split in splits:
        assert_partition(split, 250)
        assert labels[split.test].sum() == 10  # 50 positives over 5 folds
        # validation is carved from the training part, stratified
        assert len(split.val) == pytest.approx(0.15 * 250, abs=1)
        assert labels[split.val].mean() == pytest.approx(0.2, abs=0.03)


@pytest.mark.parametrize("strategy", ["holdout", "cv"])
def test_group_aware_splits_never_share_a_patient(strategy):
    labels = imbalanced(300, 0.4)
    groups = patients(300, 60)
    splits = make_splits(make_dataset(labels, groups=groups), strategy=strategy,
                         n_folds=4, seed=0)
    assert len(splits) == (4 if strategy == "cv" else 1)
    for split in splits:
        assert_partition(split, 300)
        train, val, test = (set(groups[s]) for s in (split.train, split.val, split.test))
        assert not train & test and not train & val and not val & test
        assert len(split.val) > 0 and len(split.test) > 0
    if strategy == "cv":
        assert np.array_equal(np.sort(np.concatenate([s.test for s in splits])),
                              np.arange(300))


def test_multilabel_cv_stratifies_on_the_rarest_label():
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 3)) < [0.5, 0.3, 0.0]).astype(int)
    labels[:, 2] = 0
    labels[rng.choice(200, 10, replace=False), 2] = 1  # rare finding: 10 images
    splits = make_splits(make_dataset(labels, task="multilabel"), strategy="cv",
                         n_folds=5)
    assert [int(labels[s.test, 2].sum()) for s in splits] == [2, 2, 2, 2, 2]


def test_too_few_images_per_class_for_the_folds_is_a_clear_error():
    labels = np.array([0] * 20 + [1] * 3)
    with pytest.raises(ValueError, match=r"at least 5 images of every class.*\[1\]"):
        make_splits(make_dataset(labels), strategy="cv", n_folds=5)


@pytest.mark.parametrize("kwargs, message", [
    ({"strategy": "kfold"}, "strategy must be one of"),
    ({"strategy": "cv", "n_folds": 1}, "n_folds must be an integer >= 2"),
    ({"strategy": "holdout", "test_size": 1.5}, "test_size must be a fraction"),
    ({"strategy": "holdout", "val_size": 0.5, "test_size": 0.5}, "val_size \\+ test_size"),
])
def test_invalid_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_splits(make_dataset(imbalanced()), **kwargs)


# --------------------------------------------------------------- official
def test_official_split_is_used_as_given():
    split = np.array(["train"] * 6 + ["val"] * 2 + ["test"] * 3 + ["train"])
    data = make_dataset([0, 1] * 6, split=split)
    (result,) = make_splits(data, strategy="official")
    assert result.train.tolist() == [0, 1, 2, 3, 4, 5, 11]
    assert result.val.tolist() == [6, 7]
    assert result.test.tolist() == [8, 9, 10]


def test_official_split_without_val_gets_val_from_train_only_when_asked():
    split = np.array(["train"] * 80 + ["test"] * 20)
    data = make_dataset(imbalanced(100, 0.5), split=split)
    (kept,) = make_splits(data, strategy="official", val_size=0)
    assert len(kept.val) == 0 and kept.train.tolist() == list(range(80))
    (carved,) = make_splits(data, strategy="official", val_size=0.15)
    assert carved.test.tolist() == list(range(80, 100))
    assert len(carved.val) == 15 and set(carved.val) < set(range(80))
    assert_partition(carved, 100)


def test_missing_official_split_names_the_other_strategies():
    with pytest.raises(ValueError, match="holdout.*cv"):
        make_splits(make_dataset(imbalanced()), strategy="official")


def test_official_split_that_shares_a_patient_is_refused():
    split = np.array(["train", "train", "test", "test"])
    groups = np.array(["p1", "p2", "p2", "p3"])
    data = make_dataset([0, 1, 0, 1], split=split, groups=groups)
    with pytest.raises(LeakageError, match=r"official split.*1 group.*'p2'"):
        make_splits(data, strategy="official")


# ---------------------------------------------------------------- leakage
def test_check_group_leakage_reports_count_and_ids():
    groups = ["a", "a", "b", "b", "c", "d"]
    check_group_leakage(groups, [0, 1], [2, 3], [4, 5])  # clean: no error
    with pytest.raises(LeakageError, match=r"^2 groups .*'a', 'b'") as caught:
        check_group_leakage(groups, [0, 2], [1, 3, 4], names=("train", "test"))
    assert "train and test share 2" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_check_group_leakage_without_groups_checks_nothing():
    assert check_group_leakage(None, [0, 1], [1, 2]) is None


# ------------------------------------------------------------- duplicates
def test_find_duplicate_images_across_sets():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 256, (10, 8, 8), dtype=np.uint8)
    stack[7] = stack[3]
    stack[9] = stack[3]
    stack[5] = stack[4]  # both in train: not reported
    pairs = find_duplicate_images(stack, np.arange(0, 6), np.arange(6, 10))
    assert pairs == [(3, 7), (3, 9)]


def test_find_duplicate_images_compares_shape_as_well_as_bytes():
    flat = np.arange(16, dtype=np.uint8)
    images = [flat.reshape(4, 4), flat.reshape(2, 8), flat.reshape(4, 4).copy()]
    assert find_duplicate_images(images, [0], [1, 2]) == [(0, 2)]


def test_too_few_images_names_the_class_and_the_command_line_fix():
    data = make_dataset(np.array([0] * 20 + [1] * 3))
    data.class_names = ("intact", "fracture")
    with pytest.raises(ValueError, match=r"class\(es\) \['fracture' \(1\)\] have only 3\. "
                                         r"Use fewer folds \(--cv K; n_folds in Python\), "
                                         r"a hold-out split \(--split holdout"):
        make_splits(data, strategy="cv", n_folds=5)
