"""Handcrafted image features fed to gradient-boosted trees (XGBoost).

The classical baseline of the toolkit: images are resized with padding to a
working size, turned into a feature vector by an extractor from
:mod:`xray_features` (bright edges, HOG, texture, or all of them) and
classified by :class:`xgboost.XGBClassifier`.
"""

import numbers
import os
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions

from classifiers.base import ImageClassifierMixin
from classifiers.feature_input import FeatureInputMixin

__all__ = ["FeatureXGBClassifier"]
_NATIVE_FILE = "model.ubj"


class FeatureXGBClassifier(FeatureInputMixin, ImageClassifierMixin, ClassifierMixin,
                           BaseEstimator):
    """XGBoost on handcrafted features of the images.

    Recipe of ``fit``:

    1. resize every image with padding to ``image_size`` (dtype kept);
    2. extract one feature vector per image with ``features``
       (:func:`xray_features.extract_features` when available, which can run
       in parallel and cache; else ``extractor.transform``);
    3. fit :class:`xgboost.XGBClassifier` on the (N, F) matrix, weighting
       samples by ``class_weight`` and early-stopping on ``validation_data``.

    Binary targets use ``binary:logistic``, multi-class ``multi:softprob``,
    and a 2-D 0/1 indicator XGBoost's native multi-label mode: one booster
    with one ``binary:logistic`` output (its own trees) per label, so a
    single native file holds the whole model.

    Parameters
    ----------
    features : {"edge", "hog", "texture", "all", "lite0", "lite1", "lite2"} or \
transformer, default="hog"
        A preset of :func:`xray_features.make_features`, or the embeddings
        of a frozen ImageNet EfficientNet-Lite0-2
        (:func:`classifiers.embeddings.make_deep_features`), whose extractors
        are set to work at ``image_size``, or an extractor instance (cloned
        in ``fit``, used with its own parameters). An extractor must learn
        nothing in ``fit`` (as all :mod:`xray_features` extractors), because
        a saved model rebuilds it from its parameters; only
        :mod:`xray_features` extractors can be saved.
    image_size : int or (int, int), default=128
        Working size the images are resized to (with padding) before
        extraction.
    n_estimators, learning_rate, max_depth, subsample, colsample_bytree, \
min_child_weight, reg_lambda, tree_method
        Passed to :class:`xgboost.XGBClassifier`.
    early_stopping_rounds : int or None, default=20
        Stop when the validation loss has not improved for this many rounds;
        used only when ``fit`` is given ``validation_data``.
    class_weight : "balanced", dict or None, default="balanced"
        Per-sample weights (see ``ImageClassifierMixin._sample_weight``);
        ``"balanced"`` makes a 5:1 imbalanced set count as 1:1.
    n_jobs : int, default=1
        Threads for XGBoost.
    feature_n_jobs : int, default=1
        Parallel workers for feature extraction.
    cache_dir : str, "auto" or None, default=None
        Directory where extracted features are cached between runs (by
        image content); ``"auto"`` is the toolkit's cache folder,
        ``$XRAY_BENCH_CACHE/features`` (default ``~/.cache/xray-bench``).
    random_state : int or None, default=0
        Seed of XGBoost's row/column sampling; the same seed gives identical
        predictions (``None`` uses XGBoost's fixed default seed).

    Attributes
    ----------
    classes_ : ndarray
        Class labels (or label names / indices for multi-label).
    task_ : {"binary", "multiclass", "multilabel"}
    extractor_ : transformer
        The feature extractor used.
    model_ : xgboost.XGBClassifier
        The fitted booster.
    feature_names_ : (F,) ndarray of str
    feature_importances_ : (F,) ndarray of float
        Normalised gain importance, aligned with ``feature_names_``
        (all zero when no split was made, e.g. for constant features).
    best_iteration_ : int or None
        Best boosting round when early stopping was used.
    history_ : dict of list
        Per-round validation loss (``{"val_logloss": [...]}``, or
        ``"val_mlogloss"`` for multi-class), empty without validation data.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 60, (40, 32, 32), dtype=np.uint8)
    >>> y = np.arange(40) % 2
    >>> images[y == 1, 8:24, 14:18] = 230           # a bright bar in class 1
    >>> model = FeatureXGBClassifier("edge", image_size=32, n_estimators=20)
    >>> model.fit(images, y).predict(images[:4]).tolist()
    [0, 1, 0, 1]
    """

    _native_libraries = ("xgboost",)
    #: Whether ``xray-bench run --scheduler`` may extract and train on the
    #: whole cluster (:mod:`classifiers._xgb_dask`).
    _fits_on_cluster = True
    #: Scalar parameters, checked by scikit-learn's parameter validation
    #: (``features`` and ``image_size`` have their own checks).
    _parameter_constraints = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "early_stopping_rounds": [Interval(Integral, 1, None, closed="left"), None],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "tree_method": [StrOptions({"hist", "approx", "exact", "auto"})],
        "n_jobs": [Integral, None],
        "feature_n_jobs": [Integral],
        "cache_dir": [str, os.PathLike, None],
        "random_state": ["random_state"],
    }

    def __init__(self, features="hog", *, image_size=128, n_estimators=300,
                 learning_rate=0.1, max_depth=4, subsample=0.8, colsample_bytree=0.8,
                 min_child_weight=1.0, reg_lambda=1.0, early_stopping_rounds=20,
                 class_weight="balanced", tree_method="hist", n_jobs=1, feature_n_jobs=1,
                 cache_dir=None, random_state=0):
        self.features = features
        self.image_size = image_size
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.class_weight = class_weight
        self.tree_method = tree_method
        self.n_jobs = n_jobs
        self.feature_n_jobs = feature_n_jobs
        self.cache_dir = cache_dir
        self.random_state = random_state

    # ------------------------------------------------------------ fitting
    def fit(self, images, y, *, validation_data=None):
        """Extract features and fit the booster.

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray
        y : (N,) labels or (N, L) 0/1 indicator
        validation_data : (images_val, y_val), optional
            Monitored every round; enables ``early_stopping_rounds``.

        Returns
        -------
        self : FeatureXGBClassifier
        """
        return self._fit(images, y, validation_data, extract=self._extract,
                         train=_train_booster)

    def _fit(self, images, y, validation_data, *, extract, train):
        """The recipe of ``fit``; ``extract(stack) -> X`` and ``train(booster,
        X, y, fit_kwargs) -> (fitted, evals_result, best_iteration)`` do the
        work here or on a cluster (:mod:`classifiers._xgb_dask`)."""
        self._validate_params()
        images = self._validate_images(images)
        y_encoded = self._encode_targets(y, n_samples=len(images))
        self.extractor_ = self._make_extractor()
        X = self._features(images, fit=True, extract=extract)
        if X.shape[0] > 1 and np.all(np.ptp(X, axis=0) == 0):
            warnings.warn("every extracted feature is constant over the training images; "
                          "the model can only predict the class frequencies", UserWarning,
                          stacklevel=2)
        fit_kwargs = {"sample_weight": self._sample_weight(y_encoded), "verbose": False}
        margin = self._margin(images, fit=True)
        if margin is not None:
            fit_kwargs["base_margin"] = margin
        use_validation = validation_data is not None
        if use_validation:
            images_val, y_val = _unpack_validation(validation_data)
            images_val = self._validate_images(images_val, name="validation images")
            y_val = self._encode_validation_targets(y_val, n_samples=len(images_val))
            fit_kwargs["eval_set"] = [(self._features(images_val, extract=extract), y_val)]
            weight_val = self._sample_weight(y_val)
            if weight_val is not None:
                fit_kwargs["sample_weight_eval_set"] = [weight_val]
            if margin is not None:
                fit_kwargs["base_margin_eval_set"] = [self._margin(images_val)]
        self.model_, evals_result, best_iteration = train(
            self._make_booster(early_stopping=use_validation), X, y_encoded, fit_kwargs)
        self.history_ = {}
        self.best_iteration_ = None
        if use_validation:
            for metric, values in evals_result["validation_0"].items():
                self.history_[f"val_{metric}"] = [float(v) for v in values]
            if self.early_stopping_rounds is not None:
                self.best_iteration_ = int(best_iteration)
        self._set_importances()
        self._fit_ood_guard(images, validation_data)
        return self

    def predict_proba(self, images):
        """Class probabilities, (N, n_classes) in ``classes_`` order, or
        (N, L) label probabilities for a multi-label model."""
        return self._predict_proba(images, extract=self._extract)

    def _predict_proba(self, images, *, extract):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        images = self._validate_images(images)
        X = self._features(images, extract=extract)
        return self._booster_proba(X, self._margin(images))

    def _booster_proba(self, X, margin=None):
        """The booster's probabilities for a feature matrix (and starting logits)."""
        if margin is None:
            return self.model_.predict_proba(X).astype(np.float64)
        return self.model_.predict_proba(X, base_margin=margin).astype(np.float64)

    def _margin(self, images, *, fit=False):
        """The booster's starting logit per image, or None for XGBoost's own
        base score (a model that boosts from another model's score overrides
        this; ``fit=True`` on the training images)."""
        return None

    def top_features(self, n=20):
        """The ``n`` most important features as ``(name, importance)`` pairs.

        Examples
        --------
        >>> # model.top_features(3)
        >>> # [('edge_density', 0.41), ('hog_17', 0.12), ('lbp_3', 0.08)]
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        order = np.argsort(-self.feature_importances_, kind="stable")[:n]
        return [(str(self.feature_names_[i]), float(self.feature_importances_[i]))
                for i in order]

    # ------------------------------------------------------------ helpers
    def _validate_params(self):
        """Check every parameter (called by ``fit``, and by ``xray-bench run``
        before any work)."""
        super()._validate_params()  # the scalars of _parameter_constraints
        self._validate_features()

    def _make_booster(self, *, early_stopping):
        import xgboost

        seed = self.random_state
        if seed is not None and not isinstance(seed, numbers.Integral):
            from sklearn.utils import check_random_state

            seed = int(check_random_state(seed).randint(np.iinfo(np.int32).max))
        objective = {"binary": "binary:logistic", "multiclass": "multi:softprob",
                     "multilabel": "binary:logistic"}[self.task_]
        return xgboost.XGBClassifier(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            max_depth=self.max_depth, subsample=self.subsample,
            colsample_bytree=self.colsample_bytree, min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda, tree_method=self.tree_method, n_jobs=self.n_jobs,
            random_state=seed, objective=objective,
            eval_metric="mlogloss" if self.task_ == "multiclass" else "logloss",
            early_stopping_rounds=self.early_stopping_rounds if early_stopping else None)

    def _set_importances(self):
        importances = np.asarray(self.model_.feature_importances_, dtype=np.float64)
        self.feature_importances_ = np.where(np.isfinite(importances), importances, 0.0)

    # ------------------------------------------------------- persistence
    def _save_native(self, directory):
        self.model_.save_model(directory / _NATIVE_FILE)
        return {"file": _NATIVE_FILE, "feature_names": self.feature_names_.tolist(),
                "best_iteration": self.best_iteration_, "history": self.history_}

    def _load_native(self, directory, sidecar):
        import xgboost

        from classifiers.persistence import ModelLoadError, native_file

        native = sidecar.get("native") or {}
        self.model_ = xgboost.XGBClassifier()
        self.model_.load_model(native_file(directory, native, _NATIVE_FILE))
        self.extractor_ = self._make_extractor()
        names = [str(n) for n in self.extractor_.get_feature_names_out()]
        if names != list(native.get("feature_names", names)):
            raise ModelLoadError(directory, "the feature extractor now produces different "
                                            "features than when the model was saved")
        self.feature_names_ = np.asarray(names, dtype=object)
        self.best_iteration_ = native.get("best_iteration")
        self.history_ = dict(native.get("history") or {})
        self._set_importances()


def _train_booster(booster, X, y, fit_kwargs):
    """Fit ``booster`` (an ``xgboost.XGBClassifier``) in this process;
    return (booster, evals_result, best_iteration or None)."""
    from classifiers._signals import signals_honoured

    with signals_honoured():   # a signal during the matrix build is not lost
        booster.fit(X, y, **fit_kwargs)
    if "eval_set" not in fit_kwargs:
        return booster, {}, None
    early = booster.get_params()["early_stopping_rounds"] is not None
    return booster, booster.evals_result(), booster.best_iteration if early else None


def _unpack_validation(validation_data):
    try:
        images_val, y_val = validation_data
    except (TypeError, ValueError):
        raise ValueError("validation_data must be a pair (images_val, y_val); got "
                         f"{type(validation_data).__name__}") from None
    return images_val, y_val
