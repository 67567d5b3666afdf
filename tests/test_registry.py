"""The model registry: names, presets, overrides, lazy imports."""

import subprocess
import sys

import pytest

from classifiers.registry import available_models, describe_models, get_model, model_defaults

NAMES = ["edge-xgb", "hog-xgb", "texture-xgb", "all-xgb", "lite0-linear", "lite0-xgb",
         "hybrid-xgb", "cnn-small", "cnn", "mobilenetv2", "inceptionv3", "resnet50", "xception",
         "efficientnetb0", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"]


def test_all_models_are_listed_classical_first():
    names = available_models()
    assert sorted(names) == sorted(NAMES) and len(names) == len(NAMES)
    assert names[:4] == ["edge-xgb", "hog-xgb", "texture-xgb", "all-xgb"]


def test_describe_models_gives_one_line_per_model():
    records = describe_models()
    assert [r["name"] for r in records] == available_models()
    for record in records:
        assert set(record) == {"name", "kind", "description", "defaults"}
        assert record["description"] and "\n" not in record["description"]
        assert record["kind"] in {"xgboost", "linear", "keras", "keras-transfer"}
        assert record["defaults"] == model_defaults(record["name"])


@pytest.mark.parametrize("name, features", [
    ("edge-xgb", "edge"), ("hog-xgb", "hog"), ("texture-xgb", "texture"), ("all-xgb", "all"),
])
def test_xgb_presets_choose_their_features(name, features):
    model = get_model(name)
    assert type(model).__name__ == "FeatureXGBClassifier" and model.features == features


@pytest.mark.parametrize("name, cls, params", [
    ("lite0-linear", "LinearProbeClassifier", {"features": "lite0", "image_size": 224}),
    ("lite0-xgb", "FeatureXGBClassifier", {"features": "lite0", "image_size": 224}),
    ("hybrid-xgb", "HybridXGBClassifier", {"features": "all", "deep": "lite0"}),
    ("efficientnet-lite0", "TransferClassifier", {"backbone": "efficientnet-lite0",
                                                  "weights": "imagenet"}),
])
def test_pretrained_presets_read_imagenet_embeddings_or_weights(name, cls, params):
    model = get_model(name)
    assert type(model).__name__ == cls
    assert {key: model.get_params()[key] for key in params} == params


def test_overrides_win_over_preset_and_class_defaults():
    model = get_model("hog-xgb", n_estimators=7, image_size=64, features="edge")
    assert (model.n_estimators, model.image_size, model.features) == (7, 64, "edge")
    assert get_model("hog-xgb") is not get_model("hog-xgb")  # fresh every time


def test_model_defaults_returns_a_copy():
    defaults = model_defaults("cnn")
    assert defaults == {"architecture": "deep"}
    defaults["architecture"] = "tiny"
    assert model_defaults("cnn") == {"architecture": "deep"}
    assert model_defaults("cnn-small") == {"architecture": "small"}
    assert model_defaults("xception") == {"backbone": "xception"}


def test_names_are_forgiving_about_case_and_underscores():
    assert get_model("HOG_XGB").features == "hog"


@pytest.mark.parametrize("name, suggestion", [
    ("hog-xbg", "'hog-xgb'"), ("resnet5", "'resnet50'"), ("mobilenet", "'mobilenetv2'"),
])
def test_unknown_name_lists_close_matches_and_all_names(name, suggestion):
    with pytest.raises(ValueError, match=f"Did you mean {suggestion}") as info:
        get_model(name)
    assert "Available models: edge-xgb, hog-xgb" in str(info.value)
    with pytest.raises(ValueError, match="unknown model"):
        model_defaults(name)


def test_unknown_name_without_close_match_and_wrong_types():
    with pytest.raises(ValueError, match="unknown model 'svm'. Available models"):
        get_model("svm")
    with pytest.raises(TypeError, match="model name must be a str"):
        get_model(3)
    with pytest.raises(TypeError, match="'edge-xgb'.*does not accept"):
        get_model("edge-xgb", epochs=3)


def test_keras_presets_build_their_classes():
    cnn = get_model("cnn-small")
    assert type(cnn).__name__ == "CNNClassifier" and cnn.architecture == "small"
    assert get_model("cnn").architecture == "deep"
    transfer = get_model("efficientnetb0")
    assert type(transfer).__name__ == "TransferClassifier"
    assert transfer.backbone == "efficientnetb0"


def test_xgboost_presets_never_import_keras():
    code = ("import sys, classifiers; from classifiers.registry import describe_models; "
            "classifiers.get_model('all-xgb'); describe_models(); "
            "print(any(m in sys.modules for m in ('keras', 'tensorflow')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
