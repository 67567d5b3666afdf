"""Self-supervised backbone pretraining on unlabelled images: rotation prediction.

Gidaris, Singh and Komodakis (2018) train a network to tell by how much an
image was rotated (0, 90, 180 or 270 degrees). To answer, it has to learn
where the anatomy is and which way up it sits, with no label at all; the
convolutional backbone it learns is then a starting point for a classifier
trained on few labelled images:

>>> model = TransferClassifier("mobilenetv2", weights="pretrained/")  # doctest: +SKIP

:func:`pretrain_rotation` only ever sees pixels. It writes a directory that
``TransferClassifier(weights=...)`` accepts (see
:mod:`classifiers.backbone_weights`): ``backbone.weights.h5`` and a
``pretrain.json`` record of how it was made.

References
----------
S. Gidaris, P. Singh, N. Komodakis. Unsupervised representation learning by
predicting image rotations. ICLR 2018. arXiv:1803.07728.
"""

import json
from pathlib import Path

import numpy as np

from xray_features.utils import check_scalar

__all__ = ["pretrain_rotation"]

_WEIGHTS_FILE = "backbone.weights.h5"
_RECORD_FILE = "pretrain.json"


def pretrain_rotation(images, out, *, backbone="mobilenetv2", image_size=64, epochs=10,
                      batch_size=32, learning_rate=1e-3, validation_split=0.1,
                      early_stopping_patience=3, random_state=0, verbose=0):
    """Train a backbone to predict image rotations and save it for transfer.

    Each mini-batch holds ``batch_size`` images in all four rotations; the
    network (the backbone from random weights, global average pooling and a
    4-way softmax) learns which rotation it sees. A ``validation_split``
    fraction of the images (all four rotations of each) is held out to
    measure the rotation accuracy at the end. Early stopping watches the
    training loss; batch-norm statistics are recalibrated on the training
    images after the last epoch (see
    :func:`classifiers.backbone_weights.recalibrate_batch_norm`).

    Parameters
    ----------
    images : (N, H, W) ndarray or sequence of 2-D ndarray
        Unlabelled images (uint8 0-255, uint16, or float in [0, 1]); resized
        with padding to ``image_size``. Pass training images only: the
        images a classifier is later tested on must not be among them.
    out : str or path-like
        Directory to write; created if missing. It must be empty or hold an
        earlier result of this function (whose two files are replaced).
    backbone : str
        A name of :data:`classifiers.transfer.BACKBONES`.
    image_size : int
        Square side, at least the backbone's minimum (32 for mobilenetv2).
    epochs, batch_size : int
    learning_rate : float
        Adam learning rate.
    validation_split : float
        In [0, 1); 0 measures no held-out accuracy.
    early_stopping_patience : int or None
    random_state : int
        Seeds the weights, the validation split and the batch order.
    verbose : {0, 1, 2}

    Returns
    -------
    record : dict
        What ``pretrain.json`` holds: ``backbone``, ``image_size``,
        ``n_images``, ``epochs_run``, ``history`` (per-epoch training loss
        and accuracy), ``val_accuracy`` (held-out rotation accuracy; chance
        is 0.25), ``weights_file`` ...

    Raises
    ------
    ValueError
        Bad parameters, too few images, or an ``out`` holding other files.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 255, (8, 40, 40)).astype(np.uint8)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     record = pretrain_rotation(images, tmp, image_size=32, epochs=1,
    ...                                batch_size=4, validation_split=0)
    >>> record["backbone"], record["epochs_run"], record["n_images"]
    ('mobilenetv2', 1, 8)
    """
    from classifiers import training
    from classifiers.backbone_weights import (PRETRAIN_FORMAT, WeightsSource, build_backbone,
                                              recalibrate_batch_norm)
    from classifiers.persistence import library_versions
    from classifiers.transfer import BACKBONES

    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {sorted(BACKBONES)}; got {backbone!r}.")
    spec = BACKBONES[backbone]
    side = check_scalar(image_size, "image_size", low=spec.min_size)
    check_scalar(epochs, "epochs", low=1)
    check_scalar(batch_size, "batch_size", low=1)
    check_scalar(learning_rate, "learning_rate", integer=False, low=0, low_open=True)
    check_scalar(validation_split, "validation_split", integer=False, low=0, high=1,
                 high_open=True)
    check_scalar(early_stopping_patience, "early_stopping_patience", low=0, allow_none=True)
    seed = training.new_seed(check_scalar(random_state, "random_state", low=0))
    out = _check_out(out)
    x = _pixels(images, side)
    n_val = int(round(validation_split * len(x)))
    if len(x) - n_val < 1 or (validation_split and n_val < 1):
        raise ValueError(f"pretrain_rotation needs at least one training and (with "
                         f"validation_split={validation_split}) one validation image; got "
                         f"{len(x)} image(s).")
    order = np.random.default_rng(seed).permutation(len(x))
    x_val, x_train = x[order[:n_val]], x[order[n_val:]]

    import keras

    from classifiers.backends import resolve_mixed_precision

    feeder = _rotation_feeder()
    with training.seeded_build(seed), training.mixed_precision_scope(
            resolve_mixed_precision("auto")):
        inputs = keras.Input(shape=(side, side, 1), name="image")
        features = training.keras_objects().BackbonePreprocessing(
            spec.module, dtype="float32", name="preprocess")(inputs)
        net = build_backbone(spec.application, WeightsSource("scratch"), (side, side, 3),
                             name=backbone)
        features = keras.layers.GlobalAveragePooling2D(name="global_pool")(net(features))
        outputs = keras.layers.Dense(4, activation="softmax", dtype="float32",
                                     name="rotation")(features)
        model = keras.Model(inputs, outputs, name=f"rotation_{backbone}")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Early stopping watches the training loss: inference-mode (validation)
    # outputs of a backbone trained from scratch are only meaningful once its
    # batch-norm statistics are recalibrated, which is done once, at the end.
    callbacks = []
    if early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="loss", patience=early_stopping_patience, restore_best_weights=True))
    train_batches = feeder(x_train, batch_size=batch_size, seed=seed)
    result = model.fit(train_batches, epochs=epochs, callbacks=callbacks,
                       verbose=verbose, shuffle=False)
    history = {key: [float(v) for v in values] for key, values in result.history.items()}
    rotated = np.concatenate([train_batches[i][0] for i in range(len(train_batches))])
    recalibrate_batch_norm(net, rotated, preprocess=model.get_layer("preprocess"),
                           batch_size=4 * batch_size, seed=seed)
    val_accuracy = None
    if n_val:
        scores = model.evaluate(feeder(x_val, batch_size=batch_size, seed=seed),
                                verbose=0, return_dict=True)
        val_accuracy = float(scores["accuracy"])
    net.save_weights(out / _WEIGHTS_FILE)
    record = {
        "format": PRETRAIN_FORMAT, "version": 1, "method": "rotation",
        "reference": "Gidaris et al. 2018, arXiv:1803.07728",
        "backbone": backbone, "weights_file": _WEIGHTS_FILE,
        "image_size": [side, side], "input": "(N, h, w, 1) float32 on [0, 255]",
        "n_images": int(len(x)), "n_validation_images": int(n_val),
        "epochs_run": len(history.get("loss", ())), "learning_rate": float(learning_rate),
        "val_accuracy": val_accuracy,
        "batch_size": int(batch_size), "random_state": random_state,
        "keras_backend": keras.backend.backend(), "versions": library_versions(),
        "history": history,
    }
    (out / _RECORD_FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record


def _check_out(out):
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out '{out}' is a file; pass a directory.")
    if out.is_dir():
        if out.is_symlink():
            raise ValueError(f"out '{out}' is a link; pass a real directory.")
        others = sorted(p.name for p in out.iterdir()
                        if p.name not in (_WEIGHTS_FILE, _RECORD_FILE))
        if others:
            raise ValueError(f"out '{out}' holds files this function did not write "
                             f"({', '.join(others[:3])}); pass an empty or new directory.")
        if (out / _WEIGHTS_FILE).exists() and not (out / _RECORD_FILE).is_file():
            raise ValueError(f"out '{out}' holds a {_WEIGHTS_FILE} without "
                             f"{_RECORD_FILE}; pass an empty or new directory.")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _pixels(images, side):
    """Validated images, resized with padding, as (N, side, side, 1) on 0-255."""
    from classifiers.base import ImageClassifierMixin

    # The classifiers' own validation and resizing, so pretraining sees
    # exactly the pixels a TransferClassifier is later fed.
    stack = ImageClassifierMixin()._prepare_images(images, size=side, as_float=True)
    return (stack[..., None] * np.float32(255.0)).astype(np.float32)


def _rotation_feeder():
    """A Keras data feeder of all four rotations of each mini-batch."""
    import keras

    class RotationBatches(keras.utils.PyDataset):
        def __init__(self, x, *, batch_size, seed):
            super().__init__()
            self.x, self.batch_size, self.seed, self.epoch = x, batch_size, seed, 0
            self.order = self._order()

        def _order(self):
            return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.x))

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, index):
            batch = self.x[self.order[index * self.batch_size:(index + 1) * self.batch_size]]
            rotated = np.concatenate([np.rot90(batch, k, axes=(1, 2)) for k in range(4)])
            labels = np.repeat(np.arange(4), len(batch))
            return np.ascontiguousarray(rotated), labels

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    return RotationBatches
