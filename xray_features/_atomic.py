"""Atomic file writes that never go through a symbolic link.

The one low-level writer of the toolkit: the results folder, the feature
cache, saved models and plots all write through it. A file is written to a
temporary file in its own folder and renamed over the target with
:func:`os.replace`, so a reader sees the old file or the new one, never half
of one. Renaming over a symbolic link replaces the link itself, never its
target; a link among the *folders* between a root and the file is refused
(:func:`check_no_links`), so nothing is written outside the root.
"""

import os
import tempfile
from pathlib import Path

__all__ = ["UnsafePathError", "write_bytes_atomic", "write_text_atomic", "check_no_links",
           "make_folders", "TEMPORARY_SUFFIX"]

#: Suffix of the temporary files; a leftover one is ours to delete.
TEMPORARY_SUFFIX = ".tmp"


class UnsafePathError(ValueError):
    """A path leads through a symbolic link, or out of the folder it must stay in."""


def check_no_links(path, root):
    """Refuse ``path`` when a folder between ``root`` and it is a symbolic link.

    ``root`` itself may be a link (the user chose it); every existing
    component below it must be a real folder (the last component may be
    anything: writing replaces a link there, never its target).

    Parameters
    ----------
    path, root : str or path-like
        ``path`` must lie inside ``root`` (``..`` is refused).

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    UnsafePathError
        If ``path`` is outside ``root`` or a folder on the way is a link.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> (root / "plots").symlink_to(tempfile.mkdtemp())
    >>> check_no_links(root / "plots" / "roc.png", root)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xray_features._atomic.UnsafePathError: ...plots' is a symbolic link; refusing to write ...
    """
    path, root = Path(path), Path(root)
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise UnsafePathError(f"'{path}' is not inside '{root}'; refusing to write "
                              "there") from None
    if ".." in relative.parts:
        raise UnsafePathError(f"'{path}' leaves '{root}' through '..'; refusing to write "
                              "there")
    current = root
    for part in relative.parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise UnsafePathError(
                f"'{current}' is a symbolic link; refusing to write '{path}' through it "
                f"('{part}' is a symbolic link inside '{root}'). Remove the link or choose "
                "another output directory.")
        if current.exists() and not current.is_dir():
            raise UnsafePathError(f"'{current}' is a file where a folder is needed for "
                                  f"'{path}'")
    return path


def make_folders(path, root):
    """Create the folders from ``root`` down to ``path`` (included), refusing
    links on the way; return the folders created, outermost first."""
    path, root = Path(path), Path(root)
    check_no_links(path / "x", root)
    created = []
    current = root
    for part in path.relative_to(root).parts:
        current = current / part
        if current.is_symlink():  # the last one: check_no_links let it through
            raise UnsafePathError(f"'{current}' is a symbolic link; refusing to use it as "
                                  "a folder. Remove the link or choose another folder.")
        if not current.is_dir():
            current.mkdir(exist_ok=True)
            created.append(current)
    return created


def write_bytes_atomic(path, data, *, root=None):
    """Write ``data`` to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or path-like
    data : bytes or callable
        The content, or a function ``write(handle)`` given a binary file
        handle (e.g. ``lambda handle: np.save(handle, array)``).
    root : str or path-like, optional
        The folder ``path`` must stay in: folders from ``root`` down are
        created and none of them may be a link (:func:`check_no_links`).
        Without ``root`` the parent folder is created as needed.

    Raises
    ------
    UnsafePathError
        If a folder between ``root`` and ``path`` is a symbolic link.
    OSError
        If writing fails (disk full, ...); the old file, if any, is kept and
        no temporary file is left behind.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.bin"
    >>> write_bytes_atomic(path, b"done"); path.read_bytes()
    b'done'
    """
    path = Path(path)
    if root is not None:
        make_folders(path.parent, root)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=TEMPORARY_SUFFIX)
    try:
        with os.fdopen(handle, "wb") as stream:
            # mkstemp creates 0600; outputs get the mode a plain open() would.
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            if callable(data):
                data(stream)
            else:
                stream.write(data)
        # os.replace renames over a link at `path` (the link is replaced,
        # never its target).
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask():
    """The process umask, read without changing it (``os.umask`` can only be
    read by setting it, which would race with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def write_text_atomic(path, text, *, root=None, encoding="utf-8"):
    """Write ``text`` to ``path`` atomically; see :func:`write_bytes_atomic`.

    Line endings are written as given (no translation).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_text_atomic(path, "done"); path.read_text()
    'done'
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    write_bytes_atomic(path, text.encode(encoding), root=root)
