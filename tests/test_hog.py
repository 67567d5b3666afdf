"""Tests for xray_features.hog: the fast HOG against scikit-image's reference."""

import pickle

import cv2
import numpy as np
import pytest
from skimage.feature import hog as skimage_hog
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from xray_features.hog import HOGFeatures, _orientation_bins, hog_features
from xray_features.preprocess import to_float32

# Measured worst difference to skimage.feature.hog given float32 is 1.2e-7, and
# 3.3e-7 to a float64 reference (python -m benchmarks.bench.bench_reference).
TOLERANCE = 1e-6


def smooth_image(shape, seed=0):
    """uint8 image with gradients in every direction and many flat pixels."""
    field = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    field = cv2.GaussianBlur(field, (0, 0), 2)
    field = (field - field.min()) / (field.max() - field.min())
    return (field * 255).astype(np.uint8)


def stripes(shape=(64, 64), period=8):
    """Vertical stripes: gradients along the columns only (0 degrees)."""
    image = np.zeros(shape, dtype=np.uint8)
    image[:, ::period] = 255
    return image


def pictures(shape):
    rng = np.random.default_rng(sum(shape))
    grid = stripes(shape, 6).astype(np.float32) / 255
    grid[::5] = 0.5  # axis-aligned and diagonal gradients on bin edges
    return {"uint8": smooth_image(shape), "noise": rng.random(shape),
            "uint16": rng.integers(0, 65536, shape, dtype=np.uint16), "grid": grid}


PARAMETER_SETS = [
    dict(orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3), block_norm="L2-Hys"),
    dict(orientations=8, pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L1"),
    dict(orientations=6, pixels_per_cell=(7, 7), cells_per_block=(2, 2), block_norm="L2"),
    dict(orientations=7, pixels_per_cell=(9, 5), cells_per_block=(1, 2),
         block_norm="L1-sqrt", transform_sqrt=True),
    dict(orientations=12, pixels_per_cell=(6, 10), cells_per_block=(2, 3),
         block_norm="L2-Hys"),
    dict(orientations=4, pixels_per_cell=(4, 4), cells_per_block=(1, 1), block_norm="L1"),
]


@pytest.mark.parametrize("params", PARAMETER_SETS)
@pytest.mark.parametrize("shape", [(64, 64), (100, 77), (65, 93)])
def test_fast_hog_equals_skimage(params, shape):
    for name, image in pictures(shape).items():
        expected = skimage_hog(to_float32(image), **params)
        fast = hog_features(image, image_size=shape, **params)
        assert fast.dtype == np.float32 and fast.shape == expected.shape
        np.testing.assert_allclose(fast, expected, rtol=0, atol=TOLERANCE, err_msg=name)


@pytest.mark.parametrize("size", [128, 224])
def test_fast_hog_equals_skimage_at_working_sizes(size):
    image = smooth_image((size, size), seed=size)
    for cell in (8, 16):
        params = dict(pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
        np.testing.assert_allclose(hog_features(image, image_size=size, **params),
                                   skimage_hog(to_float32(image), **params),
                                   rtol=0, atol=TOLERANCE)


def test_method_skimage_is_the_reference():
    image = smooth_image((80, 90), seed=3)
    expected = skimage_hog(to_float32(cv2.resize(to_float32(image), (64, 64),
                                                 interpolation=cv2.INTER_AREA)),
                           orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
                           block_norm="L2-Hys")
    np.testing.assert_array_equal(hog_features(image, image_size=64, method="skimage"),
                                  expected.astype(np.float32))


@pytest.mark.parametrize("orientations", [4, 8, 9, 14])
def test_axis_shortcut_and_masked_path_bin_alike(orientations):
    # The fast path relies on cv2.cartToPolar being exact on the axes; the
    # masked path does not. Both must bin every pixel the same way.
    image = to_float32(pictures((48, 48))["grid"]) + to_float32(smooth_image((48, 48))) / 4
    g_row = np.zeros_like(image)
    g_col = np.zeros_like(image)
    g_row[1:-1] = image[2:] - image[:-2]
    g_col[:, 1:-1] = image[:, 2:] - image[:, :-2]
    assert (g_row == 0).sum() > 50 and (g_col == 0).sum() > 50
    fast = _orientation_bins(g_row, g_col, orientations, axes_exact=True)
    masked = _orientation_bins(g_row, g_col, orientations, axes_exact=False)
    moving = fast[0] > 0
    np.testing.assert_array_equal(fast[1][moving], masked[1][moving])
    np.testing.assert_allclose(fast[0], masked[0], rtol=1e-6)


@pytest.mark.parametrize("orientations, horizontal_bin", [(9, 4), (8, 4), (6, 3)])
def test_stripes_put_the_mass_in_the_expected_bin(orientations, horizontal_bin):
    for image, expected in ((stripes(), 0), (stripes().T, horizontal_bin)):
        features = hog_features(image, orientations=orientations, image_size=64)
        per_bin = features.reshape(-1, orientations).sum(axis=0)
        assert per_bin.argmax() == expected
        assert per_bin[expected] > 0.9 * per_bin.sum()


def test_rotating_by_90_degrees_shifts_the_bins_by_half():
    image = smooth_image((96, 96), seed=7)
    kwargs = dict(orientations=8, pixels_per_cell=(16, 16), image_size=96)
    per_bin = hog_features(image, **kwargs).reshape(-1, 8).sum(axis=0)
    rotated = hog_features(np.rot90(image), **kwargs).reshape(-1, 8).sum(axis=0)
    assert per_bin.max() < 0.5 * per_bin.sum()  # mass spread over the bins
    np.testing.assert_allclose(rotated, np.roll(per_bin, 4), rtol=1e-4)


def test_constant_images_give_zeros():
    for image in (np.zeros((50, 70), np.uint8), np.full((128, 128), 0.7)):
        features = hog_features(image)
        assert features.shape == (1764,)
        assert np.isfinite(features).all() and not features.any()


def test_same_picture_in_every_dtype_gives_the_same_features():
    image = smooth_image((100, 100), seed=4)
    expected = hog_features(image)
    for other in (image.astype(np.uint16) * 257, image / 255.0,
                  image.astype(np.float32) / 255):
        np.testing.assert_allclose(hog_features(other), expected, atol=1e-7)


def test_feature_count_names_and_order():
    extractor = HOGFeatures()
    names = extractor.get_feature_names_out()
    assert len(names) == len(set(names)) == 7 * 7 * 4 * 9 == 1764
    assert names[0] == "hog_b00_c0_o0" and names[9] == "hog_b00_c1_o0"
    assert names[-1] == "hog_b48_c3_o8"
    extractor = HOGFeatures(image_size=(64, 96), pixels_per_cell=8, cells_per_block=3,
                            orientations=12)
    names = extractor.get_feature_names_out()
    assert len(names) == len(set(names)) == 6 * 10 * 9 * 12
    images = [smooth_image((50, 60)), smooth_image((200, 120))]  # any input size
    assert extractor.fit_transform(images).shape == (2, len(names))


def test_estimator_checks_that_apply_to_image_transformers():
    extractor = HOGFeatures(pixels_per_cell=(8, 8), block_norm="L1")
    check_get_params_invariance("HOGFeatures", extractor)
    check_set_params("HOGFeatures", extractor)
    check_no_attributes_set_in_init("HOGFeatures", extractor)
    copy = clone(extractor)
    assert copy.get_params() == extractor.get_params() and copy is not extractor


def test_pickle_round_trip_gives_the_same_features():
    images = np.stack([smooth_image((64, 64), seed=s) for s in range(3)])
    extractor = HOGFeatures(image_size=64).fit(images)
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(restored.transform(images), extractor.transform(images))


@pytest.mark.parametrize("params, match", [
    ({"orientations": 0}, "orientations must be an integer >= 1; got 0"),
    ({"pixels_per_cell": (0, 8)}, r"pixels_per_cell\[0\] \(rows\) must be an integer >= 1"),
    ({"cells_per_block": "2"},
     r"cells_per_block must be a positive int or a \(rows, columns\) pair .*; got '2'"),
    ({"block_norm": "L3"}, r"block_norm must be one of \('L1', 'L1-sqrt', 'L2', 'L2-Hys'\)"),
    ({"method": "opencv"}, "method must be one of"),
    ({"transform_sqrt": "no"}, "transform_sqrt must be True or False"),
    ({"image_size": 24}, r"image_size \(24, 24\) is too small .* needs at least \(32, 32\)"),
])
def test_invalid_parameters_are_rejected(params, match):
    image = smooth_image((64, 64))
    with pytest.raises(ValueError, match=match):
        hog_features(image, **params)
    with pytest.raises(ValueError, match=match):
        HOGFeatures(**params).fit([image])


def test_invalid_images_are_rejected():
    with pytest.raises(ValueError, match="values must lie in"):
        hog_features(np.full((32, 32), -1.0))
    with pytest.raises(ValueError, match="NaN"):
        hog_features(np.full((32, 32), np.nan))
    with pytest.raises(TypeError, match="dtype"):
        hog_features(np.zeros((32, 32), dtype=np.int32))
