"""TransferClassifier: backbones, two-stage fine-tuning, local weights, saving.

No test downloads ImageNet weights: backbones are built with ``weights=None``
or from a weights file written in ``tmp_path``, at their minimum input size.
"""


import numpy as np
import pytest

from classifiers import load_model, training
from classifiers.transfer import BACKBONES, TransferClassifier, _backbone_of

FAST = dict(weights=None, epochs_frozen=1, epochs_finetune=0, batch_size=8,
            augment=False, early_stopping_patience=None, reduce_lr_patience=None,
            validation_split=0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 80, (8, 40, 40)).astype(np.uint8)
    y = np.arange(8) % 2
    images[y == 1, 10:30, 10:30] = 220
    return images, y


def weights_file(directory, name, size, *, suffix=".weights.h5"):
    """Save a randomly initialised backbone (no top) and return it and the path."""
    import keras

    backbone = getattr(keras.applications, BACKBONES[name].application)(
        include_top=False, weights=None, input_shape=(size, size, 3))
    path = directory / f"{name}{suffix}"
    if suffix == ".keras":
        backbone.save(path)
    else:
        backbone.save_weights(path)
    return backbone, path


def test_backbone_table_lists_minimum_and_default_sizes():
    assert sorted(BACKBONES) == ["efficientnet-lite0", "efficientnet-lite1",
                                 "efficientnet-lite2", "efficientnetb0", "inceptionv3",
                                 "mobilenetv2", "resnet50", "xception"]
    assert BACKBONES["efficientnet-lite2"].default_size == 260
    assert BACKBONES["inceptionv3"].min_size == 75
    assert BACKBONES["xception"].min_size == 71
    assert BACKBONES["mobilenetv2"].default_size == 224
    assert BACKBONES["xception"].default_size == 299


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_builds_fits_and_predicts_binary(eager, data, name):
    images, y = data
    model = TransferClassifier(name, image_size=BACKBONES[name].min_size, **FAST)
    proba = model.fit(images, y).predict_proba(images)
    assert proba.shape == (8, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    backbone = _backbone_of(model.model_)
    # No pretrained weights: the whole backbone trains, batch norm included.
    assert backbone.count_params() > 1e6 and backbone.trainable
    assert all(layer.trainable for layer in backbone.layers)
    assert model.model_.input_shape == (None, BACKBONES[name].min_size,
                                        BACKBONES[name].min_size, 1)
    assert model.n_epochs_ == 1


def test_multiclass_and_multilabel(eager, data):
    images, _ = data
    multiclass = TransferClassifier(image_size=32, **FAST).fit(images, np.arange(8) % 3)
    proba = multiclass.predict_proba(images)
    assert proba.shape == (8, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    indicator = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 2)
    multilabel = TransferClassifier(image_size=32, **FAST).fit(images, indicator)
    assert multilabel.task_ == "multilabel"
    assert multilabel.predict_proba(images).shape == (8, 2)
    assert multilabel.predict(images).shape == (8, 2)


def test_fine_tuning_unfreezes_top_layers_but_not_batch_norm(eager, data, tmp_path):
    import keras

    _, path = weights_file(tmp_path, "mobilenetv2", 32)
    model = TransferClassifier(image_size=32, **{**FAST, "epochs_finetune": 1,
                                                 "weights": str(path)},
                               fine_tune_layers=6, head_units=None)
    model.fit(*data)
    backbone = _backbone_of(model.model_)
    top = backbone.layers[-6:]
    assert all(layer.trainable != isinstance(layer, keras.layers.BatchNormalization)
               for layer in top)
    assert not any(layer.trainable for layer in backbone.layers[:-6])
    assert model.n_epochs_ == 2
    np.testing.assert_allclose(model.history_["learning_rate"], [1e-3, 1e-5], rtol=1e-4)


def test_stage_two_changes_only_the_unfrozen_layers(eager, data, tmp_path):
    initial, path = weights_file(tmp_path, "mobilenetv2", 32)
    model = TransferClassifier(image_size=32, **{**FAST, "weights": str(path),
                                                 "epochs_finetune": 1},
                               fine_tune_layers=3, finetune_learning_rate=1e-2)
    model.fit(*data)
    backbone = _backbone_of(model.model_)
    first, last = backbone.get_layer("Conv1"), backbone.get_layer("Conv_1")
    np.testing.assert_array_equal(first.get_weights()[0],
                                  initial.get_layer("Conv1").get_weights()[0])
    assert not np.array_equal(last.get_weights()[0],
                              initial.get_layer("Conv_1").get_weights()[0])


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_local_weights_file_is_loaded_into_the_backbone(eager, data, tmp_path, suffix):
    source, path = weights_file(tmp_path, "mobilenetv2", 32, suffix=suffix)
    # Weights do not depend on the input size: load 32-pixel weights at 48.
    model = TransferClassifier(image_size=48, **{**FAST, "weights": path}).fit(*data)
    loaded = _backbone_of(model.model_).get_weights()
    assert len(loaded) == len(source.get_weights()) > 100
    for expected, got in zip(source.get_weights(), loaded):
        np.testing.assert_array_equal(got, expected)


def test_weights_errors_are_clear(data, tmp_path):
    with pytest.raises(ValueError, match="weights file not found: '.*missing.weights.h5'"):
        TransferClassifier(image_size=32, **{**FAST, "weights": tmp_path / "missing.weights.h5"}
                           ).fit(*data)
    (tmp_path / "notes.txt").write_text("not weights")
    with pytest.raises(ValueError, match="must end in one of"):
        TransferClassifier(image_size=32, **{**FAST, "weights": tmp_path / "notes.txt"}
                           ).fit(*data)
    with pytest.raises(TypeError, match="weights must be 'imagenet', None or a file path"):
        TransferClassifier(image_size=32, **{**FAST, "weights": 3}).fit(*data)


def test_weights_of_another_architecture_are_rejected(data, tmp_path):
    import keras

    half_width = keras.applications.MobileNetV2(alpha=0.5, include_top=False, weights=None,
                                                input_shape=(32, 32, 3))
    half_width.save_weights(tmp_path / "half.weights.h5")
    with pytest.raises(ValueError, match="do not fit backbone 'mobilenetv2'"):
        TransferClassifier(image_size=32, **{**FAST, "weights": tmp_path / "half.weights.h5"}
                           ).fit(*data)


def test_save_load_gives_identical_predictions(eager, data, tmp_path):
    images, y = data
    model = TransferClassifier(image_size=32, **{**FAST, "augment": True}).fit(images, y)
    expected = model.predict_proba(images)
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert type(loaded) is TransferClassifier and loaded.backbone == "mobilenetv2"
    # The fitted model predicts eagerly (the `eager` fixture), the reloaded
    # one through a traced graph whose fused kernels round differently; a
    # 150-layer backbone trained end to end carries that to about 1e-4.
    np.testing.assert_allclose(loaded.predict_proba(images), expected, rtol=0, atol=1e-3)
    sidecar = (tmp_path / "model" / "model.json").read_text()
    assert "keras.applications.mobilenet_v2.preprocess_input" in sidecar


@pytest.mark.parametrize("module, gray, expected", [
    ("mobilenet_v2", [0.0, 255.0], [[-1.0] * 3, [1.0] * 3]),
    ("resnet50", [0.0, 100.0], [[-103.939, -116.779, -123.68],
                                [100 - 103.939, 100 - 116.779, 100 - 123.68]]),
    ("efficientnet", [7.0, 255.0], [[7.0] * 3, [255.0] * 3]),
])
def test_backbone_preprocessing_matches_keras_preprocess_input(module, gray, expected):
    layer = training.keras_objects().BackbonePreprocessing(module)
    out = np.asarray(layer(np.array(gray, np.float32).reshape(1, 1, 2, 1)))
    np.testing.assert_allclose(out.reshape(2, 3), expected, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="module must be one of"):
        training.keras_objects().BackbonePreprocessing("os")


@pytest.mark.parametrize("params, error, match", [
    ({"backbone": "vgg16"}, ValueError, "'backbone' .* must be a str among"),
    ({"backbone": "inceptionv3", "image_size": 64}, ValueError,
     "image_size must be >= 75 for backbone 'inceptionv3'"),
    ({"backbone": "xception", "image_size": 70}, ValueError, ">= 71"),
    ({"fine_tune_layers": -1}, ValueError, "fine_tune_layers"),
    ({"epochs_frozen": 0}, ValueError, "epochs_frozen"),
    ({"head_dropout": 1.5}, ValueError, "head_dropout"),
    ({"finetune_learning_rate": 0}, ValueError, "finetune_learning_rate"),
    ({"head_units": 0}, ValueError, "head_units"),
])
def test_invalid_parameters_are_reported_in_fit(data, params, error, match):
    with pytest.raises(error, match=match):
        TransferClassifier(**{**FAST, "image_size": 32, **params}).fit(*data)


def test_failed_imagenet_download_names_the_offline_alternatives(data, monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid: None -- offline")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(ConnectionError, match="pass weights=<path to a local copy"):
        TransferClassifier(image_size=96, **{**FAST, "weights": "imagenet"}).fit(*data)
