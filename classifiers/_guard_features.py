"""The out-of-distribution guard's fixed description of an image, and its checks' measures.

Kept apart from :mod:`classifiers.ood` so the guard reads as its recipe.
"""

import numpy as np

__all__ = ["guard_features", "colour_chroma"]

_SIZE = 64
_THUMB = 8


def colour_chroma(colour):
    """Mean chroma ``(max(R, G, B) - min(R, G, B)) / 255`` of an RGB image.

    0 for a gray picture stored as RGB, around 0.2-0.5 for a photograph.

    Examples
    --------
    >>> gray = np.full((4, 4, 3), 90, np.uint8)
    >>> colour_chroma(gray)
    0.0
    >>> red = np.zeros((4, 4, 3), np.uint8); red[..., 0] = 255
    >>> colour_chroma(red)
    1.0
    """
    colour = np.asarray(colour)
    if colour.ndim != 3 or colour.shape[2] < 3:
        raise ValueError(f"colour must be an (M, N, 3) RGB array; got shape {colour.shape}")
    rgb = colour[..., :3].astype(np.float32)
    scale = 255.0 if colour.dtype == np.uint8 else 65535.0 if colour.dtype == np.uint16 else 1.0
    return float(np.mean(rgb.max(axis=2) - rgb.min(axis=2)) / scale)


def _work(image):
    import cv2

    from xray_features.preprocess import to_float32

    unit = to_float32(np.asarray(image))
    return cv2.resize(unit, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA)


def guard_features(image):
    """The guard's fixed description of one 2-D image: a (116,) float64 vector.

    The image goes to float on [0, 1] and is resized (ignoring its aspect
    ratio, which is checked separately) to 64 x 64; then: an 8 x 8
    thumbnail (64), a 16-bin histogram (16), the 14 intensity statistics of
    :func:`xray_features.intensity_statistics`, the mean, spread and 90th
    percentile of the Sobel gradient magnitude and the mean absolute
    Laplacian (4), the uniform LBP histogram at radius 1 (10) and GLCM
    contrast, homogeneity, energy and correlation at distance 1, 0 and 90
    degrees (8).

    Examples
    --------
    >>> guard_features(np.zeros((30, 50), np.uint8)).shape
    (116,)
    """
    import cv2

    from xray_features.texture import glcm_features, intensity_statistics, lbp_histogram

    work = _work(image)
    thumb = cv2.resize(work, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).ravel()
    hist = np.histogram(work, bins=16, range=(0.0, 1.0))[0] / work.size
    stats = intensity_statistics(work)
    gx = cv2.Sobel(work, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(work, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    lap = np.abs(cv2.Laplacian(work, cv2.CV_32F, ksize=3))
    gradient = [magnitude.mean(), magnitude.std(), np.percentile(magnitude, 90), lap.mean()]
    lbp = lbp_histogram(work, radii=(1,))
    glcm = glcm_features(work, distances=(1,), angles=(0, 90),
                         properties=("contrast", "homogeneity", "energy", "correlation"))
    vector = np.concatenate([thumb, hist, stats, gradient, lbp, glcm.ravel()])
    return np.nan_to_num(vector.astype(np.float64), nan=0.0, posinf=1e6, neginf=-1e6)


def _feature_matrix(images):
    return np.stack([guard_features(image) for image in images])


def _spread(image):
    unit = _work(image)
    low, high = np.percentile(unit, [1, 99])
    return float(high - low)


def _aspect(image):
    height, width = np.asarray(image).shape[:2]
    return max(height, width) / max(min(height, width), 1)


def _inverted(image):
    from xray_features.preprocess import to_float32

    return 1.0 - to_float32(np.asarray(image))
