"""The layout of ``predictions.csv``: its columns, how a run writes it, how it is read back.

One row per image of an evaluation set, one model and one fold:

- ``id``, ``split`` (``"val"`` or ``"test"``), ``fold``, ``model``;
- ``y_true``, the class index (binary, multi-class), or one ``y_true_<label>``
  column of 0/1 per label (multi-label);
- ``proba_<class>``, one probability per class, in class order.

``parts/<model>__fold<k>.csv`` holds the rows of one part; the rows of
``learning_curve_predictions.csv`` add ``train_size``, ``n_train`` and
``seed``. Every such file is written with
:func:`benchmarks.results.csv_cells.frame_to_csv` (text cells escaped against
spreadsheet formulas) and read back with :func:`read_predictions`; the rows
of one model and set become arrays again with :func:`predictions_to_arrays`,
so any metric can be recomputed from the file.
"""

import numpy as np

from benchmarks.results.csv_cells import frame_to_csv, unescape_frame
from benchmarks.evaluation.metrics import _check_inputs
from classifiers.tasks import TASKS

__all__ = ["prediction_columns", "prediction_frame", "predictions_csv", "read_predictions",
           "predictions_to_arrays"]


def prediction_columns(task, class_names):
    """The truth columns and the probability columns of ``task`` over ``class_names``.

    Examples
    --------
    >>> prediction_columns("binary", ("no", "yes"))
    (['y_true'], ['proba_no', 'proba_yes'])
    >>> prediction_columns("multilabel", ("a", "b"))[0]
    ['y_true_a', 'y_true_b']
    """
    names = [str(c) for c in class_names]
    truth = [f"y_true_{n}" for n in names] if task == "multilabel" else ["y_true"]
    return truth, [f"proba_{n}" for n in names]


def prediction_frame(name, dataset, split, proba_test, proba_val):
    """Per-image predictions of the validation and test sets of ``split``, in this layout.

    Parameters
    ----------
    name : str
        The model's name (column ``model``).
    dataset : benchmarks.datasets.Dataset
    split : benchmarks.evaluation.splits.Split
        Gives the ``fold`` and the indices of the ``val`` and ``test`` sets.
    proba_test, proba_val : (N, K) ndarray or None
        Probabilities of each set, one column per class; a set without
        probabilities (``None``) or without images is left out.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import numpy as np
    >>> from benchmarks.datasets import Dataset
    >>> from benchmarks.evaluation.splits import Split
    >>> ds = Dataset(labels=[0, 1], class_names=("a", "b"), task="binary", ids=["x", "y"],
    ...              images=np.zeros((2, 4, 4), np.uint8))
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> prediction_frame("m", ds, Split(0, [], [], [0, 1]), proba, None).columns.tolist()
    ['id', 'split', 'fold', 'model', 'y_true', 'proba_a', 'proba_b']
    """
    import pandas as pd

    truth_columns, proba_columns = prediction_columns(dataset.task, dataset.class_names)
    frames = []
    for part, indices, proba in (("val", split.val, proba_val), ("test", split.test, proba_test)):
        if proba is None or len(indices) == 0:
            continue
        frame = {"id": dataset.ids[indices], "split": part, "fold": split.fold, "model": name}
        labels = dataset.labels[indices]
        if dataset.task == "multilabel":
            for column, truth in enumerate(truth_columns):
                frame[truth] = labels[:, column]
        else:
            frame["y_true"] = labels
        for column, proba_column in enumerate(proba_columns):
            frame[proba_column] = proba[:, column]
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def predictions_csv(frame):
    """The text of a predictions file for ``frame``, text cells escaped.

    Examples
    --------
    >>> import pandas as pd
    >>> print(predictions_csv(pd.DataFrame({"id": ["=a"], "y_true": [1]})), end="")
    id,y_true
    '=a,1
    """
    return frame_to_csv(frame)


def read_predictions(path):
    """Read a predictions file written with :func:`predictions_csv` (ids kept as text).

    Examples
    --------
    >>> import io
    >>> read_predictions(io.StringIO("id,y_true\\n'=a,1\\n007,0\\n"))["id"].tolist()
    ['=a', '007']
    """
    import pandas as pd

    return unescape_frame(pd.read_csv(path, dtype={"id": str}))


def predictions_to_arrays(frame, *, task, class_names):
    """Turn saved predictions back into ``(y_true, proba)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of one model and one evaluation set, in the ``predictions.csv``
        layout: columns ``y_true`` (class index or name) or ``y_true_<label>``
        (multi-label), and ``proba_<class>`` for every class; other columns
        (``id``, ``split``, ``fold``, ``model``) are ignored.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str

    Returns
    -------
    y_true : (N,) ndarray of int or (N, L) ndarray of int
    proba : (N, K) ndarray of float
        Column order of ``class_names``; a binary file holding only the
        positive column gives (N,) scores.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": ["a", "b"], "y_true": [0, 1],
    ...                       "proba_no": [0.8, 0.1], "proba_yes": [0.2, 0.9]})
    >>> y, p = predictions_to_arrays(frame, task="binary", class_names=("no", "yes"))
    >>> y.tolist(), p[:, 1].tolist()
    ([0, 1], [0.2, 0.9])
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    names = tuple(str(c) for c in class_names)
    truth_columns, proba_columns = prediction_columns(task, names)
    if task == "binary" and proba_columns[0] not in frame and proba_columns[1] in frame:
        proba_columns = proba_columns[1:]
    missing = [c for c in truth_columns + proba_columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the predictions lack columns {missing} (found "
                         f"{list(frame.columns)}); check task and class_names.")
    y = frame[truth_columns].to_numpy()
    if task != "multilabel":
        y = y[:, 0]
        if y.dtype.kind in "OUT" and set(map(str, y)) <= set(names):
            y = np.array([names.index(str(v)) for v in y])
    y = y.astype(np.int64)
    proba = frame[proba_columns].to_numpy(dtype=np.float64)
    proba = proba[:, 0] if proba.shape[1] == 1 else proba
    _check_inputs(y, proba, task, names)
    return y, proba
