"""Pure preprocessing functions for 2-D grayscale X-ray images.

Every function takes one image and returns a new array; nothing is modified
in place and no state is kept. Supported dtypes follow the package
convention: ``uint8`` on 0-255, ``uint16`` on 0-65535 and float in [0, 1]
(``bool`` where it makes sense). Geometric and filtering functions keep the
input dtype; conversions say what they return.
"""

import numbers

import cv2
import numpy as np

from xray_features._validation import check_image, check_pair, check_positive_int

__all__ = [
    "to_float32", "to_uint8", "resize", "resize_with_padding", "rescale_to_unit",
    "rescale_to_symmetric", "split_into_tiles",
]

# Float values this far outside [0, 1] (interpolation round-off) are clipped
# silently; anything further is an error.
_UNIT_TOLERANCE = 1e-6
_INT_MAX = {np.dtype(np.uint8): 255, np.dtype(np.uint16): 65535}


def _check(image, *, allow_bool=True, unit_range=False):
    """Validate one image; optionally require float values in [0, 1]."""
    shape = np.shape(image)
    if len(shape) == 3 and shape[-1] not in (3, 4):
        raise ValueError(f"image must be one 2-D grayscale array; got shape {shape}, "
                         "which looks like a stack of images: apply the function "
                         "to each one, e.g. [f(image) for image in images].")
    try:
        image = check_image(image)
    except TypeError as exc:
        raise TypeError(f"{exc} Convert it first, e.g. rescale_to_unit(image) for "
                        "min-max scaling to float [0, 1].") from None
    if image.dtype.kind == "f" and image.dtype.itemsize > 8:
        raise TypeError(f"image has dtype {image.dtype}; expected float16, float32 "
                        "or float64. Convert with image.astype(np.float64).")
    if image.dtype == bool and not allow_bool:
        raise TypeError("image is a bool mask, which has no intensities to "
                        "process; expected uint8, uint16 or float. Convert with "
                        "image.astype(np.uint8) * 255 if this is intended.")
    if unit_range and image.dtype.kind == "f":
        low, high = float(image.min()), float(image.max())
        if np.isnan(low) or np.isnan(high):
            raise ValueError("image contains NaN values; replace them first, e.g. "
                             "np.nan_to_num(image).")
        if low < -_UNIT_TOLERANCE or high > 1 + _UNIT_TOLERANCE:
            raise ValueError(
                f"float image values must lie in [0, 1]; got values in "
                f"[{low:.6g}, {high:.6g}]. Rescale first: rescale_to_unit(image) "
                "(min-max), or image / 255 for data on the 0-255 scale.")
    return np.ascontiguousarray(image)


def _shape_pair(shape, name):
    """Return (h, w) from an int or a pair of positive ints."""
    return check_pair(shape, name=name, parts=("height", "width"))


def to_float32(image):
    """Convert an image to float32 on [0, 1].

    Parameters
    ----------
    image : (M, N) ndarray
        bool, uint8 (divided by 255), uint16 (divided by 65535) or float.

    Returns
    -------
    out : (M, N) ndarray of float32
        Always a new array.

    Raises
    ------
    ValueError
        If a float image has values outside [0, 1] (beyond 1e-6 round-off,
        which is clipped) or NaN. Out-of-range floats are refused rather than
        clipped because clipping would silently destroy data; use
        :func:`rescale_to_unit` for min-max scaling.

    Examples
    --------
    >>> to_float32(np.array([[0, 51, 255]], dtype=np.uint8)).tolist()
    [[0.0, 0.20000000298023224, 1.0]]
    """
    image = _check(image, unit_range=True)
    if image.dtype in _INT_MAX:
        return image.astype(np.float32) / np.float32(_INT_MAX[image.dtype])
    return np.clip(image, 0, 1).astype(np.float32)


def to_uint8(image):
    """Convert an image to uint8 on 0-255.

    Parameters
    ----------
    image : (M, N) ndarray
        bool (True -> 255), uint8 (copied), uint16 (``round(v * 255 / 65535)``)
        or float in [0, 1] (``round(v * 255)``).

    Returns
    -------
    out : (M, N) ndarray of uint8

    Raises
    ------
    ValueError
        If a float image has values outside [0, 1] or NaN (see
        :func:`to_float32`).

    Examples
    --------
    >>> to_uint8(np.array([[0, 257, 65535]], dtype=np.uint16)).tolist()
    [[0, 1, 255]]
    """
    image = _check(image, unit_range=True)
    if image.dtype == np.uint8:
        return image.copy()
    if image.dtype == bool:
        return image.astype(np.uint8) * np.uint8(255)
    if image.dtype == np.uint16:
        # Integer form of round(v / 257); 257 is odd, so there are no ties.
        return ((image.astype(np.uint32) + 128) // 257).astype(np.uint8)
    work = np.clip(image.astype(np.float32), 0, 1)
    return np.rint(work * 255).astype(np.uint8)


def _resize(image, height, width):
    """cv2.resize for every supported dtype; area when shrinking."""
    if image.shape == (height, width):
        return image.copy()
    if image.dtype == bool:
        # Resample as 0/255 and take the majority, which antialiases masks.
        return _resize(image.astype(np.uint8) * np.uint8(255), height, width) >= 128
    if image.dtype == np.float16:
        return _resize(image.astype(np.float32), height, width).astype(np.float16)
    shrinking = height <= image.shape[0] and width <= image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    out = cv2.resize(image, (width, height), interpolation=interpolation)
    if out.dtype.kind == "f":
        # Both interpolations average their inputs; clip float round-off so
        # that a [0, 1] image stays exactly in [0, 1].
        np.clip(out, image.min(), image.max(), out=out)
    return out.reshape(height, width)


def resize(image, shape):
    """Resize an image to an exact shape, ignoring its aspect ratio.

    Uses OpenCV's area interpolation when shrinking (no aliasing) and bilinear
    interpolation otherwise.

    Parameters
    ----------
    image : (M, N) ndarray
        bool, uint8, uint16 or float image.
    shape : int or (int, int)
        Output ``(height, width)``; an int gives a square.

    Returns
    -------
    out : ndarray of shape ``shape``, same dtype as ``image``

    See Also
    --------
    resize_with_padding : keeps the aspect ratio.

    Examples
    --------
    >>> resize(np.ones((4, 6), dtype=np.uint8), (2, 3)).shape
    (2, 3)
    """
    image = _check(image)
    return _resize(image, *_shape_pair(shape, "shape"))


def resize_with_padding(image, size, *, pad_value=0):
    """Resize an image to fit ``size`` keeping its aspect ratio, then pad.

    The image is scaled by ``min(H / M, W / N)`` so that it touches two
    opposite borders, and centred; when the padding is odd the extra pixel
    goes to the bottom or the right.

    Parameters
    ----------
    image : (M, N) ndarray
        bool, uint8, uint16 or float image.
    size : int or (int, int)
        Output ``(H, W)``; an int gives a square, e.g. 224.
    pad_value : number, optional
        Value of the padding on the image's own scale (0 is black).

    Returns
    -------
    out : (H, W) ndarray, same dtype as ``image``

    Raises
    ------
    ValueError
        If ``pad_value`` cannot be stored in the image dtype.

    Examples
    --------
    >>> out = resize_with_padding(np.full((100, 50), 255, np.uint8), 150)
    >>> out.shape, int(out[:, 37:112].min()), int(out[:, :37].max())
    ((150, 150), 255, 0)
    """
    image = _check(image)
    out_h, out_w = _shape_pair(size, "size")
    pad_value = _check_pad_value(pad_value, image.dtype)
    height, width = image.shape
    scale = min(out_h / height, out_w / width)
    new_h = min(out_h, max(1, round(height * scale)))
    new_w = min(out_w, max(1, round(width * scale)))
    out = np.full((out_h, out_w), pad_value, dtype=image.dtype)
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    out[top:top + new_h, left:left + new_w] = _resize(image, new_h, new_w)
    return out


def _check_pad_value(value, dtype):
    if not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"pad_value must be a finite number; got {value!r}.")
    if dtype == bool or dtype in _INT_MAX:
        top = 1 if dtype == bool else _INT_MAX[dtype]
        if value != int(value) or not 0 <= value <= top:
            raise ValueError(f"pad_value must be an integer in [0, {top}] for a "
                             f"{dtype} image; got {value!r}. Give it on the "
                             "image's own scale, e.g. 0 for black.")
    return value


def rescale_to_unit(image):
    """Min-max rescale an image to float32 on [0, 1].

    Accepts any real dtype (also int16/int32 data such as Hounsfield units).
    A constant image has no range and becomes all zeros (never NaN).

    Parameters
    ----------
    image : (M, N) array_like

    Returns
    -------
    out : (M, N) ndarray of float32
        ``(image - min) / (max - min)``.

    Raises
    ------
    ValueError
        If the image contains NaN or infinite values.

    Examples
    --------
    >>> rescale_to_unit(np.array([[10, 20, 30]], dtype=np.int16)).tolist()
    [[0.0, 0.5, 1.0]]
    """
    array = np.asarray(image)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"image must hold real numbers; got dtype {array.dtype}.")
    work = _check(array.astype(np.float64))  # astype made a private copy
    low, high = work.min(), work.max()
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("image contains NaN or infinite values; replace them "
                         "first, e.g. np.nan_to_num(image).")
    if high == low:
        return np.zeros(work.shape, dtype=np.float32)
    work -= low
    work /= high - low
    return work.astype(np.float32)


def rescale_to_symmetric(image):
    """Min-max rescale an image to float32 on [-1, 1].

    Defined as ``2 * rescale_to_unit(image) - 1``, so a constant image
    becomes all -1 (its minimum), consistently with :func:`rescale_to_unit`.

    Parameters
    ----------
    image : (M, N) array_like

    Returns
    -------
    out : (M, N) ndarray of float32

    Examples
    --------
    >>> rescale_to_symmetric(np.array([[0, 5, 10]], dtype=np.uint8)).tolist()
    [[-1.0, 0.0, 1.0]]
    """
    return rescale_to_unit(image) * np.float32(2) - np.float32(1)


def split_into_tiles(image, rows, cols):
    """Cut an image into a ``rows`` x ``cols`` grid of equal tiles.

    Useful to multiply scarce data: each tile can be used as a sample (keep
    tiles of one image in the same split to avoid leakage). Tiles are
    ``M // rows`` by ``N // cols`` pixels; the remainder rows at the bottom
    and columns at the right (``M % rows`` and ``N % cols``) are dropped so
    that all tiles have the same shape.

    Parameters
    ----------
    image : (M, N) ndarray
        Any supported image.
    rows, cols : int
        Grid size, at most ``M`` and ``N``.

    Returns
    -------
    tiles : (rows * cols, M // rows, N // cols) ndarray
        Row-major order: tile ``r * cols + c`` is grid cell ``(r, c)``.

    Examples
    --------
    >>> split_into_tiles(np.arange(16).reshape(4, 4).astype(np.uint8), 2, 2)[1].tolist()
    [[2, 3], [6, 7]]
    """
    image = _check(image)
    rows = check_positive_int(rows, name="rows")
    cols = check_positive_int(cols, name="cols")
    height, width = image.shape
    if rows > height or cols > width:
        raise ValueError(f"a {rows} x {cols} grid needs an image of at least {rows} x "
                         f"{cols} pixels; got shape {image.shape}. Use fewer tiles.")
    tile_h, tile_w = height // rows, width // cols
    grid = image[:rows * tile_h, :cols * tile_w].reshape(rows, tile_h, cols, tile_w)
    return np.ascontiguousarray(grid.swapaxes(1, 2)).reshape(rows * cols, tile_h, tile_w)
