"""Edges of the bright structures: the classical X-ray threshold-and-edge recipe.

Bone and metal are bright on a radiograph. The recipe found in many
notebooks keeps the pixels brighter than a threshold and looks at the edges
of that region::

    _, mask = cv2.threshold(image, 150, 255, cv2.THRESH_BINARY)
    edges = cv2.Canny(mask, 100, 200)

Here the recipe is dtype-independent and robust to noise (optional Gaussian
smoothing first): :func:`bright_edge_map` gives the edge map,
:func:`bright_edge_features` a fixed-length description of it (bright area,
edge density and orientations, also per cell of a spatial grid) and
:class:`BrightEdgeFeatures` maps that over image stacks.

Threshold scale
---------------
``threshold`` is always given on the 0-255 scale (default 150), whatever the
image dtype: uint8 images are compared directly, uint16 images as if the
threshold were multiplied by 65535 / 255 = 257, and float images in [0, 1] as
if it were divided by 255. A pixel is *bright* when it is strictly above the
threshold (as with ``cv2.THRESH_BINARY``); a tolerance of 1e-3 grey levels
absorbs float rounding, so ``image``, ``image.astype(np.uint16) * 257`` and
``image / 255`` give the same bright region for a uint8 ``image``.
"""

import functools

import cv2
import numpy as np

from xray_features._base import ImageFeatures, working_image
from xray_features._validation import check_image, check_pair, check_positive_int, check_scalar
from xray_features.enhance import denoise_gaussian
from xray_features.preprocess import to_float32

__all__ = ["bright_edge_map", "bright_edge_features", "BrightEdgeFeatures"]

METHODS = ("canny", "morphological")
_TIE_TOLERANCE = 1e-3  # grey levels; see "Threshold scale" above
# On a 0/255 mask every boundary has a Sobel response of at least 2 * 255, so
# these thresholds find every boundary and nothing else.
_CANNY_LOW, _CANNY_HIGH = 100, 200
_SQUARE = np.ones((3, 3), dtype=np.uint8)


def _check_map_params(threshold, method, sigma):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    return {"threshold": check_scalar(threshold, "threshold", integer=False, low=0, high=255,
                                      hint="It is on the 0-255 scale for every dtype, e.g. 150."),
            "method": method,
            "sigma": check_scalar(sigma, "sigma", integer=False, low=0, high=20,
                                  hint="Use 0 for no smoothing, 1 against noise.")}


def _check_params(threshold, method, sigma, grid, orientations, cell_orientations,
                  image_size):
    params = _check_map_params(threshold, method, sigma)
    grid = check_pair(grid, name="grid")
    orientations = check_positive_int(orientations, name="orientations")
    if not isinstance(cell_orientations, (bool, np.bool_)):
        raise ValueError(f"cell_orientations must be True or False; got "
                         f"{cell_orientations!r}.")
    if image_size is not None:
        image_size = check_pair(image_size, name="image_size")
        if image_size[0] < max(grid[0], 3) or image_size[1] < max(grid[1], 3):
            raise ValueError(f"image_size {image_size} must be at least the grid "
                             f"{grid} and at least 3 pixels per side; got too small "
                             "a size. Increase image_size or use a coarser grid.")
    params.update(grid=grid, orientations=orientations,
                  cell_orientations=bool(cell_orientations), size=image_size)
    return params


def _grey_levels(image):
    """Any supported image as float32 on the 0-255 scale."""
    if image.dtype == np.uint8:
        return image.astype(np.float32)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(257)  # 65535 / 255
    if image.dtype == bool:
        return image.astype(np.float32) * np.float32(255)
    return to_float32(image) * np.float32(255)  # checks the [0, 1] range


def _edge_maps(grey, *, threshold, method, sigma):
    """Smoothed image, bright mask and edge mask (uint8, 255 where set) of a
    0-255 float32 image."""
    smooth = denoise_gaussian(grey, sigma=sigma) if sigma > 0 else grey
    bright = (smooth > threshold + _TIE_TOLERANCE).view(np.uint8) * np.uint8(255)
    if method == "canny":
        edges = cv2.Canny(bright, _CANNY_LOW, _CANNY_HIGH)
    else:  # inner boundary: bright pixels with a dark 8-neighbour
        edges = cv2.bitwise_and(bright, cv2.bitwise_not(cv2.erode(bright, _SQUARE)))
    return smooth, bright, edges


def bright_edge_map(image, *, threshold=150, method="canny", sigma=1.0):
    """Edges of the region brighter than ``threshold``.

    Recipe: (1) put the image on the 0-255 scale; (2) optionally smooth it
    with a Gaussian of ``sigma`` pixels so that noise does not make speckle
    edges; (3) keep the pixels strictly brighter than ``threshold``;
    (4) find the boundary of that region.

    Parameters
    ----------
    image : (M, N) ndarray
        Grayscale image: uint8 (0-255), uint16 (0-65535), float in [0, 1], or
        bool (True is bright).
    threshold : float, optional
        Brightness threshold on the 0-255 scale for every dtype (see the
        module notes): 150 keeps bone and metal on a typical radiograph.
    method : {'canny', 'morphological'}, optional
        'canny': ``cv2.Canny`` on the binary mask (thin edges, within one
        pixel of the boundary, on either side of it); 'morphological': the
        bright pixels that touch a dark pixel (``mask & ~erode(mask)``).
        The image border is not an edge in either case.
    sigma : float, optional
        Gaussian smoothing before thresholding, in pixels; 0 disables it.

    Returns
    -------
    edges : (M, N) ndarray of bool
        Empty for an image with no bright pixel or no dark pixel.

    Raises
    ------
    ValueError, TypeError
        For an invalid parameter, a float image outside [0, 1] or with NaN,
        or an unsupported dtype.

    See Also
    --------
    bright_edge_features : numbers that describe this map.

    Examples
    --------
    >>> image = np.zeros((9, 9), dtype=np.uint8)
    >>> image[2:7, 3:6] = 200
    >>> bright_edge_map(image, method="morphological", sigma=0).astype(int)[1:8]
    array([[0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 0, 1, 0, 1, 0, 0, 0],
           [0, 0, 0, 1, 0, 1, 0, 0, 0],
           [0, 0, 0, 1, 0, 1, 0, 0, 0],
           [0, 0, 0, 1, 1, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    """
    params = _check_map_params(threshold, method, sigma)
    return _edge_maps(_grey_levels(check_image(image)), **params)[2] > 0


def _orientation_bins(smooth, edges, orientations):
    """Flat indices of the edge pixels with a gradient, and their direction bins."""
    g_col = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3)
    g_row = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)
    index = np.flatnonzero(edges > 0)   # on bool: ten times faster than on uint8
    rows, cols = g_row.ravel()[index], g_col.ravel()[index]
    moving = (rows != 0) | (cols != 0)
    index, rows, cols = index[moving], rows[moving], cols[moving]
    angle = np.rad2deg(np.arctan2(rows, cols)) % 180  # 0 = along the columns
    bins = np.floor(angle * (orientations / 180.0) + 0.5).astype(np.intp) % orientations
    return index, bins


@functools.lru_cache(maxsize=64)   # keyed by image shape when image_size is None
def _grid_layout(height, width, grid):
    """Cell geometry of a grid on an image, computed once per setting:
    (flat indices of the cell corners in the (height + 1, width + 1)
    integral image, cell areas, cell row of each image row, cell column of
    each image column). Cells are as equal as possible."""
    row_starts = np.linspace(0, height, grid[0] + 1).astype(np.intp)
    col_starts = np.linspace(0, width, grid[1] + 1).astype(np.intp)
    corners = row_starts[:, None] * (width + 1) + col_starts[None, :]
    area = np.outer(np.diff(row_starts), np.diff(col_starts)).ravel()
    cell_row = np.repeat(np.arange(grid[0]), np.diff(row_starts))
    cell_col = np.repeat(np.arange(grid[1]), np.diff(col_starts))
    for array in (corners, area, cell_row, cell_col):
        array.flags.writeable = False
    return corners, area, cell_row, cell_col


def _edge_features(image, *, threshold, method, sigma, grid, orientations,
                   cell_orientations, size):
    """Feature vector of one validated image with validated parameters."""
    grey = _grey_levels(working_image(image, size))
    height, width = grey.shape
    if height < max(grid[0], 3) or width < max(grid[1], 3):
        raise ValueError(f"image of shape {grey.shape} is smaller than the grid {grid} "
                         "(or than 3 pixels); set image_size, e.g. 128, or use a "
                         "coarser grid.")
    smooth, bright, edges = _edge_maps(grey, threshold=threshold, method=method,
                                       sigma=sigma)
    corners, area, cell_row, cell_col = _grid_layout(height, width, grid)
    depth = cv2.CV_32S if 255 * height * width < 2 ** 31 else cv2.CV_64F

    def cell_counts(mask):
        # Integral image: the count of every cell from its four corners.
        total = cv2.integral(mask, sdepth=depth).ravel()[corners]
        cells = total[1:, 1:] - total[:-1, 1:] - total[1:, :-1] + total[:-1, :-1]
        return cells.ravel() / 255.0

    bright_cells, edge_cells = cell_counts(bright), cell_counts(edges)
    n_pixels, n_bright, n_edges = height * width, bright_cells.sum(), edge_cells.sum()
    n_regions = cv2.connectedComponents(bright, connectivity=8)[0] - 1
    index, bins = _orientation_bins(smooth, edges, orientations)
    histogram = np.bincount(bins, minlength=orientations) / max(len(bins), 1)
    head = [n_bright / n_pixels, n_edges / n_pixels, n_edges / max(n_bright, 1),
            float(n_regions)]
    per_cell = [bright_cells / area, edge_cells / area]
    if cell_orientations:
        cell = cell_row[index // width] * grid[1] + cell_col[index % width]
        counts = np.bincount(cell * orientations + bins,
                             minlength=grid[0] * grid[1] * orientations)
        per_cell.append(counts.reshape(-1, orientations) / area[:, None])
    cells = np.column_stack(per_cell).ravel()
    return np.concatenate([head, histogram, cells]).astype(np.float32)


def _feature_names(grid, orientations, cell_orientations):
    width = len(str(orientations - 1))
    orient = [f"orient_{k:0{width}d}" for k in range(orientations)]
    names = ["edge_bright_fraction", "edge_density", "edge_per_bright",
             "edge_bright_regions"] + [f"edge_{name}" for name in orient]
    per_cell = ["bright", "density"] + (orient if cell_orientations else [])
    for row in range(grid[0]):
        for col in range(grid[1]):
            names += [f"edge_cell_r{row}_c{col}_{name}" for name in per_cell]
    return names


def bright_edge_features(image, *, threshold=150, method="canny", sigma=1.0, grid=(4, 4),
                         orientations=8, cell_orientations=False, image_size=128):
    """Describe the bright structures of an image and their edges.

    Recipe: (1) resize to ``image_size``; (2) compute the bright mask and its
    edge map as in :func:`bright_edge_map`; (3) measure them globally;
    (4) measure them again in each cell of a ``grid`` so that where the
    bright structures lie is kept.

    Parameters
    ----------
    image : (M, N) ndarray
        Grayscale image (uint8, uint16, float in [0, 1] or bool).
    threshold, method, sigma
        See :func:`bright_edge_map`; ``sigma`` is in working-size pixels.
    grid : int or (int, int), optional
        Rows and columns of the spatial grid (cells as equal as possible).
    orientations : int, optional
        Bins of the unsigned gradient direction at edge pixels over [0, 180)
        degrees, centred on 0: bin ``k`` covers ``k * 180 / orientations``
        degrees plus or minus half a bin. 0 degrees is a gradient along the
        columns (a vertical edge), 90 along the rows (a horizontal edge).
        Directions come from a 3 x 3 Sobel filter of the smoothed image.
    cell_orientations : bool, optional
        Also give an orientation histogram for each grid cell.
    image_size : int, (int, int) or None, optional
        Working size (rows, columns), ignoring the aspect ratio; None keeps
        the image's size (the feature count does not depend on it). The
        image is resized as float32 on [0, 1] (see
        :func:`xray_features._base.working_image`), then put on the 0-255
        scale.

    Returns
    -------
    features : (F,) ndarray of float32
        In this order (names from ``BrightEdgeFeatures.get_feature_names_out``):

        - ``edge_bright_fraction``: share of bright pixels;
        - ``edge_density``: share of edge pixels;
        - ``edge_per_bright``: edge pixels per bright pixel (0 without any),
          high for thin, broken or irregular bright structures;
        - ``edge_bright_regions``: number of 8-connected bright regions;
        - ``edge_orient_k``: share of the edge pixels in orientation bin
          ``k`` (sums to 1, or all 0 without edges);
        - per cell, row by row: ``edge_cell_r{i}_c{j}_bright`` and
          ``_density`` (shares of the cell's pixels), then, with
          ``cell_orientations``, ``_orient_k``: edge pixels of bin ``k`` per
          cell pixel (they sum to the cell's edge density).

        ``F = 4 + orientations + rows * cols * (2 + orientations *
        cell_orientations)``: 44 with the defaults.

    Raises
    ------
    ValueError, TypeError
        As :func:`bright_edge_map`; also for an image smaller than the grid
        when ``image_size`` is None.

    Examples
    --------
    >>> image = np.zeros((64, 64), dtype=np.uint8)
    >>> image[:, 24:40] = 220                     # a vertical bright bar
    >>> features = bright_edge_features(image, grid=(1, 2), image_size=None)
    >>> [round(float(v), 3) for v in features[:4]]  # fraction, density, per bright, regions
    [0.25, 0.031, 0.125, 1.0]
    >>> int(features[4:12].argmax())              # vertical edges: gradient at 0 degrees
    0
    """
    params = _check_params(threshold, method, sigma, grid, orientations, cell_orientations,
                           image_size)
    return _edge_features(check_image(image), **params)


class BrightEdgeFeatures(ImageFeatures):
    """Bright-region and edge features as a scikit-learn transformer.

    Maps :func:`bright_edge_features` over a stack or sequence of images.

    Parameters
    ----------
    threshold : float, default=150
        On the 0-255 scale for every dtype.
    method : {'canny', 'morphological'}, default='canny'
    sigma : float, default=1.0
    grid : int or (int, int), default=(4, 4)
    orientations : int, default=8
    cell_orientations : bool, default=False
    image_size : int, (int, int) or None, default=128
        See :func:`bright_edge_features`.

    Attributes
    ----------
    n_features_out_ : int
        Set by ``fit``: the number of features (44 with the defaults).

    Examples
    --------
    >>> images = np.zeros((2, 32, 32), dtype=np.uint8)
    >>> images[1, 8:24, 8:24] = 255
    >>> extractor = BrightEdgeFeatures(grid=2, sigma=0, image_size=None)
    >>> X = extractor.fit_transform(images)
    >>> X.shape, X[:, 0].tolist()
    ((2, 20), [0.0, 0.25])
    >>> extractor.get_feature_names_out()[[0, 12]].tolist()
    ['edge_bright_fraction', 'edge_cell_r0_c0_bright']
    """

    def __init__(self, *, threshold=150, method="canny", sigma=1.0, grid=(4, 4),
                 orientations=8, cell_orientations=False, image_size=128):
        self.threshold = threshold
        self.method = method
        self.sigma = sigma
        self.grid = grid
        self.orientations = orientations
        self.cell_orientations = cell_orientations
        self.image_size = image_size

    def _params(self):
        return _check_params(self.threshold, self.method, self.sigma, self.grid,
                             self.orientations, self.cell_orientations, self.image_size)

    def _validate_params(self):
        self._params()

    def _working_size(self):
        if self.image_size is None:
            return None
        return check_pair(self.image_size, name="image_size")

    def _extract(self, image):
        return _edge_features(image, **self._params())

    def _feature_names(self):
        params = self._params()
        return _feature_names(params["grid"], params["orientations"],
                              params["cell_orientations"])
