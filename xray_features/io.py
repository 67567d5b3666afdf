"""Read and write X-ray images: PNG, JPEG, BMP, TIFF and DICOM.

:func:`load_image` always returns one 2-D grayscale array, whatever the file
holds, with a fixed intensity convention:

* **default, uint8 on 0-255** -- 8-bit sources are returned unchanged;
  16-bit sources are scaled by 255 / 65535 with rounding; DICOM pixel data
  goes through the modality LUT (rescale slope and intercept), then the VOI
  LUT or the window (centre and width) when the file has one, and the output
  range of that stage -- the window's range, or the stored bit range when
  there is no window -- is mapped linearly to 0-255. The mapping depends on
  the header only, never on the pixel values (no per-image min-max), so the
  same film always gives the same numbers.
* **as_float=True, float32 on [0, 1]** -- the same mapping without the
  8-bit rounding, keeping 16-bit precision.

Colour images become gray with the ITU-R 601 luma weights (0.299 R + 0.587 G
+ 0.114 B); alpha is ignored. DICOM MONOCHROME1 images are inverted so bone
is always bright. EXIF orientation is applied, as image viewers do.

Any file that cannot be read -- missing, a directory, empty, truncated,
not an image, a DICOM object without pixel data, multi-frame, or larger
than ``max_pixels`` -- raises :class:`ImageLoadError`, which names the file
and the reason; library errors are chained, never raised bare. Only regular
files are opened (a FIFO or a device such as ``/dev/zero`` is refused
before reading), the file size is checked before reading
(``max_bytes``), and the decoded size -- pixels x channels x bytes per
sample, known from the header -- before decoding (``max_decoded_bytes``).
"""

import io as _io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xray_features._safety import (DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_FILE_BYTES,
                                   UnsafeFileError, check_decoded_bytes, printable_name,
                                   read_bounded)
from xray_features._validation import check_image, check_positive_int
from xray_features.preprocess import to_float32, to_uint8

__all__ = ["ImageLoadError", "load_image", "load_image_bytes", "load_image_bytes_reduced",
           "ReducedImage", "save_image"]

#: Default pixel limit of :func:`load_image`: 8192 x 8192, above every
#: clinical radiography detector and below Pillow's own decompression-bomb
#: warning threshold, so genuine files never trigger it.
DEFAULT_MAX_PIXELS = 8192 * 8192

_DICOM_SUFFIXES = (".dcm", ".dicom")
_SAVE_FORMATS = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
_EIGHT_BIT_FORMATS = (".jpg", ".jpeg", ".bmp")


class ImageLoadError(ValueError):
    """An image file could not be loaded.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    reason : str
        Why it could not be loaded.

    Attributes
    ----------
    path : str
    reason : str

    Examples
    --------
    >>> str(ImageLoadError("scan.png", "file is empty (0 bytes)"))
    "cannot load image 'scan.png': file is empty (0 bytes)"
    """

    def __init__(self, path, reason):
        self.path = printable_name(path)   # even for names that are not UTF-8
        self.reason = reason
        super().__init__(f"cannot load image '{self.path}': {reason}")

    def __reduce__(self):
        # Rebuild from (path, reason) so the error survives pickling, e.g.
        # when raised in a worker process of a parallel batch.
        return type(self), (self.path, self.reason)


def load_image(path, *, as_float=False, max_pixels=DEFAULT_MAX_PIXELS,
               max_bytes=DEFAULT_MAX_FILE_BYTES, max_decoded_bytes=DEFAULT_MAX_DECODED_BYTES,
               return_colour=False):
    """Load an X-ray image file as a 2-D grayscale array.

    Reads PNG, JPEG, BMP and TIFF (8- and 16-bit, gray or colour) through
    Pillow and DICOM through pydicom. DICOM is recognised by the ``DICM``
    marker at byte 128, whatever the file is called; a ``.dcm`` file without
    the marker is read as DICOM when it is no other image format.

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    as_float : bool, optional
        Return float32 on [0, 1] (full 16-bit precision) instead of uint8.
    max_pixels : int, optional
        Refuse images with more pixels than this, read from the header
        before decoding (protects against decompression bombs). Default
        8192 * 8192.
    max_bytes : int, optional
        Refuse files larger than this before reading them. Default 512 MiB.
    max_decoded_bytes : int, optional
        Refuse images whose decoded pixels (height x width x channels x
        bytes per sample, from the header) exceed this. Default 256 MiB.
    return_colour : bool, optional
        Also return the colour pixels of a colour source (see Returns), for
        checks that need them (a radiograph is gray; a photograph is not).

    Returns
    -------
    image : (M, N) ndarray
        uint8 on 0-255, or float32 on [0, 1] with ``as_float=True``.
        Intensity mapping: 8-bit unchanged (``/ 255`` as float); 16-bit
        ``round(v * 255 / 65535)`` (``v / 65535`` as float); DICOM: modality
        LUT, then VOI LUT or window, whose output range (or the stored bit
        range when there is none) maps to 0-255 (or [0, 1]); MONOCHROME1 is
        inverted.
    colour : (M, N, 3) uint8 ndarray or None
        Only with ``return_colour=True``: the RGB pixels (8 bits) of a colour
        source, None for a grayscale one.

    Raises
    ------
    ImageLoadError
        If the file is missing, a directory, a FIFO or device, empty,
        truncated or corrupt, not an image, too large, a multi-page/multi-frame file, or a DICOM object
        without pixel data. The message names the file and the reason.
    TypeError, ValueError
        If the arguments themselves are invalid.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "ramp.png"
    >>> _ = save_image(path, np.arange(256, dtype=np.uint16).reshape(16, 16) * 257)
    >>> image = load_image(path)
    >>> image.dtype, image.shape, int(image[15, 15])
    (dtype('uint8'), (16, 16), 255)
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    _check_options(as_float, return_colour)
    limits = (check_positive_int(max_pixels, name="max_pixels"),
              check_positive_int(max_decoded_bytes, name="max_decoded_bytes"))
    max_bytes = check_positive_int(max_bytes, name="max_bytes")
    file = Path(os.fsdecode(path))
    try:
        data = read_bounded(file, max_bytes=max_bytes)
    except UnsafeFileError as exc:
        reason = exc.reason.replace("a directory, not a regular file",
                                    "a directory, not an image file")
        raise ImageLoadError(path, reason) from None
    return _decode(data, path, file.suffix.lower(), as_float=as_float,
                   limits=limits, return_colour=return_colour)


def load_image_bytes(data, *, name="<bytes>", as_float=False, max_pixels=DEFAULT_MAX_PIXELS,
                     max_decoded_bytes=DEFAULT_MAX_DECODED_BYTES, return_colour=False):
    """Decode an image held in memory (an upload), exactly as :func:`load_image`.

    The format is recognised from the content (DICOM by its ``DICM`` marker,
    rasters by Pillow), never from ``name``, which only labels error
    messages. Nothing is written to disk.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The encoded file.
    name : str, optional
        Shown in error messages, e.g. the uploaded file's name.
    as_float, max_pixels, max_decoded_bytes, return_colour
        As in :func:`load_image`.

    Returns
    -------
    image : (M, N) ndarray
    colour : (M, N, 3) uint8 ndarray or None, if ``return_colour``

    Raises
    ------
    ImageLoadError
        If the bytes are empty, truncated, corrupt, not an image, too large,
        multi-page, or DICOM without pixel data.

    Examples
    --------
    >>> import cv2
    >>> png = cv2.imencode(".png", np.full((4, 6), 200, np.uint8))[1].tobytes()
    >>> image = load_image_bytes(png, name="upload.png")
    >>> image.shape, int(image[0, 0])
    ((4, 6), 200)
    >>> load_image_bytes(b"hello", name="notes.txt")
    Traceback (most recent call last):
    ...
    xray_features.io.ImageLoadError: cannot load image 'notes.txt': not a recognised image format (expected PNG, JPEG, BMP, TIFF or DICOM)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}.")
    _check_options(as_float, return_colour)
    limits = (check_positive_int(max_pixels, name="max_pixels"),
              check_positive_int(max_decoded_bytes, name="max_decoded_bytes"))
    return _decode(bytes(data), str(name), "", as_float=as_float, limits=limits,
                   return_colour=return_colour)


@dataclass(frozen=True)
class ReducedImage:
    """An image decoded at a bounded size (:func:`load_image_bytes_reduced`).

    Attributes
    ----------
    image : (M, N) uint8 ndarray
        At most ``max_side`` pixels on its longer side.
    colour : (M, N, 3) uint8 ndarray or None
        The RGB pixels of a colour source at the same size; None for gray.
    source_shape : (int, int)
        Height and width of the file's full-size image.
    """

    image: np.ndarray
    colour: object
    source_shape: tuple


def load_image_bytes_reduced(data, *, max_side, name="<bytes>", max_pixels=DEFAULT_MAX_PIXELS,
                             max_decoded_bytes=DEFAULT_MAX_DECODED_BYTES):
    """Decode an image held in memory to at most ``max_side`` pixels a side.

    As :func:`load_image_bytes` with ``return_colour=True``, but the full-size
    pixels are never all kept: JPEG is decoded at a reduced scale by the
    decoder itself, other rasters are reduced by an integer box filter right
    after decoding, before any colour or gray copy is made, and what is
    still larger (DICOM, 16-bit colour) is area-resized. The aspect ratio is
    kept; images already small enough are returned as decoded.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
    max_side : int
        Longest side of the returned image.
    name, max_pixels, max_decoded_bytes
        As in :func:`load_image_bytes`.

    Returns
    -------
    ReducedImage

    Raises
    ------
    ImageLoadError
        As :func:`load_image_bytes`.

    Examples
    --------
    >>> import cv2
    >>> png = cv2.imencode(".png", np.full((400, 1000), 200, np.uint8))[1].tobytes()
    >>> reduced = load_image_bytes_reduced(png, max_side=100)
    >>> reduced.image.shape, reduced.source_shape, int(reduced.image[0, 0])
    ((40, 100), (400, 1000), 200)
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes; got {type(data).__name__}.")
    limits = (check_positive_int(max_pixels, name="max_pixels"),
              check_positive_int(max_decoded_bytes, name="max_decoded_bytes"))
    max_side = check_positive_int(max_side, name="max_side")
    shape = []
    image, colour = _decode(bytes(data), str(name), "", as_float=False, limits=limits,
                            return_colour=True, max_side=max_side, source_shape=shape)
    return ReducedImage(_fit(image, max_side), None if colour is None else _fit(colour, max_side),
                        tuple(shape[0]))


def _fit(array, max_side):
    """Area-resize ``array`` so its longer side is at most ``max_side``."""
    height, width = array.shape[:2]
    if max(height, width) <= max_side:
        return array
    import cv2

    scale = max_side / max(height, width)
    return cv2.resize(array, (max(1, round(width * scale)), max(1, round(height * scale))),
                      interpolation=cv2.INTER_AREA)


def _check_options(as_float, return_colour):
    for value, label in ((as_float, "as_float"), (return_colour, "return_colour")):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{label} must be True or False; got {value!r}.")


def _decode(data, path, suffix, *, as_float, limits, return_colour, max_side=None,
            source_shape=None):
    """Decode file bytes to the 2-D image (and the colour pixels when asked).

    With ``max_side``, rasters are reduced while or right after decoding
    (see :func:`load_image_bytes_reduced`); ``source_shape``, a list, gets
    the full-size (height, width).
    """
    if not data:
        raise ImageLoadError(path, "file is empty (0 bytes)")
    colour = []  # filled by the decoders with the RGB pixels of a colour source
    shape = [] if source_shape is None else source_shape
    if data[128:132] == b"DICM":
        unit = _load_dicom(data, path, limits, force=False, colour=colour)
        shape.append(unit.shape[:2])
    else:
        image = _load_raster(data, path, limits, suffix, colour=colour, max_side=max_side,
                             source_shape=shape)
        if image is None:  # not a raster format, but named like DICOM
            unit = _load_dicom(data, path, limits, force=True, colour=colour)
            shape.append(unit.shape[:2])
        else:
            image = to_float32(image) if as_float else to_uint8(image)
            return (image, colour[0] if colour else None) if return_colour else image
    image = unit.astype(np.float32) if as_float else np.rint(unit * 255).astype(np.uint8)
    return (image, colour[0] if colour else None) if return_colour else image


def _load_raster(data, path, limits, suffix, colour=None, max_side=None, source_shape=None):
    """Decode a Pillow-readable file to a 2-D uint8/uint16/float array.

    Returns None for an unrecognised format when the file is named like
    DICOM, so that the caller can try pydicom.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # Image.open reads only the header, so the size is known before decoding.
        picture = Image.open(_io.BytesIO(data))
    except UnidentifiedImageError as exc:
        if suffix in _DICOM_SUFFIXES:
            return None
        raise ImageLoadError(path, "not a recognised image format (expected PNG, "
                             "JPEG, BMP, TIFF or DICOM)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"image too large ({exc})") from exc
    except Exception as exc:
        raise ImageLoadError(path, f"corrupt image header ({exc})") from exc
    width, height = picture.size
    _check_pixels(path, height, width, limits[0])
    if source_shape is not None:
        source_shape.append((height, width))
    # Pillow reduces 16-bit colour to 8 bits; the raw mode (known before
    # loading) tells, and OpenCV then decodes at full depth.
    tile = getattr(picture, "tile", None)
    deep_colour = picture.mode in ("RGB", "RGBA") and bool(tile) and ";16" in str(tile[0].args)
    depth = 2 if deep_colour else _MODE_BYTES.get(picture.mode, 1)
    _check_decoded(path, height, width, len(picture.getbands()), depth, limits[1])
    try:
        frames = getattr(picture, "n_frames", 1)
        if frames > 1:
            raise ImageLoadError(path, f"multi-page {picture.format} file ({frames} "
                                 "pages); save each page as its own file")
        if max_side and picture.format == "JPEG" and picture.mode in ("L", "RGB"):
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the request
            scale = max_side / max(width, height)
            picture.draft(picture.mode, (round(width * scale), round(height * scale)))
        picture.load()
        ImageOps.exif_transpose(picture, in_place=True)  # no full-size copy
    except ImageLoadError:
        raise
    except Exception as exc:
        raise ImageLoadError(path, f"truncated or corrupt {picture.format} data "
                             f"({exc})") from exc
    factor = max(picture.size) // max_side if max_side and not deep_colour else 1
    if factor >= 2 and picture.mode not in ("P", "PA", "1"):
        # An integer box reduction frees the full-size pixels before any
        # colour or gray copy of them is made.
        try:
            picture = picture.reduce(factor)
        except ValueError:  # a mode Pillow cannot reduce: area-resized later
            pass
    if colour is not None and picture.mode in ("RGB", "RGBA", "P", "PA", "CMYK", "YCbCr",
                                                "LAB", "HSV"):
        colour.append(np.asarray(picture.convert("RGB")))
    return _to_gray_array(picture, data, path, deep_colour)


def _to_gray_array(picture, data, path, deep_colour):
    """Convert a loaded Pillow image to a 2-D array in its native depth."""
    mode = picture.mode
    if mode in ("L", "I;16", "I;16L", "I;16B", "I;16N"):
        array = np.asarray(picture)
        return array if mode == "L" else array.astype(np.uint16)
    if mode == "1":
        return np.asarray(picture, dtype=bool)
    if mode == "LA":
        return np.asarray(picture)[..., 0]
    if mode in ("I", "F"):
        array = np.asarray(picture)
        low, high = float(array.min()), float(array.max())
        if mode == "I" and low >= 0 and high <= 65535:
            return array.astype(np.uint16)
        if mode == "F" and np.isfinite(array).all() and low >= 0 and high <= 1:
            return array
        raise ImageLoadError(path, f"{'integer' if mode == 'I' else 'float'} pixel "
                             f"values span [{low:g}, {high:g}], outside the "
                             f"{'0-65535' if mode == 'I' else '[0, 1]'} range this "
                             "toolkit knows how to scale")
    if deep_colour:
        import cv2

        colour = cv2.imdecode(np.frombuffer(data, np.uint8),
                              cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)
        if colour is None or colour.dtype != np.uint16:
            raise ImageLoadError(path, "cannot decode 16-bit colour data")
        return cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)
    return np.asarray(picture.convert("L"))  # ITU-R 601 luma, alpha ignored


#: Bytes per sample of Pillow modes wider than 8 bits.
_MODE_BYTES = {"I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}


def _check_decoded(path, height, width, channels, depth, max_decoded_bytes):
    try:
        check_decoded_bytes(path, height, width, channels=channels, bytes_per_sample=depth,
                            max_bytes=max_decoded_bytes)
    except UnsafeFileError as exc:
        raise ImageLoadError(path, exc.reason) from None


def _check_pixels(path, height, width, max_pixels):
    if height * width > max_pixels:
        raise ImageLoadError(
            path, f"image is {height} x {width} = {height * width} pixels, more than "
            f"max_pixels={max_pixels} (possible decompression bomb); pass a larger "
            "max_pixels if the file is genuine")


def _load_dicom(data, path, limits, *, force, colour=None):
    """Decode a single-frame DICOM image to float64 on [0, 1], bone bright."""
    import pydicom

    try:
        dataset = pydicom.dcmread(_io.BytesIO(data), force=force)
    except Exception as exc:
        raise ImageLoadError(path, f"invalid DICOM file ({exc})") from exc
    if "PixelData" not in dataset and force:
        raise ImageLoadError(path, "not a recognised image format (neither a "
                             "raster image nor DICOM with pixel data)")
    if "PixelData" not in dataset:
        raise ImageLoadError(path, "DICOM file has no pixel data (not an image "
                             "object, e.g. a report or a presentation state)")
    try:
        frames = int(dataset.get("NumberOfFrames", 1) or 1)
        rows, cols = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1))
        photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
        bits = int(dataset.get("BitsStored", dataset.BitsAllocated))
        signed = int(dataset.get("PixelRepresentation", 0)) == 1
    except Exception as exc:
        raise ImageLoadError(path, f"incomplete DICOM image header ({exc})") from exc
    if frames > 1:
        raise ImageLoadError(path, f"multi-frame DICOM ({frames} frames); only "
                             "single-frame images are supported")
    _check_pixels(path, rows, cols, limits[0])
    allocated = int(dataset.get("BitsAllocated", 16) or 16)
    _check_decoded(path, rows, cols, samples, -(-allocated // 8), limits[1])
    _check_rescale(dataset, path)
    monochrome = photometric in ("MONOCHROME1", "MONOCHROME2")
    if not ((monochrome and samples == 1) or (not monochrome and samples == 3)):
        raise ImageLoadError(path, f"unsupported DICOM photometric interpretation "
                             f"{photometric!r} with {samples} samples per pixel")
    try:
        stored = dataset.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", "unknown transfer syntax")
        raise ImageLoadError(path, f"cannot decode DICOM pixel data ({name}): "
                             f"{exc}") from exc
    if stored.shape[:2] != (rows, cols):
        raise ImageLoadError(path, f"DICOM pixel data has shape {stored.shape}, "
                             f"expected {rows} x {cols}")
    if not monochrome:
        # pydicom returns RGB (YBR is converted); scale by the stored depth.
        if colour is not None:
            rgb = np.clip(stored.astype(np.float64) / (2 ** bits - 1), 0, 1)
            colour.append(np.rint(rgb * 255).astype(np.uint8))
        gray = stored.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        return np.clip(gray / (2 ** bits - 1), 0, 1)
    try:
        values, low, high = _dicom_lut_stages(stored, dataset, bits, signed)
    except Exception as exc:
        raise ImageLoadError(path, f"invalid DICOM rescale, LUT or window ({exc})") from exc
    if high > low:
        unit = np.clip((values - low) / (high - low), 0, 1)
    else:
        unit = np.zeros(values.shape)
    return 1 - unit if photometric == "MONOCHROME1" else unit


def _check_rescale(dataset, path):
    """Refuse a non-finite rescale slope/intercept or window, which would
    otherwise turn the whole image into one value (e.g. all black)."""
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        value = dataset.get(keyword)
        if value is None:
            continue
        # A multi-valued element (several windows) iterates; one value does not.
        several = hasattr(value, "__iter__") and not isinstance(value, (str, bytes))
        values = list(value) if several else [value]
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise ImageLoadError(path, f"DICOM {keyword} {value!r} is not a number") from exc
        if not all(np.isfinite(numbers)):
            raise ImageLoadError(path, f"DICOM {keyword} is {value}, not a finite number; "
                                 "the pixel values cannot be mapped to intensities")
    slope = dataset.get("RescaleSlope")
    if slope is not None and float(slope) == 0:
        raise ImageLoadError(path, "DICOM RescaleSlope is 0, which maps every pixel to "
                             "one value")


def _dicom_lut_stages(stored, dataset, bits, signed):
    """Apply modality and VOI stages; return values and their output range.

    The range comes from the header (the stored bit range pushed through the
    same stages, or the LUT's own extent), never from the pixels.
    """
    try:
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError:  # pydicom < 3
        from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut

    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    values = apply_modality_lut(stored, dataset)
    if dataset.get("ModalityLUTSequence"):
        ends = apply_modality_lut(_lut_inputs(dataset.ModalityLUTSequence[0]), dataset)
    else:
        ends = apply_modality_lut(np.array([low, high], dtype=np.float64), dataset)
    low, high = float(np.min(ends)), float(np.max(ends))

    voi_items = dataset.get("VOILUTSequence")
    if voi_items and "LUTDescriptor" in voi_items[0] and "LUTData" in voi_items[0]:
        # A LUT is indexed by integers: round any rescaled values first.
        values = apply_voi_lut(np.rint(values).astype(np.int64), dataset)
        ends = apply_voi_lut(_lut_inputs(voi_items[0]), dataset)
    elif dataset.get("WindowCenter") is not None and dataset.get("WindowWidth") is not None:
        values = apply_voi_lut(values, dataset)
        # Infinite inputs fall outside any window: they give its output range.
        ends = apply_voi_lut(np.array([-np.inf, np.inf]), dataset)
    else:
        return values.astype(np.float64), low, high
    return values.astype(np.float64), float(np.min(ends)), float(np.max(ends))


def _lut_inputs(item):
    """Every input value a DICOM LUT maps, from its descriptor."""
    entries, first = int(item.LUTDescriptor[0]) or 65536, int(item.LUTDescriptor[1])
    return np.arange(first, first + entries, dtype=np.int64)


def save_image(path, image):
    """Write a 2-D image to PNG, TIFF, JPEG or BMP, chosen by extension.

    Bit depth follows the dtype: bool and uint8 are written as 8-bit; uint16
    as 16-bit (PNG and TIFF only); float images in [0, 1] as 16-bit PNG/TIFF
    (``round(v * 65535)``, so ``load_image(path, as_float=True)`` returns them
    within 1 / 65535) or 8-bit JPEG/BMP (``round(v * 255)``). JPEG is lossy
    (quality 95).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.png``, ``.tif``, ``.tiff``, ``.jpg``, ``.jpeg`` or
        ``.bmp``. The folder must exist.
    image : (M, N) ndarray
        bool, uint8, uint16, or float in [0, 1].

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        For an unsupported extension, a uint16 image to an 8-bit-only format,
        or float values outside [0, 1].
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "square.png"
    >>> save_image(path, np.zeros((8, 8), dtype=np.uint8)).name
    'square.png'
    """
    import cv2

    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike; got {type(path).__name__}.")
    file = Path(os.fsdecode(path))
    suffix = file.suffix.lower()
    if suffix not in _SAVE_FORMATS:
        raise ValueError(f"cannot save '{file}': unsupported extension {suffix!r}; "
                         f"use one of {', '.join(_SAVE_FORMATS)} (writing DICOM "
                         "needs pydicom directly).")
    image = check_image(image)
    eight_bit = suffix in _EIGHT_BIT_FORMATS
    if image.dtype == np.uint16:
        if eight_bit:
            raise ValueError(f"cannot save '{file}': {suffix} stores 8 bits per pixel "
                             "but the image is uint16; save as .png or .tif to keep "
                             "16 bits, or convert with to_uint8(image) first.")
        pixels = image
    elif image.dtype.kind == "f" and not eight_bit:
        pixels = np.rint(to_float32(image).astype(np.float64) * 65535).astype(np.uint16)
    else:
        pixels = to_uint8(image)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else []
    ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(pixels), params)
    if not ok:
        raise ValueError(f"cannot save '{file}': OpenCV could not encode a "
                         f"{pixels.dtype} image as {suffix}.")
    # Writing the bytes ourselves also handles non-ASCII paths on every platform.
    file.write_bytes(encoded.tobytes())
    return file
