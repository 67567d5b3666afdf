"""Reliability diagrams, drawn from saved predictions (the style of
:mod:`benchmarks.reports.plots`: a ``Figure`` with its Agg canvas, no pyplot state)."""


from benchmarks.reports.plots import _figure, _save

__all__ = ["plot_reliability_diagram"]


def plot_reliability_diagram(y_true, proba, path, *, task, n_bins=10, title=None, dpi=120):
    """Observed frequency against mean predicted probability per bin, with
    the images per bin below.

    Parameters
    ----------
    y_true : (N,) or (N, L) array_like of int
    proba : array_like of float
        As for :func:`benchmarks.evaluation.calibration.expected_calibration_error`:
        binary, the positive class; multi-class, the top-label confidence;
        multi-label, every label's probability pooled.
    path : str or Path
    task : {'binary', 'multiclass', 'multilabel'}
    n_bins : int, optional
    title : str, optional
    dpi : int, optional

    Returns
    -------
    path : Path

    Examples
    --------
    >>> plot_reliability_diagram([0, 1, 1], [0.2, 0.7, 0.9], tmp_path / "rel.png",
    ...                          task="binary")  # doctest: +SKIP
    PosixPath('.../rel.png')
    """
    from benchmarks.evaluation.calibration import (_confidence_and_outcome, calibration_metrics,
                                                   reliability_table)

    confidence, outcome = _confidence_and_outcome(y_true, proba, task)
    table = reliability_table(confidence, outcome, n_bins=n_bins)
    scores = calibration_metrics(y_true, proba, task=task, n_bins=n_bins)
    figure = _figure(4.6, 5.2)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    width = 1.0 / n_bins
    top.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect calibration")
    top.bar(table["lower"], table["frequency"], width=width, align="edge",
            edgecolor="black", alpha=0.7, label="observed frequency")
    top.plot(table["confidence"], table["frequency"], "o-", color="C1", ms=4,
             label="per bin (mean prediction)")
    what = {"binary": "positive class", "multiclass": "top label",
            "multilabel": "all labels"}[task]
    top.set(xlim=(0, 1), ylim=(0, 1), ylabel="Observed frequency",
            title=(title or "Reliability") + f"\nECE {scores['ece']:.3f}, "
                                              f"Brier {scores['brier']:.3f} ({what})")
    top.legend(loc="upper left", fontsize=8)
    bottom.bar(table["lower"], table["count"], width=width, align="edge", color="grey")
    bottom.set(xlabel="Predicted probability", ylabel="Images")
    return _save(figure, path, dpi)
