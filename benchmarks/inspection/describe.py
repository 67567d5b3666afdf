"""What one image contributes to an inspection: a pure function for the workers.

:func:`describe_image` decodes one file (or takes one in-memory image) and
returns everything the running summaries need from it: the image at the
working size, its intensity histogram, its contrast, its hashes and its
header properties. It is mapped over a dataset by
:func:`xray_features.stream.map_images`, so pixels are decoded once per image.
"""

import os

import numpy as np

__all__ = ["describe_image", "read_header"]

#: Bits per sample of Pillow's image modes.
_MODE_BITS = {"1": 1, "L": 8, "LA": 8, "P": 8, "RGB": 8, "RGBA": 8, "CMYK": 8, "YCbCr": 8,
              "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16, "I": 32, "F": 32}


def read_header(path):
    """Header properties of an image file, without decoding its pixels.

    Parameters
    ----------
    path : str or os.PathLike
        A PNG/JPEG/BMP/TIFF file (read by Pillow) or a DICOM file (pydicom).

    Returns
    -------
    dict
        ``format`` (file suffix), ``bit_depth``, ``photometric`` (the DICOM
        PhotometricInterpretation, or the Pillow mode such as ``"L"``),
        ``modality`` and ``view`` (DICOM Modality and ViewPosition; ``None``
        elsewhere). A value that cannot be read is ``None``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from xray_features.io import save_image
    >>> path = save_image(Path(tempfile.mkdtemp()) / "a.png", np.zeros((4, 6), np.uint16))
    >>> read_header(path)
    {'format': 'png', 'bit_depth': 16, 'photometric': 'I;16', 'modality': None, 'view': None}
    """
    path = os.fspath(path)
    header = {"format": os.path.splitext(path)[1].lower().lstrip(".") or None,
              "bit_depth": None, "photometric": None, "modality": None, "view": None}
    with open(path, "rb") as handle:
        start = handle.read(132)
    if start[128:132] == b"DICM" or header["format"] in ("dcm", "dicom"):
        import pydicom

        try:
            tags = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:   # noqa: BLE001 - the decoder reports unreadable files
            return header
        bits = tags.get("BitsStored", tags.get("BitsAllocated"))
        header.update(format="dcm", bit_depth=None if bits is None else int(bits),
                      photometric=_text(tags.get("PhotometricInterpretation")),
                      modality=_text(tags.get("Modality")),
                      view=_text(tags.get("ViewPosition")))
        return header
    from PIL import Image

    try:
        with Image.open(path) as picture:
            header["photometric"] = picture.mode
            header["bit_depth"] = _MODE_BITS.get(picture.mode)
    except Exception:   # noqa: BLE001 - the decoder reports unreadable files
        pass
    return header


def _text(value):
    text = "" if value is None else str(value).strip()
    return text or None


def perceptual_hash(image, *, hash_size=16):
    """DCT perceptual hash (pHash) of a 2-D image: ``hash_size**2`` bits.

    The image is shrunk to ``4 * hash_size`` pixels square (area averaging),
    transformed with a 2-D DCT, and the ``hash_size x hash_size`` lowest
    frequencies are compared with their median (the constant term left out
    of the median): one bit per frequency. Resizing, re-encoding and small
    intensity changes leave most bits as they are, so near-duplicates differ
    in few bits. Written here with OpenCV's ``cv2.dct`` (a dozen lines)
    rather than adding the ``imagehash`` package for it.

    The usual 64-bit hash (``hash_size=8``) keeps too little of a chest film:
    on 1,200 films of pneumonia224, 1% of the films had a *different* film
    within 4 bits, as close as a re-encoded copy. With 256 bits (the default)
    copies shrunk to 80%, brightened by 8 gray levels and saved as JPEG at
    quality 60 stayed within 10 bits, while the nearest different film was
    44 bits or more away for 99.9% of films.

    Returns
    -------
    (hash_size**2 / 64,) ndarray of uint64

    References
    ----------
    .. [1] Zauner C., "Implementation and benchmarking of perceptual image
       hash functions", Master's thesis, Upper Austria University of Applied
       Sciences, 2010.

    Examples
    --------
    >>> ramp = np.tile(np.arange(128, dtype=np.uint8) * 2, (128, 1))
    >>> a, b = perceptual_hash(ramp), perceptual_hash(ramp[::2, ::2])
    >>> a.shape, int((a ^ b).sum())
    ((4,), 0)
    """
    import cv2

    side = 4 * hash_size
    small = cv2.resize(np.asarray(image, dtype=np.float32), (side, side),
                       interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:hash_size, :hash_size].ravel()
    bits = low > np.median(low[1:])
    return np.packbits(bits).view(">u8").astype(np.uint64)


def describe_image(item, size):
    """Everything an inspection takes from one image or file.

    Parameters
    ----------
    item : str, os.PathLike or 2-D ndarray
        An image file (decoded with :func:`xray_features.load_image`, uint8)
        or an image already in memory.
    size : int
        Side of the square working image (resized with padding, as the
        models of ``xray-bench run`` see it).

    Returns
    -------
    dict
        ``image`` (size x size uint8), ``height``, ``width`` (native),
        ``histogram`` (256 fractions of pixels at each gray level of the
        native uint8 image), ``rms`` and ``michelson`` contrast, ``digest``
        (of the decoded pixels; equal for byte-identical images),
        ``phash`` (256-bit perceptual hash) and the header properties of
        :func:`read_header`.

    Raises
    ------
    ImageLoadError
        For a file that cannot be read (the caller counts it as skipped).

    Examples
    --------
    >>> out = describe_image(np.full((20, 10), 100, np.uint8), 8)
    >>> out["image"].shape, out["height"], out["width"], float(out["histogram"][100])
    ((8, 8), 20, 10, 1.0)
    """
    from benchmarks.evaluation.splits import image_digest
    from xray_features.io import load_image
    from xray_features.preprocess import resize_with_padding, to_uint8

    if isinstance(item, (str, bytes, os.PathLike)):
        image = load_image(item)
        header = read_header(item)
    else:
        image = to_uint8(np.asarray(item))
        bits = np.asarray(item).dtype.itemsize * 8
        header = {"format": "array", "bit_depth": bits, "photometric": None,
                  "modality": None, "view": None}
    counts = np.bincount(image.ravel(), minlength=256).astype(np.float64)
    histogram = counts / counts.sum()
    rms, michelson = contrast_from_histogram(histogram)
    return {"image": resize_with_padding(image, size), "height": image.shape[0],
            "width": image.shape[1], "histogram": histogram.astype(np.float32),
            "rms": rms, "michelson": michelson, "digest": image_digest(image),
            "phash": perceptual_hash(image), **header}


def contrast_from_histogram(histogram, *, low=0.01, high=0.99):
    """RMS and Michelson contrast of a uint8 image, from its 256-bin histogram.

    RMS contrast is the standard deviation of the intensities on [0, 1].
    Michelson contrast ``(I_max - I_min) / (I_max + I_min)`` takes ``I_min``
    and ``I_max`` as the ``low`` and ``high`` quantiles rather than the
    extreme pixels, which one dead or burnt-in pixel would set for every film.

    Examples
    --------
    >>> histogram = np.zeros(256); histogram[[50, 150]] = 0.5
    >>> [round(value, 3) for value in contrast_from_histogram(histogram)]
    [0.196, 0.5]
    """
    histogram = np.asarray(histogram, dtype=np.float64)
    levels = np.arange(256) / 255.0
    mean = float(histogram @ levels)
    rms = float(np.sqrt(max(histogram @ (levels - mean) ** 2, 0.0)))
    cumulative = np.cumsum(histogram)
    bottom = levels[min(int(np.searchsorted(cumulative, low)), 255)]
    top = levels[min(int(np.searchsorted(cumulative, high)), 255)]
    michelson = float((top - bottom) / (top + bottom)) if top + bottom > 0 else 0.0
    return rms, michelson
