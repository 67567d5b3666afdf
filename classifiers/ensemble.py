"""A weighted average of the probabilities of several image classifiers.

:class:`EnsembleClassifier` holds named members and their weights, and
predicts the weighted mean of their ``predict_proba``. Members that are
already fitted join as :class:`sklearn.frozen.FrozenEstimator` (fitting the
ensemble then leaves them as they are); others are cloned and fitted.

Saved with ``save(path)`` like any model: each member is saved into
``path/members/<k>/`` with its own ``model.json`` and checksums, and
:func:`classifiers.load_model` loads them back.
"""

from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from classifiers.base import ImageClassifierMixin

__all__ = ["EnsembleClassifier"]

_MEMBERS_FOLDER = "members"


class EnsembleClassifier(ImageClassifierMixin, ClassifierMixin, BaseEstimator):
    """Soft voting over image classifiers with fixed weights.

    Unlike :class:`sklearn.ensemble.VotingClassifier`, whose input checks
    refuse 3-D image stacks and which always refits its members, this
    averages members as they are (frozen ones are not refitted) and saves
    without pickling.

    Parameters
    ----------
    members : sequence of (str, estimator)
        Named members; names must be unique. Wrap fitted members in
        :class:`sklearn.frozen.FrozenEstimator` to keep them as they are.
    weights : sequence of float, optional
        One non-negative weight per member (not all zero); equal weights
        when omitted. Probabilities are averaged with ``weights / sum``.

    Attributes
    ----------
    estimators_ : list of fitted estimators
    weights_ : (n_members,) ndarray
        The normalised weights.
    classes_, task_ : as every model of the toolkit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from classifiers import get_model
    >>> images = np.random.default_rng(0).random((20, 32, 32))
    >>> y = np.arange(20) % 2
    >>> a = get_model("edge-xgb", image_size=32, n_estimators=5).fit(images, y)
    >>> b = get_model("hog-xgb", image_size=32, n_estimators=5).fit(images, y)
    >>> ensemble = EnsembleClassifier([("a", FrozenEstimator(a)), ("b", FrozenEstimator(b))],
    ...                               weights=[3, 1]).fit(images, y)
    >>> expected = 0.75 * a.predict_proba(images) + 0.25 * b.predict_proba(images)
    >>> bool(np.allclose(ensemble.predict_proba(images), expected))
    True
    """

    def __init__(self, members=(), weights=None):
        self.members = members
        self.weights = weights

    def _check_members(self):
        members = list(self.members) if isinstance(self.members, (list, tuple)) else None
        if not members or not all(isinstance(m, tuple) and len(m) == 2
                                  and isinstance(m[0], str) and m[0] for m in members):
            raise ValueError("members must be a non-empty list of (name, estimator) pairs; "
                             f"got {self.members!r}.")
        names = [name for name, _ in members]
        if len(set(names)) != len(names):
            raise ValueError(f"members must have unique names; got {names}.")
        if self.weights is None:
            weights = np.ones(len(members))
        else:
            try:
                weights = np.asarray(self.weights, dtype=np.float64)
            except (TypeError, ValueError):
                weights = None
            if weights is None or weights.shape != (len(members),) or not \
                    np.all(np.isfinite(weights)) or weights.min() < 0 or weights.sum() <= 0:
                raise ValueError(f"weights must hold {len(members)} non-negative numbers, "
                                 f"one per member, not all zero; got {self.weights!r}.")
        return members, weights / weights.sum()

    def fit(self, images, y, *, validation_data=None):
        """Fit the members that are not frozen; record classes and the OOD guard.

        Parameters
        ----------
        images : (N, H, W) array or sequence of 2-D arrays
        y : (N,) labels or (N, L) indicator
        validation_data : (images, y), optional
            Passed on to each member's ``fit`` and to the OOD guard.

        Returns
        -------
        self
        """
        from sklearn.base import clone

        members, self.weights_ = self._check_members()
        images = self._validate_images(images)
        self._encode_targets(y, n_samples=len(images))
        self.estimators_ = [clone(estimator).fit(images, y, validation_data=validation_data)
                            for _, estimator in members]
        self._fit_ood_guard(images, validation_data)
        return self

    def predict_proba(self, images):
        """Weighted mean of the members' probabilities, one column per
        entry of ``classes_`` (a class a member never saw counts as 0)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "estimators_")
        images = self._validate_images(images)
        total = None
        for weight, estimator in zip(self.weights_, self.estimators_):
            proba = np.asarray(estimator.predict_proba(images), dtype=np.float64)
            if self.task_ != "multilabel":
                aligned = np.zeros((len(proba), len(self.classes_)))
                aligned[:, np.searchsorted(self.classes_, np.asarray(estimator.classes_))] = proba
                proba = aligned
            total = weight * proba if total is None else total + weight * proba
        return total

    def explain(self, images):
        """Heatmaps of the member with the largest weight, for the class the
        ensemble predicts (members' maps are in different units, so they
        are not averaged); ``method`` names the member."""
        import dataclasses

        images = self._validate_images(images)
        names = [name for name, _ in self.members]
        top = int(np.argmax(self.weights_))
        member = self.estimators_[top]
        member = getattr(member, "estimator", member)  # a FrozenEstimator's model
        predicted = self.classes_[np.argmax(self.predict_proba(images), axis=1)]
        results = []
        for result, label in zip(member.explain(images), predicted):
            classes = list(result.classes)
            results.append(dataclasses.replace(
                result, method=f"{result.method} of member {names[top]}",
                predicted=classes.index(label) if label in classes else result.predicted))
        return results

    # ------------------------------------------------------------ saving
    def _stored_params(self):
        """Member names and weights; the members are saved as files."""
        members, weights = self._check_members()
        return {"members": [name for name, _ in members], "weights": weights.tolist()}

    def _save_native(self, directory):
        from sklearn.frozen import FrozenEstimator

        folders = []
        for k, estimator in enumerate(self.estimators_):
            if isinstance(estimator, FrozenEstimator):
                estimator = estimator.estimator
            folder = f"{k:02d}"
            estimator.save(Path(directory) / _MEMBERS_FOLDER / folder)
            folders.append(folder)
        return {"folders": folders}

    def _load_native(self, directory, sidecar):
        from classifiers.persistence import ModelLoadError, load_model

        folders = (sidecar.get("native") or {}).get("folders")
        names = self.members
        if not isinstance(folders, list) or not isinstance(names, list) or \
                len(folders) != len(names) or not names:
            raise ModelLoadError(directory, "the ensemble's member list is damaged")
        models = []
        for folder in folders:
            if not (isinstance(folder, str) and folder.isascii() and folder.isdigit()):
                raise ModelLoadError(directory, f"member folder {folder!r} is not a plain "
                                                "number inside 'members'")
            path = Path(directory) / _MEMBERS_FOLDER / folder
            if path.is_symlink() or (Path(directory) / _MEMBERS_FOLDER).is_symlink():
                raise ModelLoadError(directory, f"member folder '{path}' is a symbolic link")
            models.append(load_model(path))
        self.members = list(zip(names, models))
        _, self.weights_ = self._check_members()
        self.estimators_ = models

