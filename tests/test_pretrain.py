"""Rotation pretraining: pixels of the training split only, weights for transfer."""

import json

import numpy as np
import pytest

from classifiers import TransferClassifier
from classifiers.pretrain import _rotation_feeder, pretrain_rotation
from classifiers.transfer import _backbone_of


def test_feeder_shows_every_image_in_four_labelled_rotations():
    x = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3, 1)
    batches = _rotation_feeder()(x, batch_size=2, seed=0)
    images, labels = batches[0]
    assert images.shape == (8, 3, 3, 1)
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 2, 2, 3, 3])
    for k in range(4):
        for image in images[labels == k]:
            # Undoing rotation k gives back one of the originals.
            back = np.rot90(image, -k, axes=(0, 1))
            assert any(np.array_equal(back, original) for original in x)


def test_pretrained_backbone_is_accepted_by_the_classifier(eager, tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (10, 40, 40)).astype(np.uint8)
    images[:, :12, 14:26] = 230  # an "up" marker a network can learn from
    record = pretrain_rotation(images, tmp_path / "rot", image_size=32, epochs=2,
                               batch_size=5, validation_split=0.2)
    saved = json.loads((tmp_path / "rot" / "pretrain.json").read_text())
    assert saved["backbone"] == record["backbone"] == "mobilenetv2"
    assert saved["n_images"] == 10 and saved["n_validation_images"] == 2
    assert len(saved["history"]["loss"]) == saved["epochs_run"] == 2
    assert 0 <= saved["val_accuracy"] <= 1

    y = np.arange(10) % 2
    model = TransferClassifier(weights=str(tmp_path / "rot"), image_size=32,
                               epochs_frozen=1, epochs_finetune=0, batch_size=5,
                               augment=False, validation_split=0).fit(images, y)
    import keras

    reference = keras.applications.MobileNetV2(include_top=False, weights=None,
                                               input_shape=(32, 32, 3))
    reference.load_weights(tmp_path / "rot" / "backbone.weights.h5")
    for expected, got in zip(reference.get_weights(),
                             _backbone_of(model.model_).get_weights()):
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="holds a 'mobilenetv2' backbone"):
        TransferClassifier("resnet50", weights=str(tmp_path / "rot"), image_size=32,
                           epochs_frozen=1).fit(images, y)


def test_pretraining_takes_no_labels_and_refuses_a_foreign_directory(tmp_path):
    import inspect

    assert not {"y", "labels", "targets"} & set(inspect.signature(pretrain_rotation).parameters)
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds files this function did not write"):
        pretrain_rotation(np.zeros((4, 32, 32), np.uint8), tmp_path, image_size=32)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match=r"image_size must be an integer >= 32; got 16"):
        pretrain_rotation(np.zeros((4, 32, 32), np.uint8), tmp_path / "new", image_size=16)


def test_training_pixels_come_from_the_training_split_only(tmp_path):
    import cv2

    from benchmarks.cli.pretrain import training_pixels

    # Training films are dark, test and validation films bright: any bright
    # pixel in the result would be a leak.
    for split, value in (("train", 10), ("val", 200), ("test", 250)):
        for label in ("normal", "pneumonia"):
            folder = tmp_path / "data" / split / label
            folder.mkdir(parents=True)
            for index in range(3):
                cv2.imwrite(str(folder / f"{index}.png"),
                            np.full((20, 20), value + index, np.uint8))
    images, description = training_pixels(tmp_path / "data", size=16)
    assert images.shape == (6, 16, 16)
    assert images.max() <= 12
    assert "own training split" in description


def test_pretrain_command_passes_training_pixels_only(tmp_path, capsys, monkeypatch):
    import classifiers.pretrain
    from benchmarks.cli import main

    calls = []

    def fake(images, out, **options):  # the training itself is tested above
        calls.append((images, out, options))
        return {"history": {"accuracy": [0.9]}, "val_accuracy": 0.8, "epochs_run": 1}

    monkeypatch.setattr(classifiers.pretrain, "pretrain_rotation", fake)
    out = tmp_path / "weights"
    code = main(["pretrain", "--data", "phantoms:fracture", "--data-option", "n_images=24",
                 "--data-option", "image_size=40", "--image-size", "32", "--epochs", "1",
                 "--out", str(out)])
    assert code == 0
    (images, given_out, options), = calls
    # Phantoms have no split of their own: the seed-0 hold-out's training side.
    assert images.shape[1:] == (32, 32) and 0 < len(images) < 24
    assert given_out == str(out) and options["backbone"] == "mobilenetv2"
    assert options["epochs"] == 1 and options["image_size"] == 32
    assert f"--set mobilenetv2.weights={out}" in capsys.readouterr().out
