"""Contrast enhancement and denoising of 2-D grayscale X-ray images.

Pure functions like those of :mod:`xray_features.preprocess` (whose
validation helpers they share): each returns a new array in the input's
dtype.
"""

import cv2
import numpy as np

from xray_features._validation import check_positive_int, check_scalar
from xray_features.preprocess import _check, _shape_pair, to_uint8

__all__ = ["clahe", "equalize_histogram", "denoise_gaussian", "denoise_median"]


def _from_uint8(result, dtype):
    """Map a uint8 result back to ``dtype`` (uint16 or float)."""
    if dtype == np.uint16:
        return result.astype(np.uint16) * np.uint16(257)
    return (result.astype(np.float32) / np.float32(255)).astype(dtype)


def clahe(image, *, clip_limit=2.0, tile_grid_size=(8, 8)):
    """Contrast-limited adaptive histogram equalisation (OpenCV CLAHE).

    The histogram of each tile is clipped at ``clip_limit`` times its mean
    bin count before equalisation, which limits noise amplification; tile
    mappings are interpolated bilinearly.

    uint16 and float images are processed at 8-bit resolution (through
    :func:`to_uint8`) and returned in their own dtype and scale. OpenCV's
    16-bit CLAHE clips each of 65536 bins at one count or more, which makes
    ``clip_limit`` meaningless on real 16-bit data (it amplifies noise like
    unclipped AHE), so every dtype gets the same, 8-bit, algorithm.

    Parameters
    ----------
    image : (M, N) ndarray
        uint8, uint16 or float image in [0, 1].
    clip_limit : float, optional
        Contrast limit (> 0); larger gives more contrast. OpenCV's default
        scale: 2.0 is moderate, 40 is almost plain AHE.
    tile_grid_size : int or (int, int), optional
        Number of tiles as ``(rows, cols)``.

    Returns
    -------
    out : (M, N) ndarray, same dtype as ``image``

    References
    ----------
    .. [1] Zuiderveld, K. "Contrast Limited Adaptive Histogram Equalization",
           Graphics Gems IV, 1994.

    Examples
    --------
    >>> ramp = np.tile(np.linspace(100, 140, 64).astype(np.uint8), (64, 1))
    >>> bool(clahe(ramp).std() > ramp.std())
    True
    """
    image = _check(image, allow_bool=False, unit_range=True)
    clip_limit = check_scalar(clip_limit, "clip_limit", integer=False, low=0, low_open=True)
    rows, cols = _shape_pair(tile_grid_size, "tile_grid_size")
    equaliser = cv2.createCLAHE(clipLimit=clip_limit, tileGridSize=(cols, rows))
    if image.dtype == np.uint8:
        return equaliser.apply(image)
    return _from_uint8(equaliser.apply(to_uint8(image)), image.dtype)


def _equalize_levels(image, levels):
    """OpenCV's equalizeHist formula for ``levels`` grey levels.

    Written out because cv2.equalizeHist accepts 8-bit images only; this
    gives the same mapping for 16-bit data.
    """
    hist = np.bincount(image.ravel(), minlength=levels)
    cdf = np.cumsum(hist)
    first = int(np.flatnonzero(hist)[0])
    total = int(cdf[-1])
    if hist[first] == total:  # constant image: nothing to spread
        return image.copy()
    lut = np.rint((cdf - cdf[first]) * ((levels - 1) / (total - cdf[first])))
    return np.clip(lut, 0, levels - 1).astype(image.dtype)[image]


def equalize_histogram(image):
    """Global histogram equalisation.

    uint8 images use ``cv2.equalizeHist``; uint16 images use the same
    formula on 65536 levels, and float images are equalised at 16-bit
    resolution. A constant image is returned unchanged.

    Parameters
    ----------
    image : (M, N) ndarray
        uint8, uint16 or float image in [0, 1].

    Returns
    -------
    out : (M, N) ndarray, same dtype as ``image``

    Examples
    --------
    >>> ramp = np.tile(np.arange(100, 140, dtype=np.uint8), (8, 1))
    >>> int(equalize_histogram(ramp).min()), int(equalize_histogram(ramp).max())
    (0, 255)
    """
    image = _check(image, allow_bool=False, unit_range=True)
    if image.dtype == np.uint8:
        return cv2.equalizeHist(image)
    if image.dtype == np.uint16:
        return _equalize_levels(image, 65536)
    if image.min() == image.max():
        return image.copy()
    work = np.rint(np.clip(image.astype(np.float64), 0, 1) * 65535).astype(np.uint16)
    return (_equalize_levels(work, 65536) / 65535).astype(image.dtype)


def denoise_gaussian(image, *, sigma=1.0):
    """Smooth an image with a Gaussian kernel (``cv2.GaussianBlur``).

    Borders are handled by mirror reflection (OpenCV's BORDER_REFLECT_101).

    Parameters
    ----------
    image : (M, N) ndarray
        uint8, uint16 or float image.
    sigma : float, optional
        Standard deviation of the kernel in pixels (> 0).

    Returns
    -------
    out : (M, N) ndarray, same dtype as ``image``

    Examples
    --------
    >>> image = np.zeros((15, 15), np.float32); image[7, 7] = 1
    >>> round(float(denoise_gaussian(image, sigma=1.0).sum()), 3)
    1.0
    """
    image = _check(image, allow_bool=False)
    sigma = check_scalar(sigma, "sigma", integer=False, low=0, low_open=True)
    if image.dtype == np.float16:
        return denoise_gaussian(image.astype(np.float32), sigma=sigma).astype(np.float16)
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma,
                            borderType=cv2.BORDER_REFLECT_101)


def denoise_median(image, *, size=3):
    """Median filter, which removes salt-and-pepper noise and keeps edges.

    Borders replicate the edge pixels. OpenCV's ``medianBlur`` is used where
    it supports the dtype (uint8; uint16 and float32 for sizes 3 and 5),
    ``scipy.ndimage.median_filter`` otherwise, with identical results (but
    slower: seconds for a 2048 x 2048 float image at size 7).

    Parameters
    ----------
    image : (M, N) ndarray
        uint8, uint16 or float image.
    size : int, optional
        Odd side of the square window; 1 returns a copy.

    Returns
    -------
    out : (M, N) ndarray, same dtype as ``image``

    Examples
    --------
    >>> image = np.full((5, 5), 100, np.uint8); image[2, 2] = 255
    >>> int(denoise_median(image).max())
    100
    """
    image = _check(image, allow_bool=False)
    size = check_positive_int(size, name="size")
    if size % 2 == 0:
        raise ValueError(f"size must be odd so the window has a centre pixel; got "
                         f"{size}. Use {size + 1}.")
    if size == 1:
        return image.copy()
    if image.dtype == np.uint8 or (size <= 5 and image.dtype in (np.uint16, np.float32)):
        return cv2.medianBlur(image, size)
    from scipy import ndimage

    if image.dtype == np.float16:
        work = ndimage.median_filter(image.astype(np.float32), size=size, mode="nearest")
        return work.astype(np.float16)
    return ndimage.median_filter(image, size=size, mode="nearest")
