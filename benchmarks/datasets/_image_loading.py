"""A dataset's images as one lazy source, or decoded into memory.

:func:`open_images` is the one image path of a run: a dataset's files (or
its in-memory stack) become an :class:`xray_features.image_source.ImageSource`
whose first pass, at the first size needed, decodes every file once, counts
the unreadable ones and drops them from the dataset before it is split.
"""

import numbers
from collections import Counter
from dataclasses import replace

import numpy as np

from benchmarks.datasets._problems import Problems
from benchmarks.datasets._record import Dataset, DatasetError
from xray_features.utils import array_limit, format_bytes
from xray_features.utils import check_positive_int

__all__ = ["dataset_source", "decode_one", "load_dataset_images", "open_images"]


def _check_size(size):
    if size is None:
        return None
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        if size > 0:
            return int(size)
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(s, numbers.Integral) and s > 0 for s in size)):
        return (int(size[0]), int(size[1]))
    raise ValueError(f"load_images: size must be a positive int (square side), a pair "
                     f"(height, width) or None for the native size, got {size!r}.")


def decode_one(path, size):
    """Read one file as uint8 and resize it with padding.

    Returns ``(image, None)`` or ``(None, reason)``; a pure function that a
    batch engine can map over paths.
    """
    from xray_features.io import ImageLoadError, load_image
    from xray_features.preprocess import resize_with_padding

    try:
        image = load_image(path)
    except ImageLoadError as exc:
        return None, f"unreadable image: {exc.reason}"
    except OSError as exc:
        return None, f"unreadable image: {exc}"
    if size is not None:
        image = resize_with_padding(image, size)
    return image, None


def _resize_all(images, size):
    from xray_features.preprocess import resize_with_padding

    return np.stack([resize_with_padding(image, size) for image in images])


def load_dataset_images(dataset, *, size=None, strict=False, n_jobs=1, progress=False,
                        max_bytes=None):
    """Implementation of :meth:`Dataset.load_images`."""
    if not isinstance(dataset, Dataset):
        raise TypeError(f"load_images: expected a Dataset, got {type(dataset).__name__}.")
    size = _check_size(size)
    max_bytes = check_positive_int(array_limit(max_bytes), name="max_bytes")
    if size is not None:
        height, width = _square(size)
        if len(dataset) * height * width > max_bytes:
            raise DatasetError(
                f"load_images: {len(dataset)} images of {height} x {width} need "
                f"{format_bytes(len(dataset) * height * width)} of memory, more than "
                f"max_bytes={max_bytes} ({format_bytes(max_bytes)}); use a smaller size or "
                "fewer images, or pass a larger max_bytes.")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        raise ValueError(f"load_images: n_jobs must be a non-zero int (1: no parallelism, "
                         f"-1: all cores, as in joblib), got {n_jobs!r}.")
    if dataset.images is not None:
        if size is None or dataset.images.shape[1:] == _square(size):
            return dataset
        return replace(dataset, images=_resize_all(dataset.images, size))

    if size is None:
        return _load_native(dataset, strict=strict, n_jobs=n_jobs, progress=progress)
    kept, source = open_images(dataset, size=size, strict=strict, n_jobs=n_jobs,
                               progress=progress)
    return replace(kept, images=np.asarray(source))


def open_images(dataset, *, size, strict=False, n_jobs=1, progress=False):
    """The dataset's images as a lazy source; unreadable files dropped and counted.

    Parameters
    ----------
    dataset : Dataset
        Files (``paths``) or an in-memory stack (``images``).
    size : int
        Side of the square images the first pass decodes files to (an
        in-memory stack is handed over at its own size; models ask the
        source for theirs).
    strict, n_jobs, progress
        As in :meth:`Dataset.load_images`.

    Returns
    -------
    dataset : Dataset
        Without the unreadable files, which are listed in ``skipped``.
    source : xray_features.image_source.ImageSource
        Aligned with the returned dataset.

    Examples
    --------
    >>> from benchmarks.datasets import load_dataset
    >>> ds, source = open_images(load_dataset("phantoms:fracture", n_images=4, image_size=32),
    ...                          size=64)
    >>> source.shape, source.at(16)[0].shape
    ((4, 32, 32), (16, 16))
    """
    source = dataset_source(dataset, size=size, n_jobs=n_jobs, progress=progress)
    if dataset.images is not None:
        return dataset, source
    problems = Problems(f"load_images({dataset.name!r})")
    bad = set()
    for position, identifier, reason in source.validate():
        problems.add(identifier, f"unreadable image: {reason}", "unreadable images")
        bad.add(position)
    problems.resolve(strict)
    if len(bad) == len(dataset):
        raise DatasetError(f"load_images: no image of {dataset.name!r} could be read "
                           f"({len(dataset)} files); see Dataset.skipped.")
    keep = np.asarray([i for i in range(len(dataset)) if i not in bad], dtype=np.int64)
    if not bad:
        return dataset, source
    kept = dataset.subset(keep)
    return (replace(kept, skipped=list(dataset.skipped) + problems.skipped()),
            source.subset(keep))


def dataset_source(dataset, *, size, n_jobs=1, progress=False):
    """The dataset's images as a lazy source, unchecked: an in-memory stack at
    its own size, files first decoded at ``size`` (see :func:`open_images`,
    which also finds and drops the unreadable files)."""
    from xray_features.image_source import ImageSource

    if dataset.images is not None:
        return ImageSource(dataset.images, dataset.images.shape[1:], ids=dataset.ids,
                           n_jobs=n_jobs, progress=progress)
    return ImageSource(dataset.paths, size, ids=dataset.ids, n_jobs=n_jobs, progress=progress)


def _load_native(dataset, *, strict, n_jobs, progress):
    """Files decoded at their own size, which must be the same for all."""
    paths = dataset.paths
    if n_jobs == 1:
        results = map(decode_one, paths, [None] * len(paths))
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(decode_one)(path, None) for path in paths)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(paths), desc=f"loading {dataset.name}", unit="image")
    images, keep = [], []
    problems = Problems(f"load_images({dataset.name!r})")
    try:
        for i, (image, reason) in enumerate(results):
            if image is None:
                problems.add(dataset.ids[i], reason, "unreadable images")
                if strict:
                    break
            else:
                images.append(image)
                keep.append(i)
    finally:
        if progress:
            results.close()
    problems.resolve(strict)
    shapes = Counter(image.shape for image in images)
    if len(shapes) > 1:
        common = ", ".join(f"{h}x{w} ({n})" for (h, w), n in shapes.most_common(3))
        raise DatasetError(f"load_images: images have different sizes ({common}); "
                           "pass size=<int> to resize them with padding to one square size.")
    if not images:
        raise DatasetError(f"load_images: no image of {dataset.name!r} could be read "
                           f"({len(paths)} files); see Dataset.skipped.")
    kept = dataset.subset(np.asarray(keep, dtype=np.int64))
    return replace(kept, images=np.stack(images),
                   skipped=list(dataset.skipped) + problems.skipped())


def _square(size):
    return (size, size) if isinstance(size, int) else tuple(size)
