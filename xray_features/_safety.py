"""Guards for reading files a user points the toolkit at.

Every reader of image files, label tables and array archives goes through
these checks, so a hostile or broken input gives a clear error instead of a
hang or an out-of-memory crash:

* only **regular files** are opened (a FIFO would block forever, a device
  such as ``/dev/zero`` never ends); symbolic links are judged by their
  target;
* the **file size** is checked before reading, and reads are bounded;
* the **decoded size** (pixels x channels x bytes per sample) is known from
  the header and checked before any pixel is decoded;
* array archives (``.npz``) are checked from their zip directory and the
  ``.npy`` headers, never by loading them.

The limits are module constants (read-only defaults) that every public
function takes as a parameter, so a caller with genuine huge files passes
a larger value.

Examples
--------
>>> import tempfile, os
>>> folder = tempfile.mkdtemp()
>>> os.mkfifo(os.path.join(folder, "x.png"))
>>> try:
...     check_regular_file(os.path.join(folder, "x.png"))
... except UnsafeFileError as error:
...     print(error.reason)
is a FIFO (named pipe), not a regular file
"""

import os
import stat

import numpy as np

__all__ = ["DEFAULT_MAX_FILE_BYTES", "DEFAULT_MAX_DECODED_BYTES", "DEFAULT_MAX_ARRAY_BYTES",
           "MAX_IMAGE_SIZE", "MAX_COMPRESSION_RATIO", "UnsafeFileError", "array_limit", "check_regular_file", "read_bounded",
           "check_decoded_bytes", "check_npz", "printable_name", "format_bytes"]

#: Largest image file read (512 MiB): above any radiograph, even an
#: uncompressed 16-bit 16k x 16k DICOM, far below a sparse or endless file.
DEFAULT_MAX_FILE_BYTES = 512 * 2 ** 20
#: Largest decoded image, pixels x channels x bytes per sample (256 MiB):
#: an 8192 x 8192 8-bit RGBA or 16-bit gray film fits; an 8000 x 8000
#: 16-bit RGBA PNG (512 MB decoded from a 0.5 MB file) does not.
DEFAULT_MAX_DECODED_BYTES = 256 * 2 ** 20
#: Floor of the largest array data held in memory for one dataset (the
#: arrays of an ``.npz`` archive, a stack of decoded or generated images):
#: the default limit is half the machine's physical memory, and never
#: less than this 2 GiB. MedMNIST's PneumoniaMNIST at 224 px is 0.3 GB.
DEFAULT_MAX_ARRAY_BYTES = 2 * 2 ** 30
#: Largest compression ratio of an ``.npz`` member above 16 MiB: image
#: arrays compress a few times, a zip bomb about a thousand times.
MAX_COMPRESSION_RATIO = 200
#: Largest side, in pixels, of the square size images are resized to.
MAX_IMAGE_SIZE = 4096

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class UnsafeFileError(ValueError):
    """A file that must not be read as asked; names the file and the reason.

    Examples
    --------
    >>> str(UnsafeFileError("a.png", "file not found"))
    "cannot read 'a.png': file not found"
    """

    def __init__(self, path, reason):
        self.path = printable_name(path)
        self.reason = reason
        super().__init__(f"cannot read '{self.path}': {reason}")

    def __reduce__(self):
        return type(self), (self.path, self.reason)


def printable_name(path):
    """``path`` as text that any UTF-8 output accepts.

    Bytes that are not UTF-8 (kept by Python as lone surrogates) are shown
    as ``\\xff`` escapes instead of failing when written.

    Examples
    --------
    >>> printable_name(b"\\xff.png")
    '\\\\xff.png'
    """
    text = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def format_bytes(n):
    """Bytes as a short human string.

    Examples
    --------
    >>> format_bytes(3 * 2 ** 30)
    '3.0 GiB'
    """
    for unit, size in (("TiB", 2 ** 40), ("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def array_limit(max_bytes=None):
    """``max_bytes``, or by default half the physical memory (at least 2 GiB).

    Examples
    --------
    >>> array_limit(1000)
    1000
    >>> array_limit() >= DEFAULT_MAX_ARRAY_BYTES
    True
    """
    if max_bytes is not None:
        return max_bytes
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):   # not on this platform
        memory = 0
    return max(DEFAULT_MAX_ARRAY_BYTES, memory // 2)


def check_regular_file(path, *, max_bytes=DEFAULT_MAX_FILE_BYTES):
    """Return ``os.stat(path)`` if ``path`` is a regular file of at most ``max_bytes``.

    ``stat`` never blocks, unlike ``open`` on a FIFO, and follows symbolic
    links, so a link to ``/dev/zero`` is refused as a device.

    Raises
    ------
    UnsafeFileError
        Missing, not a regular file, or larger than ``max_bytes`` (``None``:
        no size limit).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        reason = "broken symbolic link" if os.path.islink(path) else "file not found"
        raise UnsafeFileError(path, reason) from None
    except OSError as exc:
        raise UnsafeFileError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        raise UnsafeFileError(path, f"is {kind}, not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        raise UnsafeFileError(path, f"file is {format_bytes(info.st_size)}, more than the "
                              f"limit max_bytes={max_bytes} ({format_bytes(max_bytes)}); pass "
                              "a larger limit if the file is genuine")
    return info


def read_bounded(path, *, max_bytes=DEFAULT_MAX_FILE_BYTES):
    """The bytes of a regular file, reading at most ``max_bytes``.

    Raises
    ------
    UnsafeFileError
        As :func:`check_regular_file`, or if the file cannot be opened.
    """
    check_regular_file(path, max_bytes=max_bytes)
    # O_NONBLOCK: should the file be swapped for a FIFO after the check, the
    # open returns at once instead of waiting for a writer.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as exc:
        raise UnsafeFileError(path, f"cannot read file ({exc.strerror or exc})") from exc
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnsafeFileError(path, "changed into a non-regular file while opened")
        limit = max_bytes + 1 if max_bytes is not None else -1
        try:
            data = handle.read(limit)
        except OSError as exc:
            raise UnsafeFileError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise UnsafeFileError(path, f"file grew beyond max_bytes={max_bytes} while read")
    return data


def check_decoded_bytes(path, height, width, *, channels=1, bytes_per_sample=1,
                        max_bytes=DEFAULT_MAX_DECODED_BYTES):
    """Refuse an image whose decoded pixels would take more than ``max_bytes``.

    Examples
    --------
    >>> check_decoded_bytes("ok.png", 512, 512, channels=4, bytes_per_sample=2)
    2097152
    """
    cost = int(height) * int(width) * int(channels) * int(bytes_per_sample)
    if cost > max_bytes:
        raise UnsafeFileError(
            path, f"decoding needs {height} x {width} pixels x {channels} channel(s) x "
            f"{bytes_per_sample} byte(s) = {format_bytes(cost)}, more than "
            f"max_decoded_bytes={max_bytes} ({format_bytes(max_bytes)}); pass a larger "
            "limit if the file is genuine")
    return cost


def check_npz(path, *, max_bytes=None, max_ratio=MAX_COMPRESSION_RATIO):
    """Check an ``.npz`` archive from its headers; return ``{name: (shape, dtype)}``.

    Reads the zip directory (declared uncompressed sizes) and each member's
    ``.npy`` header (shape and dtype) with :mod:`numpy.lib.format`; no array
    data is decompressed. Refuses a file that is not a zip archive, a
    member that is not an ``.npy`` array, object arrays (they need pickle),
    members above 16 MiB compressed more than ``max_ratio`` times (zip
    bombs), and archives whose arrays or declared sizes exceed
    ``max_bytes`` (default: half the physical memory, see
    :func:`array_limit`).

    Raises
    ------
    UnsafeFileError
    """
    import zipfile

    from numpy.lib import format as npy_format

    max_bytes = array_limit(max_bytes)
    check_regular_file(path, max_bytes=None)
    if not zipfile.is_zipfile(path):
        raise UnsafeFileError(path, "not a zip archive; an .npz file is a zip of .npy "
                              "arrays written by numpy.savez")
    arrays, declared, total = {}, 0, 0
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                declared += member.file_size
                ratio = member.file_size / max(member.compress_size, 1)
                if member.file_size > 16 * 2 ** 20 and ratio > max_ratio:
                    raise UnsafeFileError(path, f"member {member.filename!r} declares "
                                          f"{format_bytes(member.file_size)} compressed "
                                          f"{ratio:.0f} times (more than max_ratio="
                                          f"{max_ratio}): a zip bomb, or pass a larger "
                                          "max_ratio if the file is genuine")
                if not member.filename.endswith(".npy"):
                    raise UnsafeFileError(path, f"member {member.filename!r} is not an .npy "
                                          "array")
                with archive.open(member) as handle:
                    version = npy_format.read_magic(handle)
                    if version == (1, 0):
                        shape, _, dtype = npy_format.read_array_header_1_0(handle)
                    else:
                        shape, _, dtype = npy_format.read_array_header_2_0(handle)
                name = member.filename[:-4]
                if dtype.hasobject:
                    raise UnsafeFileError(path, f"array {name!r} holds Python objects "
                                          f"(dtype {dtype}), which would need pickle; "
                                          "store numbers only")
                total += int(np.prod(shape, dtype=object)) * dtype.itemsize
                arrays[name] = (shape, dtype)
    except UnsafeFileError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise UnsafeFileError(path, f"corrupt .npz archive ({exc})") from exc
    size = max(declared, total)
    if size > max_bytes:
        raise UnsafeFileError(path, f"its arrays take {format_bytes(size)} when loaded, more "
                              f"than max_bytes={max_bytes} ({format_bytes(max_bytes)}); pass a "
                              "larger max_bytes if the file is genuine")
    return arrays
