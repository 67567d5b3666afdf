"""Histogram of Oriented Gradients (HOG) at a fixed working size.

Recipe (Dalal & Triggs, as implemented by :func:`skimage.feature.hog`):

1. convert the image to float32 on [0, 1] and resize it to ``image_size``
   (:func:`xray_features._base.working_image`, shared with the other
   extractors);
2. optionally take the square root (power-law compression);
3. compute central-difference gradients along rows and columns (zero on the
   image border);
4. in each cell of ``pixels_per_cell`` pixels, add the gradient magnitudes of
   its pixels into ``orientations`` unsigned bins over [0, 180) degrees (each
   pixel votes into one bin, no interpolation) and divide by the cell area;
5. normalise every overlapping block of ``cells_per_block`` cells;
6. flatten in scikit-image's order: block row, block column, cell row in the
   block, cell column in the block, orientation.

Why a NumPy/OpenCV implementation? OpenCV 5 no longer ships
``cv2.HOGDescriptor``, and ``skimage.feature.hog`` loops over cells and
orientations in Cython: 7 ms of CPU time for a 224 x 224 image with 16-pixel
cells, 15 ms with 8-pixel cells. Here the orientation binning is one
vectorised pass: ``cv2.cartToPolar`` gives magnitudes and approximate angles
(error below 0.01 degree), a pixel whose angle lies within 0.05 degree of a
bin edge is re-binned with the exact ``np.arctan2`` expression scikit-image
uses, gradients exactly along an axis are binned analytically, and
``np.bincount`` accumulates the cells: 0.75 and 0.9 ms in those two cases.
The bin of every pixel is therefore the same as scikit-image's; values differ
only by float32 rounding (scikit-image accumulates cells in float32), below
1e-6 in the tests. ``method="skimage"`` calls the reference implementation.

Default parameters give 1764 features (128 x 128 working size, 16 x 16 cells,
2 x 2 blocks, 9 orientations): enough spatial detail for radiographs, few
enough for gradient-boosted trees on small datasets. 8 x 8 cells at 224 x 224
would give 26 244 features.
"""

import functools

import cv2
import numpy as np

from xray_features._base import ImageFeatures, working_image
from xray_features._validation import check_image, check_pair, check_positive_int
from xray_features.preprocess import to_float32

__all__ = ["hog_features", "HOGFeatures"]

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
METHODS = ("fast", "skimage")
# cv2.cartToPolar's angles are within 0.01 degree of np.arctan2 (measured over
# 10^6 random gradients); pixels closer than this to a bin edge are re-binned
# exactly.
_EDGE_MARGIN_DEG = 0.05
_EPS = 1e-5  # scikit-image's block-normalisation epsilon
_STRIP_PIXELS = 32768  # pixels per strip in _cell_histograms (fastest of 8k-1M)


def _check_params(orientations, pixels_per_cell, cells_per_block, block_norm,
                  transform_sqrt, image_size, method):
    """Validate the HOG parameters; return them normalised as a dict."""
    orientations = check_positive_int(orientations, name="orientations")
    cell = check_pair(pixels_per_cell, name="pixels_per_cell")
    block = check_pair(cells_per_block, name="cells_per_block")
    size = check_pair(image_size, name="image_size")
    if block_norm not in BLOCK_NORMS:
        raise ValueError(f"block_norm must be one of {BLOCK_NORMS}; got {block_norm!r}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}. 'fast' "
                         "gives scikit-image's values many times faster.")
    if not isinstance(transform_sqrt, (bool, np.bool_)):
        raise ValueError(f"transform_sqrt must be True or False; got {transform_sqrt!r}.")
    needed = (cell[0] * block[0], cell[1] * block[1])
    if size[0] < needed[0] or size[1] < needed[1]:
        raise ValueError(
            f"image_size {size} is too small for one block of {block} cells of "
            f"{cell} pixels, which needs at least {needed}. Increase image_size or "
            "reduce pixels_per_cell or cells_per_block.")
    return {"orientations": orientations, "cell": cell, "block": block,
            "block_norm": block_norm, "transform_sqrt": bool(transform_sqrt),
            "size": size, "method": method}


@functools.cache
def _axis_angles_exact():
    """Whether cv2.cartToPolar gives exactly 0/180 and 90/270 degrees on the axes.

    OpenCV's polynomial arctangent does (its ratio is exactly 0 there); this
    probe of the installed OpenCV, run once, guards the fast path against a
    change of implementation.
    """
    values = np.float32([1e-30, 1e-7, 0.3, 1.0, 255.0, 1e30] * 6)  # SIMD-length probe
    values = np.concatenate([values, -values])
    zeros = np.zeros_like(values)
    _, row_axis = cv2.cartToPolar(values, zeros, angleInDegrees=True)
    _, col_axis = cv2.cartToPolar(zeros, values, angleInDegrees=True)
    return bool(((row_axis == 0) | (row_axis == 180)).all()
                and ((col_axis == 90) | (col_axis == 270)).all())


def _orientation_bins(g_row, g_col, orientations, *, axes_exact=True):
    """Magnitude and scikit-image's orientation bin of every pixel.

    ``axes_exact`` says whether cv2.cartToPolar is exact on the axes (see
    :func:`_axis_angles_exact`); if not, axis gradients are binned with masks.
    """
    magnitude, angle = cv2.cartToPolar(g_col, g_row, angleInDegrees=True)
    angle -= np.float32(180) * (angle >= 180)  # unsigned: [0, 180]; exact subtraction
    scale = np.float32(orientations / 180.0)
    position = angle * scale
    floor = np.floor(position)
    fraction = position - floor
    bins = floor.astype(np.intp)
    margin = _EDGE_MARGIN_DEG * orientations / 180.0
    near_edge = (fraction < margin) | (fraction > 1.0 - margin)
    edges = (180.0 / orientations) * np.arange(orientations + 1)
    bin_90 = int(np.searchsorted(edges, 90.0, side="right")) - 1
    # Gradients along an axis are common in 8-bit images; scikit-image gives
    # them exactly 0 or 90 degrees. With exact cv2 angles, 0 lands in bin 0
    # here, and 90 lands in its bin unless it is near a bin edge (even counts).
    position_90 = np.float32(90) * scale
    floor_90 = float(np.floor(position_90))
    col_axis_ok = (axes_exact and floor_90 == bin_90
                   and margin < position_90 - floor_90 < 1.0 - margin)
    on_row_axis = g_row == 0
    near_edge &= ~on_row_axis
    if not axes_exact:
        np.putmask(bins, on_row_axis, 0)
    if not col_axis_ok:
        on_col_axis = g_col == 0
        near_edge &= ~on_col_axis
        np.putmask(bins, on_col_axis & ~on_row_axis, bin_90)
    index = np.flatnonzero(near_edge)
    if index.size:
        # The exact expression of scikit-image's _hoghistogram, in float64.
        rows = g_row.ravel()[index].astype(np.float64)
        cols = g_col.ravel()[index].astype(np.float64)
        exact = np.rad2deg(np.arctan2(rows, cols)) % 180
        exact_bins = np.searchsorted(edges, exact, side="right") - 1
        weights = np.hypot(rows, cols)
        outside = exact_bins >= orientations  # 180.0 after rounding: in no bin
        weights[outside] = 0
        exact_bins[outside] = 0
        bins.ravel()[index] = exact_bins
        magnitude = magnitude.astype(np.float64)
        magnitude.ravel()[index] = weights
    return magnitude, bins


def _strip_gradients(image, start, stop, width):
    """Central differences of rows ``start:stop`` (first ``width`` columns).

    As in scikit-image: ``g[r] = image[r + 1] - image[r - 1]``, zero on the
    image border.
    """
    height, full_width = image.shape
    g_row = np.zeros((stop - start, width), dtype=image.dtype)
    low, high = max(start, 1), min(stop, height - 1)
    if high > low:
        np.subtract(image[low + 1:high + 1, :width], image[low - 1:high - 1, :width],
                    out=g_row[low - start:high - start])
    g_col = np.zeros((stop - start, width), dtype=image.dtype)
    high = min(width, full_width - 1)
    if high > 1:
        np.subtract(image[start:stop, 2:high + 1], image[start:stop, :high - 1],
                    out=g_col[:, 1:high])
    return g_row, g_col


def _cell_histograms(image, orientations, cell):
    """(cell rows, cell columns, orientations) mean gradient magnitude per bin.

    Works in strips of whole cell rows of about ``_STRIP_PIXELS`` pixels so
    that temporaries stay small and in cache: on a 224 x 224 image,
    whole-image temporaries measured two to four times slower, mostly from
    the page faults of fresh large allocations.
    """
    c_row, c_col = cell
    n_rows, n_cols = image.shape[0] // c_row, image.shape[1] // c_col
    width = n_cols * c_col
    axes_exact = _axis_angles_exact()
    strip_cells = max(1, _STRIP_PIXELS // (c_row * width))
    col_offset = (np.arange(width) // c_col) * orientations
    row_offset = (np.arange(strip_cells * c_row) // c_row) * (n_cols * orientations)
    hist = np.empty((n_rows, n_cols, orientations))
    for first in range(0, n_rows, strip_cells):
        last = min(n_rows, first + strip_cells)
        g_row, g_col = _strip_gradients(image, first * c_row, last * c_row, width)
        magnitude, bins = _orientation_bins(g_row, g_col, orientations,
                                            axes_exact=axes_exact)
        bins += row_offset[:len(bins), None]
        bins += col_offset
        counts = np.bincount(bins.ravel(), weights=magnitude.ravel(),
                             minlength=(last - first) * n_cols * orientations)
        hist[first:last] = counts.reshape(last - first, n_cols, orientations)
    hist /= c_row * c_col
    return hist


def _normalize_blocks(hist, block, block_norm):
    """All overlapping blocks, normalised: (n_blocks_r, n_blocks_c, *block, n)."""
    # The blocks as one contiguous array (a stack of shifted views), which the
    # arithmetic below runs through faster than a sliding-window view.
    n_rows, n_cols = hist.shape[0] - block[0] + 1, hist.shape[1] - block[1] + 1
    blocks = np.stack([hist[r:r + n_rows, c:c + n_cols]
                       for r in range(block[0]) for c in range(block[1])], axis=2)
    blocks = blocks.reshape(n_rows, n_cols, block[0], block[1], hist.shape[2])
    axes = (2, 3, 4)
    if block_norm == "L1":
        return blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS)
    if block_norm == "L1-sqrt":
        return np.sqrt(blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + _EPS))
    out = blocks / np.sqrt((blocks ** 2).sum(axis=axes, keepdims=True) + _EPS ** 2)
    if block_norm == "L2-Hys":
        out = np.minimum(out, 0.2)
        out = out / np.sqrt((out ** 2).sum(axis=axes, keepdims=True) + _EPS ** 2)
    return out


def _hog(image, *, orientations, cell, block, block_norm, transform_sqrt, size, method):
    """HOG of one validated image with validated parameters."""
    work = to_float32(working_image(image, size))
    if method == "skimage":
        from skimage.feature import hog

        return hog(work, orientations=orientations, pixels_per_cell=cell,
                   cells_per_block=block, block_norm=block_norm,
                   transform_sqrt=transform_sqrt, feature_vector=True).astype(np.float32)
    if transform_sqrt:
        work = np.sqrt(work)
    hist = _cell_histograms(work, orientations, cell)
    return _normalize_blocks(hist, block, block_norm).astype(np.float32).ravel()


def _n_blocks(size, cell, block):
    return tuple(size[i] // cell[i] - block[i] + 1 for i in range(2))


def hog_features(image, *, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
                 block_norm="L2-Hys", transform_sqrt=False, image_size=128, method="fast"):
    """HOG descriptor of one image at a fixed working size.

    Parameters
    ----------
    image : (M, N) ndarray
        Grayscale image: uint8 (0-255), uint16 (0-65535) or float in [0, 1].
        It is converted to float32 on [0, 1] and resized (ignoring the aspect
        ratio) to ``image_size``, so the same picture in any dtype or size
        gives the same features.
    orientations : int, optional
        Number of unsigned orientation bins over [0, 180) degrees.
    pixels_per_cell : int or (int, int), optional
        Cell size in pixels (rows, columns).
    cells_per_block : int or (int, int), optional
        Block size in cells (rows, columns).
    block_norm : {'L2-Hys', 'L2', 'L1', 'L1-sqrt'}, optional
        Block normalisation, as in :func:`skimage.feature.hog`. 'L2-Hys'
        (L2, clip at 0.2, L2 again) is Dalal & Triggs' choice.
    transform_sqrt : bool, optional
        Take the square root of the image first (power-law compression).
    image_size : int or (int, int), optional
        Working size (rows, columns); an int gives a square.
    method : {'fast', 'skimage'}, optional
        'fast': the vectorised implementation of this module, equal to
        scikit-image's values up to float32 rounding and many times faster;
        'skimage': :func:`skimage.feature.hog` itself (the reference).

    Returns
    -------
    features : (F,) ndarray of float32
        ``F = n_blocks_row * n_blocks_col * cells_per_block[0] *
        cells_per_block[1] * orientations`` with
        ``n_blocks = image_size // pixels_per_cell - cells_per_block + 1``;
        1764 with the defaults. A constant image gives all zeros.

    Raises
    ------
    ValueError
        For an invalid parameter, or an ``image_size`` smaller than one block.
    TypeError
        For an unsupported image dtype.

    See Also
    --------
    HOGFeatures : the same as a scikit-learn transformer over image stacks.

    References
    ----------
    .. [1] Dalal, N. and Triggs, B., "Histograms of Oriented Gradients for
           Human Detection", CVPR 2005, doi:10.1109/CVPR.2005.177.

    Examples
    --------
    >>> image = np.zeros((64, 64), dtype=np.uint8)
    >>> image[:, ::8] = 255                      # vertical lines
    >>> features = hog_features(image, image_size=64)
    >>> features.shape
    (324,)
    >>> per_bin = features.reshape(-1, 9).sum(axis=0)
    >>> int(per_bin.argmax())                    # horizontal gradients: bin 0
    0
    """
    params = _check_params(orientations, pixels_per_cell, cells_per_block, block_norm,
                           transform_sqrt, image_size, method)
    return _hog(check_image(image), **params)


class HOGFeatures(ImageFeatures):
    """Histogram of Oriented Gradients as a scikit-learn transformer.

    Maps :func:`hog_features` over a stack or sequence of images of any size.

    Parameters
    ----------
    orientations : int, default=9
    pixels_per_cell : int or (int, int), default=(16, 16)
    cells_per_block : int or (int, int), default=(2, 2)
    block_norm : {'L2-Hys', 'L2', 'L1', 'L1-sqrt'}, default='L2-Hys'
    transform_sqrt : bool, default=False
    image_size : int or (int, int), default=128
    method : {'fast', 'skimage'}, default='fast'
        See :func:`hog_features`.

    Attributes
    ----------
    n_features_out_ : int
        Set by ``fit``: the number of features (1764 with the defaults).

    Notes
    -----
    Feature names are ``hog_b{block}_c{cell}_o{orientation}``: the block's
    row-major index (zero-padded), the cell's row-major index inside the
    block, and the orientation bin; bin ``k`` covers gradient directions
    ``[k, k + 1) * 180 / orientations`` degrees (0 = along the columns).

    Examples
    --------
    >>> images = np.random.default_rng(0).integers(0, 256, (3, 40, 50), dtype=np.uint8)
    >>> extractor = HOGFeatures(image_size=64)
    >>> extractor.fit_transform(images).shape
    (3, 324)
    >>> extractor.get_feature_names_out()[:2].tolist()
    ['hog_b0_c0_o0', 'hog_b0_c0_o1']
    """

    def __init__(self, *, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
                 block_norm="L2-Hys", transform_sqrt=False, image_size=128, method="fast"):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_size = image_size
        self.method = method

    def _params(self):
        return _check_params(self.orientations, self.pixels_per_cell, self.cells_per_block,
                             self.block_norm, self.transform_sqrt, self.image_size,
                             self.method)

    def _validate_params(self):
        self._params()

    def _working_size(self):
        return check_pair(self.image_size, name="image_size")

    def _extract(self, image):
        return _hog(image, **self._params())

    def _feature_names(self):
        params = self._params()
        n_blocks = np.prod(_n_blocks(params["size"], params["cell"], params["block"]))
        n_cells = params["block"][0] * params["block"][1]
        n_orient = params["orientations"]
        wb, wc, wo = (len(str(n - 1)) for n in (n_blocks, n_cells, n_orient))
        return [f"hog_b{b:0{wb}d}_c{c:0{wc}d}_o{o:0{wo}d}" for b in range(n_blocks)
                for c in range(n_cells) for o in range(n_orient)]
