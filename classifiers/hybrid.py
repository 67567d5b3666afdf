"""Handcrafted and deep features in one model: XGBoost with a deep score.

Pasting 1280 embedding numbers beside a few hundred handcrafted features
and handing both to XGBoost does not beat the embeddings alone: the trees split
on single embedding dimensions, each of which means little, and the
handcrafted features drown. The deep features are at their best *together*,
in a linear direction, which is what the linear probe
(:class:`classifiers.linear.LinearProbeClassifier`) finds.

So :class:`HybridXGBClassifier` boosts *from* the deep score: the linear
probe on the frozen embeddings gives each film one logit per output, and
XGBoost starts from that logit (its ``base_margin``) and grows trees on the
handcrafted features that correct it. What the trees add is exactly what the
handcrafted features know beyond the embeddings; when they know nothing
more, early stopping on the validation films keeps the trees few and the
model stays the probe. On the training films the starting logit is *out of
fold* (``n_folds`` probes, each scoring films it did not see), so the trees
correct the score the probe gives to new films, not the over-confident one
it gives to the films it was fitted on; on new films it comes from one
probe fitted on every training film. (A first design fed the score to the
trees as one more feature: on pneumonia224 it scored below the probe,
because the trees cut the score into a few steps.)

Each prediction's logit is then the deep score plus the trees' exact
per-feature contributions (SHAP values), so
:meth:`HybridXGBClassifier.feature_shares` and :func:`classifiers.explain`
split it between the two kinds of features per film.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval

from classifiers._contributions import booster_contributions
from classifiers.embeddings import DEEP_FEATURE_PRESETS, make_deep_features
from classifiers.linear import fit_linear_probe, linear_logits
from classifiers.persistence import native_file
from classifiers.xgb import FeatureXGBClassifier

__all__ = ["HybridXGBClassifier"]

_PROBE_FILE = "linear.npz"


class HybridXGBClassifier(FeatureXGBClassifier):
    """XGBoost on handcrafted features, boosting from a linear probe's deep score.

    Parameters
    ----------
    features : str or transformer, default="all"
        The handcrafted part (a preset of :func:`xray_features.make_features`),
        at ``image_size``.
    deep : {"lite0", "lite1", "lite2"}, default="lite0"
        The frozen ImageNet backbone whose embeddings the probe reads.
    image_size : int, default=128
        Working size of the handcrafted features.
    deep_image_size : int, default=224
        Working size of the backbone.
    deep_weights : "imagenet", None or path, default="imagenet"
        The backbone's weights (see
        :class:`classifiers.embeddings.BackboneEmbeddings`).
    C : float, default=0.01
        Inverse L2 strength of the probe
        (:class:`classifiers.linear.LinearProbeClassifier`).
    n_folds : int, default=5
        Folds of the out-of-fold deep score on the training films.
    n_estimators, learning_rate, max_depth, subsample, colsample_bytree, \
min_child_weight, reg_lambda, early_stopping_rounds, class_weight, \
tree_method, n_jobs, feature_n_jobs, cache_dir, random_state
        As in :class:`classifiers.xgb.FeatureXGBClassifier`. The defaults
        are those of small corrections: more, shallower, slower and more
        regularised trees (600, 0.03, depth 2, ``reg_lambda`` 10, half the
        features per tree).

    Attributes
    ----------
    probe_mean_, probe_scale_, probe_coef_, probe_intercept_ : ndarray
        The probe fitted on every training film.
    deep_extractor_ : classifiers.embeddings.BackboneEmbeddings
    Others as in :class:`classifiers.xgb.FeatureXGBClassifier` (the
    features are the handcrafted ones; the deep score is the starting
    logit, not a column).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 60, (40, 40, 40), dtype=np.uint8)
    >>> y = np.arange(40) % 2
    >>> images[y == 1, 8:30, 14:18] = 230
    >>> model = HybridXGBClassifier("edge", image_size=32, deep_image_size=32,
    ...                             n_estimators=20, n_folds=3)
    >>> model.set_params(deep_weights=None).fit(images, y).predict(images[:4]).tolist()
    [0, 1, 0, 1]
    >>> shares = model.feature_shares(images[:2])
    >>> shares.shape, bool(np.allclose(shares.sum(axis=1), 1))
    ((2, 2), True)
    """

    #: The deep score is computed in the part's own task, not on the cluster.
    _fits_on_cluster = False
    #: Reads each film at ``image_size`` and at ``deep_image_size``, each
    #: resized from the original (a saved model is handed the decoded files).
    _reads_several_sizes = True
    _parameter_constraints = {
        **FeatureXGBClassifier._parameter_constraints,
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "C": [Interval(Real, 0, None, closed="neither")],
        "deep_image_size": [Interval(Integral, 32, 4096, closed="both")],
    }

    def __init__(self, features="all", *, deep="lite0", image_size=128, deep_image_size=224,
                 deep_weights="imagenet", C=0.01, n_folds=5, n_estimators=600,
                 learning_rate=0.03, max_depth=2, subsample=0.8, colsample_bytree=0.5,
                 min_child_weight=1.0, reg_lambda=10.0, early_stopping_rounds=30,
                 class_weight="balanced", tree_method="hist", n_jobs=1, feature_n_jobs=1,
                 cache_dir=None, random_state=0):
        super().__init__(features, image_size=image_size, n_estimators=n_estimators,
                         learning_rate=learning_rate, max_depth=max_depth,
                         subsample=subsample, colsample_bytree=colsample_bytree,
                         min_child_weight=min_child_weight, reg_lambda=reg_lambda,
                         early_stopping_rounds=early_stopping_rounds,
                         class_weight=class_weight, tree_method=tree_method, n_jobs=n_jobs,
                         feature_n_jobs=feature_n_jobs, cache_dir=cache_dir,
                         random_state=random_state)
        self.deep = deep
        self.deep_image_size = deep_image_size
        self.deep_weights = deep_weights
        self.C = C
        self.n_folds = n_folds

    # ------------------------------------------------------------ features
    def _validate_params(self):

        super()._validate_params()
        if self.deep not in DEEP_FEATURE_PRESETS:
            raise ValueError(f"deep must be one of {sorted(DEEP_FEATURE_PRESETS)}; got "
                             f"{self.deep!r}")
        if isinstance(self.features, str) and self.features in DEEP_FEATURE_PRESETS:
            raise ValueError(f"features is the handcrafted part; got the deep preset "
                             f"{self.features!r}. Use 'edge', 'hog', 'texture' or 'all'.")

    def _make_deep_extractor(self):

        extractor = make_deep_features(self.deep, image_size=self.deep_image_size)
        return extractor.set_params(weights=self.deep_weights)

    def _embeddings(self, images):
        return self._extract(self._working_stack(images, self.deep_image_size),
                             self.deep_extractor_)

    def _margin(self, images, *, fit=False):
        """The probe's logits: out of fold on the training images (``fit``)."""
        if fit:
            self.deep_extractor_ = self._make_deep_extractor()
            embeddings = self._embeddings(images)
            y, weight = self._fit_targets
            multilabel = self.task_ == "multilabel"
            score = self._out_of_fold_score(embeddings, y, weight, multilabel)
            (self.probe_mean_, self.probe_scale_, self.probe_coef_,
             self.probe_intercept_) = fit_linear_probe(
                embeddings, y, weight, C=self.C, multilabel=multilabel)
        else:
            score = linear_logits(self._embeddings(images), self.probe_mean_,
                                  self.probe_scale_, self.probe_coef_, self.probe_intercept_)
        return score[:, 0] if self.task_ == "binary" else score

    def _out_of_fold_score(self, embeddings, y, weight, multilabel):
        from sklearn.model_selection import KFold, StratifiedKFold


        n_outputs = y.shape[1] if multilabel else (1 if self.task_ == "binary"
                                                    else len(self.classes_))
        score = np.zeros((len(embeddings), n_outputs))
        smallest = np.bincount(y).min() if not multilabel else 0
        folds = min(self.n_folds, int(smallest)) if not multilabel else self.n_folds
        if not multilabel and folds < 2:
            raise ValueError(f"the hybrid model needs at least 2 training images of every "
                             f"class for its out-of-fold deep score; the smallest class has "
                             f"{smallest}")
        splitter = (KFold(folds, shuffle=True, random_state=0) if multilabel
                    else StratifiedKFold(folds, shuffle=True, random_state=0))
        for train, held_out in splitter.split(embeddings, None if multilabel else y):
            part = fit_linear_probe(embeddings[train], y[train],
                                    None if weight is None else weight[train], C=self.C,
                                    multilabel=multilabel)
            score[held_out] = linear_logits(embeddings[held_out], *part)
        return score

    def _encode_targets(self, y, **kwargs):
        encoded = super()._encode_targets(y, **kwargs)
        # _features(fit=True) needs the targets for the out-of-fold score.
        self._fit_targets = (encoded, self._sample_weight(encoded))
        return encoded

    def fit(self, images, y, *, validation_data=None):
        """Fit the probe, its out-of-fold scores and the booster.

        Parameters
        ----------
        images : (N, H, W) ndarray, sequence of 2-D ndarray or ImageSource
        y : (N,) labels or (N, L) 0/1 indicator
        validation_data : (images_val, y_val), optional
            Early stopping of the booster.

        Returns
        -------
        self : HybridXGBClassifier
        """
        try:
            return super().fit(images, y, validation_data=validation_data)
        finally:
            self.__dict__.pop("_fit_targets", None)

    # --------------------------------------------------------- explaining
    def feature_shares(self, images):
        """How much of each prediction comes from each kind of feature.

        The predicted class's logit is the deep score (the probe's logit)
        plus the trees' exact per-feature contributions on the handcrafted
        features (XGBoost's SHAP values) plus a constant; the shares are
        the absolute deep score and the sum of absolute contributions, over
        their total.

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray

        Returns
        -------
        shares : (N, 2) ndarray
            Columns ``handcrafted``, ``deep``; rows sum to 1.
        """

        images = self._validate_images(images)
        X = self._features(images)
        margin = self._margin(images)
        contributions = booster_contributions(self, X, margin)[:, :, :-1]
        deep = np.asarray(margin, dtype=np.float64).reshape(len(X), -1)
        if self.task_ == "binary":
            deep = np.column_stack([-deep[:, 0], deep[:, 0]])
        if self.task_ == "multilabel":
            handcrafted = np.abs(contributions).sum(axis=(1, 2))
            deep = np.abs(deep).sum(axis=1)
        else:
            chosen = self._booster_proba(X, margin).argmax(axis=1)
            rows = np.arange(len(X))
            handcrafted = np.abs(contributions[rows, chosen]).sum(axis=1)
            deep = np.abs(deep[rows, chosen])
        total = handcrafted + deep
        total = np.where(total > 0, total, 1.0)
        return np.column_stack([handcrafted, deep]) / total[:, None]

    # ------------------------------------------------------- persistence
    def _preprocessing_info(self):
        info = super()._preprocessing_info()
        extractor = getattr(self, "deep_extractor_", None)
        if extractor is not None and extractor.weights_record() is not None:
            info["pretrained_weights"] = extractor.weights_record()
        return info

    def _save_native(self, directory):
        native = super()._save_native(directory)
        with open(directory / _PROBE_FILE, "wb") as handle:
            np.savez(handle, mean=self.probe_mean_, scale=self.probe_scale_,
                     coef=self.probe_coef_, intercept=self.probe_intercept_)
        return {**native, "extra_files": [_PROBE_FILE]}

    def _load_native(self, directory, sidecar):
        super()._load_native(directory, sidecar)
        native = sidecar.get("native") or {}
        extra = native.get("extra_files") or [_PROBE_FILE]
        probe = native_file(directory, {"file": extra[0]}, _PROBE_FILE)
        with np.load(probe, allow_pickle=False) as data:
            self.probe_mean_, self.probe_scale_ = data["mean"], data["scale"]
            self.probe_coef_, self.probe_intercept_ = data["coef"], data["intercept"]
        self.deep_extractor_ = self._make_deep_extractor()
