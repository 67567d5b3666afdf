"""The bottom layer of :mod:`benchmarks.datasets`: the record and its errors.

:class:`Dataset` holds images (in memory or as file paths) with aligned
labels, ids, groups and split; :class:`DatasetError` refuses a source,
:class:`DatasetWarning` reports skipped items. Nothing here imports a
loader at module level; the package's :func:`~benchmarks.datasets.load_dataset`
builds records from sources.

The one import cycle kept in ``benchmarks``, on purpose: :meth:`Dataset.load_images`
hands over to :mod:`benchmarks.datasets._image_loading` (and problems are
collected by :mod:`benchmarks.datasets._problems`), which build and return
``Dataset`` records. The record is what users hold, so decoding its files is
a method of it; the loader needs the record type to return one. The import
going back up is inside the method, run only once every module has loaded.
"""

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from classifiers.tasks import TASKS

__all__ = ["Dataset", "DatasetError", "DatasetWarning", "TASKS", "SPLITS"]

SPLITS = ("train", "val", "test")


class DatasetError(ValueError):
    """A dataset source that cannot be read as asked; the message says why and how to fix it."""


class DatasetWarning(UserWarning):
    """Items of a dataset source were skipped; the message gives counts and examples."""


def _as_str_array(values, name, n=None):
    if values is None:
        return None
    array = np.asarray([str(v) for v in values], dtype=str)
    if array.ndim != 1 or (n is not None and len(array) != n):
        raise ValueError(f"Dataset: {name} must be a 1-D sequence of {n} values, "
                         f"got shape {np.shape(values)}; give one value per image.")
    return array


def _check_labels(labels, class_names, task):
    """Labels as int64, checked against the task and the class names."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "biu":
        raise TypeError(f"Dataset: labels must be integers, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    want_ndim = 2 if task == "multilabel" else 1
    if labels.ndim != want_ndim:
        raise ValueError(f"Dataset: task {task!r} needs {want_ndim}-D labels, "
                         f"got shape {labels.shape}.")
    n_classes = len(class_names)
    if task == "multilabel":
        if labels.shape[1] != n_classes or not np.isin(labels, (0, 1)).all():
            raise ValueError(f"Dataset: multilabel labels must be 0/1 with one column per "
                             f"class name ({n_classes}), got shape {labels.shape}.")
    elif len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"Dataset: labels must index class_names (0..{n_classes - 1}), "
                         f"got values {labels.min()}..{labels.max()}.")
    if task == "binary" and n_classes != 2:
        raise ValueError(f"Dataset: a binary task has 2 class names, got {class_names}.")
    return labels


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images with aligned labels, ids, patient groups and a predefined split.

    Parameters
    ----------
    labels : (N,) int ndarray or (N, L) ndarray of 0/1
        Class indices into ``class_names`` (binary, multiclass) or an
        indicator matrix with one column per name (multilabel).
    class_names : tuple of str
        Names of the classes (or labels), in index order.
    task : {'binary', 'multiclass', 'multilabel'}
        Classification task.
    ids : (N,) str ndarray
        Unique image ids, e.g. paths relative to the dataset root.
    images : (N, H, W) uint8 ndarray, optional
        Pixels in memory; ``None`` while the dataset is lazy.
    paths : list of str, optional
        Image files, decoded by :meth:`load_images`. At least one of
        ``images`` and ``paths`` is given.
    groups : (N,) ndarray, optional
        Group of each image (e.g. patient id), to keep groups out of two splits.
    split : (N,) str ndarray, optional
        Predefined split of each image: ``'train'``, ``'val'`` or ``'test'``.
    name : str
        Short name for reports.
    skipped : list of (str, str)
        ``(id, reason)`` of each item of the source left out.

    Examples
    --------
    >>> import numpy as np
    >>> ds = Dataset(labels=[0, 1, 1], class_names=("a", "b"), task="binary",
    ...              ids=["x", "y", "z"], images=np.zeros((3, 4, 4), np.uint8))
    >>> ds
    Dataset('dataset', 3 images 4x4, binary: a=1 b=2)
    >>> ds.subset([0, 2]).ids.tolist()
    ['x', 'z']
    """

    labels: np.ndarray
    class_names: tuple
    task: str
    ids: np.ndarray
    images: np.ndarray = None
    paths: list = None
    groups: np.ndarray = None
    split: np.ndarray = None
    name: str = "dataset"
    skipped: list = field(default_factory=list)

    def __post_init__(self):
        put = object.__setattr__
        if self.task not in TASKS:
            raise ValueError(f"Dataset: task must be one of {TASKS}, got {self.task!r}.")
        class_names = tuple(str(c) for c in self.class_names)
        put(self, "class_names", class_names)
        labels = _check_labels(self.labels, class_names, self.task)
        n = len(labels)
        put(self, "labels", labels)
        ids = _as_str_array(self.ids, "ids", n)
        if len(set(ids.tolist())) != n:
            dup = [i for i, c in Counter(ids.tolist()).items() if c > 1][:3]
            raise ValueError(f"Dataset: ids must be unique, got repeats such as {dup}.")
        put(self, "ids", ids)
        if self.images is None and self.paths is None:
            raise ValueError("Dataset: give images (in memory) or paths (decoded lazily), "
                             "got neither.")
        if self.images is not None:
            images = np.asarray(self.images)
            if images.dtype != np.uint8 or images.ndim != 3 or len(images) != n:
                raise ValueError(f"Dataset: images must be a ({n}, H, W) uint8 stack, got "
                                 f"shape {images.shape} dtype {images.dtype}.")
            put(self, "images", images)
        if self.paths is not None:
            paths = [os.fspath(p) for p in self.paths]
            if len(paths) != n:
                raise ValueError(f"Dataset: paths must hold {n} entries, got {len(paths)}.")
            put(self, "paths", paths)
        groups = None if self.groups is None else _as_str_array(self.groups, "groups", n)
        put(self, "groups", groups)
        split = _as_str_array(self.split, "split", n)
        if split is not None and not np.isin(split, SPLITS).all():
            bad = sorted(set(split.tolist()) - set(SPLITS))[:3]
            raise ValueError(f"Dataset: split values must be in {SPLITS}, got {bad}.")
        put(self, "split", split)
        put(self, "skipped", [(str(i), str(r)) for i, r in self.skipped])

    def __len__(self):
        return len(self.labels)

    def _class_counts(self, mask=None):
        labels = self.labels if mask is None else self.labels[mask]
        if self.task == "multilabel":
            counts = labels.sum(axis=0) if len(labels) else np.zeros(len(self.class_names), int)
        else:
            counts = np.bincount(labels, minlength=len(self.class_names))
        return {name: int(c) for name, c in zip(self.class_names, counts)}

    def __repr__(self):
        if self.images is not None:
            size = f" {self.images.shape[1]}x{self.images.shape[2]}"
        else:
            size = ", lazy"
        counts = " ".join(f"{k}={v}" for k, v in self._class_counts().items())
        parts = [f"Dataset({self.name!r}, {len(self)} images{size}, {self.task}: {counts}"]
        if self.split is not None:
            parts.append("split " + " ".join(f"{s}={int((self.split == s).sum())}"
                                             for s in SPLITS if (self.split == s).any()))
        if self.groups is not None:
            parts.append(f"{len(set(self.groups.tolist()))} groups")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return ", ".join(parts) + ")"

    def subset(self, indices):
        """Return the images at ``indices`` (ints or a boolean mask), all attributes aligned.

        Examples
        --------
        >>> from benchmarks.datasets import load_dataset
        >>> ds = load_dataset("phantoms:fracture", n_images=8, image_size=32)
        >>> len(ds.subset(ds.labels == 1))
        4
        """
        index = np.asarray(indices)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"subset: a boolean mask needs shape ({len(self)},), "
                                 f"got {index.shape}.")
            index = np.flatnonzero(index)
        elif index.size == 0:
            index = index.astype(np.int64)
        elif index.dtype.kind not in "iu" or index.ndim != 1:
            raise TypeError(f"subset: indices must be a 1-D array of ints or a boolean mask, "
                            f"got dtype {index.dtype} shape {index.shape}.")
        if index.size and (index.min() < -len(self) or index.max() >= len(self)):
            raise IndexError(f"subset: indices must lie in [0, {len(self)}), got "
                             f"{index.min()}..{index.max()}.")

        def take(values):
            return None if values is None else values[index]

        return replace(
            self, labels=self.labels[index], ids=self.ids[index], images=take(self.images),
            paths=None if self.paths is None else [self.paths[i] for i in index],
            groups=take(self.groups), split=take(self.split), skipped=list(self.skipped))

    def load_images(self, *, size=None, strict=False, n_jobs=1, progress=False,
                    max_bytes=None):
        """Decode the images into memory, resized with padding to ``size``.

        Parameters
        ----------
        size : int or (int, int), optional
            Output size (an int gives a square), keeping the aspect ratio and
            padding with black. ``None`` keeps the native size, which then
            must be the same for every image.
        strict : bool
            Raise :class:`DatasetError` naming the first unreadable file,
            instead of skipping unreadable files (listed in ``skipped``).
        n_jobs : int
            Parallel decoding workers (joblib) when greater than 1.
        progress : bool
            Show a tqdm progress bar.
        max_bytes : int
            Refuse, before decoding, a stack larger than this (default: half
            the physical memory, at least 2 GiB).

        Returns
        -------
        Dataset
            A new dataset with an ``(N, H, W)`` uint8 ``images`` stack.

        Examples
        --------
        >>> from benchmarks.datasets import load_dataset
        >>> ds = load_dataset("phantoms:fracture", n_images=4, image_size=64)
        >>> ds.load_images(size=32).images.shape
        (4, 32, 32)
        """
        from benchmarks.datasets._image_loading import load_dataset_images

        return load_dataset_images(self, size=size, strict=strict, n_jobs=n_jobs,
                                   progress=progress, max_bytes=max_bytes)

    def summary(self):
        """Counts per class and per split, as a JSON-ready dict.

        Examples
        --------
        >>> from benchmarks.datasets import load_dataset
        >>> load_dataset("phantoms:fracture", n_images=6, image_size=32).summary()["class_counts"]
        {'intact': 3, 'fracture': 3}
        """
        out = {"name": self.name, "task": self.task, "n_images": len(self),
               "class_names": list(self.class_names), "class_counts": self._class_counts()}
        if self.split is not None:
            out["split_counts"] = {s: int((self.split == s).sum()) for s in SPLITS}
            out["class_counts_by_split"] = {s: self._class_counts(self.split == s)
                                            for s in SPLITS}
        out["n_groups"] = None if self.groups is None else len(set(self.groups.tolist()))
        out["n_skipped"] = len(self.skipped)
        return out

    def fingerprint(self):
        """A short stable hash of ids, labels, split, class names and task.

        When the dataset has no ``paths`` (pixels given in memory, such as
        phantoms or a MedMNIST file), the pixels are hashed too, since ids
        alone do not identify them.

        Examples
        --------
        >>> from benchmarks.datasets import load_dataset
        >>> a = load_dataset("phantoms:fracture", n_images=4, image_size=32)
        >>> a.fingerprint() == load_dataset("phantoms:fracture", n_images=4, image_size=32).fingerprint()
        True
        """
        digest = hashlib.sha256()
        digest.update(f"{self.task}\n{chr(31).join(self.class_names)}\n".encode())
        digest.update("\n".join(self.ids.tolist()).encode())
        digest.update(np.ascontiguousarray(self.labels, dtype="<i8").tobytes())
        if self.split is not None:
            digest.update("\n".join(self.split.tolist()).encode())
        if self.paths is None:
            digest.update(np.ascontiguousarray(self.images).tobytes())
        return digest.hexdigest()[:16]
