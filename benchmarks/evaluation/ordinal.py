"""Ordered severity grades (Kellgren-Lawrence 0-4, effusion none/small/large):
how far off is a wrong grade?

:func:`grade_order` puts class names in grade order, :func:`reorder_classes`
makes class index = grade, and :func:`ordinal_metrics` scores predicted
grades: quadratic-weighted Cohen's kappa (scikit-learn), mean absolute grade
error and within-one-grade accuracy.
"""

import re

import numpy as np

__all__ = ["grade_order", "reorder_classes", "ordinal_metrics", "natural_key"]


def natural_key(name):
    """Sort key reading digit runs as numbers: ``grade2`` before ``grade10``.

    Examples
    --------
    >>> sorted(["KL10", "KL2", "KL0"], key=natural_key)
    ['KL0', 'KL2', 'KL10']
    """
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", str(name)) if part]


def grade_order(class_names, order=None):
    """Class names in grade order, lowest grade first.

    Parameters
    ----------
    class_names : sequence of str
        The dataset's class names, in any order.
    order : sequence of str, optional
        The grade order (e.g. from ``--classes``); it must name every class
        exactly once. Without it, natural sort of the names.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> grade_order(["moderate", "none", "severe"], ["none", "moderate", "severe"])
    ('none', 'moderate', 'severe')
    >>> grade_order(["3", "10", "0"])
    ('0', '3', '10')
    """
    names = [str(c) for c in class_names]
    if order is None:
        return tuple(sorted(names, key=natural_key))
    order = [str(c) for c in order]
    if sorted(order) != sorted(names) or len(set(order)) != len(order):
        raise ValueError(f"the grade order must name each class once; the classes are "
                         f"{sorted(names)}, the order given is {order}.")
    return tuple(order)


def reorder_classes(dataset, order):
    """The dataset with its classes in ``order`` (labels renumbered so that
    class index = grade).

    Examples
    --------
    >>> from benchmarks import Dataset
    >>> ds = Dataset(labels=[0, 1, 2], class_names=("KL10", "KL2", "KL0"),
    ...              task="multiclass", ids=["a", "b", "c"],
    ...              images=np.zeros((3, 4, 4), np.uint8))
    >>> graded = reorder_classes(ds, grade_order(ds.class_names))
    >>> graded.class_names, graded.labels.tolist()
    (('KL0', 'KL2', 'KL10'), [2, 1, 0])
    """
    import dataclasses

    if dataset.task == "multilabel":
        raise ValueError("ordinal grades need a binary or multi-class task (one grade per "
                         "image); this dataset is multi-label.")
    order = grade_order(dataset.class_names, order)
    if order == tuple(dataset.class_names):
        return dataset
    new_index = np.array([order.index(name) for name in dataset.class_names])
    return dataclasses.replace(dataset, labels=new_index[dataset.labels], class_names=order)


def ordinal_metrics(y_true, proba):
    """Grade agreement of predicted grades (argmax) with true grades.

    Parameters
    ----------
    y_true : (N,) array_like of int
        True grades as class indices in grade order.
    proba : (N, K) array_like of float, or (N,) predicted grades (int)

    Returns
    -------
    metrics : dict
        ``quadratic_kappa`` (:func:`sklearn.metrics.cohen_kappa_score` with
        ``weights='quadratic'`` over all K grades), ``grade_mae`` (mean
        absolute difference in grades) and ``within_one_accuracy`` (fraction
        predicted at most one grade off).

    Examples
    --------
    >>> m = ordinal_metrics([0, 1, 2, 3], [0, 1, 3, 1])
    >>> m["grade_mae"], m["within_one_accuracy"]
    (0.75, 0.75)
    """
    from sklearn.metrics import cohen_kappa_score

    y = np.asarray(y_true)
    p = np.asarray(proba)
    if p.ndim == 2:
        pred, k = p.argmax(axis=1), p.shape[1]
    elif p.ndim == 1 and p.dtype.kind in "iu":
        pred, k = p, int(max(p.max(initial=0), y.max(initial=0))) + 1
    else:
        raise ValueError(f"proba must be (N, K) probabilities or (N,) integer grades; got "
                         f"shape {p.shape} dtype {p.dtype}.")
    if y.ndim != 1 or len(y) != len(pred) or len(y) == 0:
        raise ValueError(f"y_true must be (N,) grades, one per prediction; got shape "
                         f"{y.shape} for {len(pred)} predictions.")
    errors = np.abs(pred.astype(int) - y.astype(int))
    kappa = cohen_kappa_score(y, pred, weights="quadratic", labels=np.arange(k))
    return {"quadratic_kappa": float(kappa), "grade_mae": float(errors.mean()),
            "within_one_accuracy": float(np.mean(errors <= 1))}
