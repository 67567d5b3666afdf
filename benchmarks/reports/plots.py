"""Figures of a benchmark run, drawn from saved results.

Each function takes plain data (counts, labels and scores, a history dict)
and a path, writes one PNG and returns the path. Figures are built with
``matplotlib.figure.Figure`` and its Agg canvas rather than ``pyplot``, so no
global figure or backend state is created or left open, in scripts, notebooks
and worker processes alike.
"""

import math
from pathlib import Path

import numpy as np

__all__ = ["plot_confusion_matrix", "plot_roc_curves", "plot_pr_curves",
           "plot_training_history"]


def _figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure, path, dpi):
    """Render to memory, then write atomically: a reader never sees half a
    PNG, and a link at ``path`` is replaced, never its target."""
    import io

    from xray_features.utils import write_bytes_atomic

    path = Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    figure.clear()
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _annotate(ax, matrix, texts, *, vmax, fontsize):
    """Draw ``matrix`` as an image with one text per cell."""
    ax.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax)
    for (i, j), text in np.ndenumerate(texts):
        colour = "white" if matrix[i, j] > 0.55 * vmax else "black"
        ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)


def plot_confusion_matrix(counts, class_names, path, *, normalised=None,
                          title="Confusion matrix", dpi=120):
    """Plot confusion matrix counts beside their row-normalised version.

    Parameters
    ----------
    counts : (K, K) array_like of int, or (L, 2, 2) for multi-label
        Rows are true classes, columns predicted ones (as returned by
        :func:`benchmarks.evaluation.metrics.confusion_matrices`). A multi-label stack is
        drawn as one small ``[[TN, FP], [FN, TP]]`` panel per label, each cell
        showing its count and its row fraction.
    class_names : sequence of str
        One name per class (or label).
    path : str or Path
        Where to write the PNG (parent folders are created).
    normalised : array_like, optional
        Row-normalised matrix; computed from ``counts`` if omitted.
    title : str, optional
    dpi : int, optional

    Returns
    -------
    path : Path

    Examples
    --------
    >>> plot_confusion_matrix([[5, 1], [2, 7]], ["normal", "fracture"],
    ...                       tmp_path / "cm.png")  # doctest: +SKIP
    PosixPath('.../cm.png')
    """
    counts = np.asarray(counts)
    names = [str(c) for c in class_names]
    square = counts.ndim == 2 and counts.shape[0] == counts.shape[1]
    stack = counts.ndim == 3 and counts.shape[1:] == (2, 2)
    if not (square or stack) or counts.size == 0 or (counts < 0).any():
        raise ValueError(f"counts must be a non-negative (K, K) matrix or an (L, 2, 2) "
                         f"stack; got shape {counts.shape}.")
    if len(names) != counts.shape[0]:
        raise ValueError(f"class_names must give one name per row of counts "
                         f"({counts.shape[0]}); got {len(names)}.")
    if normalised is None:
        totals = counts.sum(axis=-1, keepdims=True)
        normalised = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    normalised = np.asarray(normalised, dtype=float)
    if normalised.shape != counts.shape:
        raise ValueError(f"normalised must have the shape of counts {counts.shape}; got "
                         f"{normalised.shape}.")

    if stack:
        columns = min(4, len(names))
        rows = math.ceil(len(names) / columns)
        figure = _figure(2.6 * columns, 2.6 * rows + 0.4)
        for index, name in enumerate(names):
            ax = figure.add_subplot(rows, columns, index + 1)
            texts = np.array([[f"{c}\n({f:.2f})" for c, f in zip(rc, rf)]
                              for rc, rf in zip(counts[index], normalised[index])])
            _annotate(ax, normalised[index], texts, vmax=1.0, fontsize=9)
            ax.set(title=name, xticks=[0, 1], yticks=[0, 1],
                   xticklabels=["no", "yes"], yticklabels=["no", "yes"],
                   xlabel="Predicted", ylabel="True")
    else:
        k = len(names)
        fontsize = max(5, 11 - k // 2)
        side = max(3.5, 0.45 * k + 1.5)
        figure = _figure(2 * side + 0.5, side + 0.5)
        for index, (matrix, texts, vmax, label) in enumerate((
                (counts, counts.astype(str), max(counts.max(), 1), "Counts"),
                (normalised, np.char.mod("%.2f", normalised), 1.0, "Row-normalised"))):
            ax = figure.add_subplot(1, 2, index + 1)
            _annotate(ax, matrix, texts, vmax=vmax, fontsize=fontsize)
            ax.set(title=label, xticks=range(k), yticks=range(k), xlabel="Predicted",
                   ylabel="True")
            ax.set_xticklabels(names, rotation=45 if k > 3 else 0, ha="right" if k > 3
                               else "center", fontsize=fontsize)
            ax.set_yticklabels(names, fontsize=fontsize)
    figure.suptitle(title)
    return _save(figure, path, dpi)


def _flatten_scores(name, y_true, scores):
    """(y, s, averaged) as 1-D binary targets and scores for one model.

    Binary: the positive-class column. Multi-class (scores (N, K), K > 2) and
    multi-label (y_true (N, L)): micro-average, every (image, class) pair is
    one binary decision.
    """
    from sklearn.preprocessing import label_binarize

    y, s = np.asarray(y_true), np.asarray(scores, dtype=float)
    if s.ndim == 2 and s.shape[1] == 2 and y.ndim == 1:
        s = s[:, 1]
    if y.ndim == 1 and s.ndim == 2:
        y = label_binarize(y, classes=np.arange(s.shape[1]))
    if y.shape != s.shape or y.size == 0:
        raise ValueError(f"curves[{name!r}] must be (y_true, scores) of matching shapes: "
                         f"(N,) and (N,) or (N, 2) for binary, (N,) and (N, K) for "
                         f"multi-class, (N, L) and (N, L) for multi-label; got "
                         f"{np.shape(y_true)} and {np.shape(scores)}.")
    return y.ravel().astype(int), s.ravel(), s.ndim == 2


def _check_curves(curves):
    if not hasattr(curves, "items") or not curves:
        raise ValueError("curves must be a non-empty dict {model_name: (y_true, scores)}; "
                         f"got {type(curves).__name__}.")
    return [(str(name), *_flatten_scores(name, *pair)) for name, pair in curves.items()]


def plot_roc_curves(curves, path, *, title="ROC curves", dpi=120):
    """Overlay the ROC curves of several models on the same images.

    Parameters
    ----------
    curves : dict
        ``{model_name: (y_true, scores)}``. Binary: ``y_true`` (N,) of {0, 1}
        and positive-class scores (N,) or both columns (N, 2). Multi-class
        ((N,) labels, (N, K) scores) and multi-label ((N, L) and (N, L)):
        the micro-averaged curve over all (image, class) pairs, titled so.
    path : str or Path
        Where to write the PNG.
    title : str, optional
    dpi : int, optional

    Returns
    -------
    path : Path

    Examples
    --------
    >>> plot_roc_curves({"hog-xgb": ([0, 1, 1], [0.2, 0.8, 0.6])},
    ...                 tmp_path / "roc.png")  # doctest: +SKIP
    PosixPath('.../roc.png')
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    entries = _check_curves(curves)
    figure = _figure(5.5, 5)
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="chance")
    for name, y, s, _ in entries:
        if y.min() == y.max():
            ax.plot([], [], label=f"{name} (one class only: no curve)")
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, lw=1.5, label=f"{name} (AUC = {roc_auc_score(y, s):.3f})")
    averaged = any(entry[3] for entry in entries)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal",
           xlabel="False positive rate (1 - specificity)",
           ylabel="True positive rate (sensitivity)",
           title=title + (" (micro-average)" if averaged else ""))
    ax.legend(loc="lower right", fontsize=8)
    return _save(figure, path, dpi)


def plot_pr_curves(curves, path, *, title="Precision-recall curves", dpi=120):
    """Overlay the precision-recall curves of several models.

    Parameters
    ----------
    curves : dict
        ``{model_name: (y_true, scores)}``, as for :func:`plot_roc_curves`
        (micro-average for multi-class and multi-label).
    path : str or Path
    title : str, optional
    dpi : int, optional

    Returns
    -------
    path : Path
        The legend gives each model's average precision; the dotted line is
        the prevalence, the precision of a model that guesses.

    Examples
    --------
    >>> plot_pr_curves({"hog-xgb": ([0, 1, 1], [0.2, 0.8, 0.6])},
    ...                tmp_path / "pr.png")  # doctest: +SKIP
    PosixPath('.../pr.png')
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    entries = _check_curves(curves)
    figure = _figure(5.5, 5)
    ax = figure.add_subplot()
    prevalence = entries[0][1].mean()
    ax.axhline(prevalence, ls=":", color="grey", label=f"chance (prevalence {prevalence:.2f})")
    for name, y, s, _ in entries:
        if y.max() == 0:
            ax.plot([], [], label=f"{name} (no positives: no curve)")
            continue
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, lw=1.5, drawstyle="steps-post",
                label=f"{name} (AP = {average_precision_score(y, s):.3f})")
    averaged = any(entry[3] for entry in entries)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="Recall (sensitivity)", ylabel="Precision",
           title=title + (" (micro-average)" if averaged else ""))
    ax.legend(loc="lower left", fontsize=8)
    return _save(figure, path, dpi)


def plot_training_history(history, path, *, title="Training history", dpi=120):
    """Plot loss and metrics per epoch, training and validation.

    Parameters
    ----------
    history : dict or keras History
        ``{name: [value per epoch]}`` as in Keras' ``History.history``:
        ``loss``, ``val_loss``, ``accuracy``, ``val_accuracy``... One panel
        per metric; training solid, validation (``val_`` prefix) dashed.
    path : str or Path
    title : str, optional
    dpi : int, optional

    Returns
    -------
    path : Path

    Examples
    --------
    >>> plot_training_history({"loss": [0.7, 0.5], "val_loss": [0.72, 0.6]},
    ...                       tmp_path / "history.png")  # doctest: +SKIP
    PosixPath('.../history.png')
    """
    history = getattr(history, "history", history)
    if not hasattr(history, "items"):
        raise TypeError(f"history must be a dict of per-epoch lists (or a keras History); "
                        f"got {type(history).__name__}.")
    series = {}
    for key, values in history.items():
        values = np.asarray(values, dtype=float) if np.ndim(values) == 1 else None
        if values is None:
            raise ValueError(f"history[{key!r}] must be a list of numbers, one per epoch.")
        if values.size:
            series[str(key)] = values
    if not series:
        raise ValueError("history holds no values; expected e.g. {'loss': [...], "
                         "'val_loss': [...]} with at least one epoch.")
    panels = list(dict.fromkeys(k[4:] if k.startswith("val_") else k for k in series))
    panels.sort(key=lambda name: name != "loss")
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure = _figure(4 * columns, 3.2 * rows + 0.3)
    for index, panel in enumerate(panels):
        ax = figure.add_subplot(rows, columns, index + 1)
        for key, style, label in ((panel, "-", "train"), (f"val_{panel}", "--", "val")):
            if key in series:
                epochs = np.arange(1, len(series[key]) + 1)
                ax.plot(epochs, series[key], style, marker="o" if len(epochs) <= 30 else None,
                        ms=3, label=label)
        ax.set(title=panel, xlabel="Epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle(title)
    return _save(figure, path, dpi)
