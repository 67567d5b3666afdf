"""Nested training subsets for learning curves.

A learning curve retrains each model on growing subsets of one split's
training set and scores every fit on the same untouched validation and test
sets. The subsets here are:

- **nested**: for one curve seed, every smaller subset is contained in every
  larger one (each subset is a prefix of one seeded ordering of the training
  set), so a curve shows what more images buy, not what other images do;
- **stratified**: the ordering interleaves the classes in proportion to their
  counts, so every prefix holds about the training set's class shares;
- **group-aware**: with groups (e.g. patient ids) whole groups are ordered
  and taken, so a patient's images are never split between taken and left
  out; a subset is then the shortest prefix of groups with at least the
  requested number of images.

Sizes of at least the training set are clamped to ``"all"`` (with a note);
a size too small to hold every class is refused, naming the size and the
class counts it would hold.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from benchmarks.evaluation.splits import _stratify_target
from xray_features.utils import check_scalar

__all__ = ["CurvePoint", "parse_train_sizes", "nested_order", "nested_subset",
           "plan_learning_curve", "CURVE_SEED_LIMIT"]

#: Sizes below this many images are fitted ``curve_seeds`` times (their
#: spread over subsets is what the bands show); larger sizes and ``"all"``
#: once, since their spread is small against their cost.
CURVE_SEED_LIMIT = 1000


@dataclass(frozen=True, eq=False)
class CurvePoint:
    """One point of a learning curve: a training subset of one split.

    Parameters
    ----------
    fold : int
        The split whose training set was subsampled.
    train_size : str
        The size asked for, as a label: ``"50"`` or ``"all"``.
    curve_seed : int
        Which of the seeded subsets of that size (0, 1, ...).
    train : (n,) ndarray of int
        Dataset row indices of the subset (sorted).

    Examples
    --------
    >>> CurvePoint(0, "50", 1, np.arange(50)).key
    'n50-seed1'
    """

    fold: int
    train_size: str
    curve_seed: int
    train: np.ndarray

    @property
    def key(self):
        """The part key of this point (``"n50-seed1"``); ``""`` for ``"all"``,
        whose fit is the run's own (model, fold) part."""
        return "" if self.train_size == "all" else f"n{self.train_size}-seed{self.curve_seed}"


def parse_train_sizes(sizes):
    """Read training-set sizes: positive integers and ``"all"``.

    Parameters
    ----------
    sizes : str or sequence of int or str
        ``"50,100,all"`` or ``[50, 100, "all"]``.

    Returns
    -------
    sizes : tuple
        Distinct sizes, integers ascending, then ``"all"`` if given.

    Raises
    ------
    ValueError
        An entry that is neither a positive integer nor ``"all"``.

    Examples
    --------
    >>> parse_train_sizes("300, 50,all,100")
    (50, 100, 300, 'all')
    """
    items = sizes.split(",") if isinstance(sizes, str) else sizes
    if items is None or isinstance(items, (bytes, numbers.Number)):
        raise ValueError(f"train_sizes must be a list of positive integers and 'all', "
                         f"e.g. '50,100,all'; got {sizes!r}.")
    numbers_, has_all = set(), False
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if text == "all":
            has_all = True
            continue
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        if isinstance(text, bool) or not isinstance(text, numbers.Integral) or text < 1:
            raise ValueError(f"train_sizes entries must be positive integers or 'all', "
                             f"e.g. '50,100,all'; got {item!r} in {sizes!r}.")
        numbers_.add(int(text))
    if not numbers_ and not has_all:
        raise ValueError(f"train_sizes must name at least one size; got {sizes!r}.")
    return tuple(sorted(numbers_)) + (("all",) if has_all else ())


def _interleave(units, target, rng):
    """Order ``units`` so every prefix holds each class in proportion.

    Systematic stratified sampling: the ``j``-th of the ``n_c`` shuffled
    units of class ``c`` gets the key ``(j + u) / n_c`` with ``u`` uniform in
    [0, 1); sorting by key interleaves the classes at their rates.
    """
    keys = np.empty(len(units))
    for value in np.unique(target):
        members = np.flatnonzero(target == value)
        members = members[rng.permutation(len(members))]
        keys[members] = (np.arange(len(members)) + rng.random(len(members))) / len(members)
    return units[np.argsort(keys, kind="stable")]


def nested_order(train, labels, *, task, groups=None, seed=0):
    """A seeded ordering of a training set whose prefixes are stratified.

    Parameters
    ----------
    train : (n,) array_like of int
        Dataset row indices of the training set.
    labels : ndarray
        Labels of the whole dataset (class indices, or a 0/1 matrix for
        multi-label, which is stratified on its rarest usable label).
    task : {'binary', 'multiclass', 'multilabel'}
    groups : (N,) array_like, optional
        Group of every image of the dataset; whole groups are ordered (a
        group's class is its most frequent one).
    seed : int
        Seed of the shuffles.

    Returns
    -------
    order : list of ndarray
        Units in order: one index array per group (one image each without
        groups). Concatenated, they are the training set.

    Examples
    --------
    >>> labels = np.array([0] * 6 + [1] * 3)
    >>> order = nested_order(np.arange(9), labels, task="binary", seed=0)
    >>> sorted(labels[np.concatenate(order[:3])].tolist())
    [0, 0, 1]
    """
    train = np.sort(np.asarray(train, dtype=np.intp))
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    target = _stratify_target(labels[train], task, 2)
    if groups is None:
        units = [np.array([i]) for i in train]
        unit_target = np.zeros(len(train)) if target is None else target
    else:
        names, inverse = np.unique(np.asarray(groups)[train], return_inverse=True)
        units = [train[inverse == g] for g in range(len(names))]
        if target is None:
            unit_target = np.zeros(len(units))
        else:  # a group's class: its most frequent one (ties: the smallest)
            unit_target = np.array([np.bincount(target[inverse == g]).argmax()
                                    for g in range(len(names))])
    positions = _interleave(np.arange(len(units)), unit_target, rng)
    return [units[p] for p in positions]


def nested_subset(order, size):
    """The shortest prefix of ``order`` with at least ``size`` images, sorted.

    Examples
    --------
    >>> nested_subset([np.array([4, 5]), np.array([1]), np.array([0])], 3).tolist()
    [1, 4, 5]
    """
    counts = np.cumsum([len(unit) for unit in order])
    stop = int(np.searchsorted(counts, size)) + 1
    return np.sort(np.concatenate(order[:stop]))


def _class_counts(labels, task, class_names):
    if task == "multilabel":
        counts = labels.sum(axis=0) if len(labels) else np.zeros(len(class_names), int)
    else:
        counts = np.bincount(labels, minlength=len(class_names))
    return {name: int(count) for name, count in zip(class_names, counts)}


def plan_learning_curve(dataset, splits, train_sizes, *, curve_seeds=3, seed=0):
    """Every (fold, size, curve seed) subset of a learning curve.

    Parameters
    ----------
    dataset : benchmarks.Dataset
        Only ``labels``, ``groups``, ``task`` and ``class_names`` are used.
    splits : list of benchmarks.Split
        The run's splits; each split's training set is subsampled, its
        validation and test sets are kept as they are.
    train_sizes : str or sequence
        Sizes (see :func:`parse_train_sizes`).
    curve_seeds : int
        Subsets per size below :data:`CURVE_SEED_LIMIT` images.
    seed : int
        The run's seed; curve seed ``k`` orders the training set with
        ``seed + k``.

    Returns
    -------
    points : list of CurvePoint
        Ordered by fold, size, curve seed; ``"all"`` last.
    notes : list of str
        Sizes clamped to ``"all"``.

    Raises
    ------
    ValueError
        A size whose subset would miss a class (the message names the size
        and the class counts it would hold), or bad ``curve_seeds``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from benchmarks.evaluation.splits import Split
    >>> data = SimpleNamespace(labels=np.arange(40) % 2, groups=None, task="binary",
    ...                        class_names=("a", "b"))
    >>> points, notes = plan_learning_curve(data, [Split(0, np.arange(30), [], [30])],
    ...                                     "10,50", curve_seeds=2)
    >>> [(p.train_size, p.curve_seed, len(p.train)) for p in points], notes
    ([('10', 0, 10), ('10', 1, 10), ('all', 0, 30)], ['train size 50 is at least the 30 training images of fold 0: fitted once, as all'])
    """
    sizes = parse_train_sizes(train_sizes)
    curve_seeds = check_scalar(curve_seeds, "curve_seeds", low=1)
    labels = np.asarray(dataset.labels)
    points, notes = [], []
    for split in splits:
        n_train = len(split.train)
        clamped = [size for size in sizes if size != "all" and size >= n_train]
        notes += [f"train size {size} is at least the {n_train} training images of fold "
                  f"{split.fold}: fitted once, as all" for size in clamped]
        small = [size for size in sizes if size != "all" and size < n_train]
        orders = [nested_order(split.train, labels, task=dataset.task,
                               groups=dataset.groups, seed=seed + k)
                  for k in range(curve_seeds)]
        for size in small:
            for k in range(curve_seeds if size < CURVE_SEED_LIMIT else 1):
                subset = nested_subset(orders[k], size)
                counts = _class_counts(labels[subset], dataset.task, dataset.class_names)
                if min(counts.values()) == 0:
                    raise ValueError(
                        f"train size {size} is too small to hold every class (curve seed "
                        f"{k}, fold {split.fold}): its subset would hold {counts}. Use a "
                        "larger size.")
                points.append(CurvePoint(split.fold, str(size), k, subset))
        if "all" in sizes or clamped:
            points.append(CurvePoint(split.fold, "all", 0, np.asarray(split.train)))
    return points, notes
