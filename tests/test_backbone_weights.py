"""Transfer from the toolkit's own models; backbones trained from scratch."""

import numpy as np
import pytest

from classifiers import CNNClassifier, TransferClassifier, load_model
from classifiers.backbone_weights import resolve_weights
from classifiers.transfer import _backbone_of

FAST = dict(batch_size=8, augment=False, early_stopping_patience=None,
            reduce_lr_patience=None, validation_split=0, image_size=32)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 80, (9, 40, 40)).astype(np.uint8)
    y = np.arange(9) % 3
    images[y == 1, 10:30, 10:30] = 220
    images[y == 2, 5:15, :] = 160
    return images, y


@pytest.fixture(scope="module")
def saved_binary(data, tmp_path_factory):
    """A binary mobilenetv2 classifier trained from scratch and saved."""
    images, y = data
    model = TransferClassifier(weights=None, epochs_frozen=1, epochs_finetune=0, **FAST)
    directory = tmp_path_factory.mktemp("models") / "mobilenetv2"
    model.fit(images, y > 0).save(directory)
    return model, directory


def test_without_pretrained_weights_the_backbone_trains_end_to_end(saved_binary):
    model, _ = saved_binary
    backbone = _backbone_of(model.model_)
    assert backbone.trainable and all(layer.trainable for layer in backbone.layers)
    n_moving = sum(len(layer.non_trainable_weights) for layer in backbone.layers)
    assert len(backbone.trainable_weights) == len(backbone.weights) - n_moving > 100
    assert model.history_["learning_rate"] == pytest.approx([1e-3])


def test_scratch_training_uses_both_epoch_budgets_in_one_stage(eager, data):
    model = TransferClassifier(weights=None, epochs_frozen=1, epochs_finetune=1, **FAST)
    model.fit(*data)
    assert model.n_epochs_ == 2
    assert model.history_["learning_rate"] == pytest.approx([1e-3, 1e-3])


def test_saved_model_directory_starts_a_new_task_with_a_new_head(eager, data, saved_binary):
    images, y = data
    source, directory = saved_binary
    start = _backbone_of(source.model_).get_weights()
    # Three classes now; a frozen warm-up only, so the backbone stays as loaded.
    model = TransferClassifier(weights=str(directory), epochs_frozen=1, epochs_finetune=0,
                               **FAST).fit(images, y)
    assert model.predict_proba(images).shape == (9, 3)
    assert model.model_.get_layer("output").get_weights()[0].shape[-1] == 3
    got = _backbone_of(model.model_).get_weights()
    assert len(got) == len(start)
    for expected, value in zip(start, got):
        np.testing.assert_array_equal(value, expected)
    assert not _backbone_of(model.model_).trainable_weights
    # The parameter is stored as the path string and the model reloads.
    reloaded = load_model(_save(model, directory.parent / "second"))
    assert reloaded.weights == str(directory)


def _save(model, path):
    model.save(path)
    return path


def test_fine_tuning_after_the_warm_up_moves_the_backbone(eager, data, saved_binary):
    images, y = data
    source, directory = saved_binary
    model = TransferClassifier(weights=directory / "model.keras", epochs_frozen=0,
                               epochs_finetune=1, fine_tune_layers=10_000,
                               finetune_learning_rate=1e-2, **FAST).fit(images, y)
    first = _backbone_of(model.model_).get_layer("Conv1").get_weights()[0]
    assert not np.array_equal(first, _backbone_of(source.model_)
                              .get_layer("Conv1").get_weights()[0])
    assert model.n_epochs_ == 1


def test_directory_of_another_backbone_or_model_is_refused(data, saved_binary, tmp_path):
    _, directory = saved_binary
    with pytest.raises(ValueError, match="holds a 'mobilenetv2' backbone, but this model's "
                                         "backbone is 'efficientnetb0'"):
        TransferClassifier("efficientnetb0", weights=str(directory), **FAST).fit(*data)
    cnn = CNNClassifier(image_size=16, epochs=1, augment=False, validation_split=0)
    cnn.fit(*data).save(tmp_path / "cnn")
    with pytest.raises(ValueError, match="holds a CNNClassifier model, which has no "
                                         "transfer backbone"):
        resolve_weights(tmp_path / "cnn", "mobilenetv2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither model.json .* nor pretrain.json"):
        resolve_weights(tmp_path / "empty", "mobilenetv2")


def test_cli_setting_keeps_a_weights_path_as_a_string():
    from benchmarks.cli.commands import _model_setting

    assert _model_setting("mobilenetv2.weights=results/run/models/mobilenetv2") == (
        "mobilenetv2", "weights", "results/run/models/mobilenetv2")
