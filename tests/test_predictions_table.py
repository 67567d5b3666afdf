"""The predictions.csv layout: written by a run, read back into the same arrays."""

import numpy as np
import pandas as pd
import pytest

from benchmarks.datasets import Dataset
from benchmarks.evaluation.metrics import evaluate_predictions
from benchmarks.results.predictions_table import (prediction_columns, prediction_frame,
                                                  predictions_csv, predictions_to_arrays,
                                                  read_predictions)
from benchmarks.evaluation.splits import Split

#: Ids a spreadsheet would run as formulas, or that lose their zeros as numbers.
IDS = ["=cmd", "007", "-a.png", "b", "'q", "c/d.png"]


def _dataset(task):
    if task == "multilabel":
        labels = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 1]])
        names = ("effusion", "mass", "nodule")
    elif task == "multiclass":
        labels, names = np.array([2, 0, 1, 1, 0, 2]), ("a", "b", "c")
    else:
        labels, names = np.array([1, 0, 1, 0, 0, 1]), ("normal", "fracture")
    return Dataset(labels=labels, class_names=names, task=task, ids=IDS,
                   images=np.zeros((6, 4, 4), np.uint8))


def _proba(rng, n, k, task):
    if task == "multilabel":
        return rng.uniform(size=(n, k))
    raw = rng.uniform(size=(n, k))
    return raw / raw.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("task", ["binary", "multiclass", "multilabel"])
def test_write_then_read_gives_the_same_arrays(task, tmp_path):
    dataset = _dataset(task)
    rng = np.random.default_rng(0)
    k = len(dataset.class_names)
    split = Split(fold=2, train=[], val=[4, 5], test=[0, 1, 2, 3])
    proba_test, proba_val = _proba(rng, 4, k, task), _proba(rng, 2, k, task)
    frame = prediction_frame("m", dataset, split, proba_test, proba_val)
    path = tmp_path / "predictions.csv"
    path.write_text(predictions_csv(frame), encoding="utf-8")
    saved = read_predictions(path)

    truth, probas = prediction_columns(task, dataset.class_names)
    assert saved.columns.tolist() == ["id", "split", "fold", "model"] + truth + probas
    assert saved["id"].tolist() == [IDS[i] for i in (4, 5, 0, 1, 2, 3)]  # val rows first
    assert set(saved["fold"]) == {2} and set(saved["model"]) == {"m"}
    for part, indices, proba in (("test", split.test, proba_test), ("val", split.val, proba_val)):
        y, p = predictions_to_arrays(saved[saved["split"] == part], task=task,
                                     class_names=dataset.class_names)
        np.testing.assert_array_equal(y, dataset.labels[indices])
        want = proba[:, 1] if task == "binary" and p.ndim == 1 else proba
        np.testing.assert_allclose(p, want, rtol=0, atol=1e-15)


def test_a_set_without_probabilities_or_images_is_left_out():
    dataset = _dataset("binary")
    proba = np.full((2, 2), 0.5)
    frame = prediction_frame("m", dataset, Split(0, [], [], [0, 1]), proba, proba)
    assert frame["split"].tolist() == ["test", "test"]
    frame = prediction_frame("m", dataset, Split(0, [], [2, 3], [0, 1]), proba, None)
    assert frame["split"].tolist() == ["test", "test"]


def test_predictions_to_arrays_recovers_what_was_saved():
    frame = pd.DataFrame({"id": ["a", "b", "c"], "split": "test", "fold": 0, "model": "m",
                          "y_true": [2, 0, 1], "proba_x": [0.1, 0.7, 0.2],
                          "proba_y": [0.2, 0.2, 0.5], "proba_z": [0.7, 0.1, 0.3]})
    y, proba = predictions_to_arrays(frame, task="multiclass", class_names=("x", "y", "z"))
    assert y.tolist() == [2, 0, 1] and proba[0].tolist() == [0.1, 0.2, 0.7]
    frame["y_true"] = ["z", "x", "y"]  # class names work as well as indices
    assert predictions_to_arrays(frame, task="multiclass",
                                 class_names=("x", "y", "z"))[0].tolist() == [2, 0, 1]
    with pytest.raises(ValueError, match="lack columns \\['proba_w'\\]"):
        predictions_to_arrays(frame, task="multiclass", class_names=("x", "y", "w"))


def test_predictions_to_arrays_multilabel():
    frame = pd.DataFrame({"y_true_x": [1, 0], "y_true_y": [1, 1],
                          "proba_x": [0.9, 0.2], "proba_y": [0.6, 0.7]})
    y, proba = predictions_to_arrays(frame, task="multilabel", class_names=("x", "y"))
    assert y.tolist() == [[1, 1], [0, 1]] and proba.shape == (2, 2)
    row = evaluate_predictions(y, proba, task="multilabel", class_names=("x", "y"))
    assert row["f1"] == 1.0
