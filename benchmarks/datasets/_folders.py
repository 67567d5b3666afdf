"""Datasets read from a folder with one sub-folder per class."""

import os

import numpy as np

from benchmarks.datasets._problems import Problems
from benchmarks.datasets._record import Dataset, DatasetError
from xray_features.utils import printable_name

__all__ = ["IMAGE_EXTENSIONS", "SPLIT_FOLDERS", "load_class_folders", "list_files", "scan_files"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm")
#: Folder names read as a predefined split, and the split they give.
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}


def is_image_file(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _is_utf8(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:   # undecodable bytes, kept by Python as lone surrogates
        return False
    return True


def scan_files(folder):
    """Non-hidden files below ``folder`` and what could not be listed.

    Returns ``(files, problems)``: files relative to ``folder``, sorted, with
    '/' separators; problems ``(relative path, reason, kind)``, where the
    path ``""`` is ``folder`` itself. Unlike ``os.walk``, nothing is left
    out silently: unreadable folders, names that are not UTF-8 and folder
    links that lead back to a folder already listed (a loop) are reported.
    Links to folders are followed otherwise.
    """
    found, problems, seen = [], [], set()
    stack = [("", os.fspath(folder))]
    while stack:
        rel_dir, path = stack.pop()
        try:
            info = os.stat(path)
            if (info.st_dev, info.st_ino) in seen:
                problems.append((rel_dir, "link to a folder that is already listed (a loop or "
                                 "a second route); not followed", "folder links not followed"))
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            problems.append((rel_dir, f"cannot read folder ({exc.strerror or exc})",
                             "unreadable folders"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not _is_utf8(entry.name):
                problems.append((rel, "file name is not valid UTF-8; rename it", "names that "
                                 "are not UTF-8"))
                continue
            try:
                is_dir = entry.is_dir()   # follows links
            except OSError:
                is_dir = False
            if is_dir:
                stack.append((rel, entry.path))
            else:
                found.append(rel)
    return sorted(found), problems


def list_files(folder):
    """All non-hidden files below ``folder``, relative to it, sorted, with '/' separators."""
    return scan_files(folder)[0]


def _entries(folder, want_dirs):
    """Names of the non-hidden folders (or other entries) in ``folder``."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        raise DatasetError(f"load_dataset: cannot read folder {folder!r} "
                           f"({exc.strerror or exc}).") from exc
    return [e.name for e in entries if not e.name.startswith(".") and _is_dir(e) == want_dirs]


def _is_dir(entry):
    try:
        return entry.is_dir()
    except OSError:
        return False


def _subfolders(folder):
    return _entries(folder, True)


def _loose_files(folder):
    return _entries(folder, False)


def load_class_folders(source, *, strict=False, name=None, min_classes=2):
    """Images in ``<root>/<class>/`` or ``<root>/<split>/<class>/`` folders.

    Class names are the sorted sub-folder names; files may sit in deeper
    folders (e.g. one per patient). Files that are not images
    (:data:`IMAGE_EXTENSIONS`) or that lie outside a class folder are
    skipped and reported; a class folder without images is an empty class.
    Fewer than ``min_classes`` classes with images raise
    :class:`DatasetError`; classification needs two, while looking at a
    folder (``xray-bench inspect``) takes ``min_classes=0``.
    Sub-folders that cannot be read, names that are not UTF-8 and links
    that loop back are reported too (refused with ``strict``); links to
    folders are followed otherwise.
    """
    root = os.fspath(source)
    problems = Problems(f"load_dataset({root!r})")
    top = _subfolders(root)
    in_split = [d for d in top if d.lower() in SPLIT_FOLDERS]
    if in_split and len(in_split) < len(top):
        others = [d for d in top if d not in in_split]
        raise DatasetError(
            f"load_dataset: {root!r} mixes split folders {in_split} with other folders "
            f"{others}; put every class folder inside train/, val/ and test/, or none.")
    splits = [(d, SPLIT_FOLDERS[d.lower()]) for d in in_split] or [("", None)]
    if len({s for _, s in splits}) < len(splits):
        raise DatasetError(f"load_dataset: {root!r} has several folders for one split "
                           f"({in_split}); keep one of each of train/, val/, test/.")

    rows = []  # (id, class name, split)
    class_files, unreadable = {}, set()
    for folder, part in splits:
        base = os.path.join(root, folder) if folder else root
        for loose in _loose_files(base):
            rel = f"{folder}/{loose}" if folder else loose
            problems.add(printable_name(rel), "file lies outside any class folder",
                         "files outside class folders")
        for cls in _subfolders(base):
            where = f"{folder}/{cls}" if folder else cls
            if not _is_utf8(cls):
                problems.add(printable_name(where), "folder name is not valid UTF-8; rename it",
                             "names that are not UTF-8")
                continue
            files, trouble = scan_files(os.path.join(base, cls))
            for rel, reason, kind in trouble:
                if rel == "":   # the class folder itself: unreadable, not empty
                    reason = reason.replace("folder", "class folder", 1)
                    kind = "unreadable class folders"
                    unreadable.add(cls)
                problems.add(printable_name(f"{where}/{rel}" if rel else where), reason, kind)
            class_files.setdefault(cls, 0)
            for f in files:
                rel = "/".join(p for p in (folder, cls, f) if p)
                if is_image_file(f):
                    rows.append((rel, cls, part))
                    class_files[cls] += 1
                else:
                    problems.add(rel, f"not an image file (expected one of "
                                 f"{', '.join(IMAGE_EXTENSIONS)})", "non-image files")
    empty = sorted(c for c, n in class_files.items() if n == 0 and c not in unreadable)
    for cls in empty:
        problems.add(cls, "class folder holds no image file", "empty classes")
    class_names = tuple(sorted(c for c, n in class_files.items() if n > 0))
    if len(class_names) < min_classes:
        raise DatasetError(
            f"load_dataset: {root!r} has images of {len(class_names)} class(es) "
            f"{list(class_names)} (empty: {empty}"
            + (f", unreadable: {sorted(unreadable)}" if unreadable else "") + "); a classification dataset needs one "
            "sub-folder per class with images in at least two of them.")
    problems.resolve(strict)
    index = {c: i for i, c in enumerate(class_names)}
    ids = [r[0] for r in rows]
    return Dataset(
        labels=np.asarray([index[r[1]] for r in rows], dtype=np.int64), class_names=class_names,
        task="binary" if len(class_names) == 2 else "multiclass", ids=ids,
        paths=[os.path.join(root, *i.split("/")) for i in ids],
        split=None if splits[0][1] is None else [r[2] for r in rows],
        name=name or os.path.basename(os.path.normpath(root)), skipped=problems.skipped())
