"""ImageClassifierMixin and infer_task: inputs, targets, weights, predict, save."""

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from classifiers.base import ImageClassifierMixin, check_image_size, infer_task


class PriorClassifier(ImageClassifierMixin, ClassifierMixin, BaseEstimator):
    """Predicts the (weighted) class frequencies whatever the image."""

    def __init__(self, image_size=16, class_weight=None):
        self.image_size = image_size
        self.class_weight = class_weight

    def fit(self, images, y, *, validation_data=None):
        images = self._validate_images(images)
        y = self._encode_targets(y, n_samples=len(images))
        weight = self._sample_weight(y)
        weight = np.ones(len(y)) if weight is None else weight
        if self.task_ == "multilabel":
            self.prior_ = (y * weight[:, None]).sum(axis=0) / weight.sum()
        else:
            self.prior_ = np.bincount(y, weights=weight, minlength=len(self.classes_))
            self.prior_ = self.prior_ / self.prior_.sum()
        return self

    def predict_proba(self, images):
        return np.tile(self.prior_, (len(self._validate_images(images)), 1))

    def _save_native(self, directory):
        (directory / "prior.json").write_text(json.dumps(self.prior_.tolist()))
        return {"file": "prior.json"}

    def _load_native(self, directory, sidecar):
        self.prior_ = np.asarray(json.loads((directory / sidecar["native"]["file"]).read_text()))


IMAGES = np.zeros((6, 8, 8), dtype=np.uint8)


@pytest.mark.parametrize("y, task", [
    ([0, 1, 0], "binary"),
    (np.array([True, False]), "binary"),
    (["cat", "dog", "eel"], "multiclass"),
    (np.array([0.0, 2.0, 1.0]), "multiclass"),
    ([[1, 0], [0, 1], [1, 1]], "multilabel"),
    (np.array([[True, False, False], [False, False, True]]), "multilabel"),
])
def test_infer_task(y, task):
    assert infer_task(y) == task


@pytest.mark.parametrize("y, error, match", [
    (None, TypeError, "y is None"),
    ([], ValueError, "one target per image"),
    ([1, 1, 1], ValueError, "single class"),
    ([0.5, 1.0], ValueError, "continuous"),
    ([0.0, np.nan], ValueError, "NaN"),
    ([[0], [1]], ValueError, "L >= 2"),
    ([[0, 2], [1, 0]], ValueError, "0/1"),
    (np.zeros((2, 2, 2)), ValueError, "3 dimensions"),
])
def test_infer_task_errors(y, error, match):
    with pytest.raises(error, match=match):
        infer_task(y)


def test_image_size_accepts_int_or_pair():
    assert check_image_size(32) == (32, 32)
    assert check_image_size((24, 40)) == (24, 40)
    for bad in (4, (32,), "32", True, (32, 0)):
        with pytest.raises(ValueError, match="image_size must be"):
            check_image_size(bad)


@pytest.mark.parametrize("images, error, match", [
    (np.zeros((8, 8), np.uint8), ValueError, r"image\[None\]"),
    (np.zeros((2, 8, 8, 1), np.uint8), ValueError, r"images\[\.\.\., 0\]"),
    (np.zeros((0, 8, 8), np.uint8), ValueError, "empty"),
    ([], ValueError, "empty"),
    ("scan.png", TypeError, "load_image"),
    ([np.zeros((8, 8)), np.zeros((8, 8, 3))], ValueError, r"images\[1\] must be a 2-D"),
    (np.zeros((2, 8, 8), np.int64), TypeError, "dtype int64"),
    (np.full((2, 8, 8), 2.0), ValueError, r"must lie in \[0, 1\]"),
    ([np.full((8, 8), np.nan)], ValueError, "NaN"),
])
def test_invalid_images_are_reported(images, error, match):
    with pytest.raises(error, match=match):
        PriorClassifier()._validate_images(images)


def test_valid_images_pass_through():
    stack = np.zeros((3, 5, 7), np.uint16)
    assert PriorClassifier()._validate_images(stack) is stack
    listed = PriorClassifier()._validate_images([np.ones((4, 4)), np.zeros((6, 3), np.uint8)])
    assert [image.shape for image in listed] == [(4, 4), (6, 3)]


def test_prepare_images_resizes_with_padding_and_keeps_dtype():
    model = PriorClassifier()
    stack = model._prepare_images([np.full((10, 20), 200, np.uint8),
                                   np.full((16, 16), 100, np.uint8)], size=16)
    assert stack.shape == (2, 16, 16) and stack.dtype == np.uint8
    # a 10x20 image is scaled to 8x16 and centred: 4 rows of padding above and below
    assert stack[0, :4].max() == 0 and stack[0, 4:12].min() == 200
    mixed = model._prepare_images([np.full((8, 8), 255, np.uint8), np.full((8, 8), 0.5)],
                                  size=8)
    assert mixed.dtype == np.float32 and mixed[:, 0, 0].tolist() == [1.0, 0.5]
    as_float = model._prepare_images(np.full((1, 8, 8), 51, np.uint8), size=8, as_float=True)
    np.testing.assert_allclose(as_float, 0.2, rtol=1e-6)


def test_encode_targets_sets_classes_and_task():
    model = PriorClassifier()
    encoded = model._encode_targets(np.array(["b", "a", "c", "a"]), n_samples=4)
    assert model.classes_.tolist() == ["a", "b", "c"] and model.task_ == "multiclass"
    assert encoded.tolist() == [1, 0, 2, 0]
    assert model._encode_validation_targets(["c", "b"]).tolist() == [2, 1]
    with pytest.raises(ValueError, match=r"labels \['z'\] not seen"):
        model._encode_validation_targets(["z"])
    with pytest.raises(ValueError, match="3 targets but there are 4 images"):
        model._encode_targets([0, 1, 1], n_samples=4)


def test_encode_multilabel_targets_with_label_names():
    model = PriorClassifier()
    encoded = model._encode_targets([[1, 0], [0, 1]], label_names=["effusion", "nodule"])
    assert model.task_ == "multilabel" and model.classes_.tolist() == ["effusion", "nodule"]
    assert encoded.tolist() == [[1, 0], [0, 1]]
    model._encode_targets(np.array([[1, 0, 1], [0, 1, 0]]))
    assert model.classes_.tolist() == [0, 1, 2]
    pandas = pytest.importorskip("pandas")
    model._encode_targets(pandas.DataFrame({"a": [1, 0], "b": [0, 1]}))
    assert model.classes_.tolist() == ["a", "b"]


def test_balanced_weights_for_a_5_to_1_set():
    model = PriorClassifier(class_weight="balanced")
    y = model._encode_targets([0] * 5 + [1])
    # n / (n_classes * count): 6 / (2 * 5) = 0.6 and 6 / (2 * 1) = 3
    np.testing.assert_allclose(model._sample_weight(y), [0.6] * 5 + [3.0])
    model.class_weight = {1: 5}
    np.testing.assert_allclose(model._sample_weight(y), [1.0] * 5 + [5.0])
    model.class_weight = None
    assert model._sample_weight(y) is None


def test_multilabel_weights_are_the_mean_over_labels():
    model = PriorClassifier(class_weight="balanced")
    y = model._encode_targets([[1, 0], [0, 0], [0, 0], [0, 1]])
    # each label: 1 positive of 4 -> 4 / 2 = 2, 3 negatives -> 4 / 6 = 2/3
    np.testing.assert_allclose(model._sample_weight(y), [4 / 3, 2 / 3, 2 / 3, 4 / 3])
    model.class_weight = {1: 3.0}
    np.testing.assert_allclose(model._sample_weight(y), [1.0, 1.0, 1.0, 2.0])


@pytest.mark.parametrize("class_weight, match", [
    ({7: 2.0}, "not classes"), ({1: -1.0}, "positive number"), ("auto", "class_weight must be"),
])
def test_invalid_class_weight(class_weight, match):
    model = PriorClassifier(class_weight=class_weight)
    y = model._encode_targets([0, 1, 1])
    with pytest.raises(ValueError, match=match):
        model._sample_weight(y)


def test_predict_is_argmax_or_threshold_of_predict_proba():
    y = np.array(["no", "no", "yes", "no", "no", "no"])
    model = PriorClassifier().fit(IMAGES, y)
    assert model.predict(IMAGES[:2]).tolist() == ["no", "no"]
    balanced = PriorClassifier(class_weight={"yes": 6.0}).fit(IMAGES, y)
    np.testing.assert_allclose(balanced.predict_proba(IMAGES[:1]), [[5 / 11, 6 / 11]])
    assert balanced.predict(IMAGES[:1]).tolist() == ["yes"]
    labels = PriorClassifier().fit(IMAGES, [[1, 0]] * 3 + [[1, 1]] * 2 + [[0, 0]])
    np.testing.assert_allclose(labels.predict_proba(IMAGES[:1]), [[5 / 6, 2 / 6]])
    assert labels.predict(IMAGES[:2]).tolist() == [[1, 0], [1, 0]]


def test_save_writes_native_file_and_sidecar(tmp_path):
    model = PriorClassifier(image_size=(12, 20), class_weight={1: 2.0}).fit(IMAGES, [0, 1] * 3)
    directory = model.save(tmp_path / "prior")
    sidecar = json.loads((directory / "model.json").read_text())
    assert (directory / "prior.json").is_file()
    assert sidecar["format"] == "xray-bench-model" and sidecar["format_version"] == 1
    assert sidecar["estimator"].endswith("PriorClassifier")
    assert sidecar["task"] == "binary"
    assert sidecar["classes"] == {"values": [0, 1], "dtype": np.dtype(int).str}
    assert sidecar["params"]["image_size"] == {"__tuple__": [12, 20]}
    assert sidecar["params"]["class_weight"] == {"__dict__": [[1, 2.0]]}
    assert sidecar["preprocessing"]["image_size"] == {"__tuple__": [12, 20]}
    assert sidecar["native"] == {"file": "prior.json"}
    assert {"python", "numpy", "scikit-learn"} <= set(sidecar["versions"])
    assert sidecar["created"].endswith("+00:00")
    model.save(directory)  # an earlier saved model may be overwritten


def test_save_refuses_unfitted_models_and_foreign_paths(tmp_path):
    with pytest.raises(NotFittedError):
        PriorClassifier().save(tmp_path / "m")
    model = PriorClassifier().fit(IMAGES, [0, 1] * 3)
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty and holds no saved model"):
        model.save(tmp_path)
    with pytest.raises(ValueError, match="is a file"):
        model.save(tmp_path / "notes.txt")
    model.class_weight = np.random.RandomState(0)
    with pytest.raises(TypeError, match="class_weight.*RandomState"):
        model.save(tmp_path / "m")


def test_save_killed_midway_leaves_no_half_written_model(tmp_path, monkeypatch):
    import classifiers.base as base

    model = PriorClassifier().fit(IMAGES, [0, 1] * 3)

    def killed(path, text):  # the sidecar is written last: a kill just before it
        raise KeyboardInterrupt

    monkeypatch.setattr(base, "write_text_atomic", killed)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "prior")
    assert list(tmp_path.iterdir()) == []  # neither the model folder nor a staging one
    monkeypatch.undo()
    directory = model.save(tmp_path / "prior")
    assert sorted(p.name for p in directory.iterdir()) == ["model.json", "prior.json"]


def test_save_repairs_a_half_written_model_and_keeps_other_files(tmp_path):
    model = PriorClassifier().fit(IMAGES, [0, 1] * 3)
    half = tmp_path / "xgb"
    half.mkdir()
    (half / "model.ubj").write_bytes(b"native file without its model.json")
    model.save(half)  # an earlier version killed between the two files
    assert (half / "model.json").is_file()
    (half / "notes.txt").write_text("mine")
    model.save(half)  # overwriting a saved model keeps files that are not the model's
    assert (half / "notes.txt").read_text() == "mine"
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="is a symbolic link"):
        model.save(tmp_path / "link")
    assert list((tmp_path / "elsewhere").iterdir()) == []
