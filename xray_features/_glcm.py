"""Grey-level co-occurrence matrices and their Haralick properties: the maths
behind :func:`xray_features.texture.glcm_features`.

The fast path gives scikit-image's ``graycomatrix``/``graycoprops`` values
to floating-point round-off (the tests check this) several times faster:
the pairs of one offset are counted by ``cv2.calcHist`` on two shifted
views instead of a loop over pixels, each distinct offset once, and the
properties are matrix products over all matrices at once.
"""

import functools

import cv2
import numpy as np

__all__ = ["PROPERTIES", "glcm_offsets", "glcm"]

PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation",
              "ASM", "mean", "variance", "std", "entropy")


def _quantize(image, levels):
    """Map an image onto ``levels`` equal-width grey levels (uint8 codes)."""
    if image.dtype == bool:
        return image.astype(np.uint8) * np.uint8(levels - 1)
    if image.dtype == np.uint8:   # one table lookup instead of three passes
        return cv2.LUT(image, _quantize_table(levels))
    if image.dtype == np.uint16:
        return ((image.astype(np.uint32) * levels) >> 16).astype(np.uint8)
    work = np.clip(image.astype(np.float64), 0, 1)
    return np.minimum(work * levels, levels - 1).astype(np.uint8)


@functools.cache
def _quantize_table(levels):
    table = ((np.arange(256, dtype=np.uint32) * levels) >> 8).astype(np.uint8)
    table.flags.writeable = False
    return table


def glcm_offsets(distances, angles):
    """skimage's pixel offsets: ``round(sin(a) * d)`` rows, ``round(cos(a) * d)``
    columns, each (n_distances, n_angles); e.g. distance 2 at 45 degrees is
    the offset (1, 1), like distance 1."""
    theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[None, :]
    dist = np.asarray(distances, dtype=np.float64)[:, None]
    return tuple((np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(int)   # C round()
                 for x in (np.sin(theta) * dist, np.cos(theta) * dist))


def _cooccurrence(codes, levels, offsets):
    """Symmetric, normalised GLCMs of each (row, column) offset: (n, L, L)."""
    height, width = codes.shape
    counts = []
    for dr, dc in offsets:
        top, left = max(0, -dr), max(0, -dc)
        h, w = height - abs(dr), width - abs(dc)
        if h <= 0 or w <= 0:   # no pairs: an all-zero matrix, as skimage
            counts.append(np.zeros((levels, levels), np.float32))
            continue
        first = codes[top:top + h, left:left + w]
        second = codes[top + dr:top + dr + h, left + dc:left + dc + w]
        if h * w < 2 ** 24:   # float32 counts are exact below 2**24
            counts.append(cv2.calcHist([first, second], [0, 1], None, [levels, levels],
                                       [0, levels, 0, levels]))
        else:
            counts.append(np.bincount((first.astype(np.int64) * levels + second).ravel(),
                                      minlength=levels * levels).reshape(levels, levels))
    matrices = np.array(counts, dtype=np.float64)
    matrices += matrices.transpose(0, 2, 1)
    totals = matrices.sum(axis=(1, 2))
    totals[totals == 0] = 1
    matrices /= totals[:, None, None]
    return matrices


@functools.cache
def _weights(levels):
    """Grey levels and the per-cell weights of the properties that are
    weighted sums of the matrix, computed once per number of levels."""
    grey = np.arange(levels, dtype=np.float64)
    diff = (grey[:, None] - grey[None, :]).ravel()
    weights = {"contrast": diff ** 2, "dissimilarity": np.abs(diff),
               "homogeneity": 1.0 / (1.0 + diff ** 2)}
    for array in (grey, *weights.values()):
        array.flags.writeable = False
    return grey, weights


def _properties(matrices, properties):
    """graycoprops' formulas for (n, L, L) matrices: (n_properties, n).

    Written as matrix products over the flattened matrices, and with the
    marginal distribution for means and variances (the matrices are
    symmetric, so row and column statistics are equal).
    """
    n, levels = matrices.shape[:2]
    flat = matrices.reshape(n, levels * levels)
    grey, weights = _weights(levels)
    if {"mean", "variance", "std", "correlation"}.intersection(properties):
        marginal = matrices.sum(axis=2)
        mean = marginal @ grey
        centred = grey - mean[:, None]
        variance = np.einsum("ni,ni->n", marginal, centred ** 2)
    if {"ASM", "energy"}.intersection(properties):
        asm = np.einsum("nk,nk->n", flat, flat)
    results = []
    for prop in properties:
        if prop in weights:   # contrast, dissimilarity, homogeneity
            results.append(flat @ weights[prop])
        elif prop in ("ASM", "energy"):
            results.append(np.sqrt(asm) if prop == "energy" else asm)
        elif prop == "entropy":
            logs = -np.log(flat, where=flat != 0, out=np.zeros_like(flat))
            results.append(np.einsum("nk,nk->n", flat, logs))
        elif prop == "mean":
            results.append(mean)
        elif prop in ("variance", "std"):
            results.append(np.sqrt(variance) if prop == "std" else variance)
        else:   # correlation; skimage gives 1 where a standard deviation is ~0
            cov = np.einsum("ni,ni->n", np.matmul(matrices, centred[:, :, None])[:, :, 0],
                            centred)
            flat_std = np.sqrt(variance) < 1e-15
            results.append(np.where(flat_std, 1.0, cov / np.where(flat_std, 1.0, variance)))
    return np.stack(results)


def glcm(image, distances, angles, levels, properties, method):
    """(n_properties, n_distances, n_angles) properties of a validated image
    (see :func:`xray_features.texture.glcm_features`)."""
    codes = _quantize(image, levels)
    if method == "skimage":
        from skimage.feature import graycomatrix, graycoprops
        matrices = graycomatrix(codes, distances, np.deg2rad(angles), levels=levels,
                                symmetric=True, normed=True)
        return np.stack([graycoprops(matrices, prop) for prop in properties])
    unique, index = _offset_plan(distances, angles)
    values = _properties(_cooccurrence(codes, levels, unique), properties)
    return values[:, index].reshape(len(properties), len(distances), len(angles))


@functools.cache
def _offset_plan(distances, angles):
    """(distinct offsets, position of each (distance, angle) among them),
    computed once per setting: e.g. 45 degrees at distances 1 and 2 share
    (1, 1), whose matrix is then counted once."""
    rows, cols = glcm_offsets(distances, angles)
    pairs = list(zip(rows.ravel().tolist(), cols.ravel().tolist()))
    unique = sorted(set(pairs))
    index = np.array([unique.index(pair) for pair in pairs])
    index.flags.writeable = False
    return tuple(unique), index
