"""Is the winner really better? Paired tests of two models scored on the
same images.

* :func:`delong_test`: DeLong's test of the difference of two correlated
  ROC AUCs, computed with the fast midrank algorithm of Sun & Xu (2014).
  Neither scipy nor scikit-learn has it, hence this hand-written version
  (checked in the tests against the explicit pairwise Mann-Whitney kernel).
* :func:`paired_bootstrap_auc_difference`: the percentile CI of the same
  difference, resampling images (both models together).
* :func:`mcnemar_exact`: McNemar's exact test of two accuracies on the same
  images (:func:`scipy.stats.binomtest` on the discordant pairs).
* :func:`holm`: Holm's step-down adjustment of a family of p-values.
* :func:`pairwise_comparisons`: all of them for every pair of models of a run.
"""

import itertools

import numpy as np

__all__ = ["delong_test", "paired_bootstrap_auc_difference", "mcnemar_exact", "holm",
           "auc_components", "pairwise_comparisons", "not_below_best"]


def auc_components(y_true, scores):
    """ROC AUC and DeLong's per-image structural components.

    Sun & Xu's algorithm: with midranks ``R`` of all N scores, ``R_X`` of the
    m positives among themselves and ``R_Y`` of the n negatives, a positive's
    component is ``V10 = (R - R_X) / n`` (the fraction of negatives it
    outranks, ties counting half) and a negative's ``V01 = 1 - (R - R_Y) / m``;
    the AUC is the mean of either set. O(N log N) instead of O(m n).

    Parameters
    ----------
    y_true : (N,) array_like of {0, 1}
    scores : (N,) or (M, N) array_like of float
        One or several models' scores of the same images.

    Returns
    -------
    auc : float or (M,) ndarray
    v10 : (M, m) ndarray
    v01 : (M, n) ndarray

    Examples
    --------
    >>> auc, v10, v01 = auc_components([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9])
    >>> float(auc), v10.tolist(), v01.tolist()
    (0.75, [[0.5, 1.0]], [[1.0, 0.5]])
    """
    from scipy.stats import rankdata

    y = np.asarray(y_true).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    if y.ndim != 1 or s.shape[1] != len(y):
        raise ValueError(f"y_true must be (N,) and scores (N,) or (M, N); got shapes "
                         f"{np.shape(y_true)} and {np.shape(scores)}.")
    m, n = int(y.sum()), int((~y).sum())
    if m == 0 or n == 0:
        raise ValueError(f"ROC AUC needs positives and negatives; got {m} positive(s) and "
                         f"{n} negative(s).")
    ranks = rankdata(s, axis=1)
    v10 = (ranks[:, y] - rankdata(s[:, y], axis=1)) / n
    v01 = 1.0 - (ranks[:, ~y] - rankdata(s[:, ~y], axis=1)) / m
    auc = v10.mean(axis=1)
    return (auc if len(auc) > 1 or np.ndim(scores) == 2 else auc[0]), v10, v01


def _influence(y, scores):
    """Per-image terms whose sum of squares is DeLong's variance (and whose
    sum of products is the covariance): ``(V10 - AUC) / sqrt(m (m - 1))`` for
    positives, ``(V01 - AUC) / sqrt(n (n - 1))`` for negatives."""
    y = np.asarray(y).astype(bool)
    auc, v10, v01 = auc_components(y, scores)
    m, n = v10.shape[1], v01.shape[1]
    if m < 2 or n < 2:
        raise ValueError(f"DeLong's variance needs at least 2 positives and 2 negatives; "
                         f"got {m} and {n}.")
    out = np.empty((len(v10), len(y)))
    auc = np.atleast_1d(auc)[:, None]
    out[:, y] = (v10 - auc) / np.sqrt(m * (m - 1))
    out[:, ~y] = (v01 - auc) / np.sqrt(n * (n - 1))
    return auc[:, 0], out


def delong_test(y_true, scores_a, scores_b):
    """DeLong's test of ROC AUC(a) = ROC AUC(b) on the same images.

    Parameters
    ----------
    y_true : (N,) array_like of {0, 1}, or (N,) class indices / (N, L) 0/1
        Binary truth. For a multi-class (pass (N, K) scores) or multi-label
        task the AUC is the one-vs-rest macro average over classes with both
        outcomes, and its variance comes from the per-image structural
        components averaged over classes (the covariance between classes is
        estimated from the same images); for one binary column this is
        exactly DeLong's formula.
    scores_a, scores_b : (N,) or (N, K) array_like of float

    Returns
    -------
    result : dict
        ``auc_a``, ``auc_b``, ``difference`` (a - b), ``variance`` of the
        difference, ``z`` and the two-sided ``p_value`` (1 when the variance
        is 0, e.g. identical scores).

    References
    ----------
    DeLong, DeLong and Clarke-Pearson, "Comparing the areas under two or more
    correlated receiver operating characteristic curves: a nonparametric
    approach", Biometrics 44 (1988). Sun and Xu, "Fast implementation of
    DeLong's algorithm for comparing the areas under correlated receiver
    operating characteristic curves", IEEE Signal Processing Letters 21 (2014).

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ...                 [0.1, 0.5, 0.3, 0.4, 0.2, 0.6])
    >>> round(r["auc_a"], 3), round(r["auc_b"], 3), round(r["p_value"], 3)
    (1.0, 0.667, 0.221)
    """
    from scipy.stats import norm

    y, columns = _binary_columns(y_true, scores_a, scores_b)
    total = None
    aucs = []
    for truth, a, b in columns:
        auc, terms = _influence(truth, np.stack([a, b]))
        aucs.append(auc)
        total = terms if total is None else total + terms
    total /= len(columns)
    auc_a, auc_b = np.mean(aucs, axis=0)
    diff = total[0] - total[1]
    variance = float(diff @ diff)
    difference = float(auc_a - auc_b)
    if variance <= 1e-15:
        z, p = 0.0, 1.0
    else:
        z = difference / np.sqrt(variance)
        p = float(2 * norm.sf(abs(z)))
    return {"auc_a": float(auc_a), "auc_b": float(auc_b), "difference": difference,
            "variance": variance, "z": float(z), "p_value": min(p, 1.0)}


def _binary_columns(y_true, scores_a, scores_b):
    """[(truth, a, b)] per one-vs-rest column with both outcomes present."""
    y = np.asarray(y_true)
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    if a.shape != b.shape or len(a) != len(y):
        raise ValueError(f"scores_a and scores_b must have one shape with one row per "
                         f"image; got {a.shape}, {b.shape} for {len(y)} images.")
    if a.ndim == 2 and a.shape[1] == 2 and y.ndim == 1 and set(np.unique(y)) <= {0, 1}:
        a, b = a[:, 1], b[:, 1]
    if a.ndim == 1:
        return y, [(y.astype(int), a, b)]
    truth = y if y.ndim == 2 else (y[:, None] == np.arange(a.shape[1])).astype(int)
    columns = [(truth[:, c], a[:, c], b[:, c]) for c in range(a.shape[1])
               if 2 <= truth[:, c].sum() <= len(truth) - 2]
    if not columns:
        raise ValueError("no class has at least 2 positives and 2 negatives; ROC AUC "
                         "cannot be compared.")
    return y, columns


def _macro_auc(weights, columns):
    """Macro ROC AUC over one-vs-rest columns of every weighted resample at
    once (the vectorised Mann-Whitney of the bootstrap intervals)."""
    from benchmarks.evaluation.metrics import _weighted_ranking

    values = np.stack([_weighted_ranking(weights, t, s, "auc") for t, s in columns])
    defined = ~np.isnan(values)
    total = np.where(defined, values, 0).sum(0)
    return np.where(defined.any(0), total / np.maximum(defined.sum(0), 1), np.nan)


def paired_bootstrap_auc_difference(y_true, scores_a, scores_b, *, n_boot=1000, seed=0,
                                    alpha=0.05):
    """Percentile CI of ROC AUC(a) - ROC AUC(b), resampling images with
    replacement (the same images for both models).

    Returns
    -------
    (low, high) : tuple of float

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1] * 5
    >>> low, high = paired_bootstrap_auc_difference(y, [0, .1, .2, .8, .9, 1] * 5,
    ...                                             [.5] * 30, n_boot=200)
    >>> low > 0.3
    True
    """
    y, columns = _binary_columns(y_true, scores_a, scores_b)
    from benchmarks.evaluation.metrics import bootstrap_weights

    differences = []
    for _, weights in bootstrap_weights(len(y), n_boot, seed=seed):
        differences.append(_macro_auc(weights, [(t, a) for t, a, _ in columns])
                           - _macro_auc(weights, [(t, b) for t, _, b in columns]))
    differences = np.concatenate(differences)
    differences = differences[np.isfinite(differences)]
    if not differences.size:
        return float("nan"), float("nan")
    low, high = np.percentile(differences, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def mcnemar_exact(correct_a, correct_b):
    """McNemar's exact test: do two models have the same accuracy on the
    same images?

    Only the discordant images count: ``b`` right by a only, ``c`` right by b
    only; under the null hypothesis ``b ~ Binomial(b + c, 1/2)``.

    Returns
    -------
    result : dict
        ``only_a``, ``only_b`` (the discordant counts) and the two-sided exact
        ``p_value`` (1 with no discordant image).

    Examples
    --------
    Ten images right by a only, two by b only: p = 2 (1 + 12 + 66) / 2**12.

    >>> mcnemar_exact([1] * 10 + [0] * 2, [0] * 10 + [1] * 2)["p_value"] == 158 / 4096
    True
    """
    from scipy.stats import binomtest

    a, b = np.asarray(correct_a).astype(bool), np.asarray(correct_b).astype(bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"correct_a and correct_b must be (N,) flags of one length; got "
                         f"shapes {a.shape} and {b.shape}.")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = 1.0 if only_a + only_b == 0 else binomtest(only_a, only_a + only_b, 0.5).pvalue
    return {"only_a": only_a, "only_b": only_b, "p_value": float(min(p, 1.0))}


def holm(p_values):
    """Holm's step-down adjusted p-values (family-wise error control).

    Hand-written: five lines, and statsmodels (which has it) is not a
    dependency. NaN p-values are left out of the family and stay NaN.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    steps = np.maximum.accumulate((len(order) - np.arange(len(order))) * p[order])
    adjusted[order] = np.minimum(steps, 1.0)
    return adjusted


def _correct(y, proba, task, threshold):
    if task == "binary":
        return (proba[:, 1] >= threshold).astype(int) == y
    if task == "multiclass":
        return proba.argmax(axis=1) == y
    return ((proba >= 0.5).astype(int) == y).all(axis=1)


def pairwise_comparisons(predictions, *, task, class_names, thresholds=None, n_boot=1000,
                         seed=0):
    """Every pair of models on their common test images.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Test predictions in the ``predictions.csv`` layout; with several
        folds, the pooled out-of-fold predictions (one row per image and model).
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str
    thresholds : dict, optional
        ``{(model, fold): threshold}`` for binary accuracy (McNemar); 0.5
        where missing. Multi-class uses argmax, multi-label exact match at 0.5.
    n_boot, seed : int
        Bootstrap resamples and seed for the CI of the AUC difference.

    Returns
    -------
    table : pandas.DataFrame
        One row per pair (``model_a``, ``model_b``): ``n``, ``auc_a``,
        ``auc_b``, ``auc_difference``, ``auc_difference_ci_low``/``_high``,
        ``delong_z``, ``delong_p``, ``accuracy_a``, ``accuracy_b``,
        ``only_a_correct``, ``only_b_correct``, ``mcnemar_p``, and the
        Holm-adjusted ``delong_p_holm``, ``mcnemar_p_holm`` over all pairs.
    """
    import pandas as pd

    from benchmarks.results.predictions_table import predictions_to_arrays

    thresholds = thresholds or {}
    models = list(dict.fromkeys(predictions["model"])) if len(predictions) else []
    data = {}
    for model in models:
        rows = predictions[predictions["model"] == model].sort_values(["id"], kind="stable")
        y, proba = predictions_to_arrays(rows, task=task, class_names=class_names)
        proba = np.column_stack([1 - proba, proba]) if proba.ndim == 1 else proba
        threshold = rows["fold"].map(lambda f: thresholds.get((model, f), 0.5)).to_numpy()
        data[model] = (rows["id"].astype(str).to_numpy(), y, proba, threshold)
    records = []
    for a, b in itertools.combinations(models, 2):
        ids_a, y_a, p_a, t_a = data[a]
        ids_b, _, p_b, t_b = data[b]
        common, ia, ib = np.intersect1d(ids_a, ids_b, return_indices=True)
        record = {"model_a": a, "model_b": b, "n": len(common)}
        y = y_a[ia]
        try:
            delong = delong_test(y, p_a[ia], p_b[ib])
            low, high = paired_bootstrap_auc_difference(y, p_a[ia], p_b[ib], n_boot=n_boot,
                                                        seed=seed)
            record.update(auc_a=delong["auc_a"], auc_b=delong["auc_b"],
                          auc_difference=delong["difference"], auc_difference_ci_low=low,
                          auc_difference_ci_high=high, delong_z=delong["z"],
                          delong_p=delong["p_value"])
        except ValueError as error:  # too few images of a class to compare AUCs
            record.update(delong_p=np.nan, note=str(error))
        if len(common):
            correct_a = _correct(y, p_a[ia], task, t_a[ia])
            correct_b = _correct(y, p_b[ib], task, t_b[ib])
            test = mcnemar_exact(correct_a, correct_b)
            record.update(accuracy_a=correct_a.mean(), accuracy_b=correct_b.mean(),
                          only_a_correct=test["only_a"], only_b_correct=test["only_b"],
                          mcnemar_p=test["p_value"])
        records.append(record)
    columns = ["model_a", "model_b", "n", "auc_a", "auc_b", "auc_difference",
               "auc_difference_ci_low", "auc_difference_ci_high", "delong_z", "delong_p",
               "delong_p_holm", "accuracy_a", "accuracy_b", "only_a_correct",
               "only_b_correct", "mcnemar_p", "mcnemar_p_holm", "note"]
    table = pd.DataFrame(records).reindex(columns=columns)
    if len(table):
        table["delong_p_holm"] = holm(table["delong_p"])
        table["mcnemar_p_holm"] = holm(table["mcnemar_p"])
    table["note"] = table["note"].astype(object).fillna("")
    return table


def not_below_best(table, *, alpha=0.05):
    """The models whose ROC AUC is not significantly below the best one.

    The best model is the one with the highest AUC in ``table``; each other
    model is compared with it (DeLong), and the family of these comparisons
    is Holm-corrected. A model is kept when its adjusted p-value is at least
    ``alpha``, or its AUC is not below the best.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`pairwise_comparisons` output.
    alpha : float, optional

    Returns
    -------
    best : str or None
    kept : set of str
        Includes ``best``; empty when the table is.
    """
    if table is None or not len(table) or table["auc_a"].isna().all():
        return None, set()
    aucs = {}
    for _, row in table.iterrows():
        if np.isfinite(row["auc_a"]):
            aucs.setdefault(row["model_a"], row["auc_a"])
            aucs.setdefault(row["model_b"], row["auc_b"])
    best = max(aucs, key=aucs.get)
    others, p_values = [], []
    for _, row in table.iterrows():
        if best in (row["model_a"], row["model_b"]):
            other = row["model_b"] if row["model_a"] == best else row["model_a"]
            others.append(other)
            p_values.append(row["delong_p"])
    adjusted = holm(p_values)
    kept = {best} | {other for other, p in zip(others, adjusted)
                     if (np.isfinite(p) and p >= alpha) or aucs.get(other, -1) >= aucs[best]}
    return best, kept
