"""Shared behaviour of every image classifier: inputs, targets, weights, saving.

Every model is ``class M(ImageClassifierMixin, ClassifierMixin, BaseEstimator)``
and implements ``fit(images, y, *, validation_data=None)``,
``predict_proba(images)`` and two persistence hooks:

``_save_native(self, directory) -> dict``
    Write the native model file(s) into the existing ``directory``
    (:class:`pathlib.Path`); return a small JSON-serialisable dict (file
    names, anything needed to read them back), stored as ``sidecar["native"]``.
``_load_native(self, directory, sidecar) -> None``
    On a fresh instance built with the saved parameters, with ``classes_`` and
    ``task_`` already set, read the native file(s) and set the remaining
    fitted attributes.

Optional: a class attribute ``_native_libraries`` (distribution names such as
``("xgboost",)`` or ``("keras", "tensorflow")``) recorded in the sidecar, and
``_preprocessing_info(self) -> dict`` (defaults to ``{"image_size": ...}``).

At the end of ``fit`` a model calls
:meth:`ImageClassifierMixin._fit_ood_guard` with its raw training images and
``validation_data``, which records the out-of-distribution guard
(``ood_guard_``, :mod:`classifiers.ood`); :meth:`~ImageClassifierMixin.ood_check`
and :meth:`~ImageClassifierMixin.explain` work for every model.

Helpers for ``fit``: :meth:`ImageClassifierMixin._validate_images`,
:meth:`~ImageClassifierMixin._prepare_images`,
:meth:`~ImageClassifierMixin._encode_targets` (sets ``classes_``/``task_``),
:meth:`~ImageClassifierMixin._encode_validation_targets` and
:meth:`~ImageClassifierMixin._sample_weight` (from ``self.class_weight``).
"""

import json
import os
import platform
import shutil
import secrets
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from classifiers.tasks import as_target_array, infer_task
from xray_features.utils import check_image_size, write_text_atomic

__all__ = ["ImageClassifierMixin", "infer_task", "check_image_size"]


class ImageClassifierMixin:
    """Image validation, target encoding, class weights, ``predict`` and ``save``.

    Subclasses implement ``fit``, ``predict_proba``, ``_save_native`` and
    ``_load_native`` (see the module docstring for the hook contract).

    Examples
    --------
    >>> import numpy as np
    >>> m = ImageClassifierMixin()
    >>> m.class_weight = "balanced"
    >>> y = m._encode_targets(np.array(["a", "a", "a", "b"]))
    >>> m.task_, m.classes_.tolist(), y.tolist()
    ('binary', ['a', 'b'], [0, 0, 0, 1])
    >>> m._sample_weight(y).round(3).tolist()
    [0.667, 0.667, 0.667, 2.0]
    """

    _native_libraries = ()
    #: Scalar parameters and their rules, checked by scikit-learn's
    #: ``BaseEstimator._validate_params`` (one message format for all models).
    _parameter_constraints = {}

    # ----------------------------------------------------------- inputs
    def _validate_images(self, images, *, name="images"):
        """Check images and return an (N, H, W) array or a list of 2-D arrays.

        Accepts an (N, H, W) stack or a non-empty sequence of 2-D arrays of
        dtype uint8 (0-255), uint16 (0-65535) or float in [0, 1], or a lazy
        :class:`xray_features.image_source.ImageSource` (returned as it is:
        models read it a chunk at a time, at their own size).
        """
        from xray_features.image_source import ImageSource

        if isinstance(images, ImageSource):
            if not len(images):
                raise ValueError(f"{name} is empty; pass at least one image")
            return images
        if isinstance(images, np.ndarray):
            if images.ndim != 3:
                hint = ("wrap one image as image[None]" if images.ndim == 2 else
                        "drop the channel axis with images[..., 0]" if images.ndim == 4
                        and images.shape[-1] == 1 else "pass an (N, H, W) stack")
                raise ValueError(f"{name} must be an (N, H, W) stack or a sequence of 2-D "
                                 f"images; got an array of shape {images.shape}; {hint}")
            if images.shape[0] == 0:
                raise ValueError(f"{name} is empty; pass at least one image")
            _check_pixels(images, f"{name}")
            return images
        if isinstance(images, (str, bytes)) or not hasattr(images, "__iter__"):
            raise TypeError(f"{name} must be an (N, H, W) array or a sequence of 2-D arrays; "
                            f"got {type(images).__name__}; load files with "
                            "xray_features.io.load_image first")
        images = [np.asarray(image) for image in images]
        if not images:
            raise ValueError(f"{name} is empty; pass at least one image")
        for i, image in enumerate(images):
            if image.ndim != 2:
                raise ValueError(f"{name}[{i}] must be a 2-D grayscale image; got shape "
                                 f"{image.shape}; convert colour images to gray first")
            _check_pixels(image, f"{name}[{i}]")
        return images

    def _prepare_images(self, images, *, size, as_float=False, name="images"):
        """Validate, resize with padding to ``size`` and stack the images.

        Returns an (N, h, w) array; its dtype is kept when all images share
        one, else (or when ``as_float``) it is float32 in [0, 1].
        """
        from xray_features.preprocess import resize_with_padding, to_float32

        size = check_image_size(size)
        images = self._validate_images(images, name=name)
        mixed = len({image.dtype for image in images}) > 1
        out = []
        for image in images:
            if as_float or mixed:
                image = to_float32(image)
            if image.shape != size:
                image = resize_with_padding(image, size)
            out.append(image)
        return np.stack(out)

    # ---------------------------------------------------------- targets
    def _encode_targets(self, y, *, n_samples=None, label_names=None):
        """Set ``classes_`` and ``task_`` from ``y``; return encoded targets.

        Single-label ``y`` is returned as int indices into ``classes_``;
        a multi-label indicator as an (N, L) int array, with ``classes_``
        = ``label_names`` (or a DataFrame's columns) or ``np.arange(L)``.
        """
        columns = list(y.columns) if hasattr(y, "columns") else None
        task = infer_task(y)
        y = as_target_array(y)
        if n_samples is not None and y.shape[0] != n_samples:
            raise ValueError(f"y has {y.shape[0]} targets but there are {n_samples} images; "
                             "pass one target per image")
        if task == "multilabel":
            names = label_names if label_names is not None else columns
            if names is not None and len(names) != y.shape[1]:
                raise ValueError(f"label_names has {len(names)} entries but y has "
                                 f"{y.shape[1]} columns")
            self.classes_ = np.asarray(names) if names is not None else np.arange(y.shape[1])
            encoded = y.astype(np.int64)
        else:
            self.classes_, encoded = np.unique(y, return_inverse=True)
        self.task_ = task
        return encoded

    def _encode_validation_targets(self, y, *, n_samples=None):
        """Encode validation targets with the ``classes_`` learned in ``fit``."""
        y = as_target_array(y)
        if n_samples is not None and y.shape[0] != n_samples:
            raise ValueError(f"validation y has {y.shape[0]} targets but there are "
                             f"{n_samples} validation images")
        if self.task_ == "multilabel":
            if y.ndim != 2 or y.shape[1] != len(self.classes_) or not np.isin(y, (0, 1)).all():
                raise ValueError(f"validation y must be a 0/1 indicator with "
                                 f"{len(self.classes_)} columns; got shape {y.shape}")
            return y.astype(np.int64)
        if y.ndim != 1:
            raise ValueError(f"validation y must be 1-D like the training y; got {y.shape}")
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"validation y has labels {unseen.tolist()} not seen in training "
                             f"(classes_ = {self.classes_.tolist()})")
        return np.searchsorted(self.classes_, y)

    def _sample_weight(self, y_encoded, class_weight="from_self"):
        """Per-sample weights from ``class_weight`` (default ``self.class_weight``).

        ``None`` -> ``None``; ``"balanced"`` -> n / (n_classes * count) per
        class; a dict maps class labels (entries of ``classes_``) to weights,
        unlisted classes weigh 1. For multi-label targets the weights are per
        (label, value) -- balanced: n / (2 * count), dict: weight of the
        positives of a label -- and a sample's weight is their mean.
        """
        if class_weight == "from_self":
            class_weight = getattr(self, "class_weight", None)
        if class_weight is None:
            return None
        y = np.asarray(y_encoded)
        n_out = len(self.classes_)
        table = np.ones((n_out, 2) if self.task_ == "multilabel" else n_out)
        if isinstance(class_weight, str) and class_weight == "balanced":
            if self.task_ == "multilabel":
                for j in range(n_out):
                    counts = np.bincount(y[:, j], minlength=2)
                    table[j] = np.where(counts > 0, len(y) / (2 * np.maximum(counts, 1)), 1.0)
            else:
                counts = np.bincount(y, minlength=n_out)
                table = np.where(counts > 0, len(y) / (n_out * np.maximum(counts, 1)), 1.0)
        elif isinstance(class_weight, dict):
            known = self.classes_.tolist()
            unknown = [k for k in class_weight if k not in known]
            if unknown:
                raise ValueError(f"class_weight has keys {unknown} that are not classes; "
                                 f"valid keys: {known}")
            for key, weight in class_weight.items():
                if not (isinstance(weight, (int, float, np.number)) and weight > 0
                        and np.isfinite(weight)):
                    raise ValueError(f"class_weight[{key!r}] must be a positive number; got "
                                     f"{weight!r}")
                index = known.index(key)
                if self.task_ == "multilabel":
                    table[index, 1] = weight
                else:
                    table[index] = weight
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict "
                             f"{{class: weight}}; got {class_weight!r}")
        if self.task_ == "multilabel":
            return table[np.arange(n_out), y].mean(axis=1)
        return table[y].astype(np.float64)

    # ------------------------------------------------------ predictions
    def predict(self, images):
        """Predict labels: argmax of ``predict_proba`` mapped to ``classes_``.

        For multi-label models, an (N, L) 0/1 array with 1 where the label's
        probability is >= 0.5.
        """
        proba = self.predict_proba(images)
        if self.task_ == "multilabel":
            return (proba >= 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------- OOD guard and explanations
    def _fit_ood_guard(self, images, validation_data=None):
        """Record what the training images look like (``ood_guard_``); the
        threshold comes from the validation images when given. Models call
        this at the end of ``fit`` with their raw training images."""
        from classifiers.ood import OODGuard

        validation = None if validation_data is None else validation_data[0]
        self.ood_guard_ = OODGuard().fit(
            self._validate_images(images),
            validation_images=None if validation is None else self._validate_images(
                validation, name="validation images"))

    def ood_check(self, images, colours=None):
        """Out-of-distribution verdicts (:class:`classifiers.ood.OODResult`) per image.

        A model saved before the guard existed has none: every image then
        passes with ``check="none"`` and the reason says so.
        """
        from classifiers.ood import NO_GUARD_REASON, OODResult

        images = self._validate_images(images)
        guard = getattr(self, "ood_guard_", None)
        if guard is None:
            return [OODResult(float("nan"), False, NO_GUARD_REASON, "none") for _ in images]
        return guard.check(images, colours)

    def explain(self, images):
        """Heatmaps per image and class; see :func:`classifiers.explanations.explain`."""
        from classifiers.explanations import explain

        return explain(self, images)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------ saving
    def _preprocessing_info(self):
        """Preprocessing recorded in the sidecar; override to add entries."""
        return {"image_size": getattr(self, "image_size", None),
                "resize": "resize_with_padding",
                "input": "2-D images: uint8 0-255, uint16 0-65535 or float in [0, 1]"}

    def save(self, path, *, on_staging=None):
        """Save the fitted model to a directory (native file + ``model.json``).

        Parameters
        ----------
        path : str or path-like
            A new or empty directory, or one holding an earlier saved model
            (whose files are replaced; other files there are kept). The
            model is written into a hidden sibling folder first
            (``.NAME.<random>.saving``) and moved in with ``model.json``
            last, so an interrupted save leaves the earlier model or a
            folder that the next save repairs.
        on_staging : callable, optional
            Called with the path of that sibling folder before it is made
            (a results folder lists it, so that a kill midway leaves nothing
            it does not know of).

        Returns
        -------
        path : pathlib.Path
            The model directory; load it with :func:`classifiers.load_model`.

        Raises
        ------
        ValueError
            If ``path`` is a file, a link, or a non-empty directory without a
            model.
        TypeError
            If a parameter cannot be stored as JSON.
        """
        from sklearn.utils.validation import check_is_fitted

        from classifiers import persistence as p

        check_is_fitted(self)
        directory = Path(path)
        if directory.is_symlink():
            raise ValueError(f"path '{path}' is a symbolic link; save() writes into a real "
                             "directory only")
        if directory.exists() and not directory.is_dir():
            raise ValueError(f"path '{path}' is a file; save() needs a directory path")
        if directory.is_dir() and not p.holds_saved_model(directory):
            raise ValueError(f"directory '{path}' is not empty and holds no saved model; "
                             "choose a new or empty directory")
        params = {k: p.encode_value(v, name=k) for k, v in self._stored_params().items()}
        preprocessing = {k: p.encode_value(v, name=k)
                         for k, v in self._preprocessing_info().items()}
        directory.parent.mkdir(parents=True, exist_ok=True)
        # Everything is written into a hidden sibling folder first, so a kill
        # midway leaves the earlier model (or nothing) in `directory`.
        staging = _make_staging(directory, on_staging)
        try:
            native = self._save_native(staging)
            sidecar = {
                "format": p.FORMAT_NAME,
                "format_version": p.FORMAT_VERSION,
                "estimator": p.class_path(type(self)),
                "params": params,
                "classes": p.encode_classes(self.classes_),
                "task": self.task_,
                "preprocessing": preprocessing,
                "native": native,
                "checksums": p.file_checksums(staging, native),
                "ood_guard": (None if getattr(self, "ood_guard_", None) is None
                              else self.ood_guard_.to_dict()),
                "versions": {"python": platform.python_version(),
                             **p.library_versions(self._native_libraries)},
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            write_text_atomic(staging / p.SIDECAR_NAME, json.dumps(sidecar, indent=2))
            _move_into(staging, directory, last=p.SIDECAR_NAME)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return directory

    def _stored_params(self):
        """The parameters written to ``model.json`` (a model whose members
        are saved as files stores their names instead)."""
        return self.get_params(deep=False)

    def _save_native(self, directory):
        raise NotImplementedError(f"{type(self).__name__} does not implement _save_native")

    def _load_native(self, directory, sidecar):
        raise NotImplementedError(f"{type(self).__name__} does not implement _load_native")


def _make_staging(directory, on_staging):
    """A new hidden sibling folder of ``directory`` (mode 0700, as
    :func:`tempfile.mkdtemp` makes), announced to ``on_staging`` first."""
    while True:
        staging = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.saving"
        if staging.exists() or staging.is_symlink():
            continue
        if on_staging is not None:
            on_staging(staging)
        try:
            staging.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return staging


def _move_into(staging, directory, *, last):
    """Move the files of ``staging`` into ``directory``: one rename when
    ``directory`` is new or empty, else file by file with ``last`` (the
    sidecar) removed first and moved last, so the folder never pairs a new
    native file with an old sidecar."""
    if not directory.exists() or not any(directory.iterdir()):
        os.replace(staging, directory)  # rename(2) replaces an empty directory
        return
    (directory / last).unlink(missing_ok=True)
    for item in sorted(staging.iterdir(), key=lambda item: item.name == last):
        target = directory / item.name
        if item.is_dir() and target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)


def _check_pixels(images, name):
    kind = images.dtype.kind
    if images.dtype in (np.uint8, np.uint16):
        pass
    elif kind == "f":
        if images.size and not np.isfinite(images).all():
            raise ValueError(f"{name} contains NaN or infinite pixels; fill or drop them")
        if images.size and (images.min() < 0 or images.max() > 1):
            raise ValueError(f"float {name} must lie in [0, 1]; got range "
                             f"[{images.min():.4g}, {images.max():.4g}]; rescale with "
                             "xray_features.preprocess.rescale_to_unit or pass uint8 0-255")
    else:
        raise TypeError(f"{name} has dtype {images.dtype}; expected uint8 (0-255), uint16 "
                        "(0-65535) or float in [0, 1]; convert e.g. with .astype(np.uint8)")
    if 0 in images.shape:
        raise ValueError(f"{name} has an empty dimension (shape {images.shape})")
