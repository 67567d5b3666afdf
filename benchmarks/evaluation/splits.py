"""Leakage-safe train/validation/test splits.

Every model in a benchmark is trained and tested on the same splits, built here
from a dataset's labels, patient groups and (optionally) official split:

- ``"official"`` uses ``dataset.split`` as published;
- ``"holdout"`` makes one stratified train/val/test split;
- ``"cv"`` makes stratified k-fold splits, each fold's validation set carved
  from its own training part, so thresholds and early stopping never see the
  test fold.

When ``dataset.groups`` is set (e.g. patient ids) every split keeps each group
on one side, and every split made or used is checked for shared groups.
"""

import hashlib
import numbers
from dataclasses import dataclass

import numpy as np

from classifiers.tasks import TASKS
from xray_features.utils import check_scalar

__all__ = ["Split", "LeakageError", "make_splits", "check_group_leakage",
           "shared_groups", "find_duplicate_images", "image_digest"]

STRATEGIES = ("official", "holdout", "cv")
_SET_NAMES = ("train", "val", "test")


class LeakageError(ValueError):
    """A group (e.g. a patient) appears in more than one of train/val/test."""


def _index_array(values, name):
    array = np.asarray(values)
    if array.size == 0:
        return np.empty(0, dtype=np.intp)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be a 1-D array of integer indices; got an "
                        f"array of dtype {array.dtype} and shape {array.shape}.")
    return array.astype(np.intp)


@dataclass(frozen=True, eq=False)
class Split:
    """Indices of one train/validation/test split.

    Parameters
    ----------
    fold : int
        Fold number (0 for an official or hold-out split).
    train, val, test : (n,) ndarray of int
        Row indices into the dataset; ``val`` may be empty. Stored read-only.

    Examples
    --------
    >>> Split(0, [0, 1, 2], [3], [4, 5])
    Split(fold=0, train=3, val=1, test=2)
    """

    fold: int
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self):
        for name in _SET_NAMES:
            array = _index_array(getattr(self, name), f"Split.{name}").copy()
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        object.__setattr__(self, "fold", int(self.fold))

    def __repr__(self):
        return (f"Split(fold={self.fold}, train={len(self.train)}, "
                f"val={len(self.val)}, test={len(self.test)})")


def check_group_leakage(groups, *index_sets, names=None):
    """Raise :class:`LeakageError` if any group appears in two index sets.

    Parameters
    ----------
    groups : (N,) array_like or None
        Group of every sample (e.g. patient id). ``None`` means the samples
        are independent and there is nothing to check.
    *index_sets : (n,) array_like of int
        Row indices of each set (e.g. train, val, test).
    names : sequence of str, optional
        Names of the sets for the message; ``"set 0"``, ``"set 1"``... if omitted.

    Raises
    ------
    LeakageError
        With the number of shared groups, the first few ids and which sets share them.

    Examples
    --------
    >>> check_group_leakage(["a", "a", "b"], [0, 1], [2])
    >>> check_group_leakage(["a", "a", "b"], [0], [1, 2])
    Traceback (most recent call last):
    ...
    benchmarks.evaluation.splits.LeakageError: 1 group appears in more than one set (set 0 and set 1 share 1): 'a'. ...
    """
    if groups is None:
        return
    pairs = shared_groups(groups, *index_sets, names=names)
    shared = set().union(*pairs.values()) if pairs else set()
    pairs = [f"{a} and {b} share {len(common)}" for (a, b), common in pairs.items()]
    if shared:
        first = ", ".join(repr(g) for g in sorted(shared, key=str)[:5])
        more = ", ..." if len(shared) > 5 else ""
        noun = "group appears" if len(shared) == 1 else "groups appear"
        raise LeakageError(
            f"{len(shared)} {noun} in more than one set ({'; '.join(pairs)}): "
            f"{first}{more}. Images of one patient must stay on one side; split by "
            "group (make_splits does this when dataset.groups is set).")


def shared_groups(groups, *index_sets, names=None):
    """The groups that two index sets have in common, for every pair of sets.

    Parameters
    ----------
    groups : (N,) array_like
        Group of every sample (e.g. patient id).
    *index_sets : (n,) array_like of int
        Row indices of each set.
    names : sequence of str, optional
        Names of the sets; ``"set 0"``, ``"set 1"``... if omitted.

    Returns
    -------
    dict
        ``{(name_a, name_b): sorted list of shared groups}``, only for pairs
        that share at least one group.

    Examples
    --------
    >>> shared_groups(["p1", "p1", "p2", "p3"], [0, 2], [1, 3], names=["train", "test"])
    {('train', 'test'): ['p1']}
    """
    groups = np.asarray(groups)
    if names is None:
        names = [f"set {i}" for i in range(len(index_sets))]
    if len(names) != len(index_sets):
        raise ValueError(f"names must give one name per index set ({len(index_sets)}); "
                         f"got {len(names)}.")
    members = []
    for name, indices in zip(names, index_sets):
        indices = _index_array(indices, name)
        if indices.size and (indices.min() < -len(groups) or indices.max() >= len(groups)):
            raise IndexError(f"{name} holds indices outside 0..{len(groups) - 1}.")
        members.append(np.unique(groups[indices]))
    found = {}
    for i in range(len(members)):
        for j in range(i + 1, len(members)):
            common = np.intersect1d(members[i], members[j])
            if common.size:
                found[(names[i], names[j])] = sorted(common.tolist(), key=str)
    return found


def image_digest(image):
    """A 16-byte BLAKE2b digest of an image's dtype, shape and pixels.

    Equal digests mean byte-identical images (the test for exact duplicates).

    Examples
    --------
    >>> a = np.zeros((4, 4), dtype=np.uint8)
    >>> image_digest(a) == image_digest(a.copy()), image_digest(a) == image_digest(a + 1)
    (True, False)
    """
    image = np.ascontiguousarray(image)
    hasher = hashlib.blake2b(digest_size=16)
    hasher.update(f"{image.dtype.str}{image.shape}".encode())
    hasher.update(image.tobytes())
    return hasher.digest()


def find_duplicate_images(images, index_a, index_b):
    """Find byte-identical images shared by two index sets.

    Each image is hashed (BLAKE2b of its dtype, shape and bytes) as the
    images stream past, a chunk at a time, so the cost is one pass over the
    pixels and memory holds one chunk (``images`` may be a lazy
    :class:`xray_features.image_source.ImageSource`).

    Parameters
    ----------
    images : (N, H, W) ndarray or sequence of 2-D arrays
        All images of the dataset.
    index_a, index_b : (n,) array_like of int
        Row indices of the two sets (e.g. train and test).

    Returns
    -------
    pairs : list of (int, int)
        ``(i, j)`` with ``i`` in ``index_a``, ``j`` in ``index_b`` and
        ``images[i]`` identical to ``images[j]``, sorted.

    Examples
    --------
    >>> stack = np.zeros((3, 4, 4), dtype=np.uint8); stack[1] += 1
    >>> find_duplicate_images(stack, [0, 1], [2])
    [(0, 2)]
    """
    if images is None:
        raise ValueError("images is None: load the images first "
                         "(dataset.load_images()) to look for duplicates.")
    index_a = _index_array(index_a, "index_a")
    index_b = _index_array(index_b, "index_b")

    def digests(index, chunk_size=256):
        for start in range(0, len(index), chunk_size):
            chosen = index[start:start + chunk_size]
            block = images[chosen] if hasattr(images, "shape") else [images[i] for i in chosen]
            yield from zip(chosen.tolist(), map(image_digest, block))

    by_hash = {}
    for i, digest in digests(index_a):
        by_hash.setdefault(digest, []).append(i)
    pairs = []
    for j, digest in digests(index_b):
        pairs.extend((i, j) for i in by_hash.get(digest, ()))
    return sorted(pairs)


# --------------------------------------------------------------------- helpers
def _stratify_target(labels, task, n_splits):
    """Labels to stratify on, or None when stratification is not possible.

    Multi-label: the rarest label that still has ``n_splits`` positives and
    negatives (rare findings are the ones a fold can miss by chance); None if
    no label qualifies.
    """
    if task != "multilabel":
        return labels
    positives = labels.sum(axis=0)
    negatives = len(labels) - positives
    eligible = np.flatnonzero((positives >= n_splits) & (negatives >= n_splits))
    if eligible.size == 0:
        return None
    return labels[:, eligible[np.argmin(positives[eligible])]]


def _check_class_counts(target, needed, what, class_names=None):
    if target is None:
        return
    values, counts = np.unique(target, return_counts=True)
    if counts.min() < needed:
        rare = values[counts < needed].tolist()
        if class_names is not None and all(0 <= v < len(class_names) for v in rare):
            rare = [f"{class_names[v]!r} ({v})" for v in rare]  # names, not indices
        fix = ("Use fewer folds (--cv K; n_folds in Python), a hold-out split (--split "
               "holdout; strategy='holdout'), or more images." if "fold" in what else
               "Use more images of that class, or merge or drop the class.")
        raise ValueError(
            f"{what} needs at least {needed} images of every class; class(es) "
            f"[{', '.join(map(str, rare))}] have only {counts.min()}. {fix}")


def _class_names(dataset, task):
    """Names of the classes the labels index (single-label tasks), if known."""
    names = getattr(dataset, "class_names", None)
    return None if task == "multilabel" or names is None else list(names)


def _carve(candidates, fraction, target, groups, seed, what):
    """Split ``candidates`` into (rest, carved) with ``fraction`` carved,
    stratified on ``target`` and group-aware when ``groups`` is set."""
    from sklearn.model_selection import (GroupKFold, StratifiedGroupKFold,
                                         train_test_split)

    if fraction <= 0:
        return candidates, np.empty(0, dtype=np.intp)
    sub_target = None if target is None else target[candidates]
    if groups is None:
        try:
            rest, carved = train_test_split(candidates, test_size=fraction,
                                            stratify=sub_target, random_state=seed)
        except ValueError as error:
            raise ValueError(
                f"cannot carve a stratified {what} of {fraction:.3g} from "
                f"{len(candidates)} images ({error}). Use more images, another "
                "size, or val_size=0.") from None
        return np.sort(rest), np.sort(carved)
    # StratifiedGroupKFold has no size argument: the first of round(1/fraction)
    # folds is carved, so the carved share is only approximately `fraction`.
    n_splits = max(2, int(round(1.0 / fraction)))
    n_groups = len(np.unique(groups[candidates]))
    if n_groups < n_splits:
        raise ValueError(
            f"cannot carve a group-aware {what} of {fraction:.3g}: it needs at "
            f"least {n_splits} groups and the images come from {n_groups}. Use images "
            "from more groups (e.g. patients), or fewer folds (--cv K; n_folds in "
            "Python); from Python a larger test_size/val_size also works.")
    if sub_target is None:
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        sub_target = np.zeros(len(candidates))
    else:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True,
                                        random_state=seed)
    rest, carved = next(splitter.split(candidates, sub_target, groups[candidates]))
    return candidates[rest], candidates[carved]


def _official(dataset, labels, target, groups, val_size, seed):
    split = getattr(dataset, "split", None)
    if split is None:
        raise ValueError(
            f"strategy='official' needs an official split, but dataset "
            f"{getattr(dataset, 'name', '')!r} has none (dataset.split is None). "
            "Use a hold-out split or cross-validation (--split holdout or --cv K; "
            "strategy='holdout' or 'cv' in Python).")
    split = np.asarray(split).astype(str)
    if split.shape != (len(labels),):
        raise ValueError(f"dataset.split must have one entry per image "
                         f"({len(labels)}); got shape {split.shape}.")
    unknown = sorted(set(np.unique(split)) - set(_SET_NAMES))
    if unknown:
        raise ValueError(f"dataset.split may only hold 'train', 'val' and 'test'; "
                         f"got {unknown}. Map them when loading the dataset.")
    train, val, test = (np.flatnonzero(split == name) for name in _SET_NAMES)
    if train.size == 0 or test.size == 0:
        raise ValueError(f"the official split needs 'train' and 'test' images; got "
                         f"{train.size} train and {test.size} test.")
    try:
        check_group_leakage(groups, train, val, test, names=_SET_NAMES)
    except LeakageError as error:
        raise LeakageError(
            f"the official split of dataset {getattr(dataset, 'name', '')!r} is "
            f"refused: {error} Use a hold-out split or cross-validation (--split holdout "
            "or --cv K; strategy='holdout' or 'cv' in Python), which keep each group on "
            "one side.") from None
    if val.size == 0 and val_size > 0:
        share = val_size * len(labels) / train.size
        if share >= 1:
            raise ValueError(f"val_size={val_size} of all images is more than the "
                             f"official training part ({train.size} images); use a "
                             "smaller val_size or val_size=0.")
        train, val = _carve(train, share, target, groups, seed, "validation set")
    return [Split(0, train, val, test)]


def make_splits(dataset, *, strategy="official", n_folds=5, val_size=0.15,
                test_size=0.2, seed=0):
    """Build the train/validation/test splits that every model is evaluated on.

    Parameters
    ----------
    dataset : Dataset
        Only ``labels``, ``groups``, ``split`` and ``task`` are used.
    strategy : {'official', 'holdout', 'cv'}, optional
        ``'official'``: ``dataset.split`` as published (if it has no 'val'
        images, ``val_size`` of the images are carved from its training part;
        pass ``val_size=0`` to keep it exactly as given). ``'holdout'``: one
        stratified split. ``'cv'``: ``n_folds`` stratified folds; every image
        is in exactly one test fold.
    n_folds : int, optional
        Number of folds for ``'cv'`` (>= 2).
    val_size : float, optional
        Fraction of *all* images used for validation, always taken from the
        training part (so defaults give 65/15/20 for both holdout and 5-fold cv).
    test_size : float, optional
        Fraction of images in the test set for ``'holdout'``.
    seed : int, optional
        Seed of the shuffles; the same seed gives the same splits.

    Returns
    -------
    splits : list of Split
        One for 'official' and 'holdout', ``n_folds`` for 'cv'.

    Raises
    ------
    ValueError
        Unknown strategy, bad sizes, or too few images per class or group.
    LeakageError
        If the official split puts one group in two sets.

    Notes
    -----
    Binary and multi-class splits are stratified on the class. Multi-label
    splits are stratified on the rarest label that has at least ``n_folds``
    (or enough for the holdout) positives and negatives, so a rare finding
    reaches every test fold; if no label qualifies the split is plain
    (Group)KFold. With groups, splitting uses ``StratifiedGroupKFold``
    (also for holdout: the first of ``round(1/test_size)`` folds is the test
    set), so sizes are approximate.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> data = SimpleNamespace(labels=np.arange(40) % 2, groups=None, split=None,
    ...                        task="binary")
    >>> make_splits(data, strategy="cv", n_folds=4)[0]
    Split(fold=0, train=24, val=6, test=10)
    """
    from sklearn.model_selection import (GroupKFold, KFold, StratifiedGroupKFold,
                                         StratifiedKFold)

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}.")
    n_folds = check_scalar(n_folds, "n_folds", low=2)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer; got {seed!r}.")
    test_size = check_scalar(test_size, "test_size", integer=False, low=0, high=1,
                             low_open=True, high_open=True, noun="fraction")
    val_size = check_scalar(val_size, "val_size", integer=False, low=0, high=1,
                            high_open=True, noun="fraction")
    task = getattr(dataset, "task", None)
    if task not in TASKS:
        raise ValueError(f"dataset.task must be 'binary', 'multiclass' or "
                         f"'multilabel'; got {task!r}.")
    labels = np.asarray(dataset.labels)
    n = len(labels)
    if n == 0 or labels.ndim != (2 if task == "multilabel" else 1):
        raise ValueError(f"dataset.labels of shape {labels.shape} does not fit "
                         f"{n} images of a {task} task.")
    groups = None if dataset.groups is None else np.asarray(dataset.groups)
    if groups is not None and groups.shape != (n,):
        raise ValueError(f"dataset.groups must have one entry per image ({n}); got "
                         f"shape {groups.shape}.")
    seed = int(seed)

    if strategy == "official":
        target = _stratify_target(labels, task, 2)
        splits = _official(dataset, labels, target, groups, val_size, seed)
    elif strategy == "holdout":
        if val_size + test_size >= 1:
            raise ValueError(f"val_size + test_size must be < 1; got {val_size} + "
                             f"{test_size}.")
        target = _stratify_target(labels, task, 3 if val_size > 0 else 2)
        _check_class_counts(target, 3 if val_size > 0 else 2, "a stratified holdout",
                            _class_names(dataset, task))
        everything = np.arange(n)
        rest, test = _carve(everything, test_size, target, groups, seed, "test set")
        train, val = _carve(rest, val_size / (1 - test_size), target, groups, seed,
                            "validation set")
        splits = [Split(0, train, val, test)]
    else:
        if val_size >= 1 - 1 / n_folds:
            raise ValueError(f"val_size must be smaller than the training part of a "
                             f"fold (1 - 1/n_folds = {1 - 1 / n_folds:.3g}); got "
                             f"{val_size}.")
        target = _stratify_target(labels, task, n_folds)
        _check_class_counts(target, n_folds, f"{n_folds}-fold cross-validation",
                            _class_names(dataset, task))
        if groups is not None and len(np.unique(groups)) < n_folds:
            raise ValueError(f"{n_folds}-fold cross-validation needs at least "
                             f"{n_folds} groups; got {len(np.unique(groups))}.")
        if groups is None:
            splitter = (KFold if target is None else StratifiedKFold)(
                n_splits=n_folds, shuffle=True, random_state=seed)
        else:
            splitter = (GroupKFold if target is None else StratifiedGroupKFold)(
                n_splits=n_folds, shuffle=True, random_state=seed)
        y = np.zeros(n) if target is None else target
        splits = []
        for fold, (rest, test) in enumerate(splitter.split(np.zeros(n), y, groups)):
            train, val = _carve(rest, val_size * n / len(rest), target, groups,
                                seed + fold, "validation set")
            splits.append(Split(fold, train, val, np.sort(test)))

    for split in splits:
        check_group_leakage(groups, split.train, split.val, split.test,
                            names=_SET_NAMES)
    return splits
