"""Texture features: uniform local binary patterns, Haralick GLCM properties
and first-order intensity statistics.

Each descriptor is a pure function of one image; :class:`TextureFeatures`
maps them over a stack at a fixed working size. The default ``method="fast"``
uses vectorised NumPy/OpenCV code that reproduces scikit-image (the
``method="skimage"`` reference path) to floating-point round-off; the tests
check this equivalence.
"""

import numbers

import cv2
import numpy as np

from xray_features._base import ImageFeatures
from xray_features._validation import check_image, check_positive_int
from xray_features.preprocess import resize, to_uint8

__all__ = ["lbp_histogram", "glcm_features", "intensity_statistics", "TextureFeatures"]

GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation",
                   "ASM", "mean", "variance", "std", "entropy")
_PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
STATISTIC_NAMES = (("mean", "std", "skewness", "kurtosis", "entropy")
                   + tuple(f"p{q:02d}" for q in _PERCENTILES) + ("contrast", "michelson"))
_PARTS = ("lbp", "glcm", "stats")
_METHODS = ("fast", "skimage")


# --------------------------------------------------------------- validation
def _check_choice(value, choices, name):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}.")
    return value


def _check_sequence(values, name, check_item):
    """A non-empty tuple of validated, unique items (a scalar becomes one item)."""
    if isinstance(values, (str, bytes)) or not np.iterable(values):
        values = (values,)
    items = tuple(check_item(value, f"{name} item") for value in values)
    if not items:
        raise ValueError(f"{name} must hold at least one value; got {values!r}.")
    if len(set(items)) != len(items):
        raise ValueError(f"{name} must not repeat values; got {items!r}.")
    return items


def _real(value, name, *, positive):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not np.isfinite(value) or (positive and value <= 0):
        rule = "a finite number > 0" if positive else "a finite number (degrees)"
        raise ValueError(f"{name} must be {rule}; got {value!r}.")
    return int(value) if value == int(value) else float(value)


def _check_lbp_params(radii, n_points, method):
    radii = _check_sequence(radii, "radii", lambda v, n: _real(v, n, positive=True))
    if isinstance(n_points, numbers.Integral) and not isinstance(n_points, bool):
        n_points = (n_points,) * len(radii)
    if isinstance(n_points, (str, bytes)) or not np.iterable(n_points) \
            or len(n_points) != len(radii):
        raise ValueError(f"n_points must be an int or one int per radius ({len(radii)} "
                         f"values); got {n_points!r}.")
    _check_choice(method, _METHODS, "method")
    return radii, tuple(check_positive_int(p, name="n_points item") for p in n_points)


def _check_glcm_params(distances, angles, levels, properties, method):
    distances = _check_sequence(distances, "distances",
                                lambda v, n: check_positive_int(v, name=n))
    angles = _check_sequence(angles, "angles", lambda v, n: _real(v, n, positive=False))
    levels = check_positive_int(levels, name="levels", minimum=2)
    if levels > 256:
        raise ValueError(f"levels must be <= 256 grey levels; got {levels}. Texture "
                         "statistics need many pixel pairs per GLCM cell, so use 8-64.")
    properties = _check_sequence(
        properties, "properties", lambda v, n: _check_choice(v, GLCM_PROPERTIES, n))
    _check_choice(method, _METHODS, "method")
    return distances, angles, levels, properties


def _check_pixels(image):
    """check_image, and refuse NaN or infinite values in float images."""
    image = check_image(image)
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values; replace them first, "
                         "e.g. np.nan_to_num(image).")
    return image


def _number_label(value):
    """'1' for 1 and 1.0, '1.5' for 1.5: stable text for feature names."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


# --------------------------------------------------------------------- LBP
def _uniform_lbp_fast(image, n_points, radius):
    """Uniform ('riu2') LBP labels of the pixels at least ``ceil(radius)``
    from the border: skimage's ``'uniform'`` labels there, exactly.

    Written by hand because it is several times faster than skimage's
    per-pixel loop: each neighbour is a vectorised bilinear sample computed
    with skimage's floating-point operations in skimage's order (including
    the round-off in the per-row and per-column weights), so even ties on
    intensity ramps resolve identically. Horizontal interpolations are shared
    by neighbours in the same column (e.g. up-right and down-right).
    """
    image = np.asarray(image, dtype=np.float64)
    margin = int(np.ceil(radius))
    height, width = image.shape[0] - 2 * margin, image.shape[1] - 2 * margin
    centre = image[margin:margin + height, margin:margin + width]
    angles = 2 * np.pi * np.arange(n_points) / n_points
    offsets_r = np.round(-radius * np.sin(angles), 5)[:, None]
    offsets_c = np.round(radius * np.cos(angles), 5)[:, None]
    # Sample coordinates of every neighbour (rows: neighbours), as skimage.
    sample_r = np.arange(margin, margin + height, dtype=np.float64) + offsets_r
    sample_c = np.arange(margin, margin + width, dtype=np.float64) + offsets_c
    floor_r, floor_c = np.floor(sample_r), np.floor(sample_c)
    weights_r, weights_c = sample_r - floor_r, sample_c - floor_c
    first_r, first_c = floor_r[:, 0].astype(int), floor_c[:, 0].astype(int)
    blend_r, blend_c = weights_r.any(axis=1), weights_c.any(axis=1)
    ones = np.zeros((height, width), dtype=np.uint8)
    changes = np.zeros((height, width), dtype=np.uint8)
    upper, lower = np.empty((height, width)), np.empty((height, width))
    horizontal, previous = {}, None
    for k in range(n_points):
        r0, c0 = first_r[k], first_c[k]
        if blend_c[k]:
            key = float(offsets_c[k, 0])
            if key not in horizontal:
                weight = weights_c[k]
                mix = np.multiply(1 - weight, image[:, c0:c0 + width])
                mix += weight * image[:, c0 + 1:c0 + 1 + width]
                horizontal[key] = mix
            source = horizontal[key]
        else:
            source = image[:, c0:c0 + width]
        if blend_r[k]:
            weight = weights_r[k][:, None]
            np.multiply(1 - weight, source[r0:r0 + height], out=upper)
            np.multiply(weight, source[r0 + 1:r0 + 1 + height], out=lower)
            texture = np.add(upper, lower, out=upper)
        else:
            texture = source[r0:r0 + height]
        bit = (texture >= centre).view(np.uint8)
        ones += bit
        if previous is not None:
            changes += bit != previous
        previous = bit
    # skimage counts transitions without the wrap-around pair; for a circular
    # code this gives the same uniform set (<= 2 circular transitions).
    return np.where(changes <= 2, ones, np.uint8(n_points + 1))


def lbp_histogram(image, *, radii=(1, 2), n_points=8, method="fast"):
    """Normalised histograms of uniform local binary patterns at several radii.

    For each radius ``R`` with ``P`` neighbours, every pixel at least
    ``ceil(R)`` from the border (so that its whole neighbourhood lies in the
    image) gets the rotation-invariant uniform label of
    ``skimage.feature.local_binary_pattern(image, P, R, 'uniform')``:
    0..P, the number of neighbours >= the centre, for patterns with at most
    two 0/1 transitions, and P + 1 for any other pattern. The histogram of
    the ``P + 2`` labels is divided by the pixel count.

    Parameters
    ----------
    image : (M, N) ndarray
        Grayscale image; values are compared as given (use an integer image:
        float images make ties depend on round-off, as skimage warns).
    radii : sequence of float, optional
        Radii of the circular neighbourhoods, unique and > 0.
    n_points : int or sequence of int, optional
        Neighbours per radius (one int for all radii, or one per radius).
    method : {'fast', 'skimage'}, optional
        'fast' (vectorised, identical labels) or the reference
        ``skimage.feature.local_binary_pattern``.

    Returns
    -------
    histograms : (sum(P + 2),) ndarray of float64
        The histograms of each radius, concatenated; each sums to 1.

    Raises
    ------
    ValueError
        For invalid parameters, or an image with a side <= 2 * ceil(R).

    References
    ----------
    T. Ojala, M. Pietikainen, T. Maenpaa, "Multiresolution gray-scale and
    rotation invariant texture classification with local binary patterns",
    IEEE TPAMI 24(7), 2002.

    Examples
    --------
    >>> flat = np.full((8, 8), 7, dtype=np.uint8)
    >>> lbp_histogram(flat, radii=(1,)).tolist()   # all 8 neighbours >= centre
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """
    radii, points = _check_lbp_params(radii, n_points, method)
    return _lbp_histogram(_check_pixels(image), radii, points, method)


def _lbp_histogram(image, radii, points, method):
    if image.dtype == bool:
        image = image.astype(np.uint8)
    histograms = []
    for radius, n in zip(radii, points):
        margin = int(np.ceil(radius))
        if min(image.shape) <= 2 * margin:
            raise ValueError(f"image of shape {image.shape} is too small for LBP radius "
                             f"{radius}: each side must exceed {2 * margin} pixels. Use a "
                             "larger image or smaller radii.")
        if method == "skimage":
            from skimage.feature import local_binary_pattern
            labels = local_binary_pattern(image, n, radius, "uniform").astype(np.intp)
            labels = labels[margin:-margin, margin:-margin]
        else:
            labels = _uniform_lbp_fast(image, n, radius)
        histograms.append(np.bincount(labels.ravel(), minlength=n + 2) / labels.size)
    return np.concatenate(histograms)


# -------------------------------------------------------------------- GLCM
def _quantize(image, levels):
    """Map an image onto ``levels`` equal-width grey levels (uint8 codes)."""
    if image.dtype == bool:
        return image.astype(np.uint8) * np.uint8(levels - 1)
    if image.dtype in (np.uint8, np.uint16):
        bits = 8 * image.dtype.itemsize
        return ((image.astype(np.uint32) * levels) >> bits).astype(np.uint8)
    work = np.clip(image.astype(np.float64), 0, 1)
    return np.minimum(work * levels, levels - 1).astype(np.uint8)


def _glcm_offsets(distances, angles):
    """skimage's pixel offsets: ``round(sin(a) * d)`` rows, ``round(cos(a) * d)``
    columns, so e.g. distance 2 at 45 degrees is the offset (1, 1)."""
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[None, :]
    dist = np.asarray(distances, dtype=np.float64)[:, None]
    return tuple((np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(int)   # C round()
                 for x in (np.sin(theta) * dist, np.cos(theta) * dist))


def _cooccurrence_fast(codes, levels, offsets):
    """Symmetric, normalised GLCMs of each (row, column) offset: (n, L, L).

    cv2.calcHist on two shifted views counts the pixel pairs of one offset
    several times faster than skimage's loop over pixels.
    """
    height, width = codes.shape
    matrices = np.zeros((len(offsets), levels, levels))
    for k, (dr, dc) in enumerate(offsets):
        top, left = max(0, -dr), max(0, -dc)
        h, w = height - abs(dr), width - abs(dc)
        if h <= 0 or w <= 0:
            continue   # no pairs: an all-zero matrix, as skimage
        first = codes[top:top + h, left:left + w]
        second = codes[top + dr:top + dr + h, left + dc:left + dc + w]
        if h * w < 2 ** 24:   # float32 counts are exact below 2**24
            pairs = cv2.calcHist([first, second], [0, 1], None, [levels, levels],
                                 [0, levels, 0, levels])
        else:
            pairs = np.bincount((first.astype(np.int64) * levels + second).ravel(),
                                minlength=levels * levels).reshape(levels, levels)
        matrices[k] = pairs
        matrices[k] += pairs.T
    totals = matrices.sum(axis=(1, 2))
    totals[totals == 0] = 1
    return matrices / totals[:, None, None]


def _glcm_properties(matrices, properties):
    """graycoprops' formulas for (n, L, L) matrices: (n_properties, n).

    Written as matrix products over the flattened matrices, and with the
    marginal distribution for means and variances (the matrices are
    symmetric, so row and column statistics are equal).
    """
    n, levels = matrices.shape[:2]
    flat = matrices.reshape(n, levels * levels)
    grey = np.arange(levels, dtype=np.float64)
    diff = (grey[:, None] - grey[None, :]).ravel()
    marginal = matrices.sum(axis=2)
    mean = marginal @ grey
    centred = grey - mean[:, None]
    variance = np.einsum("ni,ni->n", marginal, centred ** 2)
    results = []
    for prop in properties:
        if prop == "contrast":
            results.append(flat @ diff ** 2)
        elif prop == "dissimilarity":
            results.append(flat @ np.abs(diff))
        elif prop == "homogeneity":
            results.append(flat @ (1.0 / (1.0 + diff ** 2)))
        elif prop in ("ASM", "energy"):
            asm = np.einsum("nk,nk->n", flat, flat)
            results.append(np.sqrt(asm) if prop == "energy" else asm)
        elif prop == "entropy":
            logs = -np.log(flat, where=flat != 0, out=np.zeros_like(flat))
            results.append(np.einsum("nk,nk->n", flat, logs))
        elif prop == "mean":
            results.append(mean)
        elif prop in ("variance", "std"):
            results.append(np.sqrt(variance) if prop == "std" else variance)
        else:   # correlation; skimage gives 1 where a standard deviation is ~0
            cov = np.einsum("ni,nij,nj->n", centred, matrices, centred)
            flat_std = np.sqrt(variance) < 1e-15
            results.append(np.where(flat_std, 1.0, cov / np.where(flat_std, 1.0, variance)))
    return np.stack(results)


def glcm_features(image, *, distances=(1, 2, 4), angles=(0, 45, 90, 135), levels=32,
                  properties=("contrast", "dissimilarity", "homogeneity", "energy",
                              "correlation", "ASM"), method="fast"):
    """Haralick texture properties of grey-level co-occurrence matrices.

    Recipe: (1) quantise the image to ``levels`` equal-width grey levels over
    its dtype's range; (2) for each distance and angle count the pairs of
    levels at that pixel offset, in both directions (symmetric) and divide by
    the total; (3) summarise each matrix by the requested properties
    (``skimage.feature.graycoprops`` definitions).

    Parameters
    ----------
    image : (M, N) ndarray
        uint8, uint16, bool or float image in [0, 1].
    distances : sequence of int, optional
        Pixel distances (> 0). Offsets follow skimage: ``round(d * sin(a))``
        rows and ``round(d * cos(a))`` columns, so at 45 degrees distance 2
        is the diagonal neighbour (1, 1), like distance 1.
    angles : sequence of float, optional
        Directions in degrees (0 = along rows).
    levels : int, optional
        Number of grey levels after quantisation, 2-256.
    properties : sequence of str, optional
        Any of 'contrast', 'dissimilarity', 'homogeneity', 'energy',
        'correlation', 'ASM', 'mean', 'variance', 'std', 'entropy'.
    method : {'fast', 'skimage'}, optional
        'fast' (vectorised) or the reference ``graycomatrix``/``graycoprops``.

    Returns
    -------
    features : (n_properties, n_distances, n_angles) ndarray of float64

    References
    ----------
    R. M. Haralick, K. Shanmugam, I. Dinstein, "Textural features for image
    classification", IEEE Trans. SMC 3(6), 1973.

    Examples
    --------
    >>> flat = np.full((16, 16), 100, dtype=np.uint8)
    >>> glcm_features(flat, properties=("contrast", "energy"))[:, 0, 0].tolist()
    [0.0, 1.0]
    """
    distances, angles, levels, properties = _check_glcm_params(
        distances, angles, levels, properties, method)
    return _glcm(_check_pixels(image), distances, angles, levels, properties, method)


def _glcm(image, distances, angles, levels, properties, method):
    codes = _quantize(image, levels)
    if method == "skimage":
        from skimage.feature import graycomatrix, graycoprops
        matrices = graycomatrix(codes, distances, np.deg2rad(angles), levels=levels,
                                symmetric=True, normed=True)
        return np.stack([graycoprops(matrices, prop) for prop in properties])
    rows, cols = _glcm_offsets(distances, angles)
    pairs = list(zip(rows.ravel().tolist(), cols.ravel().tolist()))
    unique = sorted(set(pairs))   # e.g. 45 degrees at distances 1 and 2
    values = _glcm_properties(_cooccurrence_fast(codes, levels, unique), properties)
    index = [unique.index(pair) for pair in pairs]
    return values[:, index].reshape(len(properties), *rows.shape)


# ----------------------------------------------------- first-order statistics
def _percentiles_from_counts(counts, values):
    """np.percentile (linear) of the data summarised by a histogram of
    ``counts`` at sorted ``values``, without expanding the data."""
    cumulative = np.cumsum(counts)
    position = (cumulative[-1] - 1) * np.asarray(_PERCENTILES) / 100.0
    lower = np.floor(position)
    low = values[np.searchsorted(cumulative, lower, side="right")]
    high = values[np.searchsorted(cumulative, np.minimum(lower + 1, cumulative[-1] - 1),
                                  side="right")]
    return low + (high - low) * (position - lower)


def _summary_from_histogram(image):
    """(mean, var, skewness, kurtosis, percentiles, bin probabilities, min, max)
    of a uint8 or bool image from its 256-bin histogram.

    Exact for 8-bit data and an order of magnitude faster than sorting the
    pixels; the moments are scipy.stats' (biased) skew and kurtosis formulas.
    """
    counts = np.bincount(image.ravel().view(np.uint8), minlength=256)
    values = np.arange(256) / (1.0 if image.dtype == bool else 255.0)
    occupied = counts > 0
    counts, values = counts[occupied], values[occupied]
    n = counts.sum()
    mean = float(counts @ values) / n
    centred = values - mean
    m2, m3, m4 = (float(counts @ centred ** k) / n for k in (2, 3, 4))
    if len(values) == 1:   # constant image: no spread, no shape
        skewness = kurtosis = 0.0
    else:
        skewness, kurtosis = m3 / m2 ** 1.5, m4 / m2 ** 2 - 3.0
    percentiles = _percentiles_from_counts(counts, values)
    return mean, m2, skewness, kurtosis, percentiles, counts / n, values[0], values[-1]


def _summary_from_pixels(image):
    """The same summary for uint16 or float images, from the pixels."""
    from scipy import stats

    data = image.astype(np.float64).ravel()
    if image.dtype == np.uint16:
        data /= 65535.0
    low, high = float(data.min()), float(data.max())
    if low == high:   # scipy would return NaN (0/0) for a constant image
        skewness = kurtosis = 0.0
    else:
        skewness, kurtosis = float(stats.skew(data)), float(stats.kurtosis(data))
    counts = np.histogram(np.clip(data, 0, 1), bins=256, range=(0, 1))[0]
    probabilities = counts[counts > 0] / data.size
    return (float(data.mean()), float(data.var()), skewness, kurtosis,
            np.percentile(data, _PERCENTILES), probabilities, low, high)


def intensity_statistics(image):
    """First-order intensity statistics on the [0, 1] scale.

    Parameters
    ----------
    image : (M, N) ndarray
        uint8 (divided by 255), uint16 (by 65535), bool or float in [0, 1].

    Returns
    -------
    stats : (14,) ndarray of float64
        In the order of :data:`STATISTIC_NAMES`: mean, standard deviation
        (population), skewness and excess kurtosis (``scipy.stats`` defaults;
        0 for a constant image), Shannon entropy in bits of the 256-bin
        histogram, the 1/5/25/50/75/95/99th percentiles (linear
        interpolation, as ``np.percentile``), contrast ``p99 - p1`` and
        Michelson contrast ``(max - min) / (max + min)`` (0 for a black image).

    Examples
    --------
    >>> stats = intensity_statistics(np.array([[0, 51], [102, 255]], dtype=np.uint8))
    >>> round(float(stats[0]), 4), float(stats[-1])
    (0.4, 1.0)
    """
    image = _check_pixels(image)
    summarise = _summary_from_histogram if image.dtype in (np.uint8, bool) \
        else _summary_from_pixels
    mean, var, skewness, kurtosis, percentiles, probabilities, low, high = summarise(image)
    entropy = float(-np.sum(probabilities * np.log2(probabilities))) + 0.0   # no -0.0
    michelson = (high - low) / (high + low) if high + low > 0 else 0.0
    return np.array([mean, np.sqrt(var), skewness, kurtosis, entropy, *percentiles,
                     percentiles[-1] - percentiles[0], michelson], dtype=np.float64)


# ---------------------------------------------------------------- estimator
def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if isinstance(image_size, (str, bytes)) or not np.iterable(image_size) \
            or len(image_size) != 2:
        raise ValueError(f"image_size must be None (keep each image's size), an int or a "
                         f"(height, width) pair; got {image_size!r}.")
    return tuple(check_positive_int(side, name="image_size", minimum=8)
                 for side in image_size)


class TextureFeatures(ImageFeatures):
    """Uniform LBP histograms, GLCM (Haralick) properties and first-order
    intensity statistics of each image, at a fixed working size.

    Each image is resized to ``image_size`` (ignoring aspect ratio, so no
    padding enters the statistics) and converted to uint8; the selected
    ``parts`` are then computed with :func:`lbp_histogram`,
    :func:`glcm_features` and :func:`intensity_statistics`.

    Parameters
    ----------
    image_size : int, (int, int) or None, optional
        Working size (height, width); None keeps each image's own size.
    radii, n_points : optional
        LBP radii and neighbours per radius (see :func:`lbp_histogram`).
    distances, angles, levels, properties : optional
        GLCM settings (see :func:`glcm_features`); angles in degrees.
    parts : sequence of {'lbp', 'glcm', 'stats'}, optional
        Which descriptors to compute; they are always concatenated in the
        order lbp, glcm, stats.
    method : {'fast', 'skimage'}, optional
        Vectorised implementation or the scikit-image reference.

    Attributes
    ----------
    n_features_out_ : int
        Set by ``fit``: the number of features.

    Notes
    -----
    Feature names: ``lbp_r{R}_u{label:02d}`` (uniform label 0..P, P + 1 for
    non-uniform patterns), ``glcm_{property}_d{distance}_a{degrees}`` and
    ``stat_{name}`` for :data:`STATISTIC_NAMES`. With the default GLCM
    distances, the 45 and 135 degree features at distances 1 and 2 share one
    pixel offset (see :func:`glcm_features`) and so are equal.

    Examples
    --------
    >>> extractor = TextureFeatures(image_size=32, parts=("stats",))
    >>> extractor.transform(np.zeros((2, 40, 40), dtype=np.uint8)).shape
    (2, 14)
    """

    def __init__(self, *, image_size=128, radii=(1, 2), n_points=8, distances=(1, 2, 4),
                 angles=(0, 45, 90, 135), levels=32,
                 properties=("contrast", "dissimilarity", "homogeneity", "energy",
                             "correlation", "ASM"),
                 parts=("lbp", "glcm", "stats"), method="fast"):
        self.image_size = image_size
        self.radii = radii
        self.n_points = n_points
        self.distances = distances
        self.angles = angles
        self.levels = levels
        self.properties = properties
        self.parts = parts
        self.method = method

    def _settings(self):
        """The validated parameters: (size, parts, lbp params, glcm params)."""
        parts = _check_sequence(self.parts, "parts", lambda v, n: _check_choice(v, _PARTS, n))
        return (_check_image_size(self.image_size),
                [part for part in _PARTS if part in parts],
                _check_lbp_params(self.radii, self.n_points, self.method),
                _check_glcm_params(self.distances, self.angles, self.levels,
                                   self.properties, self.method))

    def _validate_params(self):
        self._settings()

    def _feature_names(self):
        _, parts, (radii, points), (distances, angles, _, properties) = self._settings()
        names = []
        if "lbp" in parts:
            names += [f"lbp_r{_number_label(r)}_u{label:02d}"
                      for r, p in zip(radii, points) for label in range(p + 2)]
        if "glcm" in parts:
            names += [f"glcm_{prop}_d{d}_a{_number_label(a)}"
                      for prop in properties for d in distances for a in angles]
        if "stats" in parts:
            names += [f"stat_{name}" for name in STATISTIC_NAMES]
        return names

    def _extract(self, image):
        size, parts, lbp, glcm = self._settings()
        if size is not None and image.shape != size:
            image = resize(image, size)
        if image.dtype != np.uint8:
            image = to_uint8(image)
        features = []
        if "lbp" in parts:
            features.append(_lbp_histogram(image, *lbp, self.method))
        if "glcm" in parts:
            features.append(_glcm(image, *glcm, self.method).ravel())
        if "stats" in parts:
            features.append(intensity_statistics(image))
        return np.concatenate(features)
