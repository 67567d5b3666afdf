"""Load models saved with ``save(path)``; never unpickles anything.

A saved model is a directory holding the model's native file (XGBoost
UBJSON, a Keras ``.keras`` archive, ...) and a ``model.json`` sidecar written
by :meth:`classifiers.base.ImageClassifierMixin.save`. :func:`load_model`
reads the sidecar, checks its format marker and version, looks the estimator
class up in an explicit whitelist of import paths, rebuilds the estimator from
its stored parameters and asks it to read its native file.

Hooks a model class implements (see :mod:`classifiers.base`):

``_save_native(self, directory) -> dict``
    Write the native model file(s) into ``directory`` (a
    :class:`pathlib.Path` that already exists) and return a small
    JSON-serialisable dict (file names, best iteration, ...). It is stored in
    the sidecar under ``"native"``.
``_load_native(self, directory, sidecar) -> None``
    Called on a fresh instance built with the stored parameters and with
    ``classes_`` and ``task_`` already restored; read the native file(s) from
    ``directory`` and set the remaining fitted attributes. ``sidecar`` is the
    whole decoded ``model.json`` dict (``sidecar["native"]`` is what
    ``_save_native`` returned).

Beside the model the sidecar holds the SHA-256 of the native file
(``"checksums"``; a changed or damaged file is refused) and the fitted
out-of-distribution guard (``"ood_guard"``, plain numbers, see
:mod:`classifiers.ood`). Models saved before these entries existed load as
before, with ``ood_guard_ = None``.
"""

import importlib
import json
import os
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

from classifiers.tasks import TASKS

__all__ = ["ModelLoadError", "load_model"]

#: Format marker and version written to (and required in) every sidecar.
FORMAT_NAME = "xray-bench-model"
FORMAT_VERSION = 1
SIDECAR_NAME = "model.json"

#: The only estimator classes :func:`load_model` will build, by import path.
ESTIMATOR_CLASSES = {
    "classifiers.xgb.FeatureXGBClassifier": ("classifiers.xgb", "FeatureXGBClassifier"),
    "classifiers.linear.LinearProbeClassifier": ("classifiers.linear", "LinearProbeClassifier"),
    "classifiers.hybrid.HybridXGBClassifier": ("classifiers.hybrid", "HybridXGBClassifier"),
    "classifiers.keras_models.CNNClassifier": ("classifiers.keras_models", "CNNClassifier"),
    "classifiers.transfer.TransferClassifier": ("classifiers.transfer", "TransferClassifier"),
    "classifiers.ensemble.EnsembleClassifier": ("classifiers.ensemble", "EnsembleClassifier"),
}

#: Packages whose scikit-learn estimators may appear as nested parameters
#: (feature extractors), stored as class path + parameters.
NESTED_ESTIMATOR_PACKAGES = ("xray_features",)
#: Feature extractors of other packages that may be nested likewise.
NESTED_ESTIMATOR_CLASSES = ("classifiers.embeddings.BackboneEmbeddings",)


#: Files that only ``save()`` (and ``xray-bench run --save-models``) write in a
#: model folder; a folder holding nothing else is a half-written model of ours.
OWN_FILE_NAMES = ("model.ubj", "model.keras", "linear.npz", "input.json", SIDECAR_NAME,
                  SIDECAR_NAME + ".tmp")


def holds_saved_model(directory):
    """Whether ``save()`` may write into the existing folder ``directory``:
    it is empty, holds a ``model.json``, or holds only files a save writes
    (a save interrupted by an earlier version).

    Examples
    --------
    >>> import tempfile
    >>> holds_saved_model(tempfile.mkdtemp())
    True
    """
    directory = Path(directory)
    names = [entry.name for entry in directory.iterdir()]
    return SIDECAR_NAME in names or set(names) <= set(OWN_FILE_NAMES)


def native_file(directory, native, default):
    """The native model file named in a sidecar, refusing anything but a
    plain file name inside ``directory`` (no folders, no hidden files, no
    links).

    Raises
    ------
    ModelLoadError
        If the name is not a plain file name or the file is a link.

    Examples
    --------
    >>> native_file("m", {"file": "../../etc/x.keras"}, "model.keras")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    classifiers.persistence.ModelLoadError: ... '../../etc/x.keras' is not a plain name ...
    """
    name = (native or {}).get("file", default)
    if (not isinstance(name, str) or not name or "/" in name or "\\" in name
            or name.startswith(".") or name != Path(name).name):
        raise ModelLoadError(directory, f"native file name {name!r} is not a plain name "
                                        "inside the model folder")
    path = Path(directory) / name
    if path.is_symlink():
        raise ModelLoadError(directory, f"native file {name!r} is a symbolic link; a saved "
                                        "model holds its own files")
    return path


class ModelLoadError(ValueError):
    """A saved model cannot be loaded; the message names the path and reason.

    Attributes
    ----------
    path : str
        The path that was given to :func:`load_model`.
    reason : str
        Why it could not be loaded.
    """

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load model from '{path}': {reason}")


def class_path(cls):
    """Return ``"module.ClassName"`` for a class (the key used in sidecars)."""
    return f"{cls.__module__}.{cls.__qualname__}"


# ----------------------------------------------------------------- encoding
def encode_value(value, *, name="value"):
    """Turn a parameter value into plain JSON, tagging tuples, dicts, arrays.

    Tuples, dicts (any hashable keys), NumPy arrays and nested scikit-learn
    estimators are tagged so :func:`decode_value` restores them exactly.

    Raises
    ------
    TypeError
        If the value (or something inside it) cannot be stored as JSON.
    """
    from sklearn.base import BaseEstimator

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, os.PathLike):
        # A weights file given as a Path is stored as its string; loading
        # gives back a str, which every path parameter accepts.
        return os.fspath(value)
    if isinstance(value, float):
        if not np.isfinite(value):
            return {"__float__": repr(value)}
        return value
    if isinstance(value, np.generic):
        return encode_value(value.item(), name=name)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"parameter {name!r}: arrays of dtype {value.dtype} cannot be "
                            "stored in model.json; use a numeric array or a list")
        return {"__ndarray__": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, name=name) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, name=name) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[encode_value(k, name=name), encode_value(v, name=name)]
                             for k, v in value.items()]}
    if isinstance(value, BaseEstimator):
        path = class_path(type(value))
        if path.split(".")[0] not in NESTED_ESTIMATOR_PACKAGES \
                and path not in NESTED_ESTIMATOR_CLASSES:
            raise TypeError(f"parameter {name!r}: estimator {path} cannot be stored in "
                            f"model.json; only estimators from {NESTED_ESTIMATOR_PACKAGES} "
                            "(feature extractors) can be nested")
        params = value.get_params(deep=False)
        return {"__estimator__": path,
                "params": {k: encode_value(v, name=f"{name}.{k}") for k, v in params.items()}}
    raise TypeError(f"parameter {name!r} has a value of type {type(value).__name__} that "
                    "cannot be stored in model.json; use numbers, strings, lists, dicts, "
                    "None or a feature extractor (an int instead of a RandomState)")


def decode_value(data):
    """Inverse of :func:`encode_value`; raises ValueError on unknown content."""
    if isinstance(data, list):
        return [decode_value(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__float__" in data:
        return float(data["__float__"])
    if "__tuple__" in data:
        return tuple(decode_value(v) for v in data["__tuple__"])
    if "__dict__" in data:
        return {_hashable(decode_value(k)): decode_value(v) for k, v in data["__dict__"]}
    if "__ndarray__" in data:
        return np.asarray(data["__ndarray__"], dtype=np.dtype(str(data["dtype"])))
    if "__estimator__" in data:
        cls = _nested_estimator_class(str(data["__estimator__"]))
        params = {k: decode_value(v) for k, v in dict(data.get("params", {})).items()}
        return cls(**params)
    raise ValueError(f"unrecognised value in model.json: {data!r}")


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _nested_estimator_class(path):
    from sklearn.base import BaseEstimator

    module_name, _, attr = path.rpartition(".")
    if module_name.split(".")[0] not in NESTED_ESTIMATOR_PACKAGES \
            and path not in NESTED_ESTIMATOR_CLASSES:
        raise ValueError(f"nested estimator {path!r} is not from an allowed package "
                         f"{NESTED_ESTIMATOR_PACKAGES}")
    cls = getattr(importlib.import_module(module_name), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise ValueError(f"nested estimator {path!r} is not a scikit-learn estimator class")
    return cls


def encode_classes(classes):
    """Store ``classes_`` as values plus dtype."""
    classes = np.asarray(classes)
    return {"values": classes.tolist(), "dtype": classes.dtype.str}


def decode_classes(data):
    """Inverse of :func:`encode_classes`."""
    values = data["values"]
    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in "biufUO":
        raise ValueError(f"classes have unsupported dtype {dtype}")
    return np.asarray(values, dtype=dtype)


def library_versions(extra=()):
    """Installed versions of numpy, scikit-learn, xray-bench and ``extra``."""
    versions = {}
    for dist in ("xray-bench", "numpy", "scikit-learn", *extra):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def file_checksums(directory, native):
    """SHA-256 of the native model file named in ``native["file"]`` and of
    those in ``native["extra_files"]`` (checked by :func:`load_model`, so a
    changed or damaged file is refused)."""
    import hashlib

    native = native or {}
    names = [native.get("file"), *(native.get("extra_files") or ())]
    return {name: hashlib.sha256((Path(directory) / name).read_bytes()).hexdigest()
            for name in names
            if isinstance(name, str) and (Path(directory) / name).is_file()}


def _verify_checksums(path, directory, sidecar):
    recorded = sidecar.get("checksums") or {}
    if not isinstance(recorded, dict):
        raise ModelLoadError(path, f"{SIDECAR_NAME} has an invalid checksums entry")
    for name, digest in recorded.items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise ModelLoadError(path, f"checksum entry {name!r} is not a plain file name")
        current = file_checksums(directory, {"file": name}).get(name)
        if current is None:
            raise ModelLoadError(path, f"model file '{name}' is missing")
        if current != digest:
            raise ModelLoadError(path, f"model file '{name}' does not match the checksum "
                                       "recorded when it was saved (changed or damaged)")


def _load_guard(path, estimator, sidecar):
    """Attach the OOD guard; a model saved before guards existed gets None."""
    from classifiers.ood import OODGuard

    data = sidecar.get("ood_guard")
    try:
        estimator.ood_guard_ = None if data is None else OODGuard.from_dict(data)
    except ValueError as exc:
        raise ModelLoadError(path, str(exc)) from exc


# ------------------------------------------------------------------ loading
def load_model(path):
    """Load a model saved with ``estimator.save(path)``.

    Parameters
    ----------
    path : str or path-like
        The model directory (or its ``model.json``).

    Returns
    -------
    estimator : fitted classifier
        An instance of the saved class, ready for ``predict``/``predict_proba``.

    Raises
    ------
    ModelLoadError
        If the path is missing, ``model.json`` is absent, corrupted or of an
        unknown format version, names an estimator outside the whitelist
        :data:`ESTIMATOR_CLASSES`, the native model file does not match its
        recorded checksum or cannot be read, or the OOD guard entry is invalid.

    Warns
    -----
    UserWarning
        If a library that wrote the model (XGBoost, Keras, ...) has a different
        major version now; predictions may differ slightly.

    Examples
    --------
    >>> from classifiers.persistence import load_model, ModelLoadError
    >>> try:
    ...     load_model("no/such/model")
    ... except ModelLoadError as err:
    ...     print(err.reason)
    no such file or directory
    """
    directory = Path(path)
    if not directory.exists():
        raise ModelLoadError(path, "no such file or directory")
    if directory.is_file():
        if directory.name != SIDECAR_NAME:
            raise ModelLoadError(path, "expected a model directory written by save(), "
                                       "got a file")
        directory = directory.parent
    sidecar = _read_sidecar(path, directory / SIDECAR_NAME)
    cls = _estimator_class(path, sidecar["estimator"])
    _check_image_sizes(path, sidecar["params"])
    try:
        params = {k: decode_value(v) for k, v in dict(sidecar["params"]).items()}
        estimator = cls(**params)
        estimator.classes_ = decode_classes(sidecar["classes"])
    except (TypeError, ValueError, KeyError, ImportError, AttributeError) as exc:
        raise ModelLoadError(path, f"stored parameters or classes are invalid: {exc}") from exc
    estimator.task_ = sidecar["task"]
    versions = sidecar.get("versions") or {}
    if not isinstance(versions, dict):
        raise ModelLoadError(path, f"{SIDECAR_NAME} 'versions' must be an object of library "
                                   f"names and versions; got a {type(versions).__name__}")
    _check_library_versions(path, versions)
    _verify_checksums(path, directory, sidecar)
    try:
        estimator._load_native(directory, sidecar)
    except ModelLoadError:
        raise
    except Exception as exc:  # any reader failure becomes a load error naming the path
        raise ModelLoadError(path, f"native model file could not be read: "
                                   f"{type(exc).__name__}: {exc}") from exc
    _load_guard(path, estimator, sidecar)
    return estimator


def _read_sidecar(path, sidecar_path):
    if not sidecar_path.is_file():
        raise ModelLoadError(path, f"no {SIDECAR_NAME} found; is this a directory written "
                                   "by save()?")
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(path, f"{SIDECAR_NAME} is corrupted (not valid JSON: {exc})") \
            from exc
    if not isinstance(sidecar, dict) or sidecar.get("format") != FORMAT_NAME:
        found = sidecar.get("format") if isinstance(sidecar, dict) else type(sidecar).__name__
        raise ModelLoadError(path, f"{SIDECAR_NAME} has format marker {found!r}, expected "
                                   f"{FORMAT_NAME!r}; it was not written by save()")
    version = sidecar.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelLoadError(path, f"{SIDECAR_NAME} has an invalid format_version "
                                   f"{version!r}")
    if version > FORMAT_VERSION:
        raise ModelLoadError(path, f"format_version {version} is newer than this "
                                   f"installation reads ({FORMAT_VERSION}); upgrade xray-bench")
    missing = [k for k in ("estimator", "params", "classes", "task") if k not in sidecar]
    if missing:
        raise ModelLoadError(path, f"{SIDECAR_NAME} lacks required keys {missing}")
    if sidecar["task"] not in TASKS:
        raise ModelLoadError(path, f"task {sidecar['task']!r} is not one of {TASKS}")
    return sidecar


def _check_image_sizes(path, params):
    """Refuse a stored working size outside 8..MAX_IMAGE_SIZE (in any nested
    estimator too), which would otherwise ask for petabytes at predict time."""
    from xray_features._safety import MAX_IMAGE_SIZE

    if not isinstance(params, dict):
        raise ModelLoadError(path, f"{SIDECAR_NAME} 'params' must be an object; got a "
                                   f"{type(params).__name__}")
    for key, value in params.items():
        if key == "image_size" and isinstance(value, dict) and "__tuple__" in value:
            value = value["__tuple__"]
        if isinstance(value, dict):
            _check_image_sizes(path, value.get("params", {}) if "__estimator__" in value
                               else value)
            continue
        if key != "image_size" or value is None:
            continue
        sides = value if isinstance(value, list) and len(value) == 2 else [value]
        if not all(isinstance(s, int) and not isinstance(s, bool)
                   and 8 <= s <= MAX_IMAGE_SIZE for s in sides):
            raise ModelLoadError(path, f"{SIDECAR_NAME} params.image_size must be null, an "
                                       f"integer from 8 to {MAX_IMAGE_SIZE} or a pair of "
                                       f"them; got {value!r}")


def _estimator_class(path, name):
    if name not in ESTIMATOR_CLASSES:
        raise ModelLoadError(path, f"unknown estimator {name!r}; only "
                                   f"{sorted(ESTIMATOR_CLASSES)} can be loaded")
    module_name, attr = ESTIMATOR_CLASSES[name]
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelLoadError(path, f"estimator {name!r} is not available in this "
                                   f"installation: {exc}") from exc


def _check_library_versions(path, saved):
    installed = library_versions(tuple(k for k in saved if k not in
                                       ("python", "xray-bench", "numpy", "scikit-learn")))
    for dist, old in saved.items():
        new = installed.get(dist)
        if not old or not new or dist == "python":
            continue
        if str(old).split(".")[0] != str(new).split(".")[0]:
            warnings.warn(f"model at '{path}' was saved with {dist} {old}, {new} is "
                          "installed; predictions may differ", UserWarning, stacklevel=3)
