import cv2
import numpy as np
import pytest

from xray_features.enhance import clahe, denoise_gaussian, denoise_median, equalize_histogram
from xray_features.preprocess import (
    rescale_to_symmetric, rescale_to_unit, resize, resize_with_padding, split_into_tiles,
    to_float32, to_uint8,
)

DTYPES = [np.uint8, np.uint16, np.float32]
SCALE = {np.uint8: 255, np.uint16: 65535, np.float32: 1.0}


def _ramp(dtype, low=100 / 255, high=140 / 255, shape=(64, 64)):
    """A horizontal ramp with low contrast, on the dtype's own scale."""
    row = np.linspace(low, high, shape[1])
    unit = np.tile(row, (shape[0], 1))
    if dtype == np.float32:
        return unit.astype(np.float32)
    return np.rint(unit * SCALE[dtype]).astype(dtype)


# --- conversions -----------------------------------------------------------

def test_to_float32_known_values():
    np.testing.assert_allclose(to_float32(np.array([[0, 51, 255]], np.uint8)), [[0, 0.2, 1]])
    assert to_float32(np.array([[0, 65535]], np.uint16)).tolist() == [[0.0, 1.0]]
    assert to_float32(np.array([[False, True]])).tolist() == [[0.0, 1.0]]
    out = to_float32(np.array([[0.25, 0.5]], np.float64))
    assert out.dtype == np.float32 and out.tolist() == [[0.25, 0.5]]


def test_to_float32_clips_round_off_but_refuses_out_of_range():
    assert to_float32(np.array([[1 + 1e-7, -1e-8]])).tolist() == [[1.0, 0.0]]
    with pytest.raises(ValueError, match=r"\[0, 1\].*\[0, 255\].*rescale_to_unit"):
        to_float32(np.array([[0.0, 255.0]]))
    with pytest.raises(ValueError, match="NaN"):
        to_float32(np.array([[0.0, np.nan]]))


def test_to_uint8_rounds_16_bit_values():
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    expected = np.rint(values / 65535 * 255)
    np.testing.assert_array_equal(to_uint8(values), expected)
    known = np.array([[0, 128, 129, 257, 385, 386, 65535]], np.uint16)
    assert to_uint8(known).tolist() == [[0, 0, 1, 1, 1, 2, 255]]


def test_to_uint8_from_float_and_bool():
    assert to_uint8(np.array([[0.0, 0.2, 1.0]])).tolist() == [[0, 51, 255]]
    assert to_uint8(np.array([[False, True]])).tolist() == [[0, 255]]
    with pytest.raises(ValueError, match="rescale_to_unit"):
        to_uint8(np.array([[-0.5, 0.5]]))


# --- validation shared by every function -----------------------------------

@pytest.mark.parametrize("function", [to_float32, to_uint8, equalize_histogram, clahe,
                                      denoise_gaussian, denoise_median])
def test_colour_stacks_and_empty_images_are_refused(function):
    with pytest.raises(ValueError, match=r"2-D.*\(8, 8, 3\).*grayscale"):
        function(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"\(2, 8, 8\).*stack.*each"):
        function(np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        function(np.zeros((0, 5), np.uint8))
    with pytest.raises(TypeError, match="int32.*rescale_to_unit"):
        function(np.zeros((4, 4), np.int32))


@pytest.mark.parametrize("function", [clahe, equalize_histogram, denoise_gaussian,
                                      denoise_median])
def test_intensity_filters_refuse_masks(function):
    with pytest.raises(TypeError, match="bool mask"):
        function(np.zeros((8, 8), bool))


# --- geometry --------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES + [np.float64, bool])
def test_resize_keeps_dtype_and_shape(dtype):
    image = np.ones((20, 30), dtype=dtype)
    for shape in [(10, 15), (40, 35), 7]:
        out = resize(image, shape)
        assert out.dtype == np.dtype(dtype)
        assert out.shape == ((7, 7) if shape == 7 else shape)
        assert np.all(out == image[0, 0])


def test_resize_shrinks_by_area_averaging():
    blocks = np.kron(np.array([[10, 20], [30, 40]], np.uint8), np.ones((3, 3), np.uint8))
    assert resize(blocks, (2, 2)).tolist() == [[10, 20], [30, 40]]
    checker = (np.indices((8, 8)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert set(np.unique(resize(checker, (4, 4)))) <= {127, 128}  # no aliasing


def test_resize_rejects_bad_shapes():
    with pytest.raises(ValueError, match="height.*got 0"):
        resize(np.ones((4, 4)), (0, 4))
    with pytest.raises(ValueError, match=r"\(height, width\) pair"):
        resize(np.ones((4, 4)), (2, 2, 2))


def test_resize_with_padding_centres_a_tall_image():
    white = np.full((100, 50), 255, np.uint8)
    out = resize_with_padding(white, 150)
    assert out.shape == (150, 150) and out.dtype == np.uint8
    assert np.all(out[:, 37:112] == 255)  # 75 columns, centred
    assert np.all(out[:, :37] == 0) and np.all(out[:, 112:] == 0)


def test_resize_with_padding_wide_image_shrunk_to_224():
    out = resize_with_padding(np.full((200, 448), 1.0, np.float32), (224, 224), pad_value=0.5)
    assert out.dtype == np.float32
    assert np.all(out[62:162] == 1.0)  # scaled by 0.5 to 100 x 224, centred
    assert np.all(out[:62] == 0.5) and np.all(out[162:] == 0.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_resize_with_padding_keeps_dtype(dtype):
    image = _ramp(dtype, shape=(60, 30))
    out = resize_with_padding(image, (150, 150))
    assert out.dtype == np.dtype(dtype) and out.shape == (150, 150)


def test_resize_with_padding_validates_pad_value():
    with pytest.raises(ValueError, match=r"pad_value.*\[0, 255\].*300"):
        resize_with_padding(np.zeros((4, 4), np.uint8), 8, pad_value=300)
    with pytest.raises(ValueError, match="pad_value.*0.5"):
        resize_with_padding(np.zeros((4, 4), np.uint16), 8, pad_value=0.5)


def test_split_into_tiles_known_blocks():
    image = np.arange(16).reshape(4, 4).astype(np.uint8)
    tiles = split_into_tiles(image, 2, 2)
    assert tiles.shape == (4, 2, 2)
    assert tiles.tolist() == [[[0, 1], [4, 5]], [[2, 3], [6, 7]],
                              [[8, 9], [12, 13]], [[10, 11], [14, 15]]]


def test_split_into_tiles_drops_remainder_and_copies():
    image = np.arange(35, dtype=np.uint16).reshape(5, 7)
    tiles = split_into_tiles(image, 2, 3)
    assert tiles.shape == (6, 2, 2)
    np.testing.assert_array_equal(tiles[-1], image[2:4, 4:6])  # row 4 and column 6 dropped
    tiles[0, 0, 0] = 999
    assert image[0, 0] == 0
    with pytest.raises(ValueError, match=r"3 x 1 grid.*\(2, 7\)"):
        split_into_tiles(image[:2], 3, 1)
    with pytest.raises(ValueError, match="rows.*>= 1"):
        split_into_tiles(image, 0, 2)


# --- intensity -------------------------------------------------------------

def test_rescale_to_unit_known_values_and_constant_image():
    assert rescale_to_unit(np.array([[10, 20, 30]], np.int16)).tolist() == [[0.0, 0.5, 1.0]]
    assert rescale_to_unit(np.array([[-1000.0, 1000.0]])).tolist() == [[0.0, 1.0]]
    constant = rescale_to_unit(np.full((4, 4), 7, np.uint8))
    assert constant.dtype == np.float32 and np.all(constant == 0) and not np.isnan(constant).any()
    with pytest.raises(ValueError, match="NaN"):
        rescale_to_unit(np.array([[0.0, np.inf]]))


def test_rescale_to_symmetric():
    out = rescale_to_symmetric(np.array([[0, 5, 10]], np.uint8))
    assert out.dtype == np.float32 and out.tolist() == [[-1.0, 0.0, 1.0]]
    assert np.all(rescale_to_symmetric(np.full((3, 3), 9.0)) == -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clahe_raises_contrast_and_keeps_dtype(dtype):
    ramp = _ramp(dtype)
    out = clahe(ramp)
    assert out.dtype == np.dtype(dtype) and out.shape == ramp.shape
    assert out.std() > 1.05 * ramp.std()
    assert np.ptp(out) > 1.3 * np.ptp(ramp)
    strong = clahe(ramp, clip_limit=40.0)  # almost plain adaptive equalisation
    assert np.ptp(strong) > 0.5 * SCALE[dtype]  # the ramp spans 0.16


def test_clahe_gives_the_same_result_for_every_dtype():
    ramp8 = _ramp(np.uint8)
    expected = clahe(ramp8, clip_limit=3.0, tile_grid_size=(4, 2))
    np.testing.assert_array_equal(clahe(ramp8.astype(np.uint16) * 257, clip_limit=3.0,
                                        tile_grid_size=(4, 2)), expected.astype(np.uint16) * 257)
    np.testing.assert_allclose(clahe(ramp8 / 255, clip_limit=3.0, tile_grid_size=(4, 2)),
                               expected / 255, atol=1e-6)


def test_clahe_validates_parameters():
    with pytest.raises(ValueError, match="clip_limit.*> 0.*0"):
        clahe(_ramp(np.uint8), clip_limit=0)
    with pytest.raises(ValueError, match="tile_grid_size"):
        clahe(_ramp(np.uint8), tile_grid_size=(8, 0))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        clahe(np.full((8, 8), 2.0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_equalize_histogram_stretches_a_ramp(dtype):
    ramp = _ramp(dtype)
    out = equalize_histogram(ramp)
    assert out.dtype == np.dtype(dtype)
    assert out.min() == 0 and out.max() == SCALE[dtype]
    assert out.std() > 3 * ramp.std()


def test_equalize_histogram_16_bit_matches_opencv_8_bit():
    image = np.random.default_rng(0).integers(40, 90, (32, 32)).astype(np.uint8)
    out16 = equalize_histogram(image.astype(np.uint16) * 257)
    # Same formula at two resolutions: rounding differs by at most half a level.
    assert np.abs(out16 / 257 - cv2.equalizeHist(image)).max() <= 0.51


@pytest.mark.parametrize("dtype", DTYPES)
def test_equalize_histogram_leaves_constant_image(dtype):
    image = np.full((6, 6), SCALE[dtype] // 3 if dtype != np.float32 else 0.25, dtype)
    np.testing.assert_array_equal(equalize_histogram(image), image)


@pytest.mark.parametrize("dtype", DTYPES + [np.float64])
@pytest.mark.parametrize("size", [3, 5, 7])
def test_median_removes_salt_noise(dtype, size):
    flat = 0.4 if dtype in (np.float32, np.float64) else SCALE[dtype] * 2 // 5
    image = np.full((40, 40), flat, dtype)
    rng = np.random.default_rng(1)
    salt = rng.random(image.shape) < 0.05
    salt[:4] = salt[-4:] = salt[:, :4] = salt[:, -4:] = False  # borders replicate
    image[salt] = 1 if dtype in (np.float32, np.float64) else SCALE[dtype]
    out = denoise_median(image, size=size)
    assert out.dtype == np.dtype(dtype)
    assert np.all(out == flat)


def test_median_opencv_and_scipy_paths_agree():
    image = np.random.default_rng(2).random((30, 30)).astype(np.float32)
    fast = denoise_median(image, size=5)  # cv2.medianBlur
    general = denoise_median(image.astype(np.float64), size=5)  # scipy.ndimage
    np.testing.assert_array_equal(fast, general.astype(np.float32))
    with pytest.raises(ValueError, match="odd.*got 4.*Use 5"):
        denoise_median(image, size=4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_keeps_flat_images_and_reduces_noise(dtype):
    flat = np.full((32, 32), 0.5 if dtype == np.float32 else SCALE[dtype] // 2, dtype)
    np.testing.assert_array_equal(denoise_gaussian(flat, sigma=2.0), flat)
    noise = np.random.default_rng(3).normal(0.5, 0.1, (64, 64)).clip(0, 1)
    noisy = (noise * SCALE[dtype]).astype(dtype)
    out = denoise_gaussian(noisy, sigma=1.5)
    assert out.dtype == np.dtype(dtype)
    assert out.astype(float).std() < 0.5 * noisy.astype(float).std()


def test_gaussian_preserves_mass_and_validates_sigma():
    impulse = np.zeros((15, 15), np.float64)
    impulse[7, 7] = 1
    out = denoise_gaussian(impulse, sigma=1.0)
    assert out.sum() == pytest.approx(1.0)
    assert out[7, 7] == out.max() and out[7, 6] == pytest.approx(out[6, 7])
    with pytest.raises(ValueError, match="sigma.*> 0.*-1"):
        denoise_gaussian(impulse, sigma=-1)


@pytest.mark.parametrize("function", [resize, resize_with_padding])
def test_geometry_accepts_non_contiguous_views(function):
    image = np.arange(64, dtype=np.uint8).reshape(8, 8)[::-1, ::2]
    assert function(image, (8, 8)).shape == (8, 8)
