"""Read a multipart upload into memory, with limits, never touching disk.

Starlette's own form parser spools files above 1 MB to a temporary file; the
app promises that nothing uploaded is written to disk, so the body is
streamed through python-multipart's parser here and every part is kept in
memory, with its size checked as it arrives.
"""

from dataclasses import dataclass, field

__all__ = ["UploadLimits", "UploadError", "Upload", "read_uploads"]


@dataclass(frozen=True)
class UploadLimits:
    """Limits of one request, and of the decoding the whole server does at once.

    Attributes
    ----------
    max_bytes : int
        Largest file, in bytes.
    max_pixels : int
        Largest image, in pixels, read from the header before decoding
        (decompression bombs).
    max_files : int
        Most files per request.
    max_request_pixels : int
        Pixels (from the headers) a request may have decoded in all; files
        beyond the budget get a 413 entry in ``errors``.
    max_decodes : int
        Files decoded at the same time on the server, over all requests: a
        file's full-size pixels exist only while it is decoded, so this
        bounds the server's peak memory (about 260 MB for an 8192 x 8192
        RGB PNG).

    Raises
    ------
    ValueError
        If a limit is not a positive integer.
    """

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 8192 * 8192
    max_files: int = 32
    max_request_pixels: int = 4 * 8192 * 8192
    max_decodes: int = 1

    def __post_init__(self):
        for name in ("max_bytes", "max_pixels", "max_files", "max_request_pixels",
                     "max_decodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"UploadLimits.{name} must be a positive integer; got "
                                 f"{value!r}")

    def describe(self):
        return {"max_file_mb": round(self.max_bytes / 2 ** 20, 2),
                "max_pixels": self.max_pixels, "max_files": self.max_files,
                "max_request_pixels": self.max_request_pixels,
                "max_decodes": self.max_decodes}


class UploadError(ValueError):
    """A request the app refuses: ``status`` is the HTTP code, the message says why."""

    def __init__(self, status, message):
        self.status = status
        super().__init__(message)


@dataclass
class Upload:
    """One uploaded file: its client-side name (a label only) and bytes."""

    name: str
    data: bytearray = field(default_factory=bytearray)


async def read_uploads(request, limits, *, field_name="files"):
    """Parse the ``multipart/form-data`` body of ``request`` into uploads.

    Raises
    ------
    UploadError
        415 when the body is not multipart, 413 when a file exceeds
        ``max_bytes``, 400 when there are no files or more than ``max_files``.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise UploadError(415, "send the films as multipart/form-data with one or more "
                               f"'{field_name}' parts (an HTML file form does this)")
    length = request.headers.get("content-length")
    ceiling = limits.max_files * (limits.max_bytes + 64 * 1024)
    if length is not None and length.isdigit() and int(length) > ceiling:
        raise UploadError(413, f"the request is {int(length) / 2 ** 20:.1f} MB, more than "
                               f"{limits.max_files} files of at most "
                               f"{limits.max_bytes / 2 ** 20:.3g} MB can take")
    uploads, state = [], {"header": b"", "headers": {}, "current": None, "error": None}

    def on_header_field(data, start, end):
        state["header"] += bytes(data[start:end])

    def on_header_value(data, start, end):
        key = state["header"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + bytes(data[start:end])

    def on_header_end():
        state["header"] = b""

    def on_headers_finished():
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition",
                                                                   b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        state["headers"] = {}
        if name != field_name or filename is None:
            state["current"] = None  # other form fields are ignored
            return
        if len(uploads) >= limits.max_files:
            state["error"] = UploadError(400, f"too many files: at most {limits.max_files} "
                                              "per request; send them in smaller batches")
            state["current"] = None
            return
        state["current"] = Upload(filename.decode("utf-8", "replace") or "unnamed")
        uploads.append(state["current"])

    def on_part_data(data, start, end):
        current = state["current"]
        if current is None or state["error"]:
            return
        current.data += data[start:end]
        if len(current.data) > limits.max_bytes:
            state["error"] = UploadError(413, f"file '{current.name}' is larger than the "
                                              f"{limits.max_bytes / 2 ** 20:.3g} MB limit")
            current.data = bytearray()

    parser = MultipartParser(options[b"boundary"], callbacks={
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data})
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > ceiling:
                raise UploadError(413, "the request is larger than the upload limits allow")
            parser.write(chunk)
            if state["error"] is not None:
                raise state["error"]
        parser.finalize()
    except UploadError:
        raise
    except Exception as error:  # a malformed body is the client's error
        raise UploadError(400, f"malformed multipart body ({error})") from error
    if state["error"] is not None:
        raise state["error"]
    if not uploads:
        raise UploadError(400, f"no files received; add one or more '{field_name}' parts")
    return uploads
