"""Test-time augmentation of the Keras classifiers (classifiers._tta, ``tta``)."""

import json

import numpy as np
import pytest

from classifiers import _tta, load_model, training
from classifiers._tta import View, apply_view, resolve_tta, tta_views
from classifiers.keras_models import CNNClassifier
from classifiers.transfer import TransferClassifier
from xray_features.image_source import ImageSource

FAST = dict(image_size=32, epochs=1, batch_size=8, augment=False,
            early_stopping_patience=None, reduce_lr_patience=None,
            validation_split=0)


@pytest.fixture(scope="module")
def fitted():
    """A small CNN fitted on 32-px noise with a bright square in class 1, and
    its images (already at the model's size, so a lazy source reads them
    unchanged)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 80, (20, 32, 32)).astype(np.uint8)
    y = np.arange(20) % 2
    images[y == 1, 8:20, 10:22] = 230
    return CNNClassifier(**FAST).fit(images, y), images


def mean_model(n_outputs, activation=None):
    """Keras model whose outputs are the image mean times (1, 2, ...)."""
    import keras

    inputs = keras.Input((32, 32, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(n_outputs, activation=activation)
    outputs = dense(x)
    dense.set_weights([np.arange(1, n_outputs + 1, dtype=np.float32)[None],
                       np.zeros(n_outputs, np.float32)])
    return keras.Model(inputs, outputs)


def with_model(estimator, model, classes, task):
    """``estimator`` as if fitted, predicting with ``model``."""
    estimator.model_, estimator.classes_, estimator.task_ = model, np.asarray(classes), task
    return estimator


def edge_profile(side, zoom):
    """Fraction of a 1-D constant signal kept by a bilinear zoom about the
    centre, with 0 outside (what a zoom does to each axis of a constant
    image)."""
    centre = (side - 1) / 2
    source = (np.arange(side) - (1 - zoom) * centre) / zoom
    outside = np.maximum(0 - source, source - (side - 1)).clip(0, None)
    return np.clip(1 - outside, 0, 1).mean()


# ------------------------------------------------------------ parameter
def test_tta_is_off_by_default_in_both_classes():
    assert CNNClassifier().get_params()["tta"] is False
    assert TransferClassifier().get_params()["tta"] is False


def test_tta_off_predicts_exactly_what_the_network_outputs(fitted):
    model, images = fitted
    scores = np.asarray(model.model_.predict(model._model_input(images), batch_size=8,
                                             verbose=0), dtype=np.float64)
    proba = model.predict_proba(images)
    np.testing.assert_array_equal(proba, np.column_stack([1 - scores[:, 0], scores[:, 0]]))
    np.testing.assert_array_equal(model.set_params(tta=None).predict_proba(images), proba)
    model.set_params(tta=False)


def test_tta_on_is_deterministic_and_moves_the_probabilities(fitted):
    model, images = fitted
    plain = model.predict_proba(images)
    first = model.set_params(tta=True).predict_proba(images)
    again = model.predict_proba(images)
    model.set_params(tta=False)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first.sum(axis=1), 1.0)
    assert 1e-6 < np.abs(first - plain).max() < 0.5


def test_default_views_are_the_original_four_shifts_and_two_zooms():
    views = tta_views(resolve_tta(True), (64, 64))  # 4% of 64 = 2.56 -> 3 pixels
    assert views == (View(), View(dy=3), View(dy=-3), View(dx=3), View(dx=-3),
                     View(zoom=0.95), View(zoom=1.05))
    assert not any(view.flip for view in views)
    assert tta_views(resolve_tta({"flip": True}), (64, 64))[-1] == View(flip=True)
    assert tta_views(resolve_tta({"shifts": 0, "scales": ()}), (64, 64)) == (View(),)
    # a shift of less than half a pixel is no view at all
    assert tta_views(resolve_tta({"scales": ()}), (10, 40)) == (
        View(), View(dx=2), View(dx=-2))


# ---------------------------------------------------------------- views
@pytest.mark.parametrize("view, expected", [
    (View(dy=2), (12, 5)), (View(dy=-2), (8, 5)), (View(dx=2), (10, 7)),
    (View(dx=-2), (10, 3)), (View(flip=True), (10, 44 - 1 - 5)), (View(), (10, 5)),
])
def test_a_bright_pixel_moves_by_the_stated_pixels(view, expected):
    image = np.zeros((1, 40, 44, 1), np.float32)
    image[0, 10, 5] = 1.0
    out = apply_view(image, view)
    assert out.shape == image.shape and out.dtype == np.float32
    assert np.argwhere(out[0, ..., 0] == 1).tolist() == [list(expected)]
    assert out.sum() == 1.0 and image[0, 10, 5] == 1.0  # moved, input untouched


def test_a_shift_past_the_border_leaves_zeros():
    image = np.zeros((1, 8, 8, 1), np.float32)
    image[0, 0, :] = 1.0  # top row
    assert apply_view(image, View(dy=-1)).max() == 0
    assert apply_view(image, View(dy=1))[0, 1, :, 0].tolist() == [1.0] * 8
    assert apply_view(image, View(dy=9)).max() == 0


@pytest.mark.parametrize("zoom", [0.95, 1.05])
def test_zoom_keeps_the_centre_and_pads_with_zero(zoom):
    image = np.zeros((1, 31, 31, 1), np.float32)
    image[0, 15, 15] = 1.0
    out = apply_view(image, View(zoom=zoom))[0, ..., 0]
    assert np.unravel_index(out.argmax(), out.shape) == (15, 15)
    constant = apply_view(np.ones((1, 32, 32, 1), np.float32), View(zoom=zoom))[0, ..., 0]
    assert constant.mean() == pytest.approx(edge_profile(32, zoom) ** 2, abs=2e-3)
    if zoom < 1:  # the border pixels blend with the 0 outside
        assert constant[0, 0] < 0.2 and constant[1:-1, 1:-1].min() == pytest.approx(1)
    else:  # every pixel comes from inside the image
        assert constant.min() == pytest.approx(1)


# ----------------------------------------------- averaging, known answers
@pytest.mark.parametrize("cls, scale", [(CNNClassifier, 1 / 255), (TransferClassifier, 1.0)])
def test_a_mean_only_model_gives_the_mean_over_the_views(cls, scale):
    images = np.full((3, 32, 32), 200, np.uint8)
    images[1] = 100
    estimator = with_model(cls(image_size=32, batch_size=2), mean_model(1), [0, 1], "binary")
    value = images.mean(axis=(1, 2)) * scale
    # shifts only: 4% of 32 = 1.28 -> 1 pixel, so a shifted view loses one
    # row or column of 32: mean = (value + 4 * value * 31 / 32) / 5
    estimator.set_params(tta={"scales": ()})
    expected = value * (1 + 4 * 31 / 32) / 5
    np.testing.assert_allclose(estimator.predict_proba(images)[:, 1], expected, rtol=1e-5)
    # zooms only: 1.05 keeps every pixel of a constant image, 0.95 pads
    estimator.set_params(tta={"shifts": 0, "scales": (0.95, 1.05)})
    expected = value * (1 + edge_profile(32, 0.95) ** 2 + 1) / 3
    np.testing.assert_allclose(estimator.predict_proba(images)[:, 1], expected, rtol=1e-3)
    estimator.set_params(tta=False)
    np.testing.assert_allclose(estimator.predict_proba(images)[:, 1], value, rtol=1e-6)


def test_probabilities_are_averaged_and_the_output_contract_is_kept():
    images = np.full((5, 32, 32), 120, np.uint8)
    images[:, :4] = 255
    multiclass = with_model(CNNClassifier(image_size=32, tta=True),
                            mean_model(3, "softmax"), ["a", "b", "c"], "multiclass")
    proba = multiclass.predict_proba(images)
    assert proba.shape == (5, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    x = multiclass._model_input(images)
    views = tta_views(resolve_tta(True), (32, 32))
    by_view = [multiclass.model_.predict(apply_view(x, v), verbose=0) for v in views]
    np.testing.assert_allclose(proba, np.mean(by_view, axis=0), rtol=1e-6)
    multilabel = with_model(CNNClassifier(image_size=32, tta=True),
                            mean_model(2, "sigmoid"), [0, 1], "multilabel")
    proba = multilabel.predict_proba(images)
    assert proba.shape == (5, 2) and not np.allclose(proba.sum(axis=1), 1.0)
    assert multilabel.predict(images).shape == (5, 2)


# ------------------------------------------------------------- validation
@pytest.mark.parametrize("tta, match", [
    ("yes", "tta must be True, False or a dict"),
    (0.04, "tta must be True, False or a dict"),
    ({"shift": 0.04}, r"tta has unknown keys \['shift'\]"),
    ({"shifts": 0.5}, r"tta\['shifts'\] must be a fraction .* got 0.5"),
    ({"shifts": -0.01}, r"tta\['shifts'\]"),
    ({"shifts": True}, r"tta\['shifts'\]"),
    ({"scales": 0.95}, r"tta\['scales'\] must be a tuple"),
    ({"scales": (1.0,)}, "none equal to 1"),
    ({"scales": (0.95, 3)}, r"in \[0.5, 2.0\]"),
    ({"flip": "horizontal"}, r"tta\['flip'\] must be True or False"),
])
def test_bad_tta_values_raise_value_error(tta, match):
    with pytest.raises(ValueError, match=match):
        resolve_tta(tta)


def test_a_bad_tta_fails_in_fit_before_training_and_in_predict(fitted, monkeypatch):
    model, images = fitted
    monkeypatch.setattr(training, "fit_model", None)  # fitting would fail differently
    with pytest.raises(ValueError, match="tta must be"):
        CNNClassifier(**FAST, tta="on").fit(images, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"tta\['shifts'\]"):
        CNNClassifier(**FAST, tta={"shifts": 1}).fit(images, np.arange(20) % 2)
    model.set_params(tta={"flip": 1})
    try:
        with pytest.raises(ValueError, match=r"tta\['flip'\]"):
            model.predict_proba(images)
    finally:
        model.set_params(tta=False)


# ------------------------------------------------------- saving, lazy input
def test_save_and_load_keep_tta(fitted, tmp_path):
    model, images = fitted
    settings = {"shifts": 0.05, "scales": (0.9,), "flip": True}
    expected = model.set_params(tta=settings).predict_proba(images)
    try:
        model.save(tmp_path / "cnn")
    finally:
        model.set_params(tta=False)
    assert "tta" in json.loads((tmp_path / "cnn" / "model.json").read_text())["params"]
    loaded = load_model(tmp_path / "cnn")
    assert loaded.tta == settings
    np.testing.assert_array_equal(loaded.predict_proba(images), expected)


def test_a_lazy_source_is_augmented_batch_by_batch(fitted, monkeypatch):
    model, images = fitted
    expected = model.set_params(tta=True).predict_proba(images)
    seen = []
    original = _tta.apply_view

    def spy(batch, view):
        seen.append(len(batch))
        return original(batch, view)

    monkeypatch.setattr(_tta, "apply_view", spy)
    try:
        lazy = model.predict_proba(ImageSource(images, 32))
    finally:
        model.set_params(tta=False)
    np.testing.assert_allclose(lazy, expected, atol=1e-6)
    # 20 images in batches of 8, each under the 7 views, never more at once
    # (Keras may read the first batch twice to learn its shape)
    assert max(seen) == 8 and seen[-7:] == [4] * 7 and len(seen) % 7 == 0


def test_the_cli_reads_tta_true_and_the_run_checks_it_before_any_work(tmp_path):
    from benchmarks.cli.commands import _model_setting
    from benchmarks.runner import run_benchmark

    assert _model_setting("cnn.tta=true") == ("cnn", "tta", True)
    assert _model_setting('cnn.tta={"flip": true}') == ("cnn", "tta", {"flip": True})
    with pytest.raises(ValueError, match=r"model 'cnn'.*tta must be"):
        run_benchmark(data="phantoms:fracture", models=("cnn",),
                      model_params={"cnn": {"tta": "maybe"}}, out=tmp_path, quiet=True)
    assert not any(tmp_path.iterdir())
