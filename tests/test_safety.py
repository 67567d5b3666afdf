"""Hostile files given to the readers: FIFOs, devices, sparse files, bombs."""

import os
import signal
import struct
import zlib
from contextlib import contextmanager

import numpy as np
import pytest

from xray_features._safety import (UnsafeFileError, check_decoded_bytes, check_npz,
                                   check_regular_file, printable_name, read_bounded)
from xray_features.io import ImageLoadError, load_image, save_image


@contextmanager
def deadline(seconds=10):
    """Fail instead of hanging forever (the bug these tests guard against)."""
    def expire(*_):
        raise TimeoutError(f"still blocked after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def png_header(path, width, height, *, bit_depth=8, colour_type=0):
    """A PNG whose header claims ``width`` x ``height`` over a tiny body."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    with deadline(), pytest.raises(ImageLoadError, match=r"x\.png'.*FIFO.*not a regular file"):
        load_image(fifo)


def test_device_and_link_to_device_are_refused(tmp_path):
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    for path in ("/dev/zero", link):
        with deadline(), pytest.raises(ImageLoadError, match="character device"):
            load_image(path)


def test_sparse_huge_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as handle:
        handle.truncate(20 * 2 ** 30)   # 20 GiB, sparse: no disk used
    with deadline(), pytest.raises(ImageLoadError, match=r"20\.0 GiB.*max_bytes"):
        load_image(big)
    small = save_image(tmp_path / "small.png", np.zeros((8, 8), np.uint8))
    with pytest.raises(ImageLoadError, match="max_bytes=10"):
        load_image(small, max_bytes=10)


def test_decoded_size_counts_channels_and_depth(tmp_path):
    # 8000 x 8000 16-bit RGBA: 64 Mpx is under max_pixels but decodes to 512 MB.
    deep = png_header(tmp_path / "deep.png", 8000, 8000, bit_depth=16, colour_type=6)
    with pytest.raises(ImageLoadError, match=r"8000 x 8000 pixels x 4 channel\(s\) x 2 "
                                             r"byte\(s\) = 488\.3 MiB.*max_decoded_bytes"):
        load_image(deep)
    # The same pixel count in 8-bit gray is 61 MiB: within the default limit,
    # so it reaches the decoder (which finds the body truncated).
    gray = png_header(tmp_path / "gray.png", 8000, 8000)
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(gray)
    rgba = np.zeros((20, 30, 4), np.uint16)
    import cv2
    path = tmp_path / "small16.png"
    path.write_bytes(cv2.imencode(".png", rgba)[1].tobytes())
    assert load_image(path, max_decoded_bytes=20 * 30 * 4 * 2).shape == (20, 30)
    with pytest.raises(ImageLoadError, match="max_decoded_bytes=4799"):
        load_image(path, max_decoded_bytes=20 * 30 * 4 * 2 - 1)


def _dicom(path, **elements):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.Rows, dataset.Columns, dataset.SamplesPerPixel = 4, 4, 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 12, 11
    dataset.PixelRepresentation = 0
    dataset.PixelData = np.arange(16, dtype=np.uint16).reshape(4, 4).tobytes()
    for keyword, value in elements.items():
        setattr(dataset, keyword, value)
    dataset.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.filterwarnings("ignore:Invalid value for VR DS")
@pytest.mark.parametrize("slope", ["NaN", "inf", "-inf"])
def test_dicom_with_non_finite_rescale_is_refused(tmp_path, slope):
    from pydicom import config

    previous = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE
    try:
        path = _dicom(tmp_path / "scan.dcm", RescaleSlope=slope, RescaleIntercept="0")
    finally:
        config.settings.writing_validation_mode = previous
    with pytest.raises(ImageLoadError, match=r"scan\.dcm'.*RescaleSlope is .*not a finite"):
        load_image(path)


def test_dicom_with_finite_rescale_still_loads(tmp_path):
    path = _dicom(tmp_path / "scan.dcm", RescaleSlope="2", RescaleIntercept="0")
    assert load_image(path).max() > 0


def test_regular_file_checks(tmp_path):
    assert check_regular_file(save_image(tmp_path / "a.png", np.zeros((2, 2), np.uint8)))
    link = tmp_path / "dangling.png"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(UnsafeFileError, match="broken symbolic link"):
        check_regular_file(link)
    with pytest.raises(UnsafeFileError, match="a directory"):
        read_bounded(tmp_path)
    assert read_bounded(tmp_path / "a.png")[:4] == b"\x89PNG"
    assert check_decoded_bytes("x", 10, 10, channels=3, bytes_per_sample=2) == 600
    assert printable_name(os.fsdecode(b"\xff.png")) == "\\xff.png"


def test_npz_checks_read_headers_only(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, images=np.zeros((2, 4, 4), np.uint8), labels=np.array([0, 1]))
    assert check_npz(good)["images"][0] == (2, 4, 4)
    with pytest.raises(UnsafeFileError, match="good.npz.*max_bytes=10"):
        check_npz(good, max_bytes=10)
    text = tmp_path / "text.npz"
    text.write_text("not an archive")
    with pytest.raises(UnsafeFileError, match=r"text\.npz'.*not a zip archive"):
        check_npz(text)
    objects = tmp_path / "objects.npz"
    np.savez(objects, images=np.array([None, 1], dtype=object), labels=np.array([0, 1]))
    with pytest.raises(UnsafeFileError, match=r"objects\.npz'.*'images' holds Python objects"):
        check_npz(objects)
