import pickle
import re
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from xray_features.io import ImageLoadError, load_image, save_image

GRAY16 = np.array([[0, 257, 1000, 65535], [128, 129, 385, 386]], np.uint16)


def _raises_load_error(path, reason):
    """pytest.raises for an ImageLoadError naming ``path`` and ``reason``."""
    return pytest.raises(ImageLoadError, match=rf"'{re.escape(str(path))}': .*{reason}")


def _write_dicom(path, pixels, *, preamble=True, bits=12, **elements):
    """Write an uncompressed single- or multi-frame DX DICOM file."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import (DigitalXRayImageStorageForPresentation,
                             ExplicitVRLittleEndian, generate_uid)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta,
                          preamble=b"\0" * 128 if preamble else None)
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    if pixels is not None:
        pixels = np.asarray(pixels, np.uint16)
        dataset.Rows, dataset.Columns = pixels.shape[-2:]
        dataset.SamplesPerPixel = 1
        dataset.PhotometricInterpretation = "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, bits, bits - 1
        dataset.PixelRepresentation = 0
        dataset.PixelData = pixels.tobytes()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=preamble)
    return path


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` over a tiny body."""
    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


# --- raster formats --------------------------------------------------------

@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_8_bit_files_load_unchanged(tmp_path, suffix):
    image = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    path = save_image(tmp_path / f"scan{suffix}", image)
    loaded = load_image(path)
    assert loaded.dtype == np.uint8
    np.testing.assert_array_equal(loaded, image)
    np.testing.assert_allclose(load_image(path, as_float=True), image / 255, atol=1e-7)


@pytest.mark.parametrize("suffix", [".png", ".tiff"])
def test_16_bit_files_scale_to_uint8_and_keep_precision_as_float(tmp_path, suffix):
    path = tmp_path / f"scan{suffix}"
    assert cv2.imwrite(str(path), GRAY16)  # written independently of save_image
    assert load_image(path).tolist() == [[0, 1, 4, 255], [0, 1, 1, 2]]  # round(v / 257)
    as_float = load_image(path, as_float=True)
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float, GRAY16 / 65535, atol=1e-7)


def test_jpeg_loads_within_compression_error(tmp_path):
    image = np.tile(np.linspace(40, 200, 64).astype(np.uint8), (64, 1))
    path = save_image(tmp_path / "scan.jpg", image)
    loaded = load_image(path)
    assert loaded.dtype == np.uint8 and loaded.shape == (64, 64)
    assert np.abs(loaded.astype(int) - image).max() <= 3


@pytest.mark.parametrize("mode, pixel", [("RGB", (200, 100, 50)), ("RGBA", (200, 100, 50, 0)),
                                         ("RGBA", (200, 100, 50, 255))])
def test_colour_becomes_luma_gray(tmp_path, mode, pixel):
    path = tmp_path / "colour.png"
    Image.new(mode, (5, 4), pixel).save(path)
    loaded = load_image(path)
    # 0.299 * 200 + 0.587 * 100 + 0.114 * 50 = 124.2; alpha is ignored.
    assert loaded.shape == (4, 5) and np.all(loaded == 124)


def test_16_bit_colour_keeps_its_depth(tmp_path):
    path = tmp_path / "colour16.png"
    bgr = np.zeros((3, 3, 3), np.uint16)
    bgr[...] = (1000, 30000, 60000)  # B, G, R
    assert cv2.imwrite(str(path), bgr)
    expected = (0.299 * 60000 + 0.587 * 30000 + 0.114 * 1000) / 65535
    np.testing.assert_allclose(load_image(path, as_float=True), expected, atol=2 / 65535)


def test_float_images_are_saved_as_16_bit(tmp_path):
    image = np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6)
    path = save_image(tmp_path / "float.png", image)
    with Image.open(path) as saved:
        assert saved.mode.startswith("I;16")
    np.testing.assert_allclose(load_image(path, as_float=True), image, atol=0.5 / 65535 + 1e-7)
    np.testing.assert_array_equal(load_image(path), np.rint(image * 255))


def test_save_image_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match=r"unsupported extension '\.gif'.*\.png"):
        save_image(tmp_path / "scan.gif", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\.jpg stores 8 bits.*uint16.*to_uint8"):
        save_image(tmp_path / "scan.jpg", GRAY16)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        save_image(tmp_path / "scan.png", np.full((4, 4), 3.0))
    with pytest.raises(ValueError, match="2-D"):
        save_image(tmp_path / "scan.png", np.zeros((4, 4, 3), np.uint8))


# --- DICOM -----------------------------------------------------------------

STORED = [[0, 4095, 2048, 1800]]  # 12-bit stored values


def test_dicom_maps_the_stored_bit_range(tmp_path):
    path = _write_dicom(tmp_path / "plain.dcm", STORED)
    assert load_image(path).tolist() == [[0, 255, 128, 112]]  # round(v * 255 / 4095)
    np.testing.assert_allclose(load_image(path, as_float=True), np.array(STORED) / 4095,
                               atol=1e-7)


def test_dicom_monochrome1_is_inverted(tmp_path):
    path = _write_dicom(tmp_path / "mono1.dcm", STORED, PhotometricInterpretation="MONOCHROME1")
    assert load_image(path).tolist() == [[255, 0, 127, 143]]


def test_dicom_window_sets_the_mapped_range(tmp_path):
    path = _write_dicom(tmp_path / "window.dcm", STORED, WindowCenter=2048, WindowWidth=1024)
    # LINEAR window (PS3.3 C.11.2.1.2): <= 1536 black, > 2559 white, else
    # ((v - 2047.5) / 1023 + 0.5); 1800 -> 0.2581 -> 66 (112 without window).
    assert load_image(path).tolist() == [[0, 255, 128, 66]]


def test_dicom_rescale_is_applied_before_the_window(tmp_path):
    stored = [[462, 512, 562, 537, 0, 4095]]  # 2 * v - 1024 = -100, 0, 100, 50, ...
    path = _write_dicom(tmp_path / "hu.dcm", stored, RescaleSlope=2, RescaleIntercept=-1024,
                        WindowCenter=0, WindowWidth=200)
    # Window [-100, 100] on rescaled values: 0 -> 0.5025 -> 128; 50 -> 0.7538 -> 192.
    assert load_image(path).tolist() == [[0, 128, 255, 192, 0, 255]]
    # Without a window a linear rescale maps the stored range end to end:
    # the same numbers as without rescale.
    plain = _write_dicom(tmp_path / "hu_plain.dcm", stored, RescaleSlope=2,
                         RescaleIntercept=-1024)
    np.testing.assert_array_equal(load_image(plain), np.rint(np.array(stored) / 4095 * 255))


def test_dicom_voi_lut_is_preferred_to_the_window(tmp_path):
    from pydicom.dataset import Dataset

    lut = Dataset()
    lut.LUTDescriptor = [4096, 0, 12]
    lut.add_new(0x00283006, "US", (np.arange(4096) // 16).tolist())  # LUT Data, 0-255
    path = _write_dicom(tmp_path / "lut.dcm", [[0, 4095, 1000, 1800]], WindowCenter=2048,
                        WindowWidth=1024, VOILUTSequence=[lut])
    assert load_image(path).tolist() == [[0, 255, 62, 112]]  # v // 16 on the LUT's 0-255


def test_dicom_is_found_by_its_marker_or_by_its_name(tmp_path):
    by_marker = _write_dicom(tmp_path / "scan_without_extension", STORED)
    assert load_image(by_marker).tolist() == [[0, 255, 128, 112]]
    no_preamble = _write_dicom(tmp_path / "old.dcm", STORED, preamble=False)
    assert not no_preamble.read_bytes()[128:132] == b"DICM"
    assert load_image(no_preamble).tolist() == [[0, 255, 128, 112]]


def test_dicom_refusals(tmp_path):
    frames = _write_dicom(tmp_path / "cine.dcm", np.zeros((2, 4, 4)), NumberOfFrames=2)
    with _raises_load_error(frames, "multi-frame DICOM"):
        load_image(frames)
    report = _write_dicom(tmp_path / "report.dcm", None, PatientName="Anonymous")
    with _raises_load_error(report, "no pixel data"):
        load_image(report)
    large = _write_dicom(tmp_path / "large.dcm", np.zeros((20, 20)))
    with _raises_load_error(large, "max_pixels=100"):
        load_image(large, max_pixels=100)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(_write_dicom(tmp_path / "full.dcm", STORED).read_bytes()[:-3])
    with _raises_load_error(truncated, "cannot decode DICOM pixel data"):
        load_image(truncated)


# --- unreadable input ------------------------------------------------------

def test_missing_directory_and_empty_files(tmp_path):
    with _raises_load_error(tmp_path / "missing.png", "file not found"):
        load_image(tmp_path / "missing.png")
    with _raises_load_error(tmp_path, "is a directory"):
        load_image(tmp_path)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with _raises_load_error(empty, r"empty \(0 bytes\)"):
        load_image(empty)


def test_text_renamed_as_image(tmp_path):
    for name in ["notes.png", "notes.dcm"]:
        fake = tmp_path / name
        fake.write_text("patient list, not an image\n" * 20)
        with _raises_load_error(fake, "not a recognised image format"):
            load_image(fake)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_truncated_files_raise(tmp_path, suffix):
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (128, 128)).astype(np.uint8), (0, 0), 2)
    data = save_image(tmp_path / f"full{suffix}", image).read_bytes()
    for fraction in (0.5, 0.95):
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(data[:int(len(data) * fraction)])
        with _raises_load_error(cut, "truncated or corrupt"):
            load_image(cut)


def test_oversized_headers_are_refused_before_decoding(tmp_path):
    bomb = _png_header_only(tmp_path / "bomb.png", 9000, 9000)  # 81 Mpx claimed, 100 bytes
    with _raises_load_error(bomb, "9000 x 9000 = 81000000 pixels.*max_pixels"):
        load_image(bomb)
    huge = _png_header_only(tmp_path / "huge.png", 100_000, 100_000)
    with _raises_load_error(huge, "too large"):
        load_image(huge)


def test_multi_page_tiff_is_refused(tmp_path):
    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(np.full((4, 4), value, np.uint8)) for value in (0, 255)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with _raises_load_error(path, r"multi-page TIFF file \(2 pages\)"):
        load_image(path)


def test_invalid_arguments(tmp_path):
    path = save_image(tmp_path / "ok.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(TypeError, match="path.*int"):
        load_image(42)
    with pytest.raises(TypeError, match="as_float"):
        load_image(path, as_float="yes")
    with pytest.raises(ValueError, match="max_pixels"):
        load_image(path, max_pixels=0)


def test_image_load_error_carries_path_and_reason_and_pickles():
    error = ImageLoadError("a/b.png", "file is empty (0 bytes)")
    assert isinstance(error, ValueError)
    assert str(error) == "cannot load image 'a/b.png': file is empty (0 bytes)"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.reason, str(copy)) == (error.path, error.reason, str(error))
