"""Choosing a classification task from per-image label sets (e.g. NIH ChestX-ray14).

A CSV row may carry several labels (``"Effusion|Pneumonia"``). These pure
functions turn the label sets of all rows into one task: binary (positive
finding vs negative-only images), multi-class (images with exactly one of
the chosen classes) or multi-label (an indicator matrix).
"""

import numpy as np

from benchmarks.datasets._record import DatasetError

__all__ = ["parse_labels", "sorted_names", "select_task", "drop_empty_classes"]

_TASK_OPTIONS = (None, "binary", "multiclass", "multilabel")


def parse_labels(value, sep):
    """``"A|B"`` -> ``("A", "B")``; blanks removed; the whole value when ``sep`` is None."""
    parts = [value] if sep is None else str(value).split(sep)
    return tuple(p.strip() for p in parts if p.strip())


def sorted_names(names):
    """Sort class names, numerically when they are all integers ("2" before "10")."""
    names = list(names)
    if names and all(n.lstrip("-").isdigit() for n in names):
        return sorted(names, key=int)
    return sorted(names)


def _as_name_list(value, option):
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(dict.fromkeys(value))
    raise TypeError(f"load_dataset: {option} must be a label name or a non-empty list of "
                    f"names, got {value!r}.")


def _check_known(names, known, option, problems):
    """Report names absent from every row; return the known ones."""
    for name in names:
        if name not in known:
            problems.add(name, f"{option} entry {name!r} is not a label of any row "
                         f"(labels: {sorted_names(known)[:10]})", "unknown classes")
    return [n for n in names if n in known]


def select_task(label_sets, *, positive=None, negative=None, classes=None, multilabel=False,
                task=None, problems, row_ids):
    """Give each row a target, or drop it with a reason.

    Returns
    -------
    keep : list of int
        Rows kept.
    targets : list
        Class index (binary, multiclass) or tuple of 0/1 (multilabel) per kept row.
    class_names : tuple of str
    task : str
    """
    if task not in _TASK_OPTIONS:
        raise ValueError(f"load_dataset: task must be one of {_TASK_OPTIONS}, got {task!r}.")
    multilabel = bool(multilabel) or task == "multilabel"
    positive = _as_name_list(positive, "positive")
    negative = _as_name_list(negative, "negative")
    classes = _as_name_list(classes, "classes")
    if positive is not None and (classes is not None or multilabel or task == "multiclass"):
        raise ValueError("load_dataset: positive= defines a binary task; it cannot be combined "
                         "with classes=, multilabel=True or task='multiclass'. Keep one.")
    if negative is not None and positive is None and not multilabel:
        raise ValueError(f"load_dataset: negative={negative!r} needs positive=... (binary task) "
                         "or multilabel=True (negative-only rows become all-zero rows).")
    known = set().union(*label_sets) if label_sets else set()
    neg = set(negative or ())
    keep, targets = [], []

    def drop(i, reason):
        problems.add(row_ids[i], reason, "rows outside the task", fatal=False)

    if positive is not None:
        pos_ok = _check_known(positive, known, "positive", problems)
        neg_ok = _check_known(negative or [], known, "negative", problems)
        pos, neg = set(pos_ok), set(neg_ok)
        pos_name = "|".join(positive)
        class_names = ("|".join(negative) if negative else f"not {pos_name}", pos_name)
        for i, labels in enumerate(label_sets):
            if pos & set(labels):
                keep.append(i), targets.append(1)
            elif negative is None or (neg and set(labels) <= neg):
                keep.append(i), targets.append(0)
            else:
                drop(i, f"labels {'|'.join(labels)!r} are neither a positive ({pos_name}) "
                        f"nor only negative ({'|'.join(negative)})")
        return keep, targets, class_names, "binary"

    if multilabel:
        columns = _check_known(classes, known, "classes", problems) if classes \
            else sorted_names(known - neg)
        _check_known(negative or [], known, "negative", problems)
        for i, labels in enumerate(label_sets):
            row = tuple(int(c in labels) for c in columns)
            if any(row) or (neg and set(labels) <= neg):
                keep.append(i), targets.append(row)
            else:
                drop(i, f"labels {'|'.join(labels)!r} include none of the chosen labels"
                        + (" and are not only negative" if neg else ""))
        return keep, targets, tuple(columns), "multilabel"

    if classes is not None:
        chosen = _check_known(classes, known, "classes", problems)
        index = {c: k for k, c in enumerate(chosen)}
        for i, labels in enumerate(label_sets):
            if len(labels) == 1 and labels[0] in index:
                keep.append(i), targets.append(index[labels[0]])
            elif len(labels) > 1 and index.keys() & set(labels):
                drop(i, f"several labels {'|'.join(labels)!r}; a multi-class task keeps "
                        "images with exactly one label")
            else:
                drop(i, f"label {'|'.join(labels)!r} is not among classes {chosen}")
        return keep, targets, tuple(chosen), "binary" if len(chosen) == 2 else "multiclass"

    several = [row_ids[i] for i, labels in enumerate(label_sets) if len(labels) > 1]
    if several:
        raise DatasetError(
            f"load_dataset: {len(several)} row(s) carry several labels (first: "
            f"{several[:3]}); choose a task: positive='...' (with negative='No Finding') for "
            "binary, classes=[...] for multi-class, or multilabel=True.")
    class_names = tuple(sorted_names(known))
    index = {c: k for k, c in enumerate(class_names)}
    keep = list(range(len(label_sets)))
    targets = [index[labels[0]] for labels in label_sets]
    return keep, targets, class_names, "binary" if len(class_names) == 2 else "multiclass"


def drop_empty_classes(targets, class_names, task, problems, source):
    """Report classes without images, drop them, and refuse fewer than two classes.

    Returns ``(labels ndarray, class_names, task)``.
    """
    multilabel = task == "multilabel"
    n = len(class_names)
    if multilabel:
        y = np.asarray(targets, dtype=np.int64).reshape(len(targets), n)
        counts = y.sum(axis=0)
    else:
        y = np.asarray(targets, dtype=np.int64)
        counts = np.bincount(y, minlength=n)
    full = counts > 0
    for name in np.asarray(class_names, dtype=object)[~full]:
        problems.add(name, "class has no images", "empty classes")
    if full.sum() < 2:
        detail = dict(zip(class_names, counts.tolist()))
        raise DatasetError(
            f"load_dataset: {source}: images of fewer than two classes remain (counts "
            f"{detail}); nothing to classify. Check the class names, the label column and "
            "that the image files exist." + (f" Problems: {problems.summary()}."
                                            if problems.items else ""))
    names = tuple(c for c, f in zip(class_names, full) if f)
    if multilabel:
        y = y[:, full]
    elif not full.all():
        y = np.cumsum(full)[y] - 1
    if task == "binary" and len(names) != 2:
        task = "multiclass"
    elif task == "multiclass" and len(names) == 2:
        task = "binary"
    return y, names, task
