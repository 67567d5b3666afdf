"""Datasets read from a folder with one sub-folder per class."""

import os

import numpy as np

from benchmarks._problems import Problems
from benchmarks.datasets import Dataset, DatasetError

__all__ = ["IMAGE_EXTENSIONS", "SPLIT_FOLDERS", "load_class_folders", "list_files"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm")
#: Folder names read as a predefined split, and the split they give.
SPLIT_FOLDERS = {"train": "train", "training": "train", "val": "val", "valid": "val",
                 "validation": "val", "test": "test", "testing": "test"}


def is_image_file(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def list_files(folder):
    """All non-hidden files below ``folder``, relative to it, sorted, with '/' separators."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_root = os.path.relpath(root, folder)
        for f in files:
            if not f.startswith("."):
                rel = f if rel_root == "." else os.path.join(rel_root, f)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def _subfolders(folder):
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def _loose_files(folder):
    return sorted(e.name for e in os.scandir(folder) if e.is_file() and not e.name.startswith("."))


def load_class_folders(source, *, strict=False, name=None, min_classes=2):
    """Images in ``<root>/<class>/`` or ``<root>/<split>/<class>/`` folders.

    Class names are the sorted sub-folder names; files may sit in deeper
    folders (e.g. one per patient). Files that are not images
    (:data:`IMAGE_EXTENSIONS`) or that lie outside a class folder are
    skipped and reported; a class folder without images is an empty class.
    Fewer than ``min_classes`` classes with images raise
    :class:`DatasetError`; classification needs two, while looking at a
    folder (``xray-bench inspect``) takes ``min_classes=0``.
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
    class_files = {}
    for folder, part in splits:
        base = os.path.join(root, folder) if folder else root
        for loose in _loose_files(base):
            rel = f"{folder}/{loose}" if folder else loose
            problems.add(rel, "file lies outside any class folder", "files outside class folders")
        for cls in _subfolders(base):
            files = list_files(os.path.join(base, cls))
            class_files.setdefault(cls, 0)
            for f in files:
                rel = "/".join(p for p in (folder, cls, f) if p)
                if is_image_file(f):
                    rows.append((rel, cls, part))
                    class_files[cls] += 1
                else:
                    problems.add(rel, f"not an image file (expected one of "
                                 f"{', '.join(IMAGE_EXTENSIONS)})", "non-image files")
    empty = sorted(c for c, n in class_files.items() if n == 0)
    for cls in empty:
        problems.add(cls, "class folder holds no image file", "empty classes")
    class_names = tuple(sorted(c for c, n in class_files.items() if n > 0))
    if len(class_names) < min_classes:
        raise DatasetError(
            f"load_dataset: {root!r} has images of {len(class_names)} class(es) "
            f"{list(class_names)} (empty: {empty}); a classification dataset needs one "
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
