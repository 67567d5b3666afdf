"""The estimator shell shared by every feature extractor.

Each extractor is a pure per-image function (``extract_one``) wrapped in a
scikit-learn transformer that maps it over a stack of images. Batch engines
(:func:`xray_features.extract_features`) only ever call ``extract_one``, so
the engine can change without touching an extractor.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from xray_features._validation import check_image, check_images

__all__ = ["ImageFeatures"]


class ImageFeatures(TransformerMixin, BaseEstimator):
    """Base class: a stateless transformer from images to feature vectors.

    Subclasses store their parameters in ``__init__`` (and nothing else) and
    implement two methods:

    ``_extract(image) -> (F,) array``
        The feature vector of one validated 2-D image.
    ``_feature_names() -> list of str``
        The ``F`` names, computed from the parameters alone.

    and may implement ``_validate_params()``, which raises ``ValueError`` for
    invalid parameters; it runs before any extraction.

    Extractors learn nothing from data, so ``fit`` only validates and
    ``transform`` works on an unfitted extractor too (scikit-learn's
    ``requires_fit=False`` tag), as with ``FunctionTransformer``.
    """

    def _extract(self, image):  # pragma: no cover - abstract
        raise NotImplementedError

    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_params(self):
        """Raise ``ValueError`` for invalid parameters (subclasses extend)."""

    def extract_one(self, image):
        """Return the feature vector of one image.

        Parameters
        ----------
        image : (M, N) ndarray
            A grayscale image (uint8, uint16, or float in [0, 1]).

        Returns
        -------
        features : (F,) ndarray of float32
            Finite values; ``F == len(self.get_feature_names_out())``.
        """
        self._validate_params()
        image = check_image(image)
        features = np.asarray(self._extract(image), dtype=np.float32).ravel()
        # Constant or degenerate images can make ratios 0/0; a feature vector
        # must stay usable by every downstream model, so map those to 0.
        return np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)

    def fit(self, images, y=None):
        """Validate parameters and input; learn nothing.

        Parameters
        ----------
        images : (N, M, K) ndarray or sequence of (M, K) ndarray
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        check_images(images)
        self.n_features_out_ = len(self._feature_names())
        return self

    def transform(self, images):
        """Extract features from every image.

        For parallel, cached or file-based extraction use
        :func:`xray_features.extract_features`, which maps the same
        ``extract_one`` in chunks.

        Parameters
        ----------
        images : (N, M, K) ndarray or sequence of (M, K) ndarray

        Returns
        -------
        X : (N, F) ndarray of float32
        """
        self._validate_params()
        images = check_images(images)
        names = self._feature_names()
        features = np.empty((len(images), len(names)), dtype=np.float32)
        for index, image in enumerate(images):
            features[index] = self.extract_one(image)
        return features

    def get_feature_names_out(self, input_features=None):
        """Return the output feature names.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn compatibility; images have no input
            feature names.

        Returns
        -------
        names : ndarray of str objects
        """
        self._validate_params()
        return np.asarray(self._feature_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
