"""Convolutional neural networks trained from scratch on X-ray images.

:class:`CNNClassifier` offers the two shapes practitioners use: ``"small"``,
the few-block network most X-ray tutorials start from, and ``"deep"``, a
four-block network with batch normalisation and global average pooling that
is worth running on real benchmarks. Both take raw 2-D images of any size,
resize them with padding to ``image_size`` and feed them to Keras as float32
on [0, 1]. Keras is imported only when a model is built or loaded.

The base class :class:`KerasImageClassifier` (not exported) holds the fit,
predict and save logic shared with
:class:`classifiers.transfer.TransferClassifier`.
"""

import numbers
import tempfile
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, Options, StrOptions

from classifiers._tta import predict_views, resolve_tta, tta_views
from classifiers.backbone_weights import load_keras_file, recalibrate_batch_norm
from classifiers.base import ImageClassifierMixin
from xray_features.utils import check_image_size

__all__ = ["CNNClassifier"]

_NATIVE_FILE = "model.keras"

#: Per-architecture defaults for parameters left at None.
_ARCHITECTURES = {
    # 1e-4, common in notebooks, barely moved the small CNN within the short
    # schedules of a quick run (chance level after 8 epochs on phantoms);
    # 1e-3 learned the same tasks.
    "small": {"filters": (16, 32), "dense_units": 64, "dropout": 0.5,
              "learning_rate": 1e-3},
    "deep": {"filters": (16, 32, 64, 128), "dense_units": 128, "dropout": 0.3,
             "learning_rate": 1e-3},
}


class KerasImageClassifier(ImageClassifierMixin, ClassifierMixin,
                           BaseEstimator):
    """Fit/predict/save logic shared by the Keras image classifiers.

    Subclasses define ``__init__`` (storing their parameters, which must
    include the common training options and ``tta``), ``_input_scale`` (1 or 255),
    ``_resolved_image_size()``, ``_check_model_params()``,
    ``_build_model(input_shape, n_outputs, activation, seed)`` and may
    override ``_train`` for staged training.
    """

    _native_libraries = ("keras",)
    _input_scale = 1.0
    #: Scalar training options, checked by scikit-learn's parameter
    #: validation; subclasses add their own (``image_size``, ``filters``,
    #: ``augment``, ``tta`` and ``weights`` have their own checks).
    _parameter_constraints = {
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping_patience": [Interval(Integral, 0, None, closed="left"), None],
        "reduce_lr_patience": [Interval(Integral, 0, None, closed="left"), None],
        "target_val_loss": [Interval(Real, 0, None, closed="neither"), None],
        "validation_split": [Interval(Real, 0, 1, closed="left")],
        "verbose": [Options(Integral, {0, 1, 2})],
        "mixed_precision": ["boolean", StrOptions({"auto"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "random_state": [Interval(Integral, 0, None, closed="left"), None],
    }

    # ------------------------------------------------------------- fit
    def fit(self, images, y, *, validation_data=None):
        """Train the network on images and labels.

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray
            uint8 (0-255), uint16 or float images in [0, 1], any size.
        y : (N,) array-like or (N, L) 0/1 indicator
            Class labels, or a multi-label indicator matrix.
        validation_data : tuple (images_val, y_val), optional
            Held-out data for early stopping and learning-rate reduction.
            Without it, a stratified ``validation_split`` fraction of the
            training images is held out (none when it is 0).

        Returns
        -------
        self
        """
        from classifiers import training

        self._validate_params()
        x = self._model_input(images)
        y_encoded = self._encode_targets(y, n_samples=len(x))
        seed = training.new_seed(self.random_state)
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list))
                    and len(validation_data) == 2):
                raise TypeError(
                    "validation_data must be a tuple (images_val, y_val); got "
                    f"{type(validation_data).__name__}.")
            x_val = self._model_input(validation_data[0],
                                      name="validation_data[0]")
            validation = (x_val, self._encode_validation_targets(
                validation_data[1], n_samples=len(x_val)))
        elif self.validation_split:
            train, val = training.split_validation(
                y_encoded, self.validation_split, task=self.task_, seed=seed)
            from classifiers._lazy_input import rows

            validation = (rows(x, val), y_encoded[val])
            x, y_encoded = rows(x, train), y_encoded[train]
        else:
            validation = None
        if validation is not None:
            validation = (validation[0], self._target_tensor(validation[1]))
        sample_weight = self._sample_weight(y_encoded)
        n_outputs = 1 if self.task_ == "binary" else len(self.classes_)
        activation = "softmax" if self.task_ == "multiclass" else "sigmoid"
        from classifiers.backends import resolve_mixed_precision

        with training.seeded_build(seed), training.mixed_precision_scope(
                resolve_mixed_precision(self.mixed_precision)):
            model = self._build_model(x.shape[1:], n_outputs, activation, seed)
        self.model_ = model
        self.history_ = self._train(
            model, x, self._target_tensor(y_encoded),
            sample_weight=sample_weight,
            validation=validation, n_outputs=n_outputs, seed=seed)
        self.n_epochs_ = len(self.history_.get("loss", ()))
        self._fit_ood_guard(images, validation_data)
        return self

    def _train(self, model, x, y, *, sample_weight, validation, n_outputs,
               seed):
        """One training stage; returns the history dict."""
        from classifiers import training

        training.compile_for_task(model, self.task_, n_outputs=n_outputs,
                                  learning_rate=self._learning_rate())
        callbacks = self._callbacks(validation is not None)
        history = training.fit_model(
            model, x, y, sample_weight=sample_weight, validation=validation,
            epochs=self.epochs, batch_size=self.batch_size,
            callbacks=callbacks, verbose=self.verbose, seed=seed)
        # Without this, a few hundred steps leave batch-norm moving statistics
        # stale and inference outputs nearly constant (no-op without BN).
        recalibrate_batch_norm(model, x, preprocess=None, batch_size=self.batch_size,
                               seed=seed)
        return history

    def _callbacks(self, has_validation):
        from classifiers import training

        return training.make_callbacks(
            has_validation=has_validation,
            early_stopping_patience=self.early_stopping_patience,
            reduce_lr_patience=self.reduce_lr_patience,
            target_val_loss=self.target_val_loss)

    def _learning_rate(self):
        return self.learning_rate

    # --------------------------------------------------------- inputs
    def _model_input(self, images, *, name="images"):
        """Validated images as an (N, h, w, 1) float32 tensor for the model
        (read per batch from the pixel cache for a lazy image source)."""
        from xray_features.image_source import ImageSource

        if isinstance(images, ImageSource):
            from classifiers._lazy_input import LazyModelInput

            self._validate_images(images, name=name)
            return LazyModelInput(images.at(self._resolved_image_size()),
                                  scale=self._input_scale)
        stack = self._prepare_images(images, size=self._resolved_image_size(),
                                     as_float=True, name=name)
        x = stack[..., None].astype(np.float32, copy=False)
        return x * np.float32(self._input_scale) if self._input_scale != 1 else x

    def _target_tensor(self, y_encoded):
        if self.task_ == "binary":
            return y_encoded.reshape(-1, 1).astype(np.float32)
        if self.task_ == "multiclass":
            return np.eye(len(self.classes_), dtype=np.float32)[y_encoded]
        return y_encoded.astype(np.float32)

    def _validate_params(self):
        """Check every parameter (called by ``fit``, and by ``xray-bench run``
        before any work): the scalars of ``_parameter_constraints``, then
        the structured ones."""
        from classifiers.training import resolve_augmentation

        super()._validate_params()
        resolve_augmentation(self.augment)
        resolve_tta(self.tta)
        self._check_model_params()

    # ------------------------------------------------------ predicting
    def predict_proba(self, images):
        """Class probabilities for raw images.

        The training augmentation is off; with ``tta`` the probabilities are
        the mean over the test-time views (see the class docstring).

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray

        Returns
        -------
        proba : (N, n_classes) or (N, L) float64 ndarray
            Columns in ``classes_`` order; for binary models column 1 is the
            sigmoid output and column 0 its complement. Multi-label models
            give one independent probability per label.
        """
        from sklearn.utils.validation import check_is_fitted

        from classifiers.training import predict_scores

        check_is_fitted(self, "model_")
        settings = resolve_tta(self.tta)
        x = self._model_input(images)
        if settings is None:
            scores = predict_scores(self.model_, x, batch_size=self.batch_size)
        else:
            scores = predict_views(self.model_, x, tta_views(settings, x.shape[1:3]),
                                   batch_size=self.batch_size)
        if self.task_ == "binary":
            return np.column_stack([1.0 - scores[:, 0], scores[:, 0]])
        return scores

    # -------------------------------------------------------- saving
    def _preprocessing_info(self):
        scale = "[0, 255]" if self._input_scale == 255 else "[0, 1]"
        return {**super()._preprocessing_info(),
                "image_size": list(self._resolved_image_size()),
                "model_input": f"(N, h, w, 1) float32 on {scale}"}

    def _save_native(self, directory):
        import keras

        self.model_.save(Path(directory) / _NATIVE_FILE)
        return {"file": _NATIVE_FILE, "keras_backend": keras.backend.backend(),
                "history": self.history_}

    def _load_native(self, directory, sidecar):
        from classifiers.persistence import native_file

        native = sidecar.get("native") or {}
        self.model_ = load_keras_file(native_file(directory, native, _NATIVE_FILE))
        self.history_ = {k: [float(v) for v in values] for k, values in
                         dict(native.get("history") or {}).items()}
        self.n_epochs_ = len(self.history_.get("loss", ()))

    def __getstate__(self):
        # A fitted network is pickled as its .keras archive bytes so that
        # unpickling does not depend on Keras' own pickle support.
        state = self.__dict__.copy()
        if "model_" in state:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / _NATIVE_FILE
                state["model_"].save(path)
                state["model_"] = _KerasArchive(path.read_bytes())
        return state

    def __setstate__(self, state):
        archive = state.get("model_")
        if isinstance(archive, _KerasArchive):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / _NATIVE_FILE
                path.write_bytes(archive.data)
                state["model_"] = load_keras_file(path)
        self.__dict__.update(state)


class _KerasArchive:
    """Bytes of a ``.keras`` file inside a pickled estimator."""

    def __init__(self, data):
        self.data = data


class CNNClassifier(KerasImageClassifier):
    """Convolutional network trained from scratch, small or deep.

    ``"small"``: ``len(filters)`` blocks of 3x3 convolution + ReLU + 2x2 max
    pooling (16 then 32 filters by default), flatten, a dense ReLU layer,
    dropout, output. ``"deep"``: four blocks of two 3x3 convolutions with
    batch normalisation (momentum 0.9; moving statistics recalibrated on the
    training images after fitting) and ReLU, then max pooling (16-128
    filters), global average pooling, dropout, a dense ReLU layer, dropout,
    output.
    Augmentation layers (see :mod:`classifiers.training`) sit at the input
    and act only during training. The output is one sigmoid unit (binary),
    a softmax (multi-class) or one sigmoid per label (multi-label), trained
    with Adam and the matching cross-entropy.

    Parameters
    ----------
    architecture : {"small", "deep"}
    image_size : int or (int, int)
        Side the images are resized to (with padding), default 64.
    filters : tuple of int, optional
        Filters per block; default (16, 32) small, (16, 32, 64, 128) deep,
        sized for CPUs (pass (32, 64, 128, 256) for a wider network on a
        GPU: about 4 times the computation).
    dense_units : int, optional
        Units of the dense layer; default 64 small, 128 deep.
    dropout : float, optional
        Dropout rate before the output; default 0.5 small, 0.3 deep.
    learning_rate : float, optional
        Adam learning rate; default 1e-3 for both (1e-4 is a common choice
        for longer schedules).
    epochs : int
        Maximum number of epochs.
    batch_size : int
    augment : bool or dict
        On-the-fly augmentation; True for the defaults, a dict to change
        them (:data:`classifiers.training.DEFAULT_AUGMENTATION`).
    class_weight : "balanced", None or dict
        Weights per class label (e.g. ``{0: 1, 1: 5}``), given to the loss
        as per-sample weights. The default ``"balanced"`` weighs each class
        by n / (n_classes * its count), so that on imbalanced data (e.g. 13%
        positives) the network does not settle on the majority class at a
        0.5 threshold; None weighs every image alike.
    early_stopping_patience : int or None
        Epochs without validation-loss improvement before stopping; the best
        weights are restored. None disables early stopping.
    reduce_lr_patience : int or None
        Epochs without improvement before halving the learning rate.
    target_val_loss : float or None
        Stop as soon as the validation loss falls below this value.
    validation_split : float
        Fraction of the training images held out (stratified) when ``fit``
        gets no ``validation_data``; 0 trains on all and monitors the
        training loss.
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar, 2 one line per epoch.
    mixed_precision : bool or "auto"
        Build the layers with the ``"mixed_float16"`` policy (faster on
        recent GPUs, slower on CPUs); the output stays float32. ``"auto"``
        (default) switches it on when the Keras backend sees a GPU.
    random_state : int or None
        Seeds weights, augmentation, dropout, batch order and the validation
        split; the same value repeats a run (see
        :mod:`classifiers.training` for the tolerance). None is not
        repeatable.
    tta : bool or dict
        Test-time augmentation in ``predict_proba`` (and ``predict``). False
        (default) predicts each image once, as before. True averages the
        model's probabilities (sigmoid or softmax outputs, not logits) over
        a fixed, deterministic set of views of each resized image: the
        original, shifts by ``shifts`` of the side down, up, right and left,
        and zooms about the centre by each of ``scales``, pixels moved into
        view being 0 like the padding of ``resize_with_padding``. The
        defaults, ``{"shifts": 0.04, "scales": (0.95, 1.05), "flip":
        False}``, give 7 views, so prediction costs about 7 times as much; a
        dict changes some of them (e.g. ``{"scales": ()}`` for shifts
        only). There is no left-right mirror by default: chest films are not
        mirror-symmetric (the heart lies on the left; situs inversus is a
        finding), so a mirrored film shows the model something training
        may never have; ``"flip": True`` adds the mirrored original as one
        more view, for models trained with flips. It suits networks trained
        with shifts and zooms (``augment``); one trained without them has
        never seen the black borders a view moves in, and may score worse.
        Stored with the model.
        Explanations (class activation maps) ignore it: they show the
        original view. See :mod:`classifiers._tta`.

    Attributes
    ----------
    classes_ : ndarray
    task_ : {"binary", "multiclass", "multilabel"}
    model_ : keras.Model
    history_ : dict of str to list of float
        Per-epoch ``loss``, ``accuracy``, ``auc`` (and ``val_`` versions
        when validating) and ``learning_rate``.
    n_epochs_ : int
        Epochs actually run.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((8, 20, 20), np.uint8)
    >>> images[4:, 5:15, 5:15] = 255
    >>> model = CNNClassifier(image_size=16, epochs=1, augment=False,
    ...                       validation_split=0).fit(images, [0] * 4 + [1] * 4)
    >>> model.predict_proba(images).shape
    (8, 2)
    """

    _parameter_constraints = {
        **KerasImageClassifier._parameter_constraints,
        "architecture": [StrOptions(set(_ARCHITECTURES))],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left"), None],
        "dropout": [Interval(Real, 0, 1, closed="left"), None],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(self, architecture="small", *, image_size=64, filters=None,
                 dense_units=None, dropout=None, learning_rate=None,
                 epochs=30, batch_size=32, augment=True, class_weight="balanced",
                 early_stopping_patience=5, reduce_lr_patience=3,
                 target_val_loss=None, validation_split=0.15, verbose=0,
                 mixed_precision="auto", random_state=0, tta=False):
        self.architecture = architecture
        self.image_size = image_size
        self.filters = filters
        self.dense_units = dense_units
        self.dropout = dropout
        self.learning_rate = learning_rate
        self.epochs = epochs
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

    def _setting(self, name):
        value = getattr(self, name)
        return _ARCHITECTURES[self.architecture][name] if value is None \
            else value

    def _learning_rate(self):
        return self._setting("learning_rate")

    def _resolved_image_size(self):
        return check_image_size(self.image_size)

    def _check_model_params(self):
        filters = self._setting("filters")
        if (not isinstance(filters, (tuple, list)) or not filters
                or any(isinstance(f, bool) or not isinstance(f, numbers.Integral)
                       or f < 1 for f in filters)):
            raise ValueError(f"filters must be a non-empty tuple of positive "
                             f"ints, e.g. (16, 32); got {filters!r}.")
        side = min(self._resolved_image_size())
        if side < 2 ** len(filters):
            raise ValueError(
                f"image_size {self.image_size!r} is too small for "
                f"{len(filters)} pooling blocks: each side must be >= "
                f"{2 ** len(filters)}. Use a larger image_size or fewer "
                "filters.")

    def _build_model(self, input_shape, n_outputs, activation, seed):
        import keras

        from classifiers.training import augmented_input

        layers = keras.layers
        inputs, x = augmented_input(input_shape, self.augment, value_range=(0.0, 1.0),
                                    seed=seed)
        dropout = self._setting("dropout")
        deep = self.architecture == "deep"
        for block, n_filters in enumerate(self._setting("filters"), start=1):
            for conv in range(1, 3 if deep else 2):
                name = f"block{block}_conv{conv}"
                x = layers.Conv2D(n_filters, 3, padding="same", use_bias=not deep,
                                  activation=None if deep else "relu",
                                  name=name)(x)
                if deep:
                    # Momentum 0.9 (Keras: 0.99) so that the moving statistics
                    # follow the weights within the short schedules used here.
                    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
                    x = layers.Activation("relu", name=f"{name}_relu")(x)
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
        if deep:
            x = layers.GlobalAveragePooling2D(name="global_pool")(x)
            x = layers.Dropout(dropout, seed=seed + 11, name="pool_dropout")(x)
        else:
            x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(self._setting("dense_units"), activation="relu",
                         name="dense")(x)
        x = layers.Dropout(dropout, seed=seed + 12, name="dense_dropout")(x)
        outputs = layers.Dense(n_outputs, activation=activation,
                               dtype="float32", name="output")(x)
        return keras.Model(inputs, outputs, name=f"cnn_{self.architecture}")
