"""The metrics of one part, from its scores: one row of ``results.csv``.

:func:`score_part` needs five settings of a run, not the run's whole
configuration: they travel as a :class:`ScoringSettings`.
"""

import dataclasses

import numpy as np

from benchmarks.evaluation.calibration import calibration_metrics
from benchmarks.evaluation.metrics import bootstrap_ci, choose_threshold, evaluate_predictions
from benchmarks.evaluation.ordinal import ordinal_metrics

__all__ = ["ScoringSettings", "score_part", "extra_metrics"]


@dataclasses.dataclass(frozen=True)
class ScoringSettings:
    """What scoring a part needs from a run's settings.

    Parameters
    ----------
    threshold_method : {'youden', 'sensitivity'}
        How the binary threshold is chosen on validation data.
    target_sensitivity : float
        Sensitivity to reach with ``threshold_method='sensitivity'``.
    n_bootstrap : int
        Bootstrap resamples of the 95% confidence intervals.
    seed : int
        Seed of the bootstrap.
    ordinal : bool
        Add the grade metrics (:func:`benchmarks.evaluation.ordinal.ordinal_metrics`).

    Examples
    --------
    >>> ScoringSettings(n_bootstrap=200).threshold_method
    'youden'
    """

    threshold_method: str = "youden"
    target_sensitivity: float = 0.95
    n_bootstrap: int = 1000
    seed: int = 0
    ordinal: bool = False

    @classmethod
    def from_config(cls, config):
        """The scoring settings of a :class:`benchmarks.config.BenchmarkConfig`.

        Examples
        --------
        >>> from benchmarks.config import BenchmarkConfig
        >>> ScoringSettings.from_config(BenchmarkConfig(seed=3, ordinal=True)).ordinal
        True
        """
        return cls(threshold_method=config.threshold_method,
                   target_sensitivity=config.target_sensitivity,
                   n_bootstrap=config.n_bootstrap, seed=config.seed,
                   ordinal=bool(config.ordinal))


def extra_metrics(y_true, proba, task, *, ordinal=False):
    """Calibration (ECE, Brier) and, with ``ordinal``, grade metrics.

    Examples
    --------
    >>> import numpy as np
    >>> sorted(extra_metrics(np.array([0, 1]), np.array([[0.8, 0.2], [0.3, 0.7]]), "binary"))
    ['brier', 'ece']
    """
    metrics = calibration_metrics(y_true, proba, task=task)
    if ordinal:
        metrics.update(ordinal_metrics(y_true, np.column_stack([1 - proba, proba])
                                       if np.ndim(proba) == 1 else proba))
    return metrics


def score_part(dataset, split, proba_test, proba_val, settings):
    """All metrics of one part: at 0.5, at the threshold chosen on the
    validation set (binary, ``tuned_*``) and bootstrap CIs of F1 and ROC AUC.

    Parameters
    ----------
    dataset : benchmarks.Dataset
        Its labels, task and class names are read.
    split : benchmarks.Split
    proba_test, proba_val : ndarray
        Probabilities with one column per class of the dataset
        (``proba_val`` None without a validation set).
    settings : ScoringSettings

    Returns
    -------
    metrics : dict

    Examples
    --------
    >>> import numpy as np
    >>> from benchmarks import Dataset, Split
    >>> dataset = Dataset(images=np.zeros((4, 8, 8), np.uint8), labels=np.array([0, 1, 0, 1]),
    ...                   class_names=("normal", "fracture"), task="binary", ids=list("abcd"))
    >>> proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> metrics = score_part(dataset, Split(0, np.array([0, 1]), np.array([], int),
    ...                      np.array([2, 3])), proba, None, ScoringSettings(n_bootstrap=20))
    >>> metrics["f1"], metrics["roc_auc"]
    (1.0, 1.0)
    """
    y_test = dataset.labels[split.test]
    options = {"task": dataset.task, "class_names": dataset.class_names}
    metrics = evaluate_predictions(y_test, proba_test, threshold=0.5, **options)
    for metric in ("f1", "roc_auc"):
        low, high = bootstrap_ci(y_test, proba_test, metric, n_boot=settings.n_bootstrap,
                                 seed=settings.seed, **options)
        metrics[f"{metric}_ci_low"], metrics[f"{metric}_ci_high"] = low, high
    if dataset.task == "binary" and proba_val is not None:
        y_val = dataset.labels[split.val]
        if len(np.unique(y_val)) == 2:
            threshold = choose_threshold(y_val, proba_val[:, 1],
                                         method=settings.threshold_method,
                                         target_sensitivity=settings.target_sensitivity)
            tuned = evaluate_predictions(y_test, proba_test, threshold=threshold, **options)
            for key in ("threshold", "accuracy", "balanced_accuracy", "precision",
                        "recall", "specificity", "f1"):
                metrics[f"tuned_{key}"] = tuned[key]
    metrics.update(extra_metrics(y_test, proba_test, dataset.task, ordinal=settings.ordinal))
    return metrics
