"""Uniform local binary patterns: the maths behind
:func:`xray_features.texture.lbp_histogram`.

Two vectorised implementations of scikit-image's ``'uniform'`` labels
(``skimage.feature.local_binary_pattern(image, P, R, 'uniform')``), both
written by hand because skimage loops over pixels and neighbours:

``_uniform_lbp_exact``
    float64 bilinear samples computed with skimage's operations in skimage's
    order, so every label equals skimage's, ties included (about 5x faster
    than skimage at 224 x 224).
``_uniform_lbp_fast``
    float32 samples from OpenCV, exact integer comparisons for neighbours on
    the pixel grid, and ties within :data:`TIE_TOLERANCE` grey levels counted
    as "neighbour >= centre" (about 5x faster again). It differs from skimage
    only at ties and near-ties that skimage's own float64 round-off decides;
    see :func:`xray_features.texture.lbp_histogram` for the measured sizes.
"""

import functools
import math

import cv2
import numpy as np

__all__ = ["TIE_TOLERANCE", "METHODS", "lbp_histograms"]

#: Samples within this many grey levels (on the 0-255 scale) of the centre
#: count as ties in the fast path. It must exceed float32 round-off on the
#: 0-255 scale (below 1e-4 after two interpolations) and covers the near-ties
#: skimage creates by rounding neighbour offsets to 5 decimals (e.g. 1e-5
#: where, with exact sqrt(2) offsets, the sample equals the centre).
TIE_TOLERANCE = 1e-3
METHODS = ("fast", "exact", "skimage")


def _neighbour_offsets(n_points, radius):
    """skimage's (row, column) offsets of the P neighbours, rounded to 5 decimals."""
    angles = 2 * np.pi * np.arange(n_points) / n_points
    return np.round(-radius * np.sin(angles), 5), np.round(radius * np.cos(angles), 5)


@functools.cache
def _sampling_plan(n_points, radius):
    """(margin, per neighbour (first row, first column, row weight, column
    weight)) of the bilinear samples, rows and columns counted from the
    image's corner for the pixel at (margin, margin); computed once per
    setting."""
    margin = math.ceil(radius)
    plan = []
    for d_row, d_col in zip(*(offsets.tolist()
                              for offsets in _neighbour_offsets(n_points, radius))):
        floor_r, floor_c = math.floor(d_row), math.floor(d_col)
        plan.append((margin + floor_r, margin + floor_c, d_row - floor_r, d_col - floor_c))
    return margin, tuple(plan)


@functools.cache
def _uniform_table(n_points):
    """Uniform label of every P-bit code (P <= 8): the number of ones if the
    code has at most two 0/1 transitions, else P + 1."""
    codes = np.arange(2 ** n_points)
    bits = (codes[:, None] >> np.arange(n_points)) & 1
    changes = (bits[:, 1:] != bits[:, :-1]).sum(axis=1)
    table = np.where(changes <= 2, bits.sum(axis=1), n_points + 1).astype(np.uint8)
    table = np.pad(table, (0, 256 - len(table)))   # cv2.LUT needs 256 entries
    table.flags.writeable = False   # shared by every call
    return table


def _uniform_lbp_exact(image, n_points, radius):
    """Uniform ('riu2') LBP labels of the pixels at least ``ceil(radius)``
    from the border: skimage's ``'uniform'`` labels there, exactly.

    Each neighbour is a vectorised bilinear sample computed with skimage's
    floating-point operations in skimage's order (including the round-off in
    the per-row and per-column weights), so even ties on intensity ramps
    resolve identically. Horizontal interpolations are shared by neighbours
    in the same column (e.g. up-right and down-right).
    """
    image = np.asarray(image, dtype=np.float64)
    margin = int(np.ceil(radius))
    height, width = image.shape[0] - 2 * margin, image.shape[1] - 2 * margin
    centre = image[margin:margin + height, margin:margin + width]
    offsets_r, offsets_c = (offsets[:, None] for offsets in
                            _neighbour_offsets(n_points, radius))
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


def _grey_scale(image):
    """Size of one grey level (of the 0-255 scale) in the image's units."""
    if image.dtype == np.uint16:
        return 257.0
    if image.dtype.kind == "f":   # [0, 1] by convention; larger ranges scale up
        return max(1.0, float(np.abs(image).max())) / 255.0
    return 1.0


def _prepare_fast(image):
    """(comparable image, float32 image, float32 image minus the tie tolerance)."""
    if image.dtype == bool:
        image = image.view(np.uint8)
    work = image.astype(np.float32)
    lowered = work - np.float32(TIE_TOLERANCE * _grey_scale(image))
    return image, work, lowered


def _uniform_lbp_fast(image, n_points, radius, prepared=None):
    """Uniform LBP labels as :func:`_uniform_lbp_exact`, in float32 with ties."""
    codes, table = _fast_codes(image, n_points, radius, prepared)
    return codes if table is None else cv2.LUT(codes, table)


def _fast_codes(image, n_points, radius, prepared=None):
    """(codes, table) of the fast path: the uniform labels of the inner pixels
    are ``table[codes]``, or ``codes`` themselves where ``table`` is None.

    A neighbour on the pixel grid is compared with the centre in the image's
    own integer values (exact); any other neighbour is a bilinear sample
    (``cv2.addWeighted`` along rows, shared by neighbours in the same column,
    then along columns) compared with ``centre - TIE_TOLERANCE`` grey levels.
    For P <= 8 the bits form a code, whose label is given by a lookup table
    (applied to the histogram of the codes rather than to every pixel).
    ``prepared`` is :func:`_prepare_fast`'s result, shared between radii.
    """
    image, work, lowered = prepared or _prepare_fast(image)
    if image.dtype.kind == "f":
        image = work   # compare floats in float32, with the tolerance below
    margin, plan = _sampling_plan(n_points, radius)
    height, width = image.shape[0] - 2 * margin, image.shape[1] - 2 * margin
    centre = image[margin:margin + height, margin:margin + width]
    threshold = lowered[margin:margin + height, margin:margin + width]
    # Each neighbour's 0/255 mask is folded into the code at once, so a few
    # buffers are reused instead of allocating a new array per neighbour.
    sample = np.empty((height, width), np.float32)
    masks = np.empty((2, height, width), np.uint8)   # this and the previous one
    if n_points <= 8:
        code = np.zeros((height, width), np.uint8)
    else:
        count_type = np.uint8 if n_points < 255 else np.uint16
        ones = np.zeros((height, width), count_type)
        changes = np.zeros((height, width), count_type)
    horizontal = {}
    for k, (r0, c0, w_row, w_col) in enumerate(plan):
        mask = masks[k % 2]
        if not (w_row or w_col):   # on the grid: compare pixel values
            reference = threshold if image is work else centre
            cv2.compare(image[r0:r0 + height, c0:c0 + width], reference, cv2.CMP_GE,
                        dst=mask)
        else:
            rows = work[:, c0:c0 + width]
            if w_col:
                if (c0, w_col) not in horizontal:
                    horizontal[c0, w_col] = cv2.addWeighted(
                        rows, 1 - w_col, work[:, c0 + 1:c0 + 1 + width], w_col, 0)
                rows = horizontal[c0, w_col]
            source = rows[r0:r0 + height]
            if w_row:
                source = cv2.addWeighted(source, 1 - w_row, rows[r0 + 1:r0 + 1 + height],
                                         w_row, 0, dst=sample)
            cv2.compare(source, threshold, cv2.CMP_GE, dst=mask)   # 255 where >=
        if n_points <= 8:
            np.bitwise_and(mask, np.uint8(1 << k), out=mask)
            np.bitwise_or(code, mask, out=code)
        else:
            ones += mask & 1
            if k:
                changes += mask != masks[(k - 1) % 2]
    if n_points <= 8:
        return code, _uniform_table(n_points)
    return np.where(changes <= 2, ones, count_type(n_points + 1)), None


def _label_histogram(labels, n_bins, table=None):
    """Normalised histogram of small non-negative integer labels, or of
    ``table[labels]`` for 8-bit codes and a 256-entry table."""
    if labels.dtype == np.uint8 and labels.size < 2 ** 24:   # float32 counts exact
        bins = n_bins if table is None else 256
        counts = cv2.calcHist([labels], [0], None, [bins], [0, bins]).ravel()
    else:
        counts = np.bincount(labels.ravel(), minlength=n_bins)
    if table is not None:
        counts = np.bincount(table[:len(counts)], weights=counts, minlength=n_bins)
    return counts.astype(np.float64) / labels.size


def lbp_histograms(image, radii, points, method):
    """Concatenated uniform-label histograms of a validated image (see
    :func:`xray_features.texture.lbp_histogram`)."""
    if image.dtype == bool:
        image = image.view(np.uint8)
    prepared = _prepare_fast(image) if method == "fast" else None
    histograms = []
    for radius, n_points in zip(radii, points):
        margin = int(np.ceil(radius))
        if min(image.shape) <= 2 * margin:
            raise ValueError(f"image of shape {image.shape} is too small for LBP radius "
                             f"{radius}: each side must exceed {2 * margin} pixels. Use a "
                             "larger image or smaller radii.")
        if method == "skimage":
            from skimage.feature import local_binary_pattern
            labels = local_binary_pattern(image, n_points, radius, "uniform")
            labels = labels[margin:-margin, margin:-margin].astype(np.intp)
            table = None
        elif method == "exact":
            labels, table = _uniform_lbp_exact(image, n_points, radius), None
        else:
            labels, table = _fast_codes(image, n_points, radius, prepared)
        histograms.append(_label_histogram(labels, n_points + 2, table))
    return np.concatenate(histograms)
