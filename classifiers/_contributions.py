"""XGBoost feature contributions mapped back to the image.

XGBoost's ``pred_contribs`` splits each prediction's margin (logit) exactly
into one contribution per feature plus a bias (Tree SHAP). A feature that is
a sum over pixels gives its contribution back to those pixels, in proportion
to each pixel's share of the feature:

* bright-edge features (:mod:`xray_features.edges`): the share of bright
  pixels (``*_bright``, ``edge_bright_fraction``) goes to the bright
  pixels, edge densities, orientation shares, edges per bright pixel and
  region counts to the edge pixels -- of the cell for
  ``edge_cell_r{i}_c{j}_*``, of the whole image otherwise;
* HOG (``hog_b{k}_c{m}_o{o}``): to the pixels of cell ``m`` of block ``k``,
  weighted by their gradient magnitude (what the cell's histogram sums);
* features without a place in the image (LBP and GLCM texture, intensity
  statistics) stay off the map and appear in the top features by name.

The map is smoothed with a small Gaussian (1 pixel per 64 of the working
size) so that its peak marks a concentration of evidence rather than one
pixel.
"""

import re

import numpy as np

__all__ = ["contribution_maps", "feature_regions"]

_EDGE_CELL = re.compile(r"^edge_cell_r(\d+)_c(\d+)_")
_HOG_CELL = re.compile(r"^hog_b(\d+)_c(\d+)_o\d+$")


def _pair(value):
    return (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)


def _extractors(extractor):
    """(prefix, extractor) pairs of a single or combined extractor."""
    parts = getattr(extractor, "extractors", None)
    if parts is None:
        return [("", extractor)]
    return [(f"{name}__", part) for name, part in parts]


def _edge_regions(extractor, size):
    grid = _pair(extractor.grid)
    rows = np.linspace(0, 1, grid[0] + 1)
    cols = np.linspace(0, 1, grid[1] + 1)

    def region(name):
        key = "bright" if name.endswith("_bright") or name == "edge_bright_fraction" \
            else "edges"
        match = _EDGE_CELL.match(name)
        if not match:
            return key, (0.0, 1.0, 0.0, 1.0)
        r, c = int(match.group(1)), int(match.group(2))
        return key, (rows[r], rows[r + 1], cols[c], cols[c + 1])
    return region


def _hog_regions(extractor, size):
    work = _pair(extractor.image_size) if extractor.image_size is not None else size
    cell = _pair(extractor.pixels_per_cell)
    block = _pair(extractor.cells_per_block)
    n_cols = work[1] // cell[1] - block[1] + 1

    def region(name):
        match = _HOG_CELL.match(name)
        if not match:
            return None
        b, c = int(match.group(1)), int(match.group(2))
        row = b // n_cols + c // block[1]
        col = b % n_cols + c % block[1]
        return "gradient", (row * cell[0] / work[0], (row + 1) * cell[0] / work[0],
                            col * cell[1] / work[1], (col + 1) * cell[1] / work[1])
    return region


def _supports(finders, part_prefixes, image, size):
    """Pixel weight maps at the model's working size, by (prefix, key)."""
    import cv2

    from xray_features.utils import working_image
    from xray_features.edges import _edge_maps, _grey_levels

    maps = {}
    for prefix, part in part_prefixes:
        if prefix not in finders:
            continue
        kind = finders[prefix][0]
        work_size = size if getattr(part, "image_size", None) is None else \
            _pair(part.image_size)
        work = working_image(image, work_size)
        if kind == "edge":
            _, bright, edges = _edge_maps(_grey_levels(work), threshold=part.threshold,
                                          method=part.method, sigma=part.sigma)
            found = {"bright": bright.astype(np.float32), "edges": edges.astype(np.float32)}
        else:
            unit = work.astype(np.float32) if work.dtype.kind == "f" else \
                _grey_levels(work) / np.float32(255)
            gx = cv2.Sobel(unit, cv2.CV_32F, 1, 0, ksize=1)
            gy = cv2.Sobel(unit, cv2.CV_32F, 0, 1, ksize=1)
            found = {"gradient": np.hypot(gx, gy)}
        for key, value in found.items():
            if value.shape != tuple(size):
                value = cv2.resize(value, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            maps[(prefix, key)] = value
    return maps


def feature_regions(extractor, feature_names, size):
    """Where each feature lies: the pixel weights it sums and its region.

    Parameters
    ----------
    extractor : xray_features extractor (single or combined)
    feature_names : sequence of str
    size : (int, int)
        The model's working size.

    Returns
    -------
    regions : list of (prefix, key, (top, bottom, left, right)) or None
        ``key`` names the pixel weights ("bright", "edges", "gradient") of
        the extractor with that name prefix; the box is in fractions of the
        image. None for a feature without a place in the image.

    Examples
    --------
    >>> from xray_features import BrightEdgeFeatures
    >>> extractor = BrightEdgeFeatures(grid=(2, 2), image_size=32)
    >>> names = list(extractor.get_feature_names_out())
    >>> feature_regions(extractor, names, (32, 32))[names.index("edge_cell_r1_c0_bright")]
    ('', 'bright', (0.5, 1.0, 0.0, 0.5))
    >>> feature_regions(extractor, names, (32, 32))[1]
    ('', 'edges', (0.0, 1.0, 0.0, 1.0))
    """
    finders = _finders(extractor, size)
    regions = []
    for name in feature_names:
        found = None
        for prefix, (_, finder) in finders.items():
            if name.startswith(prefix):
                found = finder(name[len(prefix):])
                if found is not None:
                    found = (prefix, found[0], tuple(float(v) for v in found[1]))
                    break
        regions.append(found)
    return regions


def _finders(extractor, size):
    from xray_features.edges import BrightEdgeFeatures
    from xray_features.hog import HOGFeatures

    finders = {}
    for prefix, part in _extractors(extractor):
        if isinstance(part, BrightEdgeFeatures):
            finders[prefix] = ("edge", _edge_regions(part, size))
        elif isinstance(part, HOGFeatures):
            finders[prefix] = ("hog", _hog_regions(part, size))
    return finders


def booster_contributions(model, X, margin=None):
    """XGBoost's exact per-feature contributions to each class's logit.

    Returns
    -------
    contributions : (N, n_classes, F + 1) ndarray
        The last column is the bias: the base score, plus ``margin`` (the
        starting logits of a model that boosts from another's score).
    """
    import xgboost

    booster = model.model_.get_booster()
    best = model.best_iteration_
    kwargs = {"iteration_range": (0, best + 1)} if best is not None else {}
    matrix = xgboost.DMatrix(X) if margin is None else xgboost.DMatrix(X, base_margin=margin)
    contributions = booster.predict(matrix, pred_contribs=True, **kwargs)
    contributions = np.asarray(contributions, dtype=np.float64)
    if contributions.ndim == 2:  # binary: the logit of class 1; class 0 is its negative
        contributions = np.stack([-contributions, contributions], axis=1)
    return contributions  # (N, n_classes, F + 1), the last column the bias


def contribution_maps(model, images, *, top=10):
    """Per-class contribution maps at the model's working size.

    Returns
    -------
    maps : (N, n_classes, h, w) ndarray of float32
    proba : (N, n_classes) ndarray
    top_features : list of tuple of (str, float)
        Per image, the ``top`` features with the largest absolute
        contribution to the predicted class.
    """
    import cv2

    from xray_features.utils import check_image_size

    size = check_image_size(model.image_size)
    stack = model._prepare_images(images, size=size)
    # From the images themselves: a model may read some features at another size.
    X = model._features(images)
    margin = model._margin(images)
    proba = model._booster_proba(X, margin)
    contributions = booster_contributions(model, X, margin)[:, :, :-1]
    names = [str(n) for n in model.feature_names_]
    regions = feature_regions(model.extractor_, names, size)
    # Features sharing pixel weights and a box are added up first.
    groups = {}
    for index, region in enumerate(regions):
        if region is not None:
            groups.setdefault(region, []).append(index)
    finders = _finders(model.extractor_, size)
    parts = _extractors(model.extractor_)
    n, n_classes = contributions.shape[:2]
    maps = np.zeros((n, n_classes, *size), np.float32)
    sigma = max(1.0, min(size) / 64)
    for i in range(n):
        supports = _supports(finders, parts, stack[i], size)
        for (prefix, key, box), members in groups.items():
            weights = supports[(prefix, key)]
            r0, r1 = int(round(box[0] * size[0])), int(round(box[1] * size[0]))
            c0, c1 = int(round(box[2] * size[1])), int(round(box[3] * size[1]))
            r1, c1 = max(r1, r0 + 1), max(c1, c0 + 1)
            share = weights[r0:r1, c0:c1]
            total = float(share.sum())
            share = share / total if total > 0 else np.full(share.shape, 1.0 / share.size,
                                                             np.float32)
            amount = contributions[i][:, members].sum(axis=1)
            maps[i, :, r0:r1, c0:c1] += amount[:, None, None].astype(np.float32) * share
        for k in range(n_classes):
            maps[i, k] = cv2.GaussianBlur(maps[i, k], (0, 0), sigma)
    tops = []
    for i in range(n):
        chosen = contributions[i, int(np.argmax(proba[i]))]
        order = np.argsort(-np.abs(chosen), kind="stable")[:top]
        tops.append(tuple((names[j], float(chosen[j])) for j in order))
    return maps, proba, tops
