"""Tests of the explanations: pointing game on phantoms, CAM under two backends."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.bench.bench_ood_explain import measure_pointing
from classifiers import FeatureXGBClassifier
from classifiers.explanations import explain, overlay, unpad

ROOT = Path(__file__).resolve().parents[1]


def squares(n=48, size=32, seed=0):
    """Dark noise; class 1 has a bright 8x8 square at a random place."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
    y = np.arange(n) % 2
    boxes = np.zeros((n, size, size), bool)
    for i in np.flatnonzero(y):
        r, c = rng.integers(2, size - 10, 2)
        images[i, r:r + 8, c:c + 8] = 230
        boxes[i, r:r + 8, c:c + 8] = True
    return images, y, boxes


def test_pointing_game_of_feature_models_on_small_phantoms():
    result = measure_pointing(("edge-xgb", "all-xgb"), n_train=160, n_test=40, size=128)
    for row in result["rows"]:
        assert row["accuracy"] >= 0.85, row
        assert row["correct_positives"] >= 15, row
        assert row["pointing_percent"] >= 80, row


def test_heatmaps_are_at_the_input_size_and_undo_padding():
    images, y, boxes = squares(40, 64)
    model = FeatureXGBClassifier("hog", image_size=64, n_estimators=20).fit(images, y)
    wide = np.zeros((40, 100), np.uint8)
    wide[10:30, 70:90] = 230
    import classifiers

    assert classifiers.explain is explain                 # the function, not a module
    result = classifiers.explain(model, [images[1], wide])
    assert result[0].heatmaps.shape == (2, 64, 64)
    assert result[1].heatmaps.shape == (2, 40, 100)
    assert np.allclose(result[0].heatmaps[0], -result[0].heatmaps[1])   # binary: sign flip
    names = [name for name, _ in result[0].top_features]
    assert len(names) == 10 and all(name.startswith("hog_") for name in names)
    heat = np.zeros((64, 64), np.float32)
    heat[16:48, :] = 1
    assert np.allclose(unpad(heat, (50, 100), (64, 64)), 1)


def test_overlay_colours_only_positive_evidence():
    image = np.full((8, 8), 100, np.uint8)
    heat = np.zeros((8, 8))
    heat[2, 3] = 1
    heat[5, 5] = -1
    out = overlay(image, heat)
    assert out.shape == (8, 8, 3)
    assert (out[5, 5] == 100).all() and (out[0, 0] == 100).all()
    assert not (out[2, 3] == 100).all()


def test_explain_refuses_unknown_models():
    with pytest.raises(TypeError, match="does not know how to explain"):
        from sklearn.dummy import DummyClassifier

        model = DummyClassifier().fit([[0], [1]], [0, 1])
        model._validate_images = lambda images: images
        explain(model, np.zeros((1, 8, 8), np.uint8))


CAM_SCRIPT = r"""
import numpy as np, sys
sys.path.insert(0, {root!r})
from tests.test_explain import squares
from classifiers import CNNClassifier
from classifiers.explanations import heatmap_peak
import keras
images, y, boxes = squares(48, 24)
model = CNNClassifier(image_size=24, epochs=8, augment=False, validation_split=0,
                      filters=(8, 16), dense_units=16, random_state=0,
                      batch_size=16).fit(images, y)
hits = total = 0
for i, result in enumerate(model.explain(images[:24])):
    assert result.heatmaps.shape == (2, 24, 24) and result.method == "cam"
    if y[i] == 1 and result.predicted == 1:
        total += 1
        hits += bool(boxes[i][heatmap_peak(result.heatmap(1))])
print(keras.backend.backend(), hits, total)
"""


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_cam_points_at_the_bright_square_under_each_backend(backend):
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", CAM_SCRIPT.format(root=str(ROOT))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    name, hits, total = done.stdout.split()[-3:]
    assert name == backend
    assert int(total) >= 8 and int(hits) >= 0.8 * int(total), done.stdout
