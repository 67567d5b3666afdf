import pickle

import numpy as np
import pytest
from scipy import stats
from skimage.feature import local_binary_pattern
from sklearn.base import clone
from sklearn.utils.estimator_checks import (check_get_params_invariance,
                                            check_no_attributes_set_in_init,
                                            check_set_params)

from xray_features._lbp import _neighbour_offsets, _uniform_lbp_exact, _uniform_lbp_fast
from xray_features.synthetic import make_phantom_dataset
from xray_features.texture import (GLCM_PROPERTIES, STATISTIC_NAMES, TextureFeatures,
                                   glcm_features, intensity_statistics, lbp_histogram)


def _test_images():
    """Noise, a bilinear-upsampled image (many exact ramps and ties), a phantom."""
    import cv2

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (40, 48), dtype=np.uint8)
    small = rng.integers(0, 256, (12, 10), dtype=np.uint8)
    upsampled = cv2.resize(small, (50, 60), interpolation=cv2.INTER_LINEAR)
    phantom = make_phantom_dataset(n_images=1, size=64, seed=3)[0][0]
    return [noise, upsampled, phantom]


# ---------------------------------------------------------------------- LBP
@pytest.mark.parametrize("method", ["fast", "exact"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_lbp_of_constant_image_is_all_flat(dtype, method):
    image = np.full((12, 12), 0.5 if dtype == np.float64 else 100, dtype=dtype)
    hist = lbp_histogram(image, radii=(1, 2), n_points=8, method=method)
    expected = np.zeros(10)
    expected[8] = 1.0   # all 8 neighbours >= centre: uniform label P
    np.testing.assert_array_equal(hist, np.concatenate([expected, expected]))


@pytest.mark.parametrize("n_points, radius", [(8, 1), (8, 2), (12, 1.5), (16, 3)])
def test_fast_lbp_counts_every_flat_value_as_ties(n_points, radius):
    # Float32 interpolation of a constant region must not fall below the
    # centre, whatever the grey level.
    side = 2 * int(np.ceil(radius)) + 3
    for value in range(256):
        image = np.full((side, side), value, dtype=np.uint8)
        assert (_uniform_lbp_fast(image, n_points, radius) == n_points).all(), value
        labels = _uniform_lbp_fast(image / 255.0, n_points, radius)
        assert (labels == n_points).all(), value


def test_lbp_of_vertical_step_edge_by_hand():
    # Columns 0-4 dark, 5-9 bright. Interior pixels (1..8) of column 5 see
    # darker left neighbours: bits right/up/down/... = 1,1,1,0,0,0,1,1 ->
    # uniform with 5 ones. Every other interior pixel sees no darker
    # neighbour: label 8.
    image = np.zeros((10, 10), dtype=np.uint8)
    image[:, 5:] = 255
    hist = lbp_histogram(image, radii=(1,))
    assert hist[5] == pytest.approx(8 / 64)
    assert hist[8] == pytest.approx(56 / 64)
    assert hist.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("n_points, radius", [(8, 1), (8, 2), (16, 2), (12, 1.5), (8, 3)])
def test_exact_lbp_labels_equal_skimage(n_points, radius):
    margin = int(np.ceil(radius))
    for image in _test_images():
        reference = local_binary_pattern(image, n_points, radius, "uniform")
        exact = _uniform_lbp_exact(image, n_points, radius)
        np.testing.assert_array_equal(exact, reference[margin:-margin, margin:-margin])


def _smallest_gap(image, n_points, radius):
    """Per inner pixel, the smallest |neighbour - centre| over the neighbours,
    with float64 bilinear samples (scipy's order-1 spline)."""
    from scipy.ndimage import map_coordinates

    margin = int(np.ceil(radius))
    rows, cols = np.mgrid[margin:image.shape[0] - margin, margin:image.shape[1] - margin]
    centre = image[margin:-margin, margin:-margin].astype(np.float64)
    gaps = [np.abs(map_coordinates(image.astype(np.float64), [rows + dr, cols + dc],
                                   order=1) - centre)
            for dr, dc in zip(*_neighbour_offsets(n_points, radius))]
    return np.min(gaps, axis=0)


@pytest.mark.parametrize("n_points, radius", [(8, 1), (8, 2), (16, 2), (12, 1.5)])
def test_fast_lbp_differs_from_skimage_only_at_ties(n_points, radius):
    # The documented bound of lbp_histogram: few pixels, each one where a
    # neighbour lies within the 0.001 grey-level tie tolerance of the centre.
    margin = int(np.ceil(radius))
    for image in _test_images():
        reference = local_binary_pattern(image, n_points, radius, "uniform")
        reference = reference[margin:-margin, margin:-margin]
        fast = _uniform_lbp_fast(image, n_points, radius)
        differ = fast != reference
        assert differ.mean() <= 5e-3
        assert (_smallest_gap(image, n_points, radius)[differ] < 1.5e-3).all()
        bins = n_points + 2
        assert np.abs(np.bincount(fast.ravel(), minlength=bins)
                      - np.bincount(reference.astype(int).ravel(), minlength=bins)).max() \
            <= 5e-3 * reference.size


def test_lbp_histogram_methods_agree_and_sum_to_one():
    kwargs = dict(radii=(1, 2, 3), n_points=(8, 8, 16))
    for image in _test_images():
        exact = lbp_histogram(image, method="exact", **kwargs)
        np.testing.assert_array_equal(exact, lbp_histogram(image, method="skimage", **kwargs))
        fast = lbp_histogram(image, **kwargs)
        assert fast.shape == exact.shape == (10 + 10 + 18,)
        np.testing.assert_allclose(fast, exact, atol=5e-3)
        np.testing.assert_allclose([fast[:10].sum(), fast[10:20].sum(), fast[20:].sum()], 1)


def test_fast_lbp_histogram_is_the_same_in_every_dtype():
    # Ties are decided by a tolerance on the 0-255 scale, not by round-off
    # (the exact path, like skimage, differs here between dtypes).
    image = _test_images()[1]   # many exact ties
    expected = lbp_histogram(image)
    for other in (image.astype(np.uint16) * 257, image / 255.0,
                  (image / np.float32(255)).astype(np.float32), image > 128):
        if other.dtype == bool:
            expected = lbp_histogram(other.astype(np.uint8))
        np.testing.assert_array_equal(lbp_histogram(other), expected)


@pytest.mark.parametrize("kwargs, match", [
    ({"radii": ()}, "radii must hold at least one"),
    ({"radii": (1, 1)}, "must not repeat"),
    ({"radii": (0,)}, "radii item must be a finite number > 0"),
    ({"n_points": (8, 8, 8)}, "one int per radius"),
    ({"n_points": 0}, "n_points item must be an integer >= 1"),
    ({"method": "numba"}, r"method must be one of \['fast', 'exact', 'skimage'\]"),
])
def test_lbp_histogram_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lbp_histogram(np.zeros((10, 10), dtype=np.uint8), **kwargs)


def test_lbp_histogram_rejects_image_smaller_than_neighbourhood():
    with pytest.raises(ValueError, match="too small for LBP radius 2"):
        lbp_histogram(np.zeros((4, 30), dtype=np.uint8), radii=(2,))


# --------------------------------------------------------------------- GLCM
def test_glcm_of_constant_image():
    features = glcm_features(np.full((20, 20), 77, dtype=np.uint8),
                             properties=("contrast", "dissimilarity", "homogeneity",
                                         "energy", "ASM", "correlation"))
    assert features.shape == (6, 3, 4)
    np.testing.assert_array_equal(features[0], 0)   # contrast
    np.testing.assert_array_equal(features[1], 0)   # dissimilarity
    np.testing.assert_array_equal(features[2], 1)   # homogeneity
    np.testing.assert_array_equal(features[3], 1)   # energy: a single cell holds all
    np.testing.assert_array_equal(features[4], 1)   # ASM
    np.testing.assert_array_equal(features[5], 1)   # correlation of no spread: 1


def test_glcm_contrast_by_hand():
    # The example of skimage's graycoprops documentation: levels 0..3 are
    # stored as 0, 64, 128, 192 so that quantising to 4 levels recovers them.
    levels = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 2, 2, 2], [2, 2, 3, 3]])
    image = (levels * 64).astype(np.uint8)
    contrast = glcm_features(image, distances=(1, 2), angles=(0, 90), levels=4,
                             properties=("contrast",))[0]
    # Distance 1, angle 0: 12 horizontal pairs whose squared level
    # differences are 0,1,0 | 0,1,0 | 4,0,0 | 0,1,0, a mean of 7 / 12.
    np.testing.assert_allclose(contrast, [[7 / 12, 1.0], [1.25, 2.75]])


def test_glcm_contrast_rises_with_noise():
    rng = np.random.default_rng(1)
    base = np.tile(np.linspace(60, 190, 64), (64, 1))
    contrasts = []
    for sigma in (0, 5, 20, 60):
        noisy = np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).astype(np.uint8)
        contrasts.append(glcm_features(noisy, properties=("contrast",)).mean())
    assert all(a < b for a, b in zip(contrasts, contrasts[1:])), contrasts


@pytest.mark.parametrize("distances, angles", [((1, 2, 4), (0, 45, 90, 135)),
                                               ((1, 3, 5), (0, 30, 60, 180, 210))])
def test_fast_glcm_equals_skimage(distances, angles):
    for image in _test_images():
        for levels in (8, 32):
            kwargs = dict(distances=distances, angles=angles, levels=levels,
                          properties=GLCM_PROPERTIES)
            np.testing.assert_allclose(glcm_features(image, **kwargs),
                                       glcm_features(image, method="skimage", **kwargs),
                                       rtol=1e-10, atol=1e-12)


def test_glcm_quantisation_is_the_same_across_dtypes():
    image = _test_images()[2]
    reference = glcm_features(image)
    np.testing.assert_allclose(glcm_features(image.astype(np.uint16) * 257), reference)
    np.testing.assert_allclose(glcm_features(image / 255.0), reference)


@pytest.mark.parametrize("kwargs, match", [
    ({"levels": 1}, "levels must be an integer >= 2"),
    ({"levels": 512}, "levels must be <= 256"),
    ({"distances": (0,)}, "distances item must be an integer >= 1"),
    ({"angles": (np.nan,)}, "angles item must be a finite number"),
    ({"properties": ("sharpness",)}, "properties item must be one of"),
])
def test_glcm_rejects_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        glcm_features(np.zeros((10, 10), dtype=np.uint8), **kwargs)


# --------------------------------------------------------- first-order stats
def _by_name(values):
    return dict(zip(STATISTIC_NAMES, values))


@pytest.mark.parametrize("scale", ["uint8", "float", "uint16"])
def test_intensity_statistics_by_hand(scale):
    # Values 0, 0.2, 0.4, 1.0 on the [0, 1] scale.
    image = np.array([[0, 51], [102, 255]], dtype=np.uint8)
    if scale == "float":
        image = image / 255.0
    elif scale == "uint16":
        image = image.astype(np.uint16) * 257
    s = _by_name(intensity_statistics(image))
    assert s["mean"] == pytest.approx(0.4)
    assert s["std"] == pytest.approx(np.sqrt(0.14))              # (.16 + .04 + 0 + .36) / 4
    assert s["skewness"] == pytest.approx(0.036 / 0.14 ** 1.5)   # m3 = .144 / 4
    assert s["kurtosis"] == pytest.approx(0.0392 / 0.14 ** 2 - 3)  # m4 = .1568 / 4
    assert s["entropy"] == pytest.approx(2.0)                    # four equal bins
    assert s["p25"] == pytest.approx(0.15)                       # 0 + 0.75 * 0.2
    assert s["p50"] == pytest.approx(0.3)
    assert s["p75"] == pytest.approx(0.55)                       # 0.4 + 0.25 * 0.6
    assert s["p01"] == pytest.approx(0.006)
    assert s["contrast"] == pytest.approx(0.982 - 0.006)
    assert s["michelson"] == pytest.approx(1.0)


def test_intensity_statistics_match_numpy_and_scipy():
    for image in _test_images():
        values = image.ravel() / 255.0
        s = _by_name(intensity_statistics(image))
        assert s["skewness"] == pytest.approx(stats.skew(values))
        assert s["kurtosis"] == pytest.approx(stats.kurtosis(values))
        np.testing.assert_allclose([s["p05"], s["p95"], s["p99"]],
                                   np.percentile(values, [5, 95, 99]))
        np.testing.assert_allclose(intensity_statistics(image / 255.0),
                                   intensity_statistics(image), atol=1e-9)


@pytest.mark.parametrize("image", [np.full((6, 7), 40, dtype=np.uint8),
                                   np.zeros((6, 7), dtype=np.uint8),
                                   np.full((6, 7), 0.25), np.ones((3, 3), dtype=bool)])
def test_intensity_statistics_of_constant_image_are_finite(image):
    s = _by_name(intensity_statistics(image))
    assert all(np.isfinite(list(s.values())))
    assert s["std"] == s["skewness"] == s["kurtosis"] == s["entropy"] == 0
    assert s["p01"] == s["p99"] == s["mean"]
    assert s["contrast"] == 0


# -------------------------------------------------------------- estimator
def test_texture_features_names_unique_and_match_length():
    extractor = TextureFeatures(image_size=48)
    names = extractor.get_feature_names_out()
    assert len(names) == len(set(names)) == 2 * 10 + 6 * 3 * 4 + 14
    assert names[0] == "lbp_r1_u00" and "lbp_r2_u09" in names
    assert "glcm_contrast_d1_a45" in names and "stat_mean" in names
    features = extractor.extract_one(_test_images()[0])
    assert features.shape == (len(names),) and features.dtype == np.float32


def test_texture_features_parts_and_any_input_size():
    extractor = TextureFeatures(image_size=32, parts=("stats", "lbp"), radii=(1,))
    names = list(extractor.get_feature_names_out())
    assert names[0].startswith("lbp_") and names[-1] == "stat_michelson"   # fixed order
    X = extractor.fit_transform([np.zeros((20, 30), np.uint8), np.ones((70, 50), np.uint8)])
    assert X.shape == (2, 10 + 14) and extractor.n_features_out_ == 24


def test_texture_features_same_picture_in_any_dtype():
    image = _test_images()[2]
    extractor = TextureFeatures(image_size=None)
    np.testing.assert_allclose(extractor.extract_one(image / 255.0),
                               extractor.extract_one(image), atol=1e-6)


def test_texture_features_methods_agree():
    images = np.stack([image[:40, :40] for image in _test_images()])
    exact = TextureFeatures(image_size=40, method="exact").transform(images)
    reference = TextureFeatures(image_size=40, method="skimage").transform(images)
    np.testing.assert_allclose(exact, reference, rtol=1e-5, atol=1e-6)
    fast = TextureFeatures(image_size=40).transform(images)
    np.testing.assert_allclose(fast[:, :20], exact[:, :20], atol=5e-3)   # LBP ties
    np.testing.assert_array_equal(fast[:, 20:], exact[:, 20:])


def test_default_texture_features_are_all_different():
    # The default GLCM distances give distinct offsets at every angle (1 and 2
    # would share (1, 1) at 45 degrees), so no feature copies another.
    image = np.random.default_rng(2).integers(0, 256, (128, 128), dtype=np.uint8)
    features = TextureFeatures().extract_one(image)
    assert len(np.unique(features)) == len(features) == 106
    offsets = {(round(d * np.sin(np.deg2rad(a))), round(d * np.cos(np.deg2rad(a))))
               for d in (1, 3, 5) for a in (0, 45, 90, 135)}
    assert len(offsets) == 12
    assert TextureFeatures().get_params()["distances"] == (1, 3, 5)


def test_texture_features_constant_images_are_finite():
    images = np.stack([np.zeros((30, 30), np.uint8), np.full((30, 30), 255, np.uint8)])
    X = TextureFeatures(image_size=30).transform(images)
    assert np.isfinite(X).all()


def test_texture_features_sklearn_conventions():
    extractor = TextureFeatures(image_size=24, levels=16)
    check_get_params_invariance("TextureFeatures", extractor)
    check_set_params("TextureFeatures", extractor)
    check_no_attributes_set_in_init("TextureFeatures", extractor)
    copy = clone(extractor)
    assert copy.get_params() == extractor.get_params()
    image = _test_images()[1]
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(restored.extract_one(image), extractor.extract_one(image))


@pytest.mark.parametrize("params, match", [
    ({"parts": ("lbp", "wavelet")}, "parts item must be one of"),
    ({"image_size": 4}, r"image_size\[0\] \(height\) must be an integer >= 8; got 4"),
    ({"image_size": (32, 32, 3)}, r"image_size must be a positive int or a \(height, width\)"),
    ({"method": "approximate"}, "method must be one of"),
])
def test_texture_features_reject_bad_parameters(params, match):
    extractor = TextureFeatures(**params)
    with pytest.raises(ValueError, match=match):
        extractor.fit(np.zeros((1, 16, 16), dtype=np.uint8))


@pytest.mark.parametrize("function", [lbp_histogram, glcm_features, intensity_statistics])
def test_nan_images_are_refused(function):
    image = np.full((10, 10), 0.5)
    image[3, 3] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        function(image)
