"""CNNClassifier and the shared Keras training machinery (classifiers.training)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.utils.estimator_checks import (check_get_params_invariance,
                                            check_no_attributes_set_in_init,
                                            check_set_params)

from classifiers import load_model, training
from classifiers.keras_models import CNNClassifier

# Small, fast settings shared by most tests; tests override what they check.
FAST = dict(image_size=32, epochs=1, batch_size=16, augment=False,
            early_stopping_patience=None, reduce_lr_patience=None,
            validation_split=0)


def squares(n, seed, *, size=40):
    """Dim noise, with a bright 12-pixel square at a random place in class 1."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 80, (n, size, size)).astype(np.uint8)
    y = rng.permutation(np.arange(n) % 2)
    for i in np.flatnonzero(y):
        r, c = rng.integers(2, size - 14, 2)
        images[i, r:r + 12, c:c + 12] = 230
    return images, y


@pytest.fixture(scope="module")
def data():
    return squares(24, 0)


@pytest.mark.parametrize("architecture, n_conv, has_bn", [("small", 2, False),
                                                          ("deep", 8, True)])
def test_architectures_fit_and_predict_binary(eager, data, architecture, n_conv, has_bn):
    images, y = data
    labels = np.array(["normal", "fracture"])[y]
    model = CNNClassifier(architecture, **{**FAST, "validation_split": 0.25})
    model.fit(images, labels)
    proba = model.predict_proba(images)
    assert model.task_ == "binary" and model.classes_.tolist() == ["fracture", "normal"]
    assert proba.shape == (24, 2) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(model.predict(images)) <= {"fracture", "normal"}
    kinds = [type(layer).__name__ for layer in model.model_.layers]
    assert kinds.count("Conv2D") == n_conv
    assert ("BatchNormalization" in kinds) == has_bn
    assert model.model_.get_layer("output").activation.__name__ == "sigmoid"
    assert set(model.history_) >= {"loss", "accuracy", "auc", "val_loss", "val_auc"}
    assert model.n_epochs_ == 1 and len(model.history_["val_loss"]) == 1


def test_small_architecture_uses_16_then_32_filters(eager):
    model = CNNClassifier(**FAST).fit(*squares(8, 1))
    convs = [layer for layer in model.model_.layers if type(layer).__name__ == "Conv2D"]
    assert [layer.filters for layer in convs] == [16, 32]


def test_multiclass_uses_softmax_and_rows_sum_to_one(eager):
    images, _ = squares(18, 2)
    y = np.arange(18) % 3
    model = CNNClassifier(**FAST).fit(images, y)
    proba = model.predict_proba(images)
    assert model.task_ == "multiclass" and proba.shape == (18, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert model.model_.get_layer("output").activation.__name__ == "softmax"


def test_multilabel_gives_one_probability_per_label(eager):
    images, _ = squares(16, 3)
    y = np.array([[1, 0, 1], [0, 1, 1], [1, 1, 0], [0, 0, 1]] * 4)
    model = CNNClassifier(**FAST).fit(images, y)
    proba = model.predict_proba(images)
    assert model.task_ == "multilabel" and proba.shape == (16, 3)
    assert ((proba > 0) & (proba < 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1.0)
    assert set(np.unique(model.predict(images))) <= {0, 1}


@pytest.fixture(scope="module")
def separable():
    train = squares(96, 10)
    test = squares(100, 11)
    return train, test


def test_small_cnn_learns_an_easy_separable_task(separable):
    (images, y), (test_images, test_y) = separable
    model = CNNClassifier(**{**FAST, "epochs": 10, "learning_rate": 3e-3})
    model.fit(images, y)
    assert f1_score(test_y, model.predict(test_images)) > 0.9
    assert model.history_["loss"][-1] < model.history_["loss"][0]


def test_small_cnn_stays_near_chance_on_labels_unrelated_to_the_images(separable):
    (images, _), (test_images, _) = separable
    rng = np.random.default_rng(3)
    y, test_y = rng.integers(0, 2, len(images)), rng.integers(0, 2, len(test_images))
    model = CNNClassifier(**{**FAST, "epochs": 10, "learning_rate": 3e-3})
    model.fit(images, y)
    assert 0.35 <= accuracy_score(test_y, model.predict(test_images)) <= 0.65


def test_same_seed_repeats_predictions_and_another_seed_differs(eager, data):
    params = {**FAST, "epochs": 2, "augment": True}
    first = CNNClassifier(**params, random_state=7).fit(*data).predict_proba(data[0])
    again = CNNClassifier(**params, random_state=7).fit(*data).predict_proba(data[0])
    other = CNNClassifier(**params, random_state=8).fit(*data).predict_proba(data[0])
    np.testing.assert_allclose(first, again, atol=1e-5)
    assert np.abs(first - other).max() > 1e-4


@pytest.fixture(scope="module")
def deep_augmented(data):
    """A deep CNN fitted with strong rotations (shared by the tests below)."""
    return CNNClassifier("deep", **{**FAST, "augment": {"rotation": 0.2}}).fit(*data)


def test_save_load_and_pickle_give_identical_predictions(deep_augmented, data, tmp_path):
    model, images = deep_augmented, data[0]
    expected = model.predict_proba(images)
    model.save(tmp_path / "cnn")
    assert (tmp_path / "cnn" / "model.keras").is_file()
    loaded = load_model(tmp_path / "cnn")
    assert type(loaded) is CNNClassifier and loaded.architecture == "deep"
    np.testing.assert_array_equal(loaded.predict_proba(images), expected)
    assert loaded.history_ == model.history_
    unpickled = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(unpickled.predict_proba(images), expected)


def test_augmentation_is_active_in_training_only(deep_augmented, data):
    model, images = deep_augmented, data[0]
    np.testing.assert_array_equal(model.predict_proba(images), model.predict_proba(images))
    x = model._model_input(images)
    block = model.model_.get_layer("augmentation")
    np.testing.assert_array_equal(np.asarray(block(x, training=False)), x)
    assert np.abs(np.asarray(block(x, training=True)) - x).max() > 0.1


def test_augmentation_settings_are_validated():
    assert training.resolve_augmentation(False) is None
    assert training.resolve_augmentation({"flip": None})["flip"] is None
    with pytest.raises(ValueError, match="unknown keys"):
        training.resolve_augmentation({"shear": 0.1})
    with pytest.raises(ValueError, match=r"augment\['rotation'\]"):
        training.resolve_augmentation({"rotation": 2})


def test_target_val_loss_stops_training_early(eager, data):
    params = {**FAST, "epochs": 6, "validation_split": 0.25}
    model = CNNClassifier(**params, target_val_loss=10.0).fit(*data)
    assert model.n_epochs_ == 1 and model.history_["val_loss"][0] < 10.0
    with pytest.raises(ValueError, match="target_val_loss needs validation data"):
        CNNClassifier(**FAST, target_val_loss=0.5).fit(*data)


def test_validation_data_is_used_and_checked(eager, data):
    images, y = data
    model = CNNClassifier(**{**FAST, "epochs": 2, "early_stopping_patience": 1})
    model.fit(images[:16], y[:16], validation_data=(images[16:], y[16:]))
    assert len(model.history_["val_loss"]) == model.n_epochs_ <= 2
    with pytest.raises(ValueError, match="not seen in training"):
        model.fit(images[:16], y[:16], validation_data=(images[16:], y[16:] + 5))


def test_class_weight_moves_the_decision_towards_the_rare_class():
    # Blank images leave the model only a constant to learn; weighted
    # cross-entropy is minimised at p = w1*n1 / (w1*n1 + w0*n0), which is
    # 4/24 = 0.17 unweighted and 20/40 = 0.5 with the rare class weighted
    # 5:1 ("balanced" gives 24/8 : 24/40, the same ratio).
    images = np.zeros((24, 16, 16), np.uint8)
    y = np.array([1] * 4 + [0] * 20)
    params = {**FAST, "image_size": 16, "epochs": 20, "batch_size": 24,
              "learning_rate": 0.1, "dropout": 0.0}
    for class_weight in ({1: 5}, "balanced"):
        model = CNNClassifier(**params, class_weight=class_weight).fit(images, y)
        assert model.predict_proba(images[:1])[0, 1] == pytest.approx(0.5, abs=0.06)


def test_mixed_precision_is_local_to_the_model(eager, data):
    import keras

    before = keras.config.dtype_policy().name
    model = CNNClassifier(**FAST, mixed_precision=True).fit(*data)
    assert keras.config.dtype_policy().name == before
    assert model.model_.get_layer("block1_conv1").dtype_policy.name == "mixed_float16"
    assert model.model_.get_layer("output").dtype_policy.name == "float32"
    assert model.predict_proba(data[0]).dtype == np.float64


def test_verbose_zero_prints_nothing_and_two_prints_epochs(eager, data, capsys):
    CNNClassifier(**FAST, verbose=0).fit(*data)
    assert capsys.readouterr().out == ""
    CNNClassifier(**FAST, verbose=2).fit(*data)
    assert "loss:" in capsys.readouterr().out


def test_images_of_mixed_sizes_and_dtypes_are_accepted(eager):
    images = [np.zeros((30, 50), np.uint8), np.ones((64, 40), np.float32),
              np.full((20, 20), 60000, np.uint16), np.zeros((33, 33), np.uint8)]
    model = CNNClassifier(**FAST).fit(images, [0, 1, 1, 0])
    assert model.predict_proba(images).shape == (4, 2)


@pytest.mark.parametrize("params, error, match", [
    ({"architecture": "huge"}, ValueError, "'architecture' .* must be a str among"),
    ({"image_size": 4}, ValueError, "image_size"),
    ({"image_size": 8, "architecture": "deep"}, ValueError, "too small for 4 pooling"),
    ({"epochs": 0}, ValueError, r"'epochs' .* must be an int in the range \[1, inf\)"),
    ({"batch_size": 2.5}, ValueError, "batch_size"),
    ({"filters": (16, -1)}, ValueError, "filters must be"),
    ({"dropout": 1.0}, ValueError, r"'dropout' .* in the range \[0.0, 1.0\)"),
    ({"learning_rate": -1e-3}, ValueError, "learning_rate"),
    ({"validation_split": 1.0}, ValueError, "validation_split"),
    ({"verbose": 3}, ValueError, r"'verbose' .* among \{0, 1, 2\}"),
    ({"mixed_precision": "yes"}, TypeError, "mixed_precision"),
    ({"augment": "strong"}, TypeError, "augment must be"),
    ({"class_weight": "rare"}, ValueError, "'class_weight' .* must be"),
])
def test_invalid_parameters_are_reported_in_fit(eager, data, params, error, match):
    with pytest.raises(error, match=match):
        CNNClassifier(**{**FAST, **params}).fit(*data)


def test_sklearn_parameter_checks_and_clone():
    model = CNNClassifier(architecture="deep", filters=(8, 16), epochs=3)
    check_no_attributes_set_in_init("CNNClassifier", model)
    check_get_params_invariance("CNNClassifier", model)
    check_set_params("CNNClassifier", model)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model


def test_importing_the_model_module_does_not_import_keras():
    import subprocess
    import sys

    code = ("import sys, classifiers.keras_models, classifiers.transfer, "
            "classifiers.training; print('keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
