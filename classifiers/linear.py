"""A linear probe: standardised features into a logistic regression.

The standard way to ask what a frozen pretrained network already knows
about a task (MedMNIST+, Doerrich et al. 2024, report "LP" rows for every
backbone): its embeddings, standardised, go into a logistic regression with
strong L2 regularisation. :class:`LinearProbeClassifier` does this for any
feature preset of the toolkit (the EfficientNet-Lite embeddings by default,
the handcrafted features too), with the same input path, class weights,
saving, explanations and out-of-distribution guard as every other model.
"""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions

from classifiers.base import ImageClassifierMixin
from classifiers.embeddings import _to_255, BackboneEmbeddings
from classifiers.feature_input import FeatureInputMixin
from classifiers.persistence import ModelLoadError, native_file
from xray_features.utils import check_image_size, working_image

__all__ = ["LinearProbeClassifier", "fit_linear_probe", "linear_logits"]

_NATIVE_FILE = "linear.npz"


def fit_linear_probe(X, y, sample_weight=None, *, C, max_iter=2000, multilabel=False):
    """Standardise ``X`` and fit an L2 logistic regression (one per label).

    Parameters
    ----------
    X : (N, F) ndarray
    y : (N,) int ndarray, or (N, L) 0/1 ndarray when ``multilabel``
    sample_weight : (N,) ndarray or None
    C : float
    max_iter : int
    multilabel : bool

    Returns
    -------
    mean, scale : (F,) ndarray
    coef : (K, F) ndarray
    intercept : (K,) ndarray

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> mean, scale, coef, intercept = fit_linear_probe(X, np.array([0, 0, 1, 1]), C=1.0)
    >>> float(mean[0]), bool(coef[0, 0] > 0)
    (1.5, True)
    """
    from sklearn.linear_model import LogisticRegression

    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    standardised = (X - mean) / scale
    coefs, intercepts = [], []
    for target in (y.T if multilabel else [y]):
        # The class weights arrive as sample weights, as for every model.
        regression = LogisticRegression(C=C, max_iter=max_iter)
        regression.fit(standardised, target, sample_weight=sample_weight)
        coefs.append(regression.coef_)
        intercepts.append(regression.intercept_)
    return mean, scale, np.concatenate(coefs), np.concatenate(intercepts)


def linear_logits(X, mean, scale, coef, intercept):
    """Logits of :func:`fit_linear_probe`'s model, (N, K)."""
    return ((np.asarray(X, dtype=np.float64) - mean) / scale) @ coef.T + intercept


class LinearProbeClassifier(FeatureInputMixin, ImageClassifierMixin, ClassifierMixin,
                            BaseEstimator):
    """Logistic regression on standardised image features.

    Recipe of ``fit``: features of every training image (see
    :class:`classifiers.feature_input.FeatureInputMixin`), each standardised
    to zero mean and unit variance on the training images, then
    :class:`sklearn.linear_model.LogisticRegression` (L2, ``C``, lbfgs;
    multinomial for several classes, one regression per label for a
    multi-label task), weighting samples by ``class_weight``.

    Parameters
    ----------
    features : str or transformer, default="lite0"
        A feature preset (``"lite0"``, ``"lite1"``, ``"lite2"``: frozen
        ImageNet EfficientNet-Lite embeddings; ``"edge"``, ``"hog"``,
        ``"texture"``, ``"all"``: handcrafted) or an extractor instance.
    image_size : int or (int, int), default=224
        Working size of the images.
    C : float, default=0.01
        Inverse L2 strength. 0.01 suits the 1280 correlated embedding
        features of a few thousand films; it is fixed rather than tuned on
        the validation films, so a run repeats exactly and the validation
        set stays free for thresholds and calibration.
    class_weight : "balanced", dict or None, default="balanced"
    max_iter : int, default=2000
        lbfgs iterations.
    feature_n_jobs : int, default=1
        Parallel workers for feature extraction.
    cache_dir : str, "auto" or None, default=None
        Feature cache by image content (``"auto"``: the toolkit's cache
        folder; see :func:`classifiers.embeddings.feature_cache_dir`).

    Attributes
    ----------
    classes_, task_, extractor_, feature_names_
        As in :class:`classifiers.xgb.FeatureXGBClassifier`.
    mean_, scale_ : (F,) ndarray
        The standardisation.
    coef_ : (K, F) ndarray
        Weights on the standardised features: one row for a binary task
        (the positive class), one per class or label otherwise.
    intercept_ : (K,) ndarray

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 60, (40, 32, 32), dtype=np.uint8)
    >>> y = np.arange(40) % 2
    >>> images[y == 1, 8:24, 14:18] = 230           # a bright bar in class 1
    >>> model = LinearProbeClassifier("edge", image_size=32, C=1.0).fit(images, y)
    >>> model.predict(images[:4]).tolist()
    [0, 1, 0, 1]
    """

    _native_libraries = ("scikit-learn",)
    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "feature_n_jobs": [Integral],
        "cache_dir": [str, os.PathLike, None],
    }

    def __init__(self, features="lite0", *, image_size=224, C=0.01, class_weight="balanced",
                 max_iter=2000, feature_n_jobs=1, cache_dir=None):
        self.features = features
        self.image_size = image_size
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.feature_n_jobs = feature_n_jobs
        self.cache_dir = cache_dir

    def _validate_params(self):
        """Check every parameter (called by ``fit``, and by ``xray-bench run``
        before any work)."""
        super()._validate_params()
        self._validate_features()

    def fit(self, images, y, *, validation_data=None):
        """Extract features, standardise them and fit the regression.

        Parameters
        ----------
        images : (N, H, W) ndarray, sequence of 2-D ndarray or ImageSource
        y : (N,) labels or (N, L) 0/1 indicator
        validation_data : (images_val, y_val), optional
            Not used for fitting (``C`` is fixed); its images set the
            out-of-distribution guard's threshold, as for every model.

        Returns
        -------
        self : LinearProbeClassifier
        """
        self._validate_params()
        images = self._validate_images(images)
        y_encoded = self._encode_targets(y, n_samples=len(images))
        self.extractor_ = self._make_extractor()
        X = self._features(images, fit=True)
        self.mean_, self.scale_, self.coef_, self.intercept_ = fit_linear_probe(
            X, y_encoded, self._sample_weight(y_encoded), C=self.C, max_iter=self.max_iter,
            multilabel=self.task_ == "multilabel")
        self._fit_ood_guard(images, validation_data)
        return self

    def decision_function(self, images):
        """Logits, (N, K): one column for a binary task, one per class or label otherwise."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "coef_")
        return self._logits(self._features(self._validate_images(images)))

    def _logits(self, X):
        return linear_logits(X, self.mean_, self.scale_, self.coef_, self.intercept_)

    def predict_proba(self, images):
        """Class probabilities, (N, n_classes) in ``classes_`` order, or
        (N, L) label probabilities for a multi-label model."""
        return self._proba(self.decision_function(images))

    def _proba(self, logits):
        from scipy.special import expit, softmax

        if self.task_ == "multiclass":
            return softmax(logits, axis=1)
        if self.task_ == "binary":
            positive = expit(logits[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return expit(logits)

    # ------------------------------------------------------- persistence
    def _preprocessing_info(self):
        info = super()._preprocessing_info()
        record = self._weights_record()
        if record is not None:
            info["pretrained_weights"] = record
        return info

    def _save_native(self, directory):
        with open(directory / _NATIVE_FILE, "wb") as handle:
            np.savez(handle, mean=self.mean_, scale=self.scale_, coef=self.coef_,
                     intercept=self.intercept_)
        return {"file": _NATIVE_FILE, "feature_names": self.feature_names_.tolist()}

    def _load_native(self, directory, sidecar):

        native = sidecar.get("native") or {}
        with np.load(native_file(directory, native, _NATIVE_FILE), allow_pickle=False) as data:
            self.mean_, self.scale_ = data["mean"], data["scale"]
            self.coef_, self.intercept_ = data["coef"], data["intercept"]
        self.extractor_ = self._make_extractor()
        names = [str(n) for n in self.extractor_.get_feature_names_out()]
        if names != list(native.get("feature_names", names)) or \
                self.coef_.shape[1] != len(names):
            raise ModelLoadError(directory, "the feature extractor now produces different "
                                            "features than when the model was saved")
        self.feature_names_ = np.asarray(names, dtype=object)

    # -------------------------------------------------------- explaining
    def _explanation_maps(self, images, *, top=10):
        """Per-class maps at the working size, the probabilities and top features.

        On backbone embeddings the maps are exact class activation maps: the
        embedding is the spatial mean of the last feature map, so the logit
        is the mean over positions of ``sum_f coef_f / scale_f * map_f`` (plus
        a constant spread evenly). On other features there is no place in
        the image, so the maps are 0 and the top features carry the answer.
        """
        import cv2


        size = check_image_size(self.image_size)
        stack = self._prepare_images(images, size=size)
        X = self._features(stack)
        proba = self._proba(self._logits(X))  # the features once, not twice
        contributions = ((X - self.mean_) / self.scale_)[:, None, :] * self.coef_[None]
        if self.task_ == "binary":  # the logit of class 1; class 0 is its negative
            contributions = np.concatenate([-contributions, contributions], axis=1)
        maps = np.zeros((len(X), proba.shape[1], *size), np.float32)
        if isinstance(self.extractor_, BackboneEmbeddings):
            work = self.extractor_._working_size()
            batch = np.stack([_to_255(working_image(image, work)) for image in stack])
            features = self.extractor_.feature_maps(batch).astype(np.float64)
            weights = (self.coef_ / self.scale_).T              # (F, K)
            constant = self.intercept_ - (self.coef_ * self.mean_ / self.scale_).sum(axis=1)
            cam = features @ weights + constant                  # (N, h, w, K)
            if self.task_ == "binary":
                cam = np.concatenate([-cam, cam], axis=-1)
            for i in range(len(X)):
                for k in range(cam.shape[-1]):
                    maps[i, k] = cv2.resize(cam[i, :, :, k].astype(np.float32),
                                            (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        names = [str(n) for n in self.feature_names_]
        tops = []
        for i in range(len(X)):
            chosen = contributions[i, int(np.argmax(proba[i]))]
            order = np.argsort(-np.abs(chosen), kind="stable")[:top]
            tops.append(tuple((names[j], float(chosen[j])) for j in order))
        return maps, proba, tops
