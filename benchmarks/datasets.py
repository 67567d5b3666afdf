"""One dataset record for every source: phantoms, class folders, CSVs, MedMNIST.

:func:`load_dataset` reads a source into a :class:`Dataset`, whose images
are either held in memory (``images``) or decoded on demand from files
(``paths``, see :meth:`Dataset.load_images`). Whatever the source, the
record has the same aligned attributes (labels, ids, groups, split), so a
benchmark swaps one dataset for another in one line.

Bad inputs (missing files, unknown or empty classes, duplicate rows,
unreadable images) are never dropped silently: by default they are skipped,
listed in ``Dataset.skipped`` with their reason and summarised in one
:class:`DatasetWarning`; with ``strict=True`` they raise
:class:`DatasetError`.
"""

import hashlib
import inspect
import os
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Dataset", "DatasetError", "DatasetWarning", "load_dataset"]

TASKS = ("binary", "multiclass", "multilabel")
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
        >>> ds = load_dataset("phantoms:fracture", n_images=4, image_size=64)
        >>> ds.load_images(size=32).images.shape
        (4, 32, 32)
        """
        from benchmarks._image_loading import load_dataset_images

        return load_dataset_images(self, size=size, strict=strict, n_jobs=n_jobs,
                                   progress=progress, max_bytes=max_bytes)

    def summary(self):
        """Counts per class and per split, as a JSON-ready dict.

        Examples
        --------
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


def _check_options(loader, options, source):
    allowed = [p for p in inspect.signature(loader).parameters if p != "source"]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"load_dataset: option(s) {unknown} do not apply to source {source!r}; "
                        f"the options for this kind of source are {allowed}.")


def load_dataset(source=None, **options):
    """Read a dataset from phantoms, a class folder, a CSV or a MedMNIST ``.npz``.

    Parameters
    ----------
    source : None, str or path-like
        - ``None`` or ``"phantoms"``: synthetic phantoms, four classes (long
          bone intact / fractured, joint normal / with a double contour) at
          difficulty "easy"; ``"phantoms:<task>"`` picks another phantom task
          (``"phantoms:fracture"``, ``"phantoms:double-contour"``). Options
          ``n_images`` (default 400), ``image_size`` (default 128), ``seed``
          (default 0), ``difficulty``, ``balance``: 400 images of 128 px,
          made in a few seconds, keep a first run quick.
        - A folder with one sub-folder per class, optionally below
          ``train/``, ``val/``, ``test/`` folders, which become ``split``.
          Images: png, jpg, jpeg, bmp, tif, tiff, dcm. Class names sorted,
          ids are paths relative to the folder.
        - A folder of images with ``labels="labels.csv"``: labels from the
          CSV, images (e.g. DICOM) from the folder.
        - A ``.csv`` (or ``.tsv``) file of image names and labels; see
          Notes for options.
        - A ``.npz`` file in the MedMNIST layout (``train_images``,
          ``train_labels``, ``val_*``, ``test_*``) with its official split;
          option ``class_names``.
    **options
        Source options (above and in Notes), and for every source
        ``strict`` (default False: skip bad items, listed in ``skipped``,
        with one warning; True: raise) and ``name``.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Source missing or unreadable, fewer than two classes, or any bad item
        when ``strict=True``.
    TypeError
        An option that does not apply to the source.

    Notes
    -----
    CSV options: ``image_dir`` (default: the CSV's folder), ``image_col``
    and ``label_col`` (auto-detected), ``group_col`` (auto-detects
    ``"Patient ID"`` and the like; ``False`` for none), ``split_col``
    (auto-detects ``"split"``; ``False`` for none), ``label_sep="|"``.
    Task: ``positive=`` (and ``negative=``, e.g. ``"No Finding"``) gives a
    binary task, positive images (the finding alone or with others) against
    images whose only labels are negative ones (without ``negative``: all
    other images); ``classes=[...]`` a multi-class task over images with
    exactly one label among them; ``multilabel=True`` (or
    ``task="multilabel"``) an ``(N, L)`` indicator matrix over all labels
    or ``classes``, where ``negative=`` labels give all-zero rows. Class
    names keep the order of ``classes``, else they are sorted. By default
    a CSV of single labels gives a multi-class task (binary for two
    classes). Rows left out by the task are listed in ``skipped`` too.
    A file name is looked up under ``image_dir`` as written, then with an
    image extension added if it has none, then as a unique file of that
    name in any sub-folder (ChestX-ray14 ships ``images_001/`` ...).
    A name that leads outside ``image_dir`` (``../x.png``, an absolute
    path) is skipped unless ``allow_outside_images=True``, which a warning
    then reports. Labels such as ``NaN``, ``N/A`` or ``null`` mark a
    missing label: those rows are skipped and counted, never a class.

    References
    ----------
    .. [1] Wang X. et al., "ChestX-ray8: Hospital-scale chest X-ray database
       and benchmarks", CVPR 2017 (the ``Finding Labels`` convention).
    .. [2] Yang J. et al., "MedMNIST v2", Scientific Data 10:41, 2023 (the
       ``.npz`` layout).

    Examples
    --------
    >>> ds = load_dataset("phantoms:fracture", n_images=10, image_size=32, seed=1)
    >>> ds
    Dataset('phantoms:fracture', 10 images 32x32, binary: intact=5 fracture=5)
    """
    if source is None or (isinstance(source, str) and source.split(":")[0] == "phantoms"):
        from benchmarks._array_loaders import load_phantoms as loader
    else:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"load_dataset: source must be None, 'phantoms', or a path to a "
                            f"folder, .csv or .npz file, got {type(source).__name__}.")
        path = os.fspath(source)
        suffix = os.path.splitext(path)[1].lower()
        if not os.path.exists(path):
            raise DatasetError(f"load_dataset: source {path!r} does not exist; give an existing "
                               "folder, .csv or .npz file, or 'phantoms'.")
        if os.path.isdir(path):
            if "labels" in options:
                from benchmarks._csv_loader import load_folder_with_csv as loader
            else:
                from benchmarks._folder_loaders import load_class_folders as loader
        elif suffix in (".csv", ".tsv"):
            from benchmarks._csv_loader import load_csv as loader
        elif suffix == ".npz":
            from benchmarks._array_loaders import load_npz as loader
        else:
            raise DatasetError(f"load_dataset: cannot read source {path!r} (suffix {suffix!r}); "
                               "give a class folder, a .csv of labels or a MedMNIST .npz.")
    _check_options(loader, options, source)
    return loader(source, **options)
