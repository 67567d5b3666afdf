"""Saving and loading: identical predictions, clear errors, no unpickling."""

import json

import numpy as np
import pytest

from classifiers import persistence
from classifiers.persistence import ModelLoadError, decode_value, encode_value, load_model
from classifiers.xgb import FeatureXGBClassifier


def bar_images(n, *, seed, size=32):
    """Noise (0-99) with a bright vertical bar (220) left and/or right."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 100, (n, size, size), dtype=np.uint8)
    indicator = rng.integers(0, 2, (n, 2))
    for i, (left, right) in enumerate(indicator):
        if left:
            images[i, 4:28, 6:10] = 220
        if right:
            images[i, 4:28, 22:26] = 220
    return images, indicator


@pytest.fixture(scope="module")
def saved_binary(tmp_path_factory):
    images, indicator = bar_images(40, seed=0)
    model = FeatureXGBClassifier("edge", image_size=32, n_estimators=15, random_state=0)
    model.fit(images, indicator[:, 0])
    return model, model.save(tmp_path_factory.mktemp("models") / "edge-xgb"), images


def test_save_load_gives_identical_probabilities(saved_binary):
    model, directory, images = saved_binary
    loaded = load_model(directory)
    assert type(loaded) is FeatureXGBClassifier
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.feature_names_.tolist() == model.feature_names_.tolist()
    np.testing.assert_array_equal(loaded.feature_importances_, model.feature_importances_)
    # pointing at the sidecar itself works as well
    assert load_model(directory / "model.json").task_ == "binary"
    assert (directory / "model.ubj").is_file()


def test_sidecar_records_versions_and_preprocessing(saved_binary):
    _, directory, _ = saved_binary
    sidecar = json.loads((directory / "model.json").read_text())
    assert sidecar["estimator"] == "classifiers.xgb.FeatureXGBClassifier"
    assert sidecar["preprocessing"]["image_size"] == 32
    assert sidecar["versions"]["xgboost"] is not None
    assert sidecar["params"]["features"] == "edge"


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_round_trip_of_other_tasks_and_an_extractor_instance(tmp_path, task):
    from xray_features import make_features

    images, indicator = bar_images(45, seed=1)
    y = (np.array(["none", "one", "two"])[indicator.sum(axis=1)] if task == "multiclass"
         else indicator)
    model = FeatureXGBClassifier(make_features("edge"), image_size=32, n_estimators=10,
                                 early_stopping_rounds=3)
    model.fit(images[:30], y[:30], validation_data=(images[30:], y[30:]))
    loaded = load_model(model.save(tmp_path / task))
    assert loaded.task_ == task and type(loaded.features) is type(model.features)
    assert loaded.features.get_params() == model.features.get_params()
    assert loaded.best_iteration_ == model.best_iteration_
    assert loaded.history_ == model.history_
    np.testing.assert_array_equal(loaded.predict_proba(images), model.predict_proba(images))
    np.testing.assert_array_equal(loaded.predict(images), model.predict(images))


def test_missing_path(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file or directory") as info:
        load_model(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(info.value)
    assert isinstance(info.value, ValueError)


def test_directory_without_sidecar_and_plain_file(tmp_path):
    with pytest.raises(ModelLoadError, match="no model.json"):
        load_model(tmp_path)
    (tmp_path / "model.ubj").write_bytes(b"\x00")
    with pytest.raises(ModelLoadError, match="got a file"):
        load_model(tmp_path / "model.ubj")


def copy_model(directory, target):
    target.mkdir()
    for path in directory.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    return target


def edit_sidecar(directory, change):
    sidecar = json.loads((directory / "model.json").read_text())
    change(sidecar)
    (directory / "model.json").write_text(json.dumps(sidecar))


def test_corrupted_sidecar(saved_binary, tmp_path):
    directory = copy_model(saved_binary[1], tmp_path / "m")
    text = (directory / "model.json").read_text()
    (directory / "model.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelLoadError, match="model.json is corrupted"):
        load_model(directory)


@pytest.mark.parametrize("change, match", [
    (lambda s: s.update(format="pickle"), "format marker 'pickle'"),
    (lambda s: s.update(format_version=99), "newer than this installation"),
    (lambda s: s.update(format_version="1"), "invalid format_version"),
    (lambda s: s.pop("classes"), r"lacks required keys \['classes'\]"),
    (lambda s: s.update(task="regression"), "task 'regression'"),
    (lambda s: s.update(estimator="sklearn.linear_model.LogisticRegression"),
     "unknown estimator 'sklearn.linear_model.LogisticRegression'"),
    (lambda s: s.update(estimator="os.system"), "unknown estimator 'os.system'"),
    (lambda s: s["params"].update(features={"__estimator__": "os.path.join", "params": {}}),
     "not from an allowed package"),
    (lambda s: s["params"].update(no_such_param=1), "stored parameters .* invalid"),
    (lambda s: s["native"].update(file="../model.ubj"), "not a plain name"),
    (lambda s: s["native"].update(feature_names=["x"]), "different features"),
    (lambda s: s.update(versions=["xgboost", "2.0"]), "'versions' must be an object"),
    (lambda s: s.update(versions="xgboost 2.0"), "'versions' must be an object"),
    (lambda s: s["params"].update(image_size=10 ** 9), "image_size must be null"),
    (lambda s: s["params"].update(image_size=[64, 0]), "image_size must be null"),
])
def test_tampered_sidecar(saved_binary, tmp_path, change, match):
    directory = copy_model(saved_binary[1], tmp_path / "m")
    edit_sidecar(directory, change)
    with pytest.raises(ModelLoadError, match=match):
        load_model(directory)


def test_missing_or_corrupted_native_file(saved_binary, tmp_path):
    directory = copy_model(saved_binary[1], tmp_path / "m")
    (directory / "model.ubj").write_bytes(b"not a booster")
    with pytest.raises(ModelLoadError, match="does not match the checksum"):
        load_model(directory)
    edit_sidecar(directory, lambda s: s.pop("checksums"))  # as saved by earlier versions
    with pytest.raises(ModelLoadError, match="native model file could not be read"):
        load_model(directory)
    (directory / "model.ubj").unlink()
    with pytest.raises(ModelLoadError, match="native model file could not be read"):
        load_model(directory)


def test_library_major_version_change_warns(saved_binary, tmp_path):
    directory = copy_model(saved_binary[1], tmp_path / "m")
    edit_sidecar(directory, lambda s: s["versions"].update(xgboost="1.7.6"))
    with pytest.warns(UserWarning, match="saved with xgboost 1.7.6"):
        load_model(directory)


def test_whitelist_is_explicit():
    assert set(persistence.ESTIMATOR_CLASSES) == {
        "classifiers.xgb.FeatureXGBClassifier",
        "classifiers.linear.LinearProbeClassifier",
        "classifiers.hybrid.HybridXGBClassifier",
        "classifiers.keras_models.CNNClassifier",
        "classifiers.transfer.TransferClassifier",
        "classifiers.ensemble.EnsembleClassifier",
    }


@pytest.mark.parametrize("value", [
    None, True, 3, 0.25, "hog", (64, 64), [1, (2, 3)], {1: 5.0, "a": None},
    {(1, 2): "pair"}, float("inf"),
])
def test_parameter_values_round_trip_through_json(value):
    stored = json.loads(json.dumps(encode_value(value)))
    assert decode_value(stored) == value


def test_arrays_round_trip_and_objects_are_refused():
    array = np.arange(6, dtype=np.int16).reshape(2, 3)
    back = decode_value(json.loads(json.dumps(encode_value(array))))
    assert back.dtype == np.int16 and np.array_equal(back, array)
    with pytest.raises(TypeError, match="'seed'.*RandomState"):
        encode_value(np.random.RandomState(0), name="seed")
    with pytest.raises(TypeError, match="only estimators from"):
        from sklearn.preprocessing import StandardScaler

        encode_value(StandardScaler(), name="features")


def test_path_parameters_are_stored_as_strings():
    from pathlib import Path

    from classifiers.persistence import decode_value, encode_value

    assert decode_value(encode_value(Path("weights") / "backbone.weights.h5")) == \
        str(Path("weights") / "backbone.weights.h5")
