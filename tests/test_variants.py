"""Tests of NAME@SIZE model variants: parsing, checks at the boundary, a run with one."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import runner
from benchmarks.results.csv_cells import frame_to_csv, unescape_frame
from benchmarks.config import check_run_models
from benchmarks.runner import run_benchmark
from classifiers.variants import split_variant, variant_params


@pytest.mark.parametrize("name, message", [
    ("cnn@big", r"integer >= 8 .*got 'big'"),
    ("cnn@4", "integer >= 8"),
    ("cnn@", "integer >= 8"),
    ("cnn@6.5", "integer >= 8"),
    ("cnn@²", "integer >= 8"),
    ("@64", "name a preset before '@'"),
    ("cnn@99999", "at most"),
    ("cnn@064", "without leading zeros"),
])
def test_malformed_sizes_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        split_variant(name)


def test_parameters_come_from_the_preset_then_the_variant():
    params = {"cnn": {"epochs": 3, "batch_size": 8}, "cnn@64": {"epochs": 5},
              "cnn@32": {"image_size": 999}}
    assert variant_params("cnn@64", params) == {"epochs": 5, "batch_size": 8,
                                                "image_size": 64}
    assert variant_params("cnn@32", params)["image_size"] == 32  # the name wins
    assert variant_params("cnn", params) == {"epochs": 3, "batch_size": 8}


def test_unknown_presets_and_presets_without_a_size_are_refused(monkeypatch):
    from classifiers import registry

    with pytest.raises(ValueError, match="unknown model.s. hogg-xgb@64"):
        check_run_models(["hogg-xgb@64"], {})
    with pytest.raises(ValueError, match="unknown model.s. ensemble@64"):
        check_run_models(["ensemble@64"], {})
    with pytest.raises(ValueError, match="unknown model.s. cnnn@64"):
        check_run_models(["hog-xgb"], {"cnnn@64": {}})  # model_params keys too
    monkeypatch.setitem(registry._MODELS, "plain-logistic", (
        "sklearn", "sklearn.linear_model.LogisticRegression", {}, "no image size"))
    with pytest.raises(ValueError, match="has no image_size parameter"):
        check_run_models(["plain-logistic@64"], {})


def test_a_bad_variant_fails_before_data_loads_with_exit_2(tmp_path, monkeypatch, capsys):
    from benchmarks.cli import main

    monkeypatch.setattr(runner, "_load_dataset", lambda *a: pytest.fail("data loaded"))
    for models, message in (("hog-xgb,cnn-small@abc", "integer >= 8"),
                            ("hogg-xgb@64", "unknown model")):
        assert main(["run", "--models", models, "--out", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err
    # A variant of a transfer backbone below its smallest input is the
    # model's own check, also before any data.
    assert main(["run", "--models", "mobilenetv2@8", "--out", str(tmp_path / "x")]) == 2
    assert "image_size" in capsys.readouterr().err
    # The same checks for a configuration file's models and model_params.
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"models": ["hog-xgb@64"],
                                  "model_params": {"hog-xgb@64": {"n_estimators": -1}}}))
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "x")]) == 2
    assert "'hog-xgb@64'" in capsys.readouterr().err


def test_at_sign_survives_csv_cells_unquoted():
    frame = pd.DataFrame({"model": ["cnn-small@64", "@64"], "p": [0.5, 0.25]})
    text = frame_to_csv(frame)
    assert text.splitlines()[1] == "cnn-small@64,0.5"  # only a leading '@' is guarded
    assert text.splitlines()[2] == "'@64,0.25"
    from io import StringIO

    back = unescape_frame(pd.read_csv(StringIO(text)))
    assert back["model"].tolist() == ["cnn-small@64", "@64"]


def test_a_variant_is_a_model_of_its_own(tmp_path):
    from benchmarks.predict import predict_files
    from classifiers import load_model

    fast = {"epochs": 1, "augment": False, "batch_size": 16}
    results = run_benchmark(
        data="phantoms:fracture", dataset_options={"n_images": 40, "image_size": 32},
        models=("edge-xgb", "edge-xgb@24", "cnn-small@32"), image_size=16, n_bootstrap=50,
        model_params={"cnn-small": fast, "cnn-small@32": {"filters": [4, 8]},
                      "edge-xgb": {"n_estimators": 5}},
        out=tmp_path, quiet=True, save_models=True)
    assert results["model"].tolist() == ["edge-xgb", "edge-xgb@24", "cnn-small@32"]
    assert results["error"].tolist() == ["", "", ""]
    plain = load_model(tmp_path / "models" / "edge-xgb")
    resized = load_model(tmp_path / "models" / "edge-xgb@24")
    assert (plain.image_size, resized.image_size) == (16, 24)  # the variant's size wins
    assert resized.n_estimators == 5
    variant = load_model(tmp_path / "models" / "cnn-small@32")
    assert variant.image_size == 32 and tuple(variant.model_.input_shape[1:3]) == (32, 32)
    assert variant.epochs == 1 and list(variant.filters) == [4, 8]
    record = json.loads((tmp_path / "parts" / "cnn-small@32__fold0.json").read_text())
    assert record["params"] == {**fast, "filters": [4, 8], "image_size": 32}
    # A network sees its training set once per epoch it trained.
    row = results.set_index("model").loc["cnn-small@32"]
    assert np.isclose(row["train_images_per_second"],
                      row["n_train"] * len(record["history"]["loss"]) / row["fit_seconds"])
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert set(predictions["model"]) == {"edge-xgb", "edge-xgb@24", "cnn-small@32"}
    assert (tmp_path / "plots" / "confusion_cnn-small@32.png").is_file()
    # xray-bench predict loads the saved variant and works at its size.
    import cv2

    from benchmarks import load_dataset

    image = load_dataset("phantoms:fracture", n_images=2, image_size=32).images[0]
    cv2.imwrite(str(tmp_path / "film.png"), image)
    table = predict_files(tmp_path / "models" / "cnn-small@32", [tmp_path / "film.png"])
    assert table["error"].tolist() == [""]
    assert np.isclose(table[["proba_intact", "proba_fracture"]].to_numpy().sum(), 1.0)
