"""Ensemble selection from a run's own models, on validation predictions only.

The model ``ensemble`` of a run averages the probabilities of the run's
other models. Its members and weights come from greedy forward selection
with replacement (Caruana et al. 2004): start from nothing; in each of a
fixed number of rounds add the member (again, possibly) whose addition gives
the best validation score of the averaged probabilities; the weight of a
member is the share of rounds that picked it. Of the rounds, the ensemble of
the round with the best validation score is kept (the earliest of equals), as
in the paper. Test predictions are never looked at: :func:`select_members`
receives validation probabilities only.

Settings (``--set ensemble.PARAM=VALUE`` or ``model_params["ensemble"]``):

``members``
    Names of the run's models to choose from (a list, or one comma-separated
    string); default every other model of the run.
``metric``
    ``"roc_auc"`` (default; maximised) or ``"log_loss"`` (minimised).
``rounds``
    Selection rounds (default 20); weights are multiples of ``1 / rounds``.

References
----------
R. Caruana, A. Niculescu-Mizil, G. Crew, A. Ksikes, "Ensemble selection from
libraries of models", ICML 2004.
"""

import dataclasses
import numbers

import numpy as np

__all__ = ["ENSEMBLE", "ENSEMBLE_METRICS", "ensemble_settings", "select_members",
           "EnsembleSelection"]

#: The name of the ensemble in a run's model list.
ENSEMBLE = "ensemble"
#: Validation scores the selection can optimise.
ENSEMBLE_METRICS = ("roc_auc", "log_loss")
_DEFAULTS = {"members": None, "metric": "roc_auc", "rounds": 20}


@dataclasses.dataclass(frozen=True)
class EnsembleSelection:
    """The outcome of :func:`select_members`.

    Attributes
    ----------
    weights : dict
        Member name -> weight (summing to 1) of every member with a weight
        above 0, in order of decreasing weight.
    metric : str
    score : float
        Validation score of the kept ensemble (ROC AUC, or log-loss).
    path : tuple of (str, float)
        The member added in each round and the validation score after it.
    single_scores : dict
        Each candidate's own validation score.
    """

    weights: dict
    metric: str
    score: float
    path: tuple
    single_scores: dict


def ensemble_settings(models, model_params):
    """The ensemble's settings of a run, checked.

    Parameters
    ----------
    models : sequence of str
        The run's model names (with ``"ensemble"``).
    model_params : dict of dict
        The run's parameters per model; ``model_params["ensemble"]`` holds
        the ensemble's settings.

    Returns
    -------
    settings : dict
        ``members`` (tuple of names), ``metric`` and ``rounds``.

    Raises
    ------
    ValueError
        An unknown setting, a member that is not another model of the run, an
        invalid metric or number of rounds, or fewer than two members.

    Examples
    --------
    >>> ensemble_settings(["hog-xgb", "cnn-small", "ensemble"], {})
    {'members': ('hog-xgb', 'cnn-small'), 'metric': 'roc_auc', 'rounds': 20}
    >>> ensemble_settings(["hog-xgb", "ensemble"], {})
    Traceback (most recent call last):
    ...
    ValueError: ensemble: needs at least two other models of the run to choose from; got \
['hog-xgb']. Add models to --models (or name them in ensemble.members).
    """
    given = dict(model_params.get(ENSEMBLE, {}))
    unknown = sorted(set(given) - set(_DEFAULTS))
    if unknown:
        raise ValueError(f"ensemble has no setting(s) {', '.join(unknown)}; its settings "
                         f"are: {', '.join(_DEFAULTS)} (--set ensemble.members=a,b).")
    settings = {**_DEFAULTS, **given}
    others = [name for name in models if name != ENSEMBLE]
    members = settings["members"]
    if members is None:
        members = others
    elif isinstance(members, str):
        members = [name.strip() for name in members.split(",") if name.strip()]
    if not isinstance(members, (list, tuple)) or not all(isinstance(m, str) for m in members):
        raise ValueError(f"ensemble.members must be model names (a list or 'a,b'); got "
                         f"{settings['members']!r}.")
    strangers = [name for name in members if name not in others]
    if strangers:
        raise ValueError(f"ensemble.members {strangers} are not other models of this run "
                         f"({', '.join(others) or 'none'}); add them to --models.")
    members = tuple(dict.fromkeys(members))
    if len(members) < 2:
        raise ValueError(f"ensemble: needs at least two other models of the run to choose "
                         f"from; got {list(members)}. Add models to --models (or name them "
                         "in ensemble.members).")
    if settings["metric"] not in ENSEMBLE_METRICS:
        raise ValueError(f"ensemble.metric must be one of {ENSEMBLE_METRICS}; got "
                         f"{settings['metric']!r}.")
    rounds = settings["rounds"]
    if not isinstance(rounds, numbers.Integral) or isinstance(rounds, bool) or rounds < 1:
        raise ValueError(f"ensemble.rounds must be an integer >= 1; got {rounds!r}.")
    return {"members": members, "metric": settings["metric"], "rounds": int(rounds)}


def _scorer(y_val, task, class_names, metric):
    """A function of probabilities that is larger for better ones."""
    if metric == "roc_auc":
        from benchmarks.evaluation.metrics import evaluate_predictions

        def score(proba):
            return evaluate_predictions(y_val, proba, task=task,
                                        class_names=class_names)["roc_auc"]
        return score
    from sklearn.metrics import log_loss

    def negative_log_loss(proba):
        proba = np.clip(proba, 1e-15, 1 - 1e-15)
        if task == "multilabel":
            return -np.mean([log_loss(y_val[:, j], proba[:, j], labels=[0, 1])
                             for j in range(proba.shape[1])])
        return -log_loss(y_val, proba, labels=list(range(proba.shape[1])))
    return negative_log_loss


def select_members(y_val, probas, *, task, class_names, metric="roc_auc", rounds=20):
    """Greedy forward selection with replacement on validation probabilities.

    Parameters
    ----------
    y_val : (N,) ndarray of int or (N, L) ndarray of {0, 1}
        Validation targets (class indices, or a label indicator).
    probas : dict
        Member name -> its (N, K) validation probabilities (one column per
        class, or per label). Test probabilities have no place here.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str
    metric : {'roc_auc', 'log_loss'}
    rounds : int

    Returns
    -------
    EnsembleSelection

    Raises
    ------
    ValueError
        Fewer than two members, probabilities of unequal shapes, or a score
        that cannot be computed (ROC AUC of a validation set with one class).

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1])
    >>> good = np.array([[.9, .1], [.8, .2], [.3, .7], [.2, .8]])
    >>> noise = np.array([[.4, .6], [.5, .5], [.6, .4], [.5, .5]])
    >>> chosen = select_members(y, {"good": good, "noise": noise}, task="binary",
    ...                         class_names=("a", "b"), rounds=5)
    >>> chosen.weights, chosen.score
    ({'good': 1.0}, 1.0)
    """
    if metric not in ENSEMBLE_METRICS:
        raise ValueError(f"metric must be one of {ENSEMBLE_METRICS}; got {metric!r}.")
    if len(probas) < 2:
        raise ValueError(f"ensemble selection needs at least two members; got {list(probas)}.")
    arrays = {name: np.asarray(proba, dtype=np.float64) for name, proba in probas.items()}
    shapes = {proba.shape for proba in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"members' validation probabilities differ in shape: "
                         f"{ {name: proba.shape for name, proba in arrays.items()} }.")
    score = _scorer(np.asarray(y_val), task, class_names, metric)
    single = {name: score(proba) for name, proba in arrays.items()}
    if any(not np.isfinite(value) for value in single.values()):
        raise ValueError(f"the validation {metric} cannot be computed (a validation set "
                         "with one class has no ROC AUC); use ensemble.metric=log_loss or "
                         "a larger validation set.")
    # Ties go to the better single model, then to the run's order.
    order = sorted(arrays, key=lambda name: -single[name])
    total = np.zeros(next(iter(shapes)))
    path = []
    for done in range(rounds):
        best, best_score = None, -np.inf
        for name in order:
            candidate = score((total + arrays[name]) / (done + 1))
            if candidate > best_score:
                best, best_score = name, candidate
        total += arrays[best]
        path.append((best, float(best_score)))
    kept = 1 + int(np.argmax([value for _, value in path]))  # first of the best
    counts = {}
    for name, _ in path[:kept]:
        counts[name] = counts.get(name, 0) + 1
    weights = {name: count / kept for name, count in
               sorted(counts.items(), key=lambda item: (-item[1], order.index(item[0])))}
    sign = -1.0 if metric == "log_loss" else 1.0
    return EnsembleSelection(weights=weights, metric=metric, score=sign * path[kept - 1][1],
                             path=tuple((name, sign * value) for name, value in path),
                             single_scores={name: sign * value
                                            for name, value in single.items()})
