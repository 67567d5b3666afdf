"""Datasets held in memory: synthetic phantoms and MedMNIST ``.npz`` files."""

import os

import numpy as np

from benchmarks.datasets._problems import Problems
from benchmarks.datasets._record import SPLITS, Dataset, DatasetError
from xray_features.utils import UnsafeFileError, array_limit, check_npz, format_bytes
from xray_features.utils import check_positive_int

__all__ = ["load_phantoms", "load_npz"]

#: Phantom defaults: 400 images of 128 px (the phantoms' native size) train
#: every model of a quick run in about a minute on a CPU. The four-class task
#: at "easy" separates the approaches: bright-edge features find fractures,
#: which the small CNN misses on 400 images, while both see double contours
#: (at "medium" the fracture task leaves most presets near chance).
PHANTOM_DEFAULTS = {"n_images": 400, "image_size": 128, "seed": 0, "task": "four-class",
                    "difficulty": "easy"}


def _task_of(labels, n_classes):
    if labels.ndim == 2:
        return "multilabel"
    return "binary" if n_classes == 2 else "multiclass"


def load_phantoms(source=None, *, n_images=PHANTOM_DEFAULTS["n_images"],
                  image_size=PHANTOM_DEFAULTS["image_size"], seed=PHANTOM_DEFAULTS["seed"],
                  difficulty=None, balance=None, max_bytes=None, strict=False, name=None):
    """Synthetic phantoms from :func:`xray_features.synthetic.make_phantom_dataset`.

    ``source`` is ``None`` or ``"phantoms"`` (the default task, four-class),
    or ``"phantoms:<task>"`` with a task of :data:`xray_features.synthetic.TASKS`.
    ``difficulty`` defaults to ``"easy"`` here (see ``PHANTOM_DEFAULTS``).
    ``strict`` has nothing to refuse here. ``n_images`` x ``image_size`` ** 2
    bytes must not exceed ``max_bytes`` (default: half the physical memory).
    """
    from xray_features.synthetic import make_phantom_dataset

    task = PHANTOM_DEFAULTS["task"]
    if difficulty is None:
        difficulty = PHANTOM_DEFAULTS["difficulty"]
    if isinstance(source, str) and ":" in source:
        task = source.split(":", 1)[1]
    max_bytes = check_positive_int(array_limit(max_bytes), name="max_bytes")
    _check_stack_bytes(n_images, image_size, max_bytes, f"phantoms:{task}")
    kwargs = {"n_images": n_images, "size": image_size, "seed": seed}
    if difficulty is not None:
        kwargs["difficulty"] = difficulty
    if balance is not None:
        kwargs["balance"] = balance
    try:
        images, labels, class_names = make_phantom_dataset(task, **kwargs)
    except ValueError as exc:
        raise DatasetError(f"load_dataset: cannot make phantoms 'phantoms:{task}': {exc}") from exc
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(class_names))
    if (counts == 0).any():
        raise DatasetError(
            f"load_dataset: phantoms 'phantoms:{task}' with n_images={n_images} leave class(es) "
            f"{[c for c, k in zip(class_names, counts) if k == 0]} without images; raise "
            f"n_images (at least {2 * len(class_names)}) or move balance away from 0 and 1.")
    ids = [f"phantom-{i:05d}" for i in range(len(labels))]
    return Dataset(labels=labels, class_names=tuple(class_names),
                   task=_task_of(labels, len(class_names)), ids=ids,
                   images=np.asarray(images, dtype=np.uint8), name=name or f"phantoms:{task}")


def _check_stack_bytes(n_images, image_size, max_bytes, source):
    """Refuse a stack of ``n_images`` square images that would exceed ``max_bytes``."""
    numbers = (n_images, image_size, max_bytes)
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in numbers):
        return   # the generator names the wrong type
    size = int(n_images) * int(image_size) ** 2
    if size > max_bytes:
        raise DatasetError(
            f"load_dataset: {source} with n_images={n_images} of {image_size} x {image_size} "
            f"needs {format_bytes(size)} of memory, more than max_bytes={max_bytes} "
            f"({format_bytes(max_bytes)}); lower n_images or image_size, or pass a larger "
            "max_bytes.")


def _to_gray_uint8(images, key):
    """(N, H, W) or (N, H, W, 3) -> (N, H, W) uint8."""
    import cv2

    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8:
        from xray_features.preprocess import to_uint8

        images = np.stack([to_uint8(image) for image in images]) if len(images) else \
            images.astype(np.uint8)
    if images.ndim == 4 and images.shape[-1] == 3:
        n, h, w, _ = images.shape
        # cvtColor works pixel by pixel, so the stack converts as one tall image.
        images = cv2.cvtColor(np.ascontiguousarray(images.reshape(n * h, w, 3)),
                              cv2.COLOR_RGB2GRAY).reshape(n, h, w)
    if images.ndim != 3:
        raise DatasetError(f"load_dataset: {key} must hold 2-D gray or RGB images "
                           f"(N, H, W) or (N, H, W, 3), got shape {images.shape}; 3-D volumes "
                           "are not supported.")
    return images


def load_npz(source, *, class_names=None, max_bytes=None, strict=False, name=None):
    """A MedMNIST-layout ``.npz`` (``<split>_images``, ``<split>_labels``) with its split.

    A file with plain ``images`` and ``labels`` arrays is read without split.
    Labels ``(N,)`` or ``(N, 1)`` are class indices; ``(N, L)`` with ``L > 1``
    is a multi-label indicator matrix. The archive is checked from its
    headers first: not a zip, object arrays, or arrays larger than
    ``max_bytes`` in all (default: half the physical memory), and zip bombs
    (members compressed over 200 times) are refused before any array is
    decompressed.
    """
    path = os.fspath(source)
    max_bytes = check_positive_int(array_limit(max_bytes), name="max_bytes")
    try:
        check_npz(path, max_bytes=max_bytes)
        archive = np.load(path, allow_pickle=False)
    except UnsafeFileError as exc:
        raise DatasetError(f"load_dataset: {exc}.") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"load_dataset: cannot read {path!r} as .npz: {exc}") from exc
    with archive:
        keys = set(archive.files)
        parts = [s for s in SPLITS if f"{s}_images" in keys and f"{s}_labels" in keys]
        if parts:
            pairs = [(s, f"{s}_images", f"{s}_labels") for s in parts]
        elif {"images", "labels"} <= keys:
            pairs = [(None, "images", "labels")]
        else:
            raise DatasetError(f"load_dataset: {path!r} has arrays {sorted(keys)}; expected the "
                               "MedMNIST layout train_images/train_labels (and val_, test_) "
                               "or images/labels.")
        images, labels, split, ids = [], [], [], []
        for part, image_key, label_key in pairs:
            x = _to_gray_uint8(archive[image_key], image_key)
            y = np.asarray(archive[label_key])
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if len(y) != len(x) or y.ndim not in (1, 2):
                raise DatasetError(f"load_dataset: {path!r}: {label_key} has shape {y.shape} "
                                   f"for {len(x)} images; expected (N,), (N, 1) or (N, L).")
            images.append(x)
            labels.append(y)
            prefix = part or "image"
            ids += [f"{prefix}/{i:05d}" for i in range(len(x))]
            split += [part] * len(x)
    if len({x.shape[1:] for x in images}) > 1 or len({y.ndim for y in labels}) > 1:
        raise DatasetError(f"load_dataset: {path!r}: the splits differ in image size or label "
                           "layout; all splits must share them.")
    images, labels = np.concatenate(images), np.concatenate(labels)
    if labels.dtype.kind == "f" and np.array_equal(labels, np.round(labels)):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "biu" or (labels.size and labels.min() < 0):
        raise DatasetError(f"load_dataset: {path!r}: labels must be non-negative integers, "
                           f"got dtype {labels.dtype}.")
    n_classes = labels.shape[1] if labels.ndim == 2 else int(labels.max()) + 1
    if class_names is None:
        class_names = tuple(str(i) for i in range(n_classes))
    else:
        class_names = tuple(str(c) for c in class_names)
        if labels.ndim == 1 and len(class_names) < n_classes or \
                labels.ndim == 2 and len(class_names) != n_classes:
            raise DatasetError(f"load_dataset: class_names gives {len(class_names)} names but "
                               f"{path!r} has {n_classes} classes; give one name per class.")
    n_classes = len(class_names)
    problems = Problems(f"load_dataset({path!r})")
    counts = labels.sum(axis=0) if labels.ndim == 2 else np.bincount(labels, minlength=n_classes)
    empty = [c for c, n in zip(class_names, counts) if n == 0]
    for c in empty:
        problems.add(c, "class has no images", "empty classes")
    if n_classes - len(empty) < 2:
        raise DatasetError(f"load_dataset: {path!r} has images of fewer than two classes "
                           f"(counts {dict(zip(class_names, counts.tolist()))}); nothing to "
                           "classify.")
    problems.resolve(strict)
    if empty and labels.ndim == 1:
        keep = [i for i, n in enumerate(counts) if n > 0]
        labels = np.searchsorted(keep, labels)
        class_names = tuple(class_names[i] for i in keep)
    elif empty:
        keep = counts > 0
        labels, class_names = labels[:, keep], tuple(np.asarray(class_names)[keep].tolist())
    split = None if pairs[0][0] is None else split
    name = name or os.path.splitext(os.path.basename(path))[0]
    return Dataset(labels=labels, class_names=class_names, task=_task_of(labels, len(class_names)),
                   ids=ids, images=images, split=split, name=name, skipped=problems.skipped())
