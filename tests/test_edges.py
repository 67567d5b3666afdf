"""Tests for xray_features.edges: bright-region edge maps and features."""

import pickle

import cv2
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_set_params,
)

from xray_features.edges import BrightEdgeFeatures, bright_edge_features, bright_edge_map

METHODS = ["canny", "morphological"]


def bar_image(dtype=np.uint8):
    """A vertical bright bar (rows 8-55, columns 24-39) on a dark background."""
    image = np.full((64, 64), 40, dtype=np.uint8)
    image[8:56, 24:40] = 200
    return image


def blob_image(seed=0, size=64):
    """Smooth random bright blobs: edges in every direction."""
    field = np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32)
    field = cv2.GaussianBlur(field, (0, 0), 4)
    field = (field - field.min()) / (field.max() - field.min())
    return (field * 255).astype(np.uint8)


# --------------------------------------------------------------------------- edge map
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sigma", [0, 1.0])
def test_bar_has_edges_along_its_two_long_sides(method, sigma):
    edges = bright_edge_map(bar_image(), method=method, sigma=sigma)
    assert edges.dtype == bool and edges.shape == (64, 64)
    # Away from the bar's ends, each row has one edge pixel per side, within
    # one pixel of the boundary (columns 23|24 and 39|40), and nothing else.
    middle = edges[16:48]
    left = middle[:, 22:26].sum(axis=1)
    right = middle[:, 38:42].sum(axis=1)
    assert (left == 1).all() and (right == 1).all()
    assert middle.sum() == 2 * len(middle)
    assert not edges[:, :22].any() and not edges[:, 42:].any()
    assert not edges[10:54, 26:38].any()  # no edges inside the bar


def test_morphological_edges_are_the_inner_boundary():
    edges = bright_edge_map(bar_image(), method="morphological", sigma=0)
    expected = np.zeros((64, 64), dtype=bool)
    expected[8:56, 24:40] = True
    expected[9:55, 25:39] = False
    np.testing.assert_array_equal(edges, expected)


@pytest.mark.parametrize("method", METHODS)
def test_no_edges_below_threshold_or_when_all_bright(method):
    dark = np.full((32, 32), 150, dtype=np.uint8)  # equal to the threshold: not bright
    dark[5:20, 5:20] = 100
    assert not bright_edge_map(dark, method=method).any()
    bright = np.full((32, 32), 151, dtype=np.uint8)
    bright[5:20, 5:20] = 255
    assert not bright_edge_map(bright, method=method).any()  # no edges at the border


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sigma", [0, 1.0])
def test_same_picture_in_every_dtype_gives_the_same_edge_map(method, sigma):
    image = blob_image(seed=1)
    image[::7, ::5] = 150  # values exactly at the threshold
    image[3::7, ::5] = 151
    expected = bright_edge_map(image, method=method, sigma=sigma)
    assert expected.any()
    for other in (image.astype(np.uint16) * 257, image / 255.0,
                  (image / np.float32(255)).astype(np.float32)):
        np.testing.assert_array_equal(
            bright_edge_map(other, method=method, sigma=sigma), expected)


def test_threshold_is_on_the_0_255_scale_and_strict():
    image = np.zeros((16, 16), dtype=np.uint8)
    image[4:12, 4:12] = 151
    assert bright_edge_map(image, threshold=150, sigma=0).any()
    assert not bright_edge_map(image, threshold=151, sigma=0).any()
    assert bright_edge_map(image.astype(np.uint16) * 257, threshold=150, sigma=0).any()
    assert not bright_edge_map(image / 255, threshold=151, sigma=0).any()


def test_bool_image_true_is_bright():
    mask = bar_image() > 100
    np.testing.assert_array_equal(bright_edge_map(mask, sigma=0),
                                  bright_edge_map(bar_image(), sigma=0))


def test_smoothing_removes_speckle_edges():
    rng = np.random.default_rng(0)
    noisy = np.clip(rng.normal(120, 12, (64, 64)), 0, 255).astype(np.uint8)
    assert bright_edge_map(noisy, sigma=0).sum() > 20
    assert not bright_edge_map(noisy, sigma=2.0).any()


# --------------------------------------------------------------------------- features
def test_bar_features_have_hand_checked_values():
    features = bright_edge_features(bar_image(), grid=(1, 2), image_size=None, sigma=0,
                                    method="morphological")
    bright, edge_pixels = 48 * 16, 2 * 48 + 2 * 14
    np.testing.assert_allclose(features[:4], [bright / 4096, edge_pixels / 4096,
                                              edge_pixels / bright, 1.0], rtol=1e-6)
    # Cells: left half holds columns 24-31, right half columns 32-39.
    cells = features[12:].reshape(2, 2)  # (cell, [bright, density])
    np.testing.assert_allclose(cells[:, 0], [48 * 8 / 2048, 48 * 8 / 2048])
    np.testing.assert_allclose(cells[:, 1], [(48 + 14) / 2048, (48 + 14) / 2048])


def test_grid_cells_locate_the_bright_structure():
    image = np.zeros((64, 64), dtype=np.uint8)
    image[4:20, 40:60] = 255  # top-right quadrant only
    extractor = BrightEdgeFeatures(grid=2, sigma=0, image_size=None)
    row = dict(zip(extractor.get_feature_names_out(),
                   extractor.fit_transform(image[None])[0]))
    assert row["edge_cell_r0_c1_bright"] == pytest.approx(16 * 20 / 1024)
    for cell in ("r0_c0", "r1_c0", "r1_c1"):
        assert row[f"edge_cell_{cell}_bright"] == 0
        assert row[f"edge_cell_{cell}_density"] == 0
    assert row["edge_cell_r0_c1_density"] > 0


def test_orientation_histogram_of_stripes():
    vertical = np.zeros((64, 64), dtype=np.uint8)
    vertical[:, 8:16] = vertical[:, 32:40] = 255
    for image, expected_bin in ((vertical, 0), (vertical.T, 4)):
        features = bright_edge_features(image, image_size=None)
        histogram = features[4:12]
        assert histogram.sum() == pytest.approx(1.0)
        assert histogram[expected_bin] > 0.9


@pytest.mark.parametrize("orientations", [4, 8, 12])
def test_rotating_by_90_degrees_shifts_orientations_by_half_the_bins(orientations):
    image = blob_image(seed=2)
    kwargs = dict(method="morphological", orientations=orientations, image_size=None,
                  cell_orientations=True, grid=1)
    histogram = bright_edge_features(image, **kwargs)[4:4 + orientations]
    rotated = bright_edge_features(np.rot90(image), **kwargs)[4:4 + orientations]
    assert histogram.max() < 0.9  # edges in several directions
    np.testing.assert_allclose(rotated, np.roll(histogram, orientations // 2), atol=0.02)


def test_cell_orientations_sum_to_cell_density():
    extractor = BrightEdgeFeatures(grid=(2, 3), cell_orientations=True, image_size=96)
    names = list(extractor.get_feature_names_out())
    row = dict(zip(names, extractor.fit_transform([blob_image(seed=3)])[0]))
    for r in range(2):
        for c in range(3):
            prefix = f"edge_cell_r{r}_c{c}_"
            total = sum(row[f"{prefix}orient_{k}"] for k in range(8))
            assert total == pytest.approx(row[prefix + "density"], abs=1e-6)


def test_constant_images_give_finite_zero_edge_features():
    for value in (0, 255):
        features = bright_edge_features(np.full((40, 30), value, dtype=np.uint8))
        assert np.isfinite(features).all()
        assert features[1] == 0 and not features[4:12].any()  # no edges
        assert features[0] == (value > 150)


@pytest.mark.parametrize("params, count", [
    ({}, 4 + 8 + 16 * 2),
    ({"grid": (2, 3), "orientations": 6}, 4 + 6 + 6 * 2),
    ({"grid": 3, "cell_orientations": True, "orientations": 12}, 4 + 12 + 9 * 14),
])
def test_feature_names_match_the_vector(params, count):
    extractor = BrightEdgeFeatures(**params)
    names = extractor.get_feature_names_out()
    assert len(names) == count == len(set(names))
    assert all(name.startswith("edge_") for name in names)
    images = [blob_image(seed=4), blob_image(seed=5, size=100)[:80]]  # mixed shapes
    assert extractor.fit(images).transform(images).shape == (2, count)
    assert extractor.n_features_out_ == count


def test_image_size_resizes_first():
    from xray_features.preprocess import resize

    image = blob_image(seed=6, size=128)
    small = resize(image.astype(np.float32), 64) / 255  # the same resampling, as float
    np.testing.assert_allclose(bright_edge_features(image, image_size=64),
                               bright_edge_features(small, image_size=None), atol=1e-6)


# --------------------------------------------------------------------------- phantoms
def _fracture_pairs(seeds, difficulty):
    from xray_features.synthetic import make_long_bone

    for seed in seeds:
        fractured, line = make_long_bone(fractured=True, seed=seed, return_mask=True,
                                         difficulty=difficulty)
        yield fractured, line, make_long_bone(fractured=False, seed=seed,
                                              difficulty=difficulty)


def test_fracture_line_lights_up_the_edge_map():
    # Without displacement the fragments stay in place, so every edge the
    # fracture adds must lie along the fracture line.
    square = np.ones((3, 3), np.uint8)
    new_total = 0
    pairs = _fracture_pairs(range(8), {"preset": "easy", "displacement": 0.0})
    for fractured, line, intact in pairs:
        edges = bright_edge_map(fractured)
        near_intact = cv2.dilate(bright_edge_map(intact).astype(np.uint8), square) > 0
        near_line = cv2.dilate(line.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        new = edges & ~near_intact
        assert not (new & ~near_line).any()
        new_total += int(new.sum())
    assert new_total >= 20


def test_fracture_splits_the_bright_cortex():
    # A clear fracture cuts both cortical walls, so there are more separate
    # bright regions than in the intact bone of the same seed.
    extractor = BrightEdgeFeatures()
    names = list(extractor.get_feature_names_out())
    column = names.index("edge_bright_regions")
    more = [extractor.extract_one(fractured)[column] > extractor.extract_one(intact)[column]
            for fractured, _, intact in _fracture_pairs(range(10), "easy")]
    assert sum(more) >= 8


# --------------------------------------------------------------------------- estimator
def test_estimator_checks_that_apply_to_image_transformers():
    extractor = BrightEdgeFeatures(grid=(2, 2), cell_orientations=True)
    check_get_params_invariance("BrightEdgeFeatures", extractor)
    check_set_params("BrightEdgeFeatures", extractor)
    check_no_attributes_set_in_init("BrightEdgeFeatures", extractor)
    copy = clone(extractor)
    assert copy.get_params() == extractor.get_params() and copy is not extractor


def test_pickle_round_trip_gives_the_same_features():
    images = np.stack([blob_image(seed=s) for s in range(3)])
    extractor = BrightEdgeFeatures(sigma=0.5).fit(images)
    restored = pickle.loads(pickle.dumps(extractor))
    np.testing.assert_array_equal(restored.transform(images), extractor.transform(images))


def test_to_frame_has_named_columns_and_ids():
    images = np.stack([blob_image(seed=s) for s in range(3)])
    extractor = BrightEdgeFeatures(grid=2)
    frame = extractor.to_frame(images, ids=["a.png", "b.png", "c.png"])
    assert list(frame.columns) == list(extractor.get_feature_names_out())
    assert frame.index.name == "id" and list(frame.index) == ["a.png", "b.png", "c.png"]
    np.testing.assert_array_equal(frame.to_numpy(), extractor.transform(images))
    assert list(extractor.to_frame(images).index) == [0, 1, 2]
    with pytest.raises(ValueError, match="one entry per image"):
        extractor.to_frame(images, ids=["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        extractor.to_frame(images, ids=["a", "b", "a"])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("params, match", [
    ({"threshold": -1}, r"threshold must be a number in \[0, 255\]; got -1"),
    ({"threshold": 300}, "threshold must be a number"),
    ({"threshold": "150"}, "threshold must be a number"),
    ({"method": "sobel"}, "method must be one of"),
    ({"sigma": -0.5}, "sigma must be a number"),
    ({"grid": (0, 2)}, r"grid\[0\] \(rows\) must be an integer >= 1; got 0"),
    ({"grid": "4x4"}, r"grid must be a positive int or a \(rows, columns\) pair"),
    ({"orientations": 0}, "orientations must be an integer >= 1"),
    ({"cell_orientations": "yes"}, "cell_orientations must be True or False"),
    ({"image_size": 2}, "image_size .* must be at least the grid"),
])
def test_invalid_parameters_are_rejected(params, match):
    image = bar_image()
    with pytest.raises(ValueError, match=match):
        bright_edge_features(image, **params)
    with pytest.raises(ValueError, match=match):
        BrightEdgeFeatures(**params).fit([image])


def test_invalid_images_are_rejected():
    with pytest.raises(ValueError, match="values must lie in"):
        bright_edge_map(np.full((8, 8), 2.0))
    with pytest.raises(ValueError, match="2-D grayscale"):
        bright_edge_map(np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="smaller than the grid"):
        bright_edge_features(np.zeros((3, 3), dtype=np.uint8), image_size=None)
    with pytest.raises(ValueError, match="threshold must be"):
        bright_edge_map(bar_image(), threshold=float("nan"))
