"""Shared Keras training machinery for the neural image classifiers.

The pieces practitioners assemble around every Keras image model, written
once: on-the-fly augmentation layers that live inside the model (active in
training only), early stopping, learning-rate reduction and a stop at a
target validation loss, a seeded mini-batch feeder that carries per-sample
(class) weights, and the fit loop that records a plain ``history`` dict.
Images reach these helpers already resized, as ``(N, H, W, 1)`` float32
arrays.

Everything here uses ``keras`` and ``keras.ops`` only, so a model trains with
whichever backend ``KERAS_BACKEND`` selects (TensorFlow, JAX or PyTorch) and
on a GPU when one is visible. Keras is imported inside the functions that use
it; the Keras classes below (a layer, two callbacks and a data feeder) are
defined on first use, so importing this module stays cheap.

Determinism
-----------
No global seed is set. Every source of randomness is seeded from the
estimator's ``random_state``:

* weight initialisation: models are built inside :func:`seeded_build`, which
  seeds Python's ``random`` module (where Keras 3 draws the seed of every
  unseeded initialiser and dropout layer) and restores its previous state on
  exit. ``keras.applications`` backbones take no seed, hence this scope; it
  is not thread-safe while a model is being built;
* augmentation and dropout layers take explicit seeds;
* mini-batch order comes from a NumPy ``Generator`` (see :func:`fit_model`),
  not from the backend's global random state, and the validation split from
  scikit-learn's ``train_test_split`` with the same seed.

The same seed therefore gives the same predictions on the same machine and
backend, up to floating-point reduction order: multi-threaded CPU kernels and
GPU kernels may sum in different orders, so repeated runs agree to about
1e-5 rather than bit for bit. TensorFlow's ``enable_op_determinism`` would
make GPU runs bit-exact but is TensorFlow-only global state, so it is left to
the user.
"""

import contextlib
import functools
import numbers
import random
import types

import numpy as np

__all__ = [
    "DEFAULT_AUGMENTATION",
    "augmentation_layers",
    "augmented_input",
    "compile_for_task",
    "fit_model",
    "keras_objects",
    "make_callbacks",
    "mixed_precision_scope",
    "resolve_augmentation",
    "seeded_build",
    "new_seed",
    "predict_scores",
    "split_validation",
]

#: Default on-the-fly augmentation: small rotations (fraction of a full
#: turn), shifts and zooms (fractions of the image side), horizontal flips and
#: brightness shifts (fraction of the value range). Pixels moved into view
#: are 0, like the padding of ``resize_with_padding``. Horizontal flips mirror
#: anatomy (a chest film's heart side); pass ``augment={"flip": None}`` where
#: laterality matters.
DEFAULT_AUGMENTATION = types.MappingProxyType({
    "rotation": 0.05,
    "translation": 0.05,
    "zoom": 0.1,
    "flip": "horizontal",
    "brightness": 0.1,
})

_FLIP_MODES = (None, "horizontal", "vertical", "horizontal_and_vertical")
_SEED_MAX = 2**31 - 1


def resolve_augmentation(augment):
    """Turn the ``augment`` parameter into a dict of settings, or None.

    Parameters
    ----------
    augment : bool, None or dict
        True for :data:`DEFAULT_AUGMENTATION`, False or None for none, a dict
        to override some defaults (e.g. ``{"rotation": 0.1, "flip": None}``).

    Returns
    -------
    settings : dict or None

    Examples
    --------
    >>> resolve_augmentation({"flip": None})["flip"] is None
    True
    >>> resolve_augmentation(False) is None
    True
    """
    if augment is None or augment is False:
        return None
    if augment is True:
        return dict(DEFAULT_AUGMENTATION)
    if not isinstance(augment, dict):
        raise TypeError(
            "augment must be True, False, None or a dict of settings; got "
            f"{type(augment).__name__} {augment!r}. Pass e.g. "
            "augment={'rotation': 0.1}.")
    unknown = sorted(set(augment) - set(DEFAULT_AUGMENTATION))
    if unknown:
        raise ValueError(
            f"augment has unknown keys {unknown}; the allowed keys are "
            f"{sorted(DEFAULT_AUGMENTATION)}.")
    settings = {**DEFAULT_AUGMENTATION, **augment}
    for key in ("rotation", "translation", "zoom", "brightness"):
        value = settings[key]
        if value is not None and not (isinstance(value, numbers.Real)
                                      and 0 <= value < 1):
            raise ValueError(
                f"augment[{key!r}] must be a number in [0, 1) or None; got "
                f"{value!r}. Use a small fraction such as 0.1.")
    if settings["flip"] not in _FLIP_MODES:
        raise ValueError(
            f"augment['flip'] must be one of {_FLIP_MODES}; got "
            f"{settings['flip']!r}.")
    return settings


def augmented_input(input_shape, augment, *, value_range, seed):
    """The input of a model and its augmentation block, shared by every
    Keras model here.

    Returns
    -------
    inputs : keras.KerasTensor
        The model's image input.
    x : keras.KerasTensor
        ``inputs`` after augmentation (active in training only), or
        ``inputs`` itself when ``augment`` turns it off.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="image")
    settings = resolve_augmentation(augment)
    if settings is None:
        return inputs, inputs
    return inputs, augmentation_layers(settings, value_range=value_range, seed=seed)(inputs)


def augmentation_layers(settings, *, value_range, seed):
    """Build the augmentation block placed at the top of a model.

    Keras preprocessing layers only transform their input when called with
    ``training=True``, so the block is active in ``fit`` and a no-op in
    ``predict`` and ``evaluate``.

    Parameters
    ----------
    settings : dict
        Output of :func:`resolve_augmentation`.
    value_range : tuple of float
        Range of the pixel values, ``(0, 1)`` or ``(0, 255)``; brightness
        shifts are clipped to it.
    seed : int
        Seed of the first layer; each following layer uses the next integer.

    Returns
    -------
    block : keras.Sequential
        Named ``"augmentation"``; empty when every setting is None or 0.
    """
    import keras

    layers = []
    if settings["rotation"]:
        layers.append(keras.layers.RandomRotation(
            settings["rotation"], fill_mode="constant", seed=seed))
    if settings["translation"]:
        layers.append(keras.layers.RandomTranslation(
            settings["translation"], settings["translation"],
            fill_mode="constant", seed=seed + 1))
    if settings["zoom"]:
        layers.append(keras.layers.RandomZoom(
            settings["zoom"], fill_mode="constant", seed=seed + 2))
    if settings["flip"]:
        layers.append(keras.layers.RandomFlip(settings["flip"], seed=seed + 3))
    if settings["brightness"]:
        layers.append(keras.layers.RandomBrightness(
            settings["brightness"], value_range=value_range, seed=seed + 4))
    return keras.Sequential(layers, name="augmentation")


def make_callbacks(*, has_validation, early_stopping_patience=None,
                   reduce_lr_patience=None, target_val_loss=None,
                   min_learning_rate=1e-7):
    """Early stopping, learning-rate reduction and a target-loss stop.

    Parameters
    ----------
    has_validation : bool
        Whether validation data is passed to ``fit``. The callbacks watch
        ``"val_loss"`` when it is, the training ``"loss"`` otherwise.
    early_stopping_patience : int or None
        Epochs without improvement before stopping; the best weights are
        restored at the end of training. None disables it.
    reduce_lr_patience : int or None
        Epochs without improvement before halving the learning rate.
    target_val_loss : float or None
        Stop as soon as the validation loss falls below this value.
    min_learning_rate : float
        Floor of the learning-rate reduction.

    Returns
    -------
    callbacks : list of keras.callbacks.Callback
        The first logs the learning rate of each epoch as
        ``"learning_rate"``, so every history has that entry.
    """
    import keras

    monitor = "val_loss" if has_validation else "loss"
    callbacks = [keras_objects().LearningRateLog()]
    if early_stopping_patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=early_stopping_patience,
            restore_best_weights=True))
    if reduce_lr_patience is not None:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=0.5, patience=reduce_lr_patience,
            min_lr=min_learning_rate))
    if target_val_loss is not None:
        if not has_validation:
            raise ValueError(
                "target_val_loss needs validation data; got "
                f"target_val_loss={target_val_loss!r} with no validation_data "
                "and validation_split=0. Pass validation_data or set "
                "validation_split > 0.")
        callbacks.append(keras_objects().TargetLossStop(target_val_loss))
    return callbacks


def compile_for_task(model, task, *, n_outputs, learning_rate,
                     run_eagerly=False):
    """Compile ``model`` with the loss and metrics of ``task``.

    Binary and multi-label models end in sigmoid units and use binary
    cross-entropy; multi-class models end in a softmax and use categorical
    cross-entropy. The metrics are logged as ``accuracy`` and ``auc``.

    Parameters
    ----------
    model : keras.Model
    task : {"binary", "multiclass", "multilabel"}
    n_outputs : int
        Number of output units.
    learning_rate : float
        Adam learning rate.
    run_eagerly : bool
        Skip graph compilation (for debugging, and faster on tiny data where
        tracing the training step dominates).
    """
    import keras

    if task == "multiclass":
        loss = keras.losses.CategoricalCrossentropy()
        accuracy = keras.metrics.CategoricalAccuracy(name="accuracy")
        auc = keras.metrics.AUC(name="auc")
    else:
        loss = keras.losses.BinaryCrossentropy()
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy")
        auc = keras.metrics.AUC(name="auc", multi_label=task == "multilabel",
                                num_labels=n_outputs if task == "multilabel"
                                else None)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=loss, metrics=[accuracy, auc], run_eagerly=run_eagerly)


def split_validation(y, fraction, *, task, seed):
    """Split sample indices into training and validation parts.

    Binary and multi-class targets are split stratified when every class has
    at least two samples; multi-label targets are split at random.

    Parameters
    ----------
    y : (N,) int ndarray or (N, L) ndarray
    fraction : float
        Validation fraction, in (0, 1).
    task : str
    seed : int

    Returns
    -------
    train, val : int ndarray
    """
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(y))
    stratify = None
    if task != "multilabel":
        counts = np.unique(y, return_counts=True)[1]
        n_val = int(np.ceil(fraction * len(y)))
        if counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts):
            stratify = y
    train, val = train_test_split(indices, test_size=fraction,
                                  random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val)


@contextlib.contextmanager
def seeded_build(seed):
    """Context in which Keras layers get reproducible initial weights.

    Keras 3 draws the seed of every unseeded initialiser and dropout layer
    from Python's ``random`` module when the layer is created. This scope
    seeds that module with ``seed`` and restores its previous state on exit,
    so building a model (``keras.applications`` backbones included, which
    accept no seed) is repeatable without leaving global state changed.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


@contextlib.contextmanager
def mixed_precision_scope(enabled):
    """Context in which new layers use the ``"mixed_float16"`` policy.

    Keras stores the dtype policy in each layer when it is created, so the
    global policy is set only while the model is built and restored on exit;
    other models are unaffected. The model's output layer should pass
    ``dtype="float32"`` to keep probabilities in full precision.
    """
    if not enabled:
        yield
        return
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def fit_model(model, x, y, *, sample_weight=None, validation=None, epochs,
              batch_size, callbacks=(), verbose=0, seed=0, initial_epoch=0):
    """Train a compiled model and return its per-epoch history.

    Mini-batches are drawn in an order reshuffled each epoch by a NumPy
    generator seeded with ``seed`` (``fit(shuffle=True)`` would use the
    backend's global random state instead).

    Parameters
    ----------
    model : keras.Model
        Compiled.
    x, y : ndarray
        Inputs and encoded targets.
    sample_weight : (N,) ndarray or None
    validation : tuple of ndarray or None
        ``(x_val, y_val)``.
    epochs : int
        Number of epochs to run in this call.
    batch_size : int
    callbacks : sequence of keras.callbacks.Callback
    verbose : {0, 1, 2}
        0 silent, 1 a progress bar, 2 one line per epoch.
    seed : int
    initial_epoch : int
        Epoch number to start counting from (for a second training stage).

    Returns
    -------
    history : dict of str to list of float
    """
    from classifiers._lazy_input import batches as lazy_batches, is_lazy

    batches = keras_objects().ArrayBatches(x, y, sample_weight,
                                           batch_size=batch_size, seed=seed)
    lazy_validation = validation is not None and is_lazy(validation[0])
    if lazy_validation:  # read a batch at a time from the pixel cache
        validation = lazy_batches(*validation, batch_size=batch_size)
    result = model.fit(batches, validation_data=validation,
                       validation_batch_size=None if lazy_validation else batch_size,
                       epochs=initial_epoch + epochs,
                       initial_epoch=initial_epoch, callbacks=list(callbacks),
                       verbose=verbose, shuffle=False)
    return {key: [float(v) for v in values]
            for key, values in result.history.items()}


def predict_scores(model, x, *, batch_size):
    """Model outputs as a float64 array (inference mode, no augmentation)."""
    from classifiers._lazy_input import batches, is_lazy

    if is_lazy(x):
        return np.asarray(model.predict(batches(x, batch_size=batch_size), verbose=0),
                          dtype=np.float64)
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0),
                      dtype=np.float64)


def new_seed(random_state):
    """An int seed from ``random_state`` (None draws a fresh one)."""
    if random_state is None:
        return int(np.random.default_rng().integers(_SEED_MAX))
    return int(random_state) % _SEED_MAX


@functools.cache
def keras_objects():
    """The toolkit's Keras classes, defined (and registered) on first call.

    Returns
    -------
    objects : types.SimpleNamespace
        ``BackbonePreprocessing`` (layer, registered for safe loading),
        ``TargetLossStop`` and ``LearningRateLog`` (callbacks) and
        ``ArrayBatches`` (data feeder).
    """
    import keras

    @keras.saving.register_keras_serializable(package="xray_bench")
    class BackbonePreprocessing(keras.layers.Layer):
        """Grayscale on 0-255 to a backbone's three-channel input.

        Repeats the single channel three times, then applies what
        ``keras.applications.<module>.preprocess_input`` does. Only the
        modules named in ``MODES`` may be used, so a saved model cannot name
        an arbitrary import.
        """

        # Written with keras.ops rather than calling preprocess_input: those
        # functions divide and subtract in place, which PyTorch refuses on a
        # repeated (expanded) tensor. "tf" scales to [-1, 1]; "caffe"
        # flips RGB to BGR and subtracts the ImageNet channel means;
        # EfficientNet normalises inside the backbone itself; the
        # EfficientNet-Lite weights expect (x - 127) / 128.
        MODES = types.MappingProxyType({
            "mobilenet_v2": "tf", "inception_v3": "tf", "xception": "tf",
            "resnet50": "caffe", "efficientnet": "none", "efficientnet_lite": "lite"})
        MODULES = tuple(MODES)
        _CAFFE_MEAN = (103.939, 116.779, 123.68)  # B, G, R

        def __init__(self, module, **kwargs):
            super().__init__(**kwargs)
            if module not in self.MODES:
                raise ValueError(
                    f"module must be one of {self.MODULES}; got {module!r}.")
            self.module = module

        def call(self, inputs):
            ops = keras.ops
            rgb = ops.concatenate([inputs, inputs, inputs], axis=-1)
            mode = self.MODES[self.module]
            if mode == "tf":
                return rgb / 127.5 - 1.0
            if mode == "caffe":
                mean = ops.convert_to_tensor(self._CAFFE_MEAN, dtype=rgb.dtype)
                return ops.flip(rgb, axis=-1) - mean
            if mode == "lite":
                return (rgb - 127.0) / 128.0
            return rgb

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (3,)

        def get_config(self):
            return {**super().get_config(), "module": self.module}

    class TargetLossStop(keras.callbacks.Callback):
        """Stop training once ``monitor`` falls below ``target``."""

        def __init__(self, target, monitor="val_loss"):
            super().__init__()
            self.target = float(target)
            self.monitor = monitor
            self.stopped_epoch = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(self.monitor)
            if value is not None and value < self.target:
                self.stopped_epoch = epoch
                self.model.stop_training = True

    class LearningRateLog(keras.callbacks.Callback):
        """Add the optimizer's current learning rate to the epoch logs."""

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                    self.model.optimizer.learning_rate))

    class ArrayBatches(keras.utils.PyDataset):
        """Mini-batches of in-memory arrays in a seeded order per epoch."""

        def __init__(self, x, y, sample_weight=None, *, batch_size, seed):
            super().__init__()
            self.x, self.y, self.sample_weight = x, y, sample_weight
            self.batch_size = batch_size
            self.seed = seed
            self.epoch = 0
            self.order = self._order()

        def _order(self):
            rng = np.random.default_rng([self.seed, self.epoch])
            return rng.permutation(len(self.x))

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, index):
            rows = self.order[index * self.batch_size:
                              (index + 1) * self.batch_size]
            if self.sample_weight is None:
                return self.x[rows], self.y[rows]
            return self.x[rows], self.y[rows], self.sample_weight[rows]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = self._order()

    return types.SimpleNamespace(
        BackbonePreprocessing=BackbonePreprocessing,
        TargetLossStop=TargetLossStop, LearningRateLog=LearningRateLog,
        ArrayBatches=ArrayBatches)
