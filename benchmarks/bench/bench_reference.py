"""How far the fast HOG and LBP are from scikit-image's, on named images.

Run ``python -m benchmarks.bench.bench_reference`` (about a minute). It prints:

* HOG: the largest absolute difference between
  :func:`xray_features.hog_features` and ``skimage.feature.hog``, over
  noise and smooth images of four shapes and six parameter sets: for
  float64 images with skimage in float64 (the reference without float32
  round-off), and for uint8 images with skimage given float32 (as the
  toolkit's ``method="skimage"``) or float64;
* LBP: the largest fraction of pixels whose uniform label from
  ``lbp_histogram(method="fast")`` differs from
  ``skimage.feature.local_binary_pattern``, per image kind (:data:`KINDS`),
  for uint8 and float inputs, at (P, R) = (8, 1), (8, 2), (16, 2).

The README's numbers and the tests that pin them
(``tests/test_reference_bounds.py``) come from this script.
"""

import argparse

import numpy as np

__all__ = ["hog_deviation", "lbp_differences", "make_image", "main"]

#: Image kinds: uniform noise; Gaussian-blurred noise (sigma 2 and 8 px);
#: bilinear up-sampling of a small random image (x8, x16); a linear ramp.
#: Smooth and ramp images hold many exact and near ties between a pixel and
#: its interpolated neighbours, where LBP implementations disagree.
KINDS = ("noise", "smooth-2", "smooth-8", "ramp-8", "ramp-16", "linear")
HOG_PARAMETERS = (
    dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L2-Hys"),
    dict(orientations=8, pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L1"),
    dict(orientations=6, pixels_per_cell=(7, 7), cells_per_block=(2, 2), block_norm="L2"),
    dict(orientations=7, pixels_per_cell=(9, 5), cells_per_block=(1, 2),
         block_norm="L1-sqrt", transform_sqrt=True),
    dict(orientations=12, pixels_per_cell=(6, 10), cells_per_block=(2, 3), block_norm="L2-Hys"),
    dict(orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L2-Hys"),
)
LBP_SETTINGS = ((8, 1), (8, 2), (16, 2))


def make_image(kind, shape, seed, *, continuous=False):
    """A test image of one of :data:`KINDS`: uint8, or float64 on [0, 1]
    without 8-bit quantisation when ``continuous``.

    Examples
    --------
    >>> make_image("ramp-8", (64, 48), 0).shape
    (64, 48)
    >>> make_image("smooth-2", (8, 8), 0, continuous=True).dtype
    dtype('float64')
    """
    import cv2

    rng = np.random.default_rng(seed)
    if kind == "noise":
        field = rng.random(shape)
    elif kind.startswith("smooth-"):
        field = cv2.GaussianBlur(rng.standard_normal(shape), (0, 0), int(kind[7:]))
    elif kind.startswith("ramp-"):
        factor = int(kind[5:])
        small = rng.random((max(2, shape[0] // factor), max(2, shape[1] // factor)))
        field = cv2.resize(small, shape[::-1], interpolation=cv2.INTER_LINEAR)
    elif kind == "linear":
        rows, cols = np.mgrid[:shape[0], :shape[1]]
        angle = rng.uniform(0, np.pi)
        field = np.cos(angle) * cols + np.sin(angle) * rows
    else:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    field = (field - field.min()) / (field.max() - field.min())
    return field if continuous else np.rint(field * 255).astype(np.uint8)


def hog_deviation(image, params, reference_dtype=np.float64):
    """Largest |fast HOG - skimage HOG| for one image; a uint8 image reaches
    skimage on [0, 1] in ``reference_dtype``, a float one as it is."""
    from skimage.feature import hog

    from xray_features.hog import hog_features

    reference_input = image.astype(reference_dtype) / 255 if image.dtype == np.uint8 else image
    reference = hog(reference_input, **params)
    fast = hog_features(image, image_size=image.shape, **params)
    return float(np.abs(fast.astype(np.float64) - reference).max())


def lbp_differences(image, n_points, radius):
    """Fraction of pixels whose uniform LBP label differs from skimage's."""
    from skimage.feature import local_binary_pattern

    from xray_features._lbp import _uniform_lbp_fast

    margin = int(np.ceil(radius))
    reference = local_binary_pattern(image, n_points, radius, "uniform")
    reference = reference[margin:-margin, margin:-margin]
    return float((_uniform_lbp_fast(image, n_points, radius) != reference).mean())


def _hog_worst(kinds, shapes, seeds, continuous, reference_dtype):
    worst = {}
    for kind in kinds:
        for shape in shapes:
            for seed in range(seeds):
                image = make_image(kind, shape, seed, continuous=continuous)
                for params in HOG_PARAMETERS:
                    worst[kind] = max(worst.get(kind, 0.0),
                                      hog_deviation(image, params, reference_dtype))
    return ", ".join(f"{kind} {value:.2e}" for kind, value in worst.items())


def main(argv=None):
    import warnings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="images per kind and shape")
    args = parser.parse_args(argv)
    shapes = ((64, 64), (100, 77), (128, 128), (224, 224))
    kinds = ("noise", "smooth-2")
    print(f"HOG, largest |fast - skimage|, shapes {shapes}, {len(HOG_PARAMETERS)} parameter "
          f"sets, {args.seeds} seeds per kind and shape:")
    print("  float64 images (not quantised), skimage in float64: "
          + _hog_worst(kinds, shapes, args.seeds, True, np.float64))
    print("  uint8 images, skimage given float32 (as the toolkit does): "
          + _hog_worst(kinds, shapes, args.seeds, False, np.float32))
    print("  uint8 images, skimage given float64: "
          + _hog_worst(kinds, shapes, args.seeds, False, np.float64))
    from skimage.feature import hog

    itself = max(float(np.abs(hog(image.astype(np.float32) / 255, **params)
                              - hog(image.astype(np.float64) / 255, **params)).max())
                 for kind in kinds for shape in shapes for seed in range(args.seeds)
                 for image in [make_image(kind, shape, seed)] for params in HOG_PARAMETERS)
    print(f"  skimage given float32 vs skimage given float64, same uint8 images: {itself:.2e}"
          " (8-bit gradients fall exactly on bin edges, binned differently in each dtype)")
    lbp_shapes = ((64, 64), (128, 128))
    print(f"\nLBP 'fast' vs skimage, largest fraction of pixels with another label "
          f"(shapes {lbp_shapes}, {args.seeds} seeds):")
    print("| image | input | " + " | ".join(f"P={p}, R={r}" for p, r in LBP_SETTINGS) + " |")
    print("|---|---|" + "---|" * len(LBP_SETTINGS))
    with warnings.catch_warnings():   # skimage warns about float input, which is the point
        warnings.simplefilter("ignore", UserWarning)
        for kind in KINDS:
            for as_float in (False, True):
                row = []
                for n_points, radius in LBP_SETTINGS:
                    worst = 0.0
                    for shape in lbp_shapes:
                        for seed in range(args.seeds):
                            image = make_image(kind, shape, seed)
                            image = image / 255.0 if as_float else image
                            worst = max(worst, lbp_differences(image, n_points, radius))
                    row.append(f"{100 * worst:.2f}%")
                print(f"| {kind} | {'float64' if as_float else 'uint8'} | "
                      + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
