"""Feature extraction shared by the models of features (XGBoost, linear probe).

:class:`FeatureInputMixin` turns a model's ``features`` and ``image_size``
parameters into an extractor and a feature matrix: images (a stack, a
sequence or a lazy :class:`xray_features.image_source.ImageSource`, read a
chunk at a time) are resized with padding to ``image_size`` and mapped
through the extractor by :func:`xray_features.extract_features`, in
parallel (``feature_n_jobs``) and cached by content (``cache_dir``).
"""

import numpy as np
from sklearn.base import clone


from classifiers.embeddings import DEEP_FEATURE_PRESETS, feature_cache_dir, make_deep_features
from xray_features.batch import extract_features
from xray_features.combine import FEATURE_PRESETS as _HANDCRAFTED, make_features
from xray_features.image_source import ImageSource
from xray_features.utils import check_image_size

__all__ = ["FEATURE_PRESETS", "FeatureInputMixin"]

#: Handcrafted presets (:func:`xray_features.make_features`), then the frozen
#: ImageNet-backbone embeddings (:mod:`classifiers.embeddings`).
FEATURE_PRESETS = tuple(_HANDCRAFTED) + tuple(DEEP_FEATURE_PRESETS)


class FeatureInputMixin:
    """``features`` + ``image_size`` (+ ``feature_n_jobs``, ``cache_dir``) to a
    feature matrix. Sets ``extractor_`` and ``feature_names_`` in ``fit``."""

    def _validate_features(self):
        features = self.features
        if isinstance(features, str):
            if features not in FEATURE_PRESETS:
                raise ValueError(f"features must be one of {FEATURE_PRESETS} or an extractor "
                                 f"instance; got {features!r}")
        elif not (hasattr(features, "transform") and hasattr(features, "get_feature_names_out")):
            raise TypeError("features must be a preset name or a transformer with transform "
                            f"and get_feature_names_out; got {type(features).__name__}")
        check_image_size(self.image_size)

    def _weights_record(self):
        """The pretrained weights behind deep features, for ``model.json`` (or None)."""
        record = getattr(getattr(self, "extractor_", None), "weights_record", None)
        return record() if record is not None else None

    def _make_extractor(self):
        if not isinstance(self.features, str):
            return clone(self.features)

        # A preset works at the model's size, so images are resized only once.
        extractor = (make_deep_features(self.features) if self.features in DEEP_FEATURE_PRESETS
                     else make_features(self.features))
        keys = [key for key in extractor.get_params(deep=True)
                if key == "image_size" or key.endswith("__image_size")]
        return extractor.set_params(**{key: self.image_size for key in keys})

    def _working_stack(self, images, size):
        # A lazy source is read at the working size a chunk at a time: the
        # feature matrix is the only thing that grows with the images.
        if isinstance(images, ImageSource):
            return images.at(size)
        return self._prepare_images(images, size=size)

    def _features(self, images, *, fit=False, extract=None):
        lazy = isinstance(images, ImageSource)
        stack = self._working_stack(images, self.image_size)
        if fit:
            self.extractor_.fit(stack[:1] if lazy else stack)  # extractors learn nothing
            self.feature_names_ = np.asarray(
                [str(n) for n in self.extractor_.get_feature_names_out()], dtype=object)
        if hasattr(self.extractor_, "extract_one"):  # an xray_features extractor
            X = (extract or self._extract)(stack)
        elif lazy:
            X = np.concatenate([self.extractor_.transform(chunk)
                                for _, chunk in stack.iter_chunks()])
        else:
            X = self.extractor_.transform(stack)
        X = np.asarray(X, dtype=np.float32)
        expected = (len(stack), len(self.extractor_.get_feature_names_out()))
        if X.ndim != 2 or X.shape != expected:
            raise ValueError(f"the extractor returned features of shape {X.shape}; expected "
                             f"{expected}")
        return X

    def _extract(self, stack, extractor=None):
        """Features of a working-size stack through the batch engine and the
        cache, with ``extractor`` (default: the model's ``extractor_``)."""
        X, _ = extract_features(stack, extractor or self.extractor_, n_jobs=self.feature_n_jobs,
                                cache_dir=feature_cache_dir(self.cache_dir), strict=True,
                                progress=False)
        return X
