"""The estimator shell shared by every feature extractor.

Each extractor is a pure per-image function (``extract_one``) wrapped in a
scikit-learn transformer that maps it over a stack of images. Batch engines
(:func:`xray_features.extract_features`) only ever call ``extract_one``, so
the engine can change without touching an extractor.
"""

import cv2
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from xray_features._validation import check_image, check_images
from xray_features.preprocess import to_float32

__all__ = ["ImageFeatures", "working_image"]


def working_image(image, size):
    """Resize a validated image to an extractor's working size.

    Every extractor resizes through this function before anything else, so
    one resized image can be shared by several extractors (see
    :class:`~xray_features.combine.CombinedFeatures`) with the same result
    as resizing in each. The image is converted to float32 on [0, 1] first
    (as :func:`~xray_features.preprocess.to_float32`), so the same picture in
    any dtype gives the same working image and no precision is lost to
    rounding the resampled values; then it is resampled as
    :func:`~xray_features.preprocess.resize` does (area averaging when
    shrinking, bilinear otherwise).

    Parameters
    ----------
    image : (M, N) ndarray
        bool, uint8, uint16 or float image in [0, 1].
    size : (int, int) or None
        Working (rows, columns); None keeps the image as it is.

    Returns
    -------
    image : ndarray
        ``image`` itself when ``size`` is None or is its shape; otherwise a
        float32 array of shape ``size`` with values in [0, 1].

    Examples
    --------
    >>> small = working_image(np.full((40, 30), 255, dtype=np.uint8), (20, 15))
    >>> small.shape, small.dtype.name, float(small.max())
    ((20, 15), 'float32', 1.0)
    """
    if size is None or image.shape == tuple(size):
        return image
    work = to_float32(image)
    height, width = size
    shrinking = height <= work.shape[0] and width <= work.shape[1]
    # cv2.resize itself rather than preprocess.resize, which would scan the
    # whole source for its range; to_float32 already bounds it to [0, 1].
    out = cv2.resize(work, (width, height),
                     interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return np.clip(out, 0, 1, out=out).reshape(height, width)


def _finite(features):
    # Constant or degenerate images can make ratios 0/0; a feature vector
    # must stay usable by every downstream model, so map those to 0.
    if not np.isfinite(features).all():
        features = np.nan_to_num(features, nan=0.0, posinf=0.0, neginf=0.0)
    return features


class ImageFeatures(TransformerMixin, BaseEstimator):
    """Base class: a stateless transformer from images to feature vectors.

    Subclasses store their parameters in ``__init__`` (and nothing else) and
    implement two methods:

    ``_extract(image) -> (F,) array``
        The feature vector of one validated 2-D image.
    ``_feature_names() -> list of str``
        The ``F`` names, computed from the parameters alone.

    and may implement ``_validate_params()``, which raises ``ValueError`` for
    invalid parameters (it runs before any extraction),
    ``_working_size()``, the (rows, columns) to which ``_extract`` first
    resizes an image with :func:`working_image` (None: no resizing), and
    ``_extract_many(images) -> (n, F) array`` for an extractor that is
    faster on a batch (a neural network); such a class sets ``_batched =
    True`` so that the batch engine hands it whole chunks. An image that
    already has the working shape is used as it is, so a caller may resize
    once for several extractors.

    Extractors learn nothing from data, so ``fit`` only validates and
    ``transform`` works on an unfitted extractor too (scikit-learn's
    ``requires_fit=False`` tag), as with ``FunctionTransformer``.
    """

    #: Whether ``_extract_many`` is worth calling on a chunk of images.
    _batched = False

    def _extract(self, image):  # pragma: no cover - abstract
        raise NotImplementedError

    def _extract_many(self, images):
        return np.stack([np.asarray(self._extract(image), dtype=np.float32).ravel()
                         for image in images])

    def _feature_names(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _validate_params(self):
        """Raise ``ValueError`` for invalid parameters (subclasses extend)."""

    def _working_size(self):
        """The (rows, columns) images are resized to first, or None."""
        return None

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
        return _finite(np.asarray(self._extract(image), dtype=np.float32).ravel())

    def extract_many(self, images):
        """Return the feature vectors of several images, as ``extract_one`` would.

        Parameters
        ----------
        images : sequence of (M, N) ndarray
            Grayscale images (uint8, uint16, or float in [0, 1]).

        Returns
        -------
        features : (len(images), F) ndarray of float32
        """
        self._validate_params()
        checked = [check_image(image) for image in images]
        if not checked:
            return np.zeros((0, len(self._feature_names())), dtype=np.float32)
        features = np.asarray(self._extract_many(checked), dtype=np.float32)
        return _finite(features.reshape(len(checked), -1))

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
        if self._batched:
            return self.extract_many(images)
        names = self._feature_names()
        features = np.empty((len(images), len(names)), dtype=np.float32)
        for index, image in enumerate(images):
            features[index] = self.extract_one(image)
        return features

    def to_frame(self, images, ids=None):
        """Extract features into a table, one row per image.

        Parameters
        ----------
        images : (N, M, K) ndarray or sequence of (M, K) ndarray
        ids : sequence of N unique hashables, optional
            Row labels, e.g. file names; default ``0 .. N - 1``.

        Returns
        -------
        frame : pandas.DataFrame
            Shape (N, F), float32 columns named by
            ``get_feature_names_out()``, index named ``"id"``.

        Raises
        ------
        ValueError
            If ``ids`` does not hold one unique entry per image.

        Examples
        --------
        >>> from xray_features.texture import TextureFeatures
        >>> extractor = TextureFeatures(image_size=16, parts=("stats",))
        >>> frame = extractor.to_frame(np.zeros((2, 8, 8)), ids=["a", "b"])
        >>> frame.shape, frame.index.tolist(), frame.columns[0]
        ((2, 14), ['a', 'b'], 'stat_mean')
        """
        import pandas as pd

        images = check_images(images)
        if ids is None:
            index = pd.RangeIndex(len(images), name="id")
        else:
            index = pd.Index(list(ids), name="id")
            if len(index) != len(images):
                raise ValueError(f"ids must have one entry per image; got {len(index)} "
                                 f"ids for {len(images)} images. Pass one id per image, "
                                 "or none for 0 .. N - 1.")
            if not index.is_unique:
                duplicates = index[index.duplicated()].unique().tolist()[:5]
                raise ValueError(f"ids must be unique; got duplicates {duplicates}. "
                                 "Use e.g. file paths instead of file names.")
        return pd.DataFrame(self.transform(images), index=index,
                            columns=self.get_feature_names_out())

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
