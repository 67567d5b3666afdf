"""Several extractors as one, and the named feature presets.

:class:`CombinedFeatures` plays the role of scikit-learn's
:class:`~sklearn.pipeline.FeatureUnion` for images. ``FeatureUnion`` itself
does not fit: it only offers ``transform`` on a whole stack, while the batch
engine (:func:`xray_features.extract_features`) maps the per-image
``extract_one`` of an :class:`~xray_features._base.ImageFeatures`, so the
union is rebuilt here on that base class, with FeatureUnion's conventions:
``(name, extractor)`` pairs, ``name__feature`` output names and nested
parameters such as ``hog__orientations``.
"""

from types import MappingProxyType

import numpy as np
from sklearn.base import clone

from xray_features._base import ImageFeatures, working_image

__all__ = ["CombinedFeatures", "make_features", "FEATURE_PRESETS"]


def _check_extractors(extractors):
    """Return the (name, extractor) pairs, or raise a helpful error."""
    example = "e.g. [('hog', HOGFeatures()), ('texture', TextureFeatures())]"
    if isinstance(extractors, (str, bytes)) or not isinstance(extractors, (list, tuple)):
        raise TypeError(f"extractors must be a list of (name, extractor) pairs, {example}; "
                        f"got {type(extractors).__name__}.")
    if not extractors:
        raise ValueError(f"extractors must hold at least one (name, extractor) pair, "
                         f"{example}; got an empty list.")
    names = []
    for index, pair in enumerate(extractors):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"extractors[{index}] must be a (name, extractor) pair, "
                            f"{example}; got {pair!r}.")
        name, extractor = pair
        if not isinstance(name, str) or not name or "__" in name:
            raise ValueError(f"extractors[{index}] has name {name!r}; names must be "
                             "non-empty strings without '__' (it separates nested "
                             "parameters such as 'hog__orientations').")
        if not isinstance(extractor, ImageFeatures):
            raise TypeError(f"extractors[{index}] ({name!r}) must be an ImageFeatures "
                            f"extractor such as HOGFeatures(); got "
                            f"{type(extractor).__name__}.")
        names.append(name)
    if len(set(names)) != len(names):
        raise ValueError(f"extractor names must be unique; got {names}.")
    return list(extractors)


class CombinedFeatures(ImageFeatures):
    """Concatenate the features of several extractors.

    Parameters
    ----------
    extractors : list of (str, ImageFeatures)
        Named extractors; names are unique and contain no ``'__'``.

    Attributes
    ----------
    n_features_out_ : int
        Set by ``fit``: the total number of features.

    Notes
    -----
    Each image is resized once per working size that parts share (the
    ``image_size`` of the presets) and handed to those parts, instead of
    being resized by each; the features are the same as the parts' own.
    Feature names are ``{name}__{feature}``, so they stay unique and tell
    which extractor each column came from. Parameters of the parts are
    reachable as ``{name}__{parameter}`` in ``get_params``/``set_params``,
    and ``set_params(hog=other)`` replaces a part.

    Examples
    --------
    >>> from xray_features.texture import TextureFeatures
    >>> union = CombinedFeatures([
    ...     ("stats", TextureFeatures(image_size=32, parts=("stats",))),
    ...     ("glcm", TextureFeatures(image_size=32, parts=("glcm",), distances=(1,))),
    ... ])
    >>> union.transform(np.zeros((2, 40, 40), dtype=np.uint8)).shape
    (2, 38)
    >>> union.get_feature_names_out()[0], union.get_params()["glcm__levels"]
    ('stats__stat_mean', 32)
    """

    def __init__(self, extractors):
        self.extractors = extractors

    def _validate_params(self):
        for _, extractor in _check_extractors(self.extractors):
            extractor._validate_params()

    def _feature_names(self):
        return [f"{name}__{feature}" for name, extractor in _check_extractors(self.extractors)
                for feature in extractor._feature_names()]

    def _working_size(self):
        sizes = {extractor._working_size() for _, extractor in _check_extractors(self.extractors)}
        return sizes.pop() if len(sizes) == 1 else None

    def _extract(self, image):
        # Resize once per working size shared by the parts: each part would
        # resize with the same working_image, and skips an image that
        # already has its working shape, so the features are the same.
        resized, features = {}, []
        for _, extractor in _check_extractors(self.extractors):
            size = extractor._working_size()
            if size is not None and size not in resized:
                resized[size] = working_image(image, size)
            part = image if size is None else resized[size]
            features.append(np.asarray(extractor._extract(part), dtype=np.float32).ravel())
        return np.concatenate(features)

    def get_params(self, deep=True):
        """Parameters, with each part and its parameters when ``deep``.

        Parameters
        ----------
        deep : bool, default=True
            Also return ``{name: extractor}`` and ``{name}__{parameter}``.

        Returns
        -------
        params : dict
        """
        params = {"extractors": self.extractors}
        if deep and isinstance(self.extractors, (list, tuple)):
            for pair in self.extractors:
                if isinstance(pair, (list, tuple)) and len(pair) == 2 \
                        and hasattr(pair[1], "get_params"):
                    name, extractor = pair
                    params[name] = extractor
                    params.update((f"{name}__{key}", value)
                                  for key, value in extractor.get_params(deep=True).items())
        return params

    def set_params(self, **params):
        """Set parameters: ``extractors``, a part by name, or ``name__param``.

        Returns
        -------
        self : CombinedFeatures
        """
        if "extractors" in params:
            self.extractors = params.pop("extractors")
        if not params:
            return self
        pairs = _check_extractors(self.extractors)
        names = [name for name, _ in pairs]
        nested = {}
        for key, value in params.items():
            name, _, sub_key = key.partition("__")
            if name not in names:
                raise ValueError(f"invalid parameter {key!r} for CombinedFeatures: "
                                 f"expected 'extractors', one of the names {names} or "
                                 "'<name>__<parameter>'.")
            if sub_key:
                nested.setdefault(name, {})[sub_key] = value
            else:
                pairs[names.index(name)] = (name, value)
        self.extractors = pairs
        for name, sub_params in nested.items():
            pairs[names.index(name)][1].set_params(**sub_params)
        return self


def _edge_features():
    from xray_features.edges import BrightEdgeFeatures
    return BrightEdgeFeatures()


def _hog_features():
    from xray_features.hog import HOGFeatures
    return HOGFeatures()


def _texture_features():
    from xray_features.texture import TextureFeatures
    return TextureFeatures()


def _all_features():
    return CombinedFeatures([("edge", _edge_features()), ("hog", _hog_features()),
                             ("texture", _texture_features())])


#: Preset name -> function returning a new extractor with default parameters.
FEATURE_PRESETS = MappingProxyType({
    "edge": _edge_features,
    "hog": _hog_features,
    "texture": _texture_features,
    "all": _all_features,
})


def make_features(preset):
    """Return a new feature extractor for a preset name.

    Parameters
    ----------
    preset : {'edge', 'hog', 'texture', 'all'} or ImageFeatures
        'edge': bright-edge histogram (:class:`BrightEdgeFeatures`); 'hog':
        :class:`HOGFeatures`; 'texture': :class:`TextureFeatures` (LBP, GLCM,
        intensity statistics); 'all': the three combined, with names prefixed
        ``edge__``, ``hog__`` and ``texture__``. An extractor is returned as an
        unfitted clone.

    Returns
    -------
    extractor : ImageFeatures

    Raises
    ------
    ValueError
        For an unknown preset name.
    TypeError
        For anything else than a name or an ImageFeatures extractor.

    Examples
    --------
    >>> type(make_features("texture")).__name__
    'TextureFeatures'
    """
    if isinstance(preset, ImageFeatures):
        return clone(preset)
    if not isinstance(preset, str):
        raise TypeError(f"preset must be a preset name {sorted(FEATURE_PRESETS)} or an "
                        f"ImageFeatures extractor; got {type(preset).__name__}.")
    if preset not in FEATURE_PRESETS:
        raise ValueError(f"unknown feature preset {preset!r}; expected one of "
                         f"{sorted(FEATURE_PRESETS)}, or pass an extractor instance.")
    return FEATURE_PRESETS[preset]()
