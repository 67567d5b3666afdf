"""FeatureXGBClassifier: learning, determinism, tasks, early stopping, weights."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from classifiers.xgb import FeatureXGBClassifier


class BarFeatures(TransformerMixin, BaseEstimator):
    """Four hand-checkable statistics: bright fraction left/right, mean, corner."""

    def __init__(self, threshold=150):
        self.threshold = threshold

    def fit(self, images, y=None):
        return self

    def transform(self, images):
        rows = []
        for image in images:
            bright = np.asarray(image) > self.threshold
            half = bright.shape[1] // 2
            rows.append([bright[:, :half].mean(), bright[:, half:].mean(),
                         float(np.mean(image)), float(image[0, 0])])
        return np.asarray(rows, dtype=np.float32)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(["bright_left", "bright_right", "mean", "corner"], dtype=object)


def make_bars(n, *, seed, size=32):
    """Noise images (0-119) with a bright bar (230) on the left and/or right half.

    Returns images and the (n, 2) indicator [bar on left, bar on right].
    """
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 120, (n, size, size), dtype=np.uint8)
    indicator = rng.integers(0, 2, (n, 2))
    for i in range(n):
        for side, column in ((0, size // 4), (1, 3 * size // 4)):
            if indicator[i, side]:
                top = rng.integers(1, size - 17)
                images[i, top:top + 16, column - 1:column + 2] = 230
    return images, indicator


def small_model(**params):
    defaults = dict(features=BarFeatures(), image_size=32, n_estimators=30, max_depth=2,
                    n_jobs=1, random_state=0)
    return FeatureXGBClassifier(**{**defaults, **params})


def test_easy_task_reaches_high_f1():
    images, indicator = make_bars(160, seed=1)
    y = indicator[:, 0]
    model = small_model().fit(images[:100], y[:100])
    assert f1_score(y[100:], model.predict(images[100:])) >= 0.95


def test_shuffled_labels_stay_near_chance():
    images, indicator = make_bars(300, seed=2)
    y = np.random.default_rng(3).integers(0, 2, 300)  # unrelated to the images
    model = small_model(n_estimators=50).fit(images[:100], y[:100])
    assert 0.35 <= accuracy_score(y[100:], model.predict(images[100:])) <= 0.65


@pytest.fixture(scope="module")
def fracture_phantoms():
    from xray_features.synthetic import make_phantom_dataset

    images, y, _ = make_phantom_dataset("fracture", n_images=200, size=64, seed=0,
                                        difficulty="easy")
    return images, y


def test_phantom_fractures_are_found_by_edge_features(fracture_phantoms):
    images, y = fracture_phantoms
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=60, random_state=0)
    model.fit(images[:140], y[:140])
    assert f1_score(y[140:], model.predict(images[140:])) >= 0.85
    assert model.extractor_.get_params()["image_size"] == 64
    assert model.feature_names_.shape == model.feature_importances_.shape


def test_phantoms_with_shuffled_labels_stay_near_chance(fracture_phantoms):
    images, y = fracture_phantoms
    shuffled = np.random.default_rng(0).permutation(y[:140])
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=60, random_state=0)
    model.fit(images[:140], shuffled)
    assert 0.3 <= accuracy_score(y[140:], model.predict(images[140:])) <= 0.7


def test_same_seed_gives_identical_predictions_and_other_seed_differs():
    images, indicator = make_bars(80, seed=4)
    y = indicator[:, 0]
    params = dict(subsample=0.6, colsample_bytree=0.5, n_estimators=20)
    first = small_model(random_state=7, **params).fit(images, y).predict_proba(images)
    second = small_model(random_state=7, **params).fit(images, y).predict_proba(images)
    other = small_model(random_state=8, **params).fit(images, y).predict_proba(images)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_binary_multiclass_multilabel_shapes():
    images, indicator = make_bars(90, seed=5)
    binary = small_model().fit(images, indicator[:, 1])
    assert binary.task_ == "binary"
    assert binary.predict_proba(images[:7]).shape == (7, 2)
    assert binary.predict(images[:7]).shape == (7,)

    names = np.array(["none", "one", "two"])[indicator.sum(axis=1)]
    multi = small_model().fit(images, names)
    proba = multi.predict_proba(images[:7])
    assert multi.task_ == "multiclass" and proba.shape == (7, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert multi.classes_.tolist() == ["none", "one", "two"]
    assert accuracy_score(names, multi.predict(images)) >= 0.95

    labels = small_model().fit(images, indicator)
    assert labels.task_ == "multilabel"
    assert labels.classes_.tolist() == [0, 1]
    assert labels.predict_proba(images[:7]).shape == (7, 2)
    predicted = labels.predict(images)
    assert predicted.shape == (90, 2) and set(np.unique(predicted)) <= {0, 1}
    assert (predicted == indicator).mean() >= 0.95


def test_images_of_different_sizes_and_dtypes_are_accepted():
    images, indicator = make_bars(40, seed=6)
    sequence = [images[i] if i % 2 else images[i, :, :28].astype(np.float32) / 255
                for i in range(40)]
    model = small_model().fit(sequence, indicator[:, 0])
    assert model.predict_proba(sequence).shape == (40, 2)


def test_early_stopping_with_validation_data_sets_best_iteration():
    images, indicator = make_bars(160, seed=7)
    y = indicator[:, 0]
    model = small_model(n_estimators=400, learning_rate=0.3, early_stopping_rounds=5)
    model.fit(images[:100], y[:100], validation_data=(images[100:], y[100:]))
    assert 0 <= model.best_iteration_ < 399
    assert model.best_iteration_ == model.model_.best_iteration
    # training stops exactly five rounds after the best one
    assert len(model.history_["val_logloss"]) == model.best_iteration_ + 6

    unvalidated = small_model(n_estimators=40, early_stopping_rounds=5).fit(images, y)
    assert unvalidated.best_iteration_ is None and unvalidated.history_ == {}


def test_validation_labels_unseen_in_training_are_rejected():
    images, indicator = make_bars(40, seed=8)
    with pytest.raises(ValueError, match="not seen in training"):
        small_model().fit(images, indicator[:, 0],
                          validation_data=(images[:5], np.array([0, 1, 2, 0, 1])))


def test_balanced_class_weight_reweights_an_imbalanced_set():
    # Constant images carry no information: the model can only learn the
    # (weighted) class frequency, 1/6 unweighted and 1/2 when balanced.
    images = np.full((60, 16, 16), 90, dtype=np.uint8)
    y = np.r_[np.zeros(50, int), np.ones(10, int)]
    with pytest.warns(UserWarning, match="constant"):
        plain = small_model(class_weight=None, n_estimators=100).fit(images, y)
    with pytest.warns(UserWarning, match="constant"):
        balanced = small_model(class_weight="balanced", n_estimators=100).fit(images, y)
    np.testing.assert_allclose(plain.predict_proba(images[:1])[0, 1], 10 / 60, atol=0.02)
    np.testing.assert_allclose(balanced.predict_proba(images[:1])[0, 1], 0.5, atol=0.02)
    np.testing.assert_array_equal(balanced.feature_importances_, 0.0)


def test_dict_class_weight_changes_the_fitted_model():
    images, indicator = make_bars(60, seed=9)
    y = indicator[:, 0]
    a = small_model(class_weight={0: 1.0, 1: 5.0}).fit(images, y).predict_proba(images)
    b = small_model(class_weight=None).fit(images, y).predict_proba(images)
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="not classes"):
        small_model(class_weight={3: 2.0}).fit(images, y)


def test_feature_cache_is_written_and_reused(tmp_path, fracture_phantoms):
    images, y = fracture_phantoms
    images, y = images[:40], y[:40]
    params = dict(image_size=64, n_estimators=10, cache_dir=str(tmp_path))
    first = FeatureXGBClassifier("edge", **params).fit(images, y).predict_proba(images)
    assert any(path.is_file() for path in tmp_path.rglob("*"))
    second = FeatureXGBClassifier("edge", **params).fit(images, y).predict_proba(images)
    np.testing.assert_array_equal(first, second)


def test_predicting_before_fit_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        small_model().predict_proba(np.zeros((1, 8, 8), np.uint8))


def test_feature_importances_are_mapped_to_names():
    images, indicator = make_bars(80, seed=10)
    model = small_model().fit(images, indicator[:, 1])
    assert model.feature_names_.tolist() == ["bright_left", "bright_right", "mean", "corner"]
    assert model.top_features(1)[0][0] == "bright_right"
    np.testing.assert_allclose(model.feature_importances_.sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("params, error, match", [
    ({"features": "sift"}, ValueError, "features must be one of"),
    ({"features": 3}, TypeError, "features must be a preset"),
    ({"image_size": 0}, ValueError, "image_size"),
    ({"learning_rate": 0}, ValueError, r"'learning_rate' .* must be a float in the range \(0"),
    ({"learning_rate": float("nan")}, ValueError, r"'learning_rate' .* Got nan"),
    ({"subsample": 1.5}, ValueError, r"'subsample' .* in the range \(0.0, 1.0\]"),
    ({"n_estimators": 2.5}, TypeError, "'n_estimators' .* must be an int"),
    ({"max_depth": "abc"}, TypeError, "'max_depth' .* must be an int .* Got 'abc'"),
    ({"class_weight": "even"}, ValueError, "'class_weight' .* must be"),
    ({"tree_method": "gpu"}, ValueError, "tree_method"),
])
def test_invalid_parameters_are_reported_in_fit(params, error, match):
    images, indicator = make_bars(20, seed=11)
    with pytest.raises(error, match=match):
        small_model(**params).fit(images, indicator[:, 0])


def test_invalid_inputs_are_reported():
    images, indicator = make_bars(20, seed=12)
    with pytest.raises(ValueError, match="one target per image"):
        small_model().fit(images, indicator[:10, 0])
    with pytest.raises(ValueError, match="single class"):
        small_model().fit(images, np.zeros(20, int))
    with pytest.raises(ValueError, match=r"image\[None\]"):
        small_model().fit(images[0], [1])


def test_sklearn_parameter_checks_clone_and_pickle():
    name = "FeatureXGBClassifier"
    check_parameters_default_constructible(name, FeatureXGBClassifier())
    check_get_params_invariance(name, small_model())
    check_set_params(name, small_model())
    check_no_attributes_set_in_init(name, small_model())
    model = small_model(n_estimators=12)
    copy = clone(model)
    assert copy.get_params()["n_estimators"] == 12 and copy.features is not model.features

    images, indicator = make_bars(40, seed=13)
    model.fit(images, indicator[:, 0])
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(images), model.predict_proba(images))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(clone(model), "model_")
