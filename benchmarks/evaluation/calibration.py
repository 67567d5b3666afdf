"""Can a predicted 0.8 be read as 80%? Calibration error, Brier score and
post-hoc calibration fitted on validation predictions.

* :func:`calibration_metrics` gives the expected calibration error (ECE) and
  the Brier score of one set of predictions;
* :func:`reliability_table` gives the bins a reliability diagram draws;
* :func:`fit_calibrator` fits temperature scaling, isotonic regression or a
  sigmoid (Platt) on validation predictions; the returned
  :class:`ProbabilityCalibrator` maps any probabilities of that model.

What is compared with the outcome: binary tasks, the positive-class
probability; multi-class tasks, the top-label probability (the confidence of
the predicted class against whether the prediction is right); multi-label
tasks, each label's probability, averaged over labels.
"""

import numpy as np

from xray_features.utils import check_scalar

__all__ = ["expected_calibration_error", "calibration_metrics", "reliability_table",
           "fit_calibrator", "ProbabilityCalibrator", "CALIBRATION_METHODS"]

CALIBRATION_METHODS = ("temperature", "isotonic", "sigmoid")
_EPS = 1e-7


def _confidence_and_outcome(y_true, proba, task):
    """(confidence, outcome) pairs as flat arrays, per the module's rules."""
    y, p = np.asarray(y_true), np.asarray(proba, dtype=float)
    if task == "binary":
        return (p[:, 1] if p.ndim == 2 else p), (y == 1).astype(float)
    if task == "multiclass":
        return p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    if task == "multilabel":
        return p.ravel(), y.ravel().astype(float)
    raise ValueError(f"task must be 'binary', 'multiclass' or 'multilabel'; got {task!r}.")


def reliability_table(confidence, outcome, *, n_bins=10):
    """Equal-width bins of predicted probability: count, mean prediction and
    observed frequency per bin (empty bins are dropped).

    Parameters
    ----------
    confidence : (N,) array_like of float in [0, 1]
    outcome : (N,) array_like of {0, 1}
    n_bins : int, optional

    Returns
    -------
    table : dict of ndarray
        ``lower``, ``upper`` (bin edges), ``count``, ``confidence`` (mean
        prediction) and ``frequency`` (fraction of outcomes that are 1).

    Examples
    --------
    >>> t = reliability_table([0.1, 0.15, 0.9, 0.95], [0, 1, 1, 1], n_bins=2)
    >>> t["count"].tolist(), t["frequency"].tolist()
    ([2, 2], [0.5, 1.0])
    """
    confidence = np.asarray(confidence, dtype=float).ravel()
    outcome = np.asarray(outcome, dtype=float).ravel()
    n_bins = check_scalar(n_bins, "n_bins", low=1)
    if confidence.shape != outcome.shape or confidence.size == 0:
        raise ValueError(f"confidence and outcome must be non-empty and of one length; got "
                         f"{confidence.size} and {outcome.size}.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin i holds (edges[i], edges[i + 1]]; 0 goes to the first bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    sums = np.bincount(index, weights=confidence, minlength=n_bins)
    hits = np.bincount(index, weights=outcome, minlength=n_bins)
    kept = count > 0
    return {"lower": edges[:-1][kept], "upper": edges[1:][kept], "count": count[kept],
            "confidence": sums[kept] / count[kept], "frequency": hits[kept] / count[kept]}


def expected_calibration_error(y_true, proba, *, task="binary", n_bins=10):
    """Expected calibration error with ``n_bins`` equal-width bins.

    ``ECE = sum over bins of (bin count / N) * |mean prediction - observed
    frequency|``. Equal-width bins (rather than equal-mass ones) are the common
    definition (Guo et al. 2017), so numbers compare with published ones; the
    value depends on ``n_bins`` and is biased upwards on small test sets.

    Parameters
    ----------
    y_true : (N,) or (N, L) array_like of int
    proba : (N,), (N, K) or (N, L) array_like of float
    task : {'binary', 'multiclass', 'multilabel'}
    n_bins : int, optional

    Returns
    -------
    ece : float

    References
    ----------
    Guo, Pleiss, Sun and Weinberger, "On calibration of modern neural
    networks", ICML 2017.

    Examples
    --------
    Two bins: ``|0.125 - 0.5|`` and ``|0.925 - 1.0|``, each holding half the images:

    >>> round(expected_calibration_error([0, 1, 1, 1], [0.1, 0.15, 0.9, 0.95], n_bins=2), 4)
    0.225
    """
    confidence, outcome = _confidence_and_outcome(y_true, proba, task)
    if task == "multilabel":  # one ECE per label, averaged
        y, p = np.asarray(y_true), np.asarray(proba, dtype=float)
        return float(np.mean([expected_calibration_error(y[:, j], p[:, j], n_bins=n_bins)
                              for j in range(p.shape[1])]))
    table = reliability_table(confidence, outcome, n_bins=n_bins)
    gaps = np.abs(table["confidence"] - table["frequency"])
    return float(np.sum(table["count"] * gaps) / len(confidence))


def calibration_metrics(y_true, proba, *, task, n_bins=10):
    """``{'ece': ..., 'brier': ...}`` of one model on one set of images.

    The Brier score is :func:`sklearn.metrics.brier_score_loss`: binary, the
    mean squared error of the positive-class probability; multi-class, the
    squared error summed over classes (Brier's original score, 0 to 2);
    multi-label, the mean over labels of the binary score.

    Examples
    --------
    >>> m = calibration_metrics([0, 1], [[0.8, 0.2], [0.4, 0.6]], task="binary")
    >>> round(m["brier"], 3), round(m["ece"], 3)
    (0.1, 0.3)
    """
    from sklearn.metrics import brier_score_loss

    y, p = np.asarray(y_true), np.asarray(proba, dtype=float)
    if task == "binary":
        brier = brier_score_loss(y, p[:, 1] if p.ndim == 2 else p, pos_label=1)
    elif task == "multiclass":
        # float32 models (XGBoost, Keras) give rows summing to 1 +- 1e-7,
        # which sklearn's check (rtol 1.5e-8) warns about: renormalise.
        total = p.sum(axis=1, keepdims=True)
        rows = np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)
        brier = brier_score_loss(y, rows, labels=np.arange(p.shape[1]))
    else:
        brier = np.mean([brier_score_loss(y[:, j], p[:, j], pos_label=1)
                         for j in range(p.shape[1])])
    return {"ece": expected_calibration_error(y, p, task=task, n_bins=n_bins),
            "brier": float(brier)}


# ------------------------------------------------------------ post-hoc fitting
def _logit(p):
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ProbabilityCalibrator:
    """A fitted post-hoc calibration of one model's probabilities.

    Use :func:`fit_calibrator` to make one. ``temperature_`` is the fitted
    temperature (``method='temperature'``): above 1, the model was
    over-confident.
    """

    def __init__(self, method, task, parts, temperature=None):
        self.method, self.task, self.parts_ = method, task, parts
        self.temperature_ = temperature

    def transform(self, proba):
        """Calibrated probabilities, shaped like ``proba``."""
        p = np.asarray(proba, dtype=float)
        if self.method == "temperature":
            if self.task == "multiclass":
                return _softmax(np.log(np.clip(p, _EPS, 1)) / self.temperature_)
            column = p[:, 1] if (self.task == "binary" and p.ndim == 2) else p
            out = 1 / (1 + np.exp(-_logit(column) / self.temperature_))
        else:
            columns = _columns(p, self.task)
            out = np.column_stack([part(columns[:, j]) for j, part in enumerate(self.parts_)])
            if self.task == "multiclass":  # one-vs-rest, then renormalised
                total = out.sum(axis=1, keepdims=True)
                out = np.divide(out, total, out=np.full_like(out, 1 / out.shape[1]),
                                where=total > 0)
                return out
            out = out[:, 0] if self.task == "binary" else out
        if self.task == "binary" and p.ndim == 2:
            return np.column_stack([1 - out, out])
        return out


def _columns(p, task):
    """The columns fitted one at a time: binary the positive class, else all."""
    if task == "binary":
        return (p[:, 1] if p.ndim == 2 else p)[:, None]
    return p


def _fit_temperature(y, p, task):
    """The temperature minimising the validation negative log-likelihood."""
    from scipy.optimize import minimize_scalar

    if task == "multiclass":
        logits = np.log(np.clip(p, _EPS, 1))

        def nll(log_t):
            q = _softmax(logits / np.exp(log_t))
            return -np.mean(np.log(np.clip(q[np.arange(len(y)), y], _EPS, 1)))
    else:
        logits = _logit(_columns(p, task))
        target = np.asarray(y, dtype=float).reshape(logits.shape)

        def nll(log_t):
            z = logits / np.exp(log_t)  # log(1 + e^-z) for y = 1, log(1 + e^z) for y = 0
            return np.mean(np.logaddexp(0, -z) * target + np.logaddexp(0, z) * (1 - target))
    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def _fit_column(method, outcome, score):
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        model.fit(score, outcome)
        return model.predict
    from sklearn.linear_model import LogisticRegression  # Platt scaling on the logit

    if outcome.min() == outcome.max():  # one outcome only: keep its frequency
        value = float(outcome[0])
        return lambda s: np.full(len(s), value)
    model = LogisticRegression(C=1e6).fit(_logit(score)[:, None], outcome)
    return lambda s: model.predict_proba(_logit(s)[:, None])[:, 1]


def fit_calibrator(y_val, proba_val, *, method, task):
    """Fit a post-hoc calibration on validation predictions.

    Parameters
    ----------
    y_val : (N,) or (N, L) array_like of int
        Validation labels (class indices, or a 0/1 matrix for multi-label).
    proba_val : array_like of float
        The model's validation probabilities (as for
        :func:`benchmarks.evaluation.metrics.evaluate_predictions`).
    method : {'temperature', 'isotonic', 'sigmoid'}
        ``'temperature'``: one temperature T dividing the logits (binary and
        multi-label: logit of each probability; multi-class: log
        probabilities, then softmax), T chosen to minimise the validation
        negative log-likelihood (scipy's bounded scalar minimiser on log T,
        T in [0.05, 20]); it keeps the ranking, so ROC AUC is unchanged.
        ``'isotonic'``: :class:`sklearn.isotonic.IsotonicRegression` per
        class (one-vs-rest, renormalised for multi-class). ``'sigmoid'``:
        Platt scaling, :class:`sklearn.linear_model.LogisticRegression` on
        the logit, per class likewise.
    task : {'binary', 'multiclass', 'multilabel'}

    Returns
    -------
    ProbabilityCalibrator

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(0, 2, 4000)
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)
    >>> over_confident = 1 / (1 + np.exp(-3 * z))
    >>> round(fit_calibrator(y, over_confident, method="temperature",
    ...                      task="binary").temperature_, 1)
    3.0
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {CALIBRATION_METHODS}; got {method!r}.")
    y, p = np.asarray(y_val), np.asarray(proba_val, dtype=float)
    if len(y) != len(p) or len(y) < 2:
        raise ValueError(f"calibration needs at least 2 validation predictions with one "
                         f"label each; got {len(y)} labels and {len(p)} predictions.")
    if method == "temperature":
        return ProbabilityCalibrator(method, task, None, _fit_temperature(y, p, task))
    columns = _columns(p, task)
    if task == "binary":
        outcomes = (y == 1).astype(float)[:, None]
    elif task == "multiclass":
        outcomes = (y[:, None] == np.arange(p.shape[1])).astype(float)
    else:
        outcomes = y.astype(float)
    parts = [_fit_column(method, outcomes[:, j], columns[:, j])
             for j in range(columns.shape[1])]
    return ProbabilityCalibrator(method, task, parts)
