"""One evaluation path: scores in, a flat row of metrics out.

Every model only produces probabilities; :func:`evaluate_predictions` turns
them into metrics with ``sklearn.metrics`` and a fixed label order, so a
handcrafted-feature model and a CNN are measured by the same code. Saved
predictions can be turned back into arrays
(:func:`benchmarks.results.predictions_table.predictions_to_arrays`) to recompute
any metric later.
"""

import numbers

import numpy as np

from classifiers.tasks import TASKS
from xray_features.utils import check_scalar

__all__ = ["evaluate_predictions", "confusion_matrices", "choose_threshold",
           "bootstrap_ci", "summarize_folds"]

THRESHOLD_METHODS = ("youden", "sensitivity")


# ------------------------------------------------------------------ validation
def _check_inputs(y_true, proba, task, class_names):
    """Return (y, scores, names): y (N,) int or (N, L) int; scores (N,) for
    binary (positive class), (N, K) or (N, L) otherwise."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}; got {task!r}.")
    y = np.asarray(y_true)
    scores = np.asarray(proba, dtype=np.float64)
    if y.size == 0:
        raise ValueError("y_true is empty; expected at least one image.")
    if len(y) != len(scores):
        raise ValueError(f"y_true and proba must have one row per image; got {len(y)} "
                         f"and {len(scores)}.")
    if not np.all(np.isfinite(scores)) or scores.min() < -1e-6 or scores.max() > 1 + 1e-6:
        raise ValueError("proba must hold finite probabilities in [0, 1]; got values in "
                         f"[{np.nanmin(scores):.3g}, {np.nanmax(scores):.3g}] "
                         f"({np.count_nonzero(~np.isfinite(scores))} not finite).")
    if task == "binary" and scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    width = 1 if task == "binary" else (scores.shape[1] if scores.ndim == 2 else 0)
    expected = "(N,) or (N, 2)" if task == "binary" else "(N, n_classes)"
    if (task == "binary" and scores.ndim != 1) or (task != "binary" and scores.ndim != 2):
        raise ValueError(f"proba for a {task} task must be {expected}; got shape "
                         f"{np.shape(proba)}.")
    if class_names is None:
        class_names = [str(i) for i in range(2 if task == "binary" else width)]
    names = tuple(str(c) for c in class_names)
    if task == "binary" and len(names) != 2:
        raise ValueError(f"class_names must name 2 classes for a binary task; got {names}.")
    if task != "binary" and len(names) != width:
        raise ValueError(f"class_names has {len(names)} names but proba has {width} "
                         "columns; give one name per column, in column order.")
    if task == "multilabel":
        if y.shape != scores.shape or not np.isin(y, (0, 1)).all():
            raise ValueError(f"y_true for a multilabel task must be an (N, L) 0/1 matrix "
                             f"shaped like proba {scores.shape}; got shape {y.shape}.")
    elif y.ndim != 1 or not np.isin(y, np.arange(len(names))).all():
        raise ValueError(f"y_true for a {task} task must be (N,) class indices in "
                         f"0..{len(names) - 1}; got shape {y.shape} with values "
                         f"{np.unique(y)[:10].tolist()}.")
    return y.astype(np.int64), scores, names


def _check_threshold(threshold, task, n_labels):
    values = np.atleast_1d(np.asarray(threshold, dtype=np.float64))
    if values.ndim != 1 or values.size not in (1, n_labels if task == "multilabel" else 1) \
            or not np.all((values >= 0) & (values <= 1)):
        per_label = " or one per label" if task == "multilabel" else ""
        raise ValueError(f"threshold must be a number in [0, 1]{per_label}; got {threshold!r}.")
    return values if values.size > 1 else float(values[0])


def _divide(numerator, denominator):
    """Elementwise ratio with 0 where the denominator is 0 (sklearn's zero_division=0)."""
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    return np.divide(numerator, denominator, out=np.zeros(np.broadcast(
        numerator, denominator).shape), where=denominator > 0)


def _put(row, key, value):
    if key in row:
        raise ValueError(f"metric name {key!r} is produced twice; rename the class "
                         "or label that causes it.")
    row[key] = float(value)


def _binary_columns(y, scores, task, threshold):
    """One-vs-rest view: truth, scores and predictions as (N, C) arrays."""
    if task == "binary":
        return (y == 1)[:, None], scores[:, None], (scores >= threshold)[:, None]
    if task == "multiclass":
        classes = np.arange(scores.shape[1])
        return (y[:, None] == classes), scores, (scores.argmax(axis=1)[:, None] == classes)
    return y.astype(bool), scores, scores >= threshold


# --------------------------------------------------------------------- metrics
def evaluate_predictions(y_true, proba, *, task, class_names, threshold=0.5):
    """Compute every metric of one model on one set of images.

    Parameters
    ----------
    y_true : (N,) array_like of int or (N, L) array_like of {0, 1}
        Class indices (binary, multi-class) or a label indicator matrix (multi-label).
    proba : (N,), (N, 2), (N, K) or (N, L) array_like of float
        Probabilities. Binary: positive-class scores or both columns (class 1 is
        positive). Multi-class: one column per class. Multi-label: one per label.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str
        Names in column order; they name the per-class keys.
    threshold : float or (L,) array_like, optional
        Binary and multi-label decision threshold (``proba >= threshold`` is
        positive); multi-label accepts one per label. Multi-class uses argmax
        and records ``threshold`` as NaN.

    Returns
    -------
    row : dict
        Flat ``{name: float}`` (``n`` is an int): ``n``, ``threshold``,
        ``accuracy``, ``balanced_accuracy``, ``precision``, ``recall``
        (sensitivity), ``specificity``, ``f1``, ``roc_auc``, ``average_precision``.
        Binary: these are for the positive class. Multi-class: macro averages
        (specificity one-vs-rest), plus ``f1_weighted`` and ``f1_<class>``,
        ``recall_<class>``, ``precision_<class>``. Multi-label: macro averages
        over labels (``accuracy`` is exact-match accuracy), plus ``f1_weighted``
        and ``roc_auc_<label>``, ``average_precision_<label>``, ``f1_<label>``.

    Notes
    -----
    Precision, recall and F1 use ``zero_division=0``. ROC AUC is NaN when
    ``y_true`` holds one class only, average precision when it holds no
    positive; one-vs-rest macro averages are taken over the classes where they
    are defined. Balanced accuracy is the mean recall over classes present in
    ``y_true`` (as ``sklearn.metrics.balanced_accuracy_score``).

    Examples
    --------
    >>> row = evaluate_predictions([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.9], task="binary",
    ...                            class_names=("normal", "fracture"))
    >>> row["f1"], row["specificity"], row["roc_auc"]
    (0.8, 0.5, 1.0)
    """
    from sklearn import metrics as skm

    y, scores, names = _check_inputs(y_true, proba, task, class_names)
    threshold = _check_threshold(threshold, task, len(names))
    truth, column_scores, pred = _binary_columns(y, scores, task, threshold)
    row = {"n": int(len(y))}
    if np.ndim(threshold) == 0 and task != "multiclass":
        row["threshold"] = float(threshold)
    else:
        row["threshold"] = float("nan")
        if task == "multilabel":
            for name, value in zip(names, threshold):
                _put(row, f"threshold_{name}", value)

    # Every task as one-vs-rest indicator columns (binary: the positive class
    # only), so the per-column numbers come from one sklearn call.
    columns = (truth.astype(np.int64), pred.astype(np.int64))
    if truth.shape[1] == 1:  # sklearn reads one indicator column as a binary target
        columns = (columns[0][:, 0], columns[1][:, 0])
    labels = [1] if truth.shape[1] == 1 else None
    p, r, f, support = skm.precision_recall_fscore_support(*columns, labels=labels,
                                                           average=None, zero_division=0)
    confusion = skm.multilabel_confusion_matrix(*columns, labels=labels)
    tn, fp = confusion[:, 0, 0], confusion[:, 0, 1]
    specificity = _divide(tn, tn + fp)
    if task == "multiclass":
        y_pred = pred.argmax(axis=1)
    else:
        y_pred = (pred[:, 0] if task == "binary" else pred).astype(np.int64)
    _put(row, "accuracy", skm.accuracy_score(y, y_pred))
    if task == "multiclass":
        balanced = r[support > 0]
    else:  # per column: mean recall over the classes (0 and 1) present in y_true
        present = np.stack([support > 0, tn + fp > 0])
        balanced = (np.stack([r, specificity]) * present).sum(0) / present.sum(0)
    _put(row, "balanced_accuracy", balanced.mean())
    for key, value in (("precision", p), ("recall", r), ("specificity", specificity),
                       ("f1", f)):
        _put(row, key, value.mean())

    auc = np.full(truth.shape[1], np.nan)
    ap = np.full(truth.shape[1], np.nan)
    for c in range(truth.shape[1]):
        positives = int(truth[:, c].sum())
        if 0 < positives < len(y):
            auc[c] = skm.roc_auc_score(truth[:, c], column_scores[:, c])
        if positives > 0:
            ap[c] = skm.average_precision_score(truth[:, c], column_scores[:, c])
    _put(row, "roc_auc", np.nan if np.isnan(auc).all() else np.nanmean(auc))
    _put(row, "average_precision", np.nan if np.isnan(ap).all() else np.nanmean(ap))

    if task != "binary":
        _put(row, "f1_weighted", np.average(f, weights=support) if support.sum() else 0.0)
        for c, name in enumerate(names):
            _put(row, f"f1_{name}", f[c])
            if task == "multiclass":
                _put(row, f"recall_{name}", r[c])
                _put(row, f"precision_{name}", p[c])
            else:
                _put(row, f"roc_auc_{name}", auc[c])
                _put(row, f"average_precision_{name}", ap[c])
    return row


def confusion_matrices(y_true, y_pred, *, labels):
    """Confusion matrix counts and their row-normalised version.

    Parameters
    ----------
    y_true, y_pred : (N,) array_like or (N, L) array_like of {0, 1}
        True and predicted classes, or label indicator matrices (multi-label).
    labels : sequence
        The class values in the order of rows and columns (e.g.
        ``range(len(class_names))``). Multi-label: one entry (e.g. a name) per label.

    Returns
    -------
    counts : (K, K) ndarray of int, or (L, 2, 2) for multi-label
        Rows are true classes, columns predicted ones. Multi-label gives one
        ``[[TN, FP], [FN, TP]]`` matrix per label (``multilabel_confusion_matrix``).
    normalised : ndarray of float, same shape
        Each row divided by its sum (the row's recall); rows with no images are 0.

    Examples
    --------
    >>> counts, normalised = confusion_matrices([0, 0, 1, 1], [0, 1, 1, 1], labels=[0, 1])
    >>> counts.tolist(), normalised[0].tolist()
    ([[1, 1], [0, 2]], [0.5, 0.5])
    """
    from sklearn import metrics as skm

    y_true, y_pred, labels = np.asarray(y_true), np.asarray(y_pred), list(labels)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(f"y_true and y_pred must have the same non-empty shape; got "
                         f"{y_true.shape} and {y_pred.shape}.")
    if y_true.ndim == 2:
        if len(labels) != y_true.shape[1]:
            raise ValueError(f"labels must name each of the {y_true.shape[1]} labels; "
                             f"got {len(labels)}.")
        counts = skm.multilabel_confusion_matrix(y_true, y_pred)
    else:
        if y_true.dtype.kind in "biuf" and any(isinstance(v, str) for v in labels):
            raise TypeError(f"labels must be the values used in y_true (e.g. "
                            f"range(len(class_names)) for class indices); got {labels[:5]} "
                            f"for y_true of dtype {y_true.dtype}.")
        counts = skm.confusion_matrix(y_true, y_pred, labels=labels)
    return counts, _divide(counts, counts.sum(axis=-1, keepdims=True))


def choose_threshold(y_true, scores, *, method="youden", target_sensitivity=0.95):
    """Choose a binary decision threshold on validation data.

    Parameters
    ----------
    y_true : (N,) array_like of {0, 1}
    scores : (N,) or (N, 2) array_like of float
        Positive-class probabilities (or both columns).
    method : {'youden', 'sensitivity'}, optional
        ``'youden'``: maximise Youden's J = sensitivity + specificity - 1 on
        the ROC curve; the threshold is placed midway between the chosen score
        and the next lower one, so it separates them with a margin.
        ``'sensitivity'``: the highest threshold whose sensitivity reaches
        ``target_sensitivity`` (for screening, where a missed finding costs most).
    target_sensitivity : float, optional
        In (0, 1]; used by ``method='sensitivity'``.

    Returns
    -------
    threshold : float in [0, 1]
        Predict positive where ``score >= threshold``.

    Examples
    --------
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9])
    0.5
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], method="sensitivity",
    ...                  target_sensitivity=1.0)
    0.7
    """
    from sklearn.metrics import roc_curve

    if method not in THRESHOLD_METHODS:
        raise ValueError(f"method must be one of {THRESHOLD_METHODS}; got {method!r}.")
    check_scalar(target_sensitivity, "target_sensitivity", integer=False, low=0, high=1,
                 low_open=True)
    y, scores, _ = _check_inputs(y_true, scores, "binary", None)
    if not 0 < y.sum() < len(y):
        raise ValueError("choosing a threshold needs both classes in y_true; got only "
                         f"class {int(y[0])} ({len(y)} images).")
    fpr, tpr, thresholds = roc_curve(y, scores, drop_intermediate=False)
    if method == "youden":
        best = int(np.argmax(tpr - fpr))
        lower = thresholds[best + 1] if best + 1 < len(thresholds) else thresholds[best]
        value = thresholds[best] if not np.isfinite(thresholds[best]) else \
            (thresholds[best] + lower) / 2
    else:
        value = thresholds[int(np.argmax(tpr >= target_sensitivity - 1e-12))]
    return float(np.clip(value, 0.0, 1.0))


# ------------------------------------------------------------------- bootstrap
def bootstrap_weights(n, n_boot, *, seed=0, budget=500_000):
    """Bootstrap resamples of ``n`` items as (draws, weights) chunks.

    Each chunk holds ``draws`` (resamples x n indices) and ``weights``, how
    often each item was drawn in each resample: metrics computed with these
    weights on the original arrays equal the metrics of the resamples,
    without copying them. Chunks hold about ``budget`` numbers, so the
    working memory (a few chunk-sized arrays, 4 MB each at the default)
    stops growing at ``budget / n_boot`` items; the resamples drawn do not
    depend on the chunking.

    Examples
    --------
    >>> [(d.shape, w.sum(axis=1).tolist()) for d, w in bootstrap_weights(4, 3)]
    [((3, 4), [4.0, 4.0, 4.0])]
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, int(budget // n))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        draws = rng.integers(0, n, size=(size, n))
        offsets = (draws + n * np.arange(size)[:, None]).ravel()
        yield draws, np.bincount(offsets, minlength=size * n).reshape(size, n).astype(float)


def _weighted_ranking(weights, truth, scores, kind):
    """ROC AUC or average precision of every resample at once, with each
    image weighted by how often the resample drew it. Same definitions as
    sklearn (AUC: Mann-Whitney with ties counting one half; AP: the sum over
    distinct scores of recall gain times precision); written by hand because
    calling sklearn for 1000 resamples takes seconds. NaN where undefined."""
    order = np.argsort(-scores if kind == "ap" else scores, kind="mergesort")
    ranked, positive = scores[order], truth[order].astype(float)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * positive, starts, axis=1)
    other = np.add.reduceat(w * (1 - positive), starts, axis=1)
    n_pos, n_neg = pos.sum(axis=1), other.sum(axis=1)
    if kind == "ap":
        precision = _divide(np.cumsum(pos, axis=1), np.cumsum(pos + other, axis=1))
        return np.where(n_pos > 0, (pos * precision).sum(axis=1) / np.maximum(n_pos, 1), np.nan)
    below = np.cumsum(other, axis=1) - other
    area = (pos * (below + 0.5 * other)).sum(axis=1)
    return np.where((n_pos > 0) & (n_neg > 0), area / np.maximum(n_pos * n_neg, 1), np.nan)


def _fast_metric(metric, weights, task, names, truth, scores, pred):
    """Value of ``metric`` on every weighted resample at once, or None if it
    has no vectorised form here (then each resample is evaluated in turn)."""
    kinds = ("f1", "roc_auc", "average_precision", "recall", "precision")
    per_class = {} if task == "binary" else {
        f"{kind}_{name}": (kind, c) for c, name in enumerate(names) for kind in kinds}
    kind, column = per_class.get(metric, (metric, None))
    if kind in ("roc_auc", "average_precision"):
        columns = range(truth.shape[1]) if column is None else [column]
        value = np.stack([_weighted_ranking(weights, truth[:, c], scores[:, c],
                                            "ap" if kind[0] == "a" else "auc")
                          for c in columns])
        defined = ~np.isnan(value)
        return np.where(defined.any(0), _divide(np.nansum(value, 0), defined.sum(0)), np.nan)
    t, p = truth.astype(float), pred.astype(float)
    tp, fp = weights @ (t * p), weights @ ((1 - t) * p)
    fn, tn = weights @ (t * (1 - p)), weights @ ((1 - t) * (1 - p))
    values = {"precision": _divide(tp, tp + fp), "recall": _divide(tp, tp + fn),
              "f1": _divide(2 * tp, 2 * tp + fp + fn), "specificity": _divide(tn, tn + fp)}
    if kind == "accuracy":
        correct = {"binary": (tp + tn)[:, 0], "multiclass": tp.sum(axis=1)}.get(task)
        if correct is None:  # multi-label: exact match of all labels
            correct = weights @ (truth == pred).all(axis=1).astype(float)
        return correct / weights.sum(axis=1)
    if kind == "f1_weighted":
        return (values["f1"] * (tp + fn)).sum(axis=1) / (tp + fn).sum(axis=1)
    if kind == "balanced_accuracy":
        if task == "multiclass":
            present = (tp + fn) > 0
            return (values["recall"] * present).sum(axis=1) / present.sum(axis=1)
        present = np.stack([tp + fn > 0, tn + fp > 0])
        mean = (np.stack([values["recall"], values["specificity"]]) * present).sum(0)
        return (mean / present.sum(0)).mean(axis=1)
    if kind not in values:
        return None
    return values[kind][:, column] if column is not None else values[kind].mean(axis=1)


def bootstrap_ci(y_true, proba, metric, *, n_boot=1000, seed=0, alpha=0.05,
                 task="binary", class_names=None, threshold=0.5):
    """Percentile bootstrap confidence interval of one metric.

    Parameters
    ----------
    y_true, proba, task, class_names, threshold
        As for :func:`evaluate_predictions` (``class_names`` defaults to the
        column numbers).
    metric : str
        Any key of :func:`evaluate_predictions`' row, e.g. ``'f1'`` or ``'roc_auc'``.
    n_boot : int, optional
        Number of resamples (images drawn with replacement).
    seed : int, optional
        Seed of the resampling.
    alpha : float, optional
        The interval covers ``1 - alpha``.

    Returns
    -------
    (low, high) : tuple of float
        NaN, NaN if no resample gives a defined value.

    Notes
    -----
    Resamples where the metric is undefined (e.g. ROC AUC of a resample with
    one class) are skipped. Every metric of :func:`evaluate_predictions` is
    computed for all resamples at once from per-image resample counts, with
    the same definitions (1000 resamples of 600 images: well under a second).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300); p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    >>> low, high = bootstrap_ci(y, p, "roc_auc", n_boot=200)
    >>> bool(low < evaluate_predictions(y, p, task="binary", class_names="ab")["roc_auc"] < high)
    True
    """
    n_boot = check_scalar(n_boot, "n_boot", low=1)
    check_scalar(alpha, "alpha", integer=False, low=0, high=1, low_open=True, high_open=True)
    y, scores, names = _check_inputs(y_true, proba, task, class_names)
    keys = evaluate_predictions(y, scores, task=task, class_names=names, threshold=threshold)
    keys = [k for k in keys if k != "n" and not k.startswith("threshold")]
    if metric not in keys:
        raise ValueError(f"metric must be one of {keys}; got {metric!r}.")
    threshold = _check_threshold(threshold, task, len(names))
    truth, column_scores, pred = _binary_columns(y, scores, task, threshold)
    values = []
    for draws, weights in bootstrap_weights(len(y), n_boot, seed=seed):
        fast = _fast_metric(metric, weights, task, names, truth, column_scores, pred)
        if fast is None:
            fast = [evaluate_predictions(y[d], scores[d], task=task, class_names=names,
                                         threshold=threshold)[metric] for d in draws]
        values.append(np.asarray(fast, dtype=float))
    values = np.concatenate(values)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


# ------------------------------------------------------------ folds and files
def summarize_folds(rows):
    """Mean and standard deviation of every metric over cross-validation folds.

    Parameters
    ----------
    rows : sequence of dict
        One :func:`evaluate_predictions` row per fold; non-numeric values and
        the key ``fold`` are ignored.

    Returns
    -------
    summary : dict
        ``n_folds``, and for each metric its mean under the metric's own name
        and its sample standard deviation (ddof=1; NaN with one fold) under
        ``<metric>_std``, so a summary reads like one row of the results
        table. Folds where a metric is NaN are left out of its mean and std.

    Examples
    --------
    >>> summary = summarize_folds([{"fold": 0, "f1": 0.8}, {"fold": 1, "f1": 0.6}])
    >>> summary["n_folds"], round(summary["f1"], 3), round(summary["f1_std"], 3)
    (2, 0.7, 0.141)
    """
    rows = list(rows)
    if not rows or not all(hasattr(row, "items") for row in rows):
        raise ValueError("rows must be a non-empty sequence of dicts (one per fold).")
    summary = {"n_folds": len(rows)}
    keys = []
    for row in rows:
        keys += [k for k, v in row.items() if k not in keys and k != "fold"
                 and isinstance(v, numbers.Real) and not isinstance(v, bool)]
    for key in keys:
        values = np.array([row.get(key, np.nan) for row in rows], dtype=float)
        values = values[np.isfinite(values)]
        summary[key] = float(values.mean()) if values.size else float("nan")
        summary[f"{key}_std"] = float(values.std(ddof=1)) if values.size > 1 else float("nan")
    return summary
