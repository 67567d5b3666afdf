"""Tests of ``xray-bench predict --ood`` and ``--explain`` and of ``predict_files``."""

import json
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.bench.ood_sets import photo_like
from benchmarks.predict import predict_files
from classifiers import FeatureXGBClassifier
from xray_features.synthetic import make_phantom_dataset


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    images, labels, names = make_phantom_dataset("fracture", n_images=90, size=64, seed=2,
                                                 difficulty="easy")
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=20)
    model.fit(images[:60], labels[:60], validation_data=(images[60:80], labels[60:80]))
    directory = model.save(root / "model")
    (directory / "input.json").write_text(json.dumps(
        {"class_names": list(names), "task": "binary", "load_size": None}))
    files = []
    for i in (80, 81):
        path = root / f"film{i}.png"
        path.write_bytes(cv2.imencode(".png", images[i])[1].tobytes())
        files.append(path)
    photo = root / "photo.jpg"
    rgb = photo_like(np.random.default_rng(0), 80)
    photo.write_bytes(cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes())
    files.append(photo)
    return directory, files, root


def test_refuse_gives_no_label_and_a_reason(setup, tmp_path, capsys):
    directory, files, _ = setup
    out = tmp_path / "out.csv"
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "film80.png").write_bytes(b"mine")         # not the toolkit's: kept
    code = main(["predict", str(directory), *map(str, files), "--ood", "refuse",
                 "--explain", str(overlays), "--output", str(out), "--quiet"])
    assert code == 0
    table = pd.read_csv(out, keep_default_na=False)
    assert {"ood_score", "ood_flag", "ood_reason", "explanation"} <= set(table.columns)
    films, photo = table.iloc[:2], table.iloc[2]
    assert (films["label"] != "").all() and not films["ood_flag"].astype(bool).any()
    assert photo["label"] == "" and photo["proba_fracture"] == ""
    assert "colour image" in photo["ood_reason"]
    assert "1 of 3 image(s) refused" in capsys.readouterr().err
    written = sorted(p.name for p in overlays.iterdir())
    assert written == ["film80.explain.png", "film80.png", "film81.explain.png"]
    assert (overlays / "film80.png").read_bytes() == b"mine"
    picture = cv2.imread(str(overlays / "film80.explain.png"))
    assert picture.shape == (64, 64, 3)


def test_flag_answers_and_off_does_not_check(setup):
    directory, files, _ = setup
    flagged = predict_files(directory, files, ood="flag")
    assert flagged["label"].notna().all() and flagged["ood_flag"].tolist() == \
        [False, False, True]
    off = predict_files(directory, files, ood="off")
    assert off["ood_score"].isna().all() and not off["ood_flag"].any()
    assert np.allclose(off["proba_fracture"], flagged["proba_fracture"])
    with pytest.raises(ValueError, match="--ood must be one of"):
        predict_files(directory, files, ood="maybe")


def test_old_model_predicts_without_a_guard_and_says_so(setup, tmp_path, capsys):
    directory, files, _ = setup
    old = shutil.copytree(directory, tmp_path / "old")
    sidecar = json.loads((old / "model.json").read_text())
    del sidecar["ood_guard"]
    (old / "model.json").write_text(json.dumps(sidecar))
    assert main(["predict", str(old), str(files[0]), "--quiet"]) == 0
    assert "no OOD guard (model saved by an earlier version)" in capsys.readouterr().err
    table = predict_files(old, files[:1])
    assert table["label"].iloc[0] in ("intact", "fracture")
