"""The three kinds of classification task, and telling which one targets describe.

:data:`TASKS` is the one list of task names: models, saved-model sidecars,
datasets, metrics and the predictions table all check against it.
"""

import numpy as np

__all__ = ["TASKS", "infer_task", "as_target_array"]

#: The task kinds, in this order everywhere.
TASKS = ("binary", "multiclass", "multilabel")


def infer_task(y):
    """Tell whether targets describe a binary, multi-class or multi-label task.

    Parameters
    ----------
    y : (N,) array-like or (N, L) 0/1 indicator matrix
        Class labels (any hashable values) or a multi-label indicator.

    Returns
    -------
    task : {"binary", "multiclass", "multilabel"}

    Raises
    ------
    ValueError
        If ``y`` is empty, has one class only, holds NaN or non-integral
        floats, is 2-D but not a 0/1 indicator with at least two columns,
        or has more than two dimensions.

    Examples
    --------
    >>> infer_task([0, 1, 1])
    'binary'
    >>> infer_task(["a", "b", "c"])
    'multiclass'
    >>> infer_task([[1, 0], [0, 1], [1, 1]])
    'multilabel'
    """
    y = as_target_array(y)
    if y.ndim == 2:
        if y.shape[1] < 2:
            raise ValueError(f"y must be 1-D labels or an (N, L) indicator with L >= 2; got "
                             f"shape {y.shape}; pass y.ravel() for single-label targets")
        if y.dtype.kind not in "biuf" or not np.isin(y, (0, 1)).all():
            raise ValueError("a 2-D y must be a multi-label indicator of 0/1 values; got "
                             f"values {np.unique(y)[:5].tolist()}; pass class labels as a 1-D "
                             "array instead")
        return "multilabel"
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D labels or a 2-D indicator; got {y.ndim} dimensions "
                         f"(shape {y.shape})")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values; drop or fill those samples")
        if not np.array_equal(y, np.round(y)):
            raise ValueError("y holds non-integral floats, which look like continuous targets; "
                             "pass class labels (ints or strings)")
    n_classes = len(np.unique(y))
    if n_classes < 2:
        raise ValueError(f"y has a single class ({np.unique(y).tolist()}); a classifier needs "
                         "at least two")
    return "binary" if n_classes == 2 else "multiclass"


def as_target_array(y):
    """``y`` as an array with one target per image (a pandas object's values,
    an object array of labels made homogeneous).

    Examples
    --------
    >>> as_target_array(["a", "b"]).tolist()
    ['a', 'b']
    """
    if y is None:
        raise TypeError("y is None; pass class labels (N,) or a 0/1 indicator (N, L)")
    y = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    if y.ndim == 0 or y.shape[0] == 0:
        raise ValueError(f"y must hold one target per image; got shape {y.shape}")
    if y.dtype.kind == "O" and y.ndim == 1:
        y = np.asarray(y.tolist())
    return y
