"""A lazy, indexable stack of images: decoded once per (image, size), on demand.

:class:`ImageSource` holds a dataset's *sources* (image files or an
in-memory array) and hands out ``(n, H, W)`` uint8 stacks at one working
size. The first read at a size decodes every image of the view once, through
the streaming engine :func:`xray_features.stream.map_images` (chunked,
joblib-parallel, counted skips, strict mode), resizes it with padding
(:func:`~xray_features.preprocess.resize_with_padding`) and writes it as one
row of a flat uint8 temporary file, one per size. Later
reads take rows back with ``os.pread``: memory holds the rows asked for,
however many images there are. The file is read, not memory-mapped, because
mapped pages of a sequential pass count in a process's resident memory.

Views share one cache: :meth:`ImageSource.subset` selects images,
:meth:`ImageSource.at` asks for another size (decoded from the sources, not
from the first size), so a model that works at 128 pixels and one at 299
each get pixels resized once from the originals.

Each pixel file is an anonymous temporary file (:func:`tempfile.TemporaryFile`,
in ``$TMPDIR``): it has no name in the folder, so the system frees its space
when the last view of the source is garbage-collected or the process ends,
however it ends.
"""

import functools
import os
import tempfile

import numpy as np

from xray_features._validation import check_pair

__all__ = ["ImageSource"]


def _decode(item, size):
    """One item (a path or a 2-D array) as a uint8 image of ``size``; raises when unreadable."""
    from xray_features.preprocess import resize_with_padding

    if isinstance(item, (str, bytes, os.PathLike)):
        from xray_features.io import load_image

        return resize_with_padding(load_image(item), size)  # as Dataset.load_images did
    image = np.asarray(item)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 image; got shape {image.shape} dtype "
                         f"{image.dtype}")
    return image if image.shape == size else resize_with_padding(image, size)


class _Take:
    """``items[positions]`` without copying all of it: slices are taken per chunk."""

    def __init__(self, items, positions):
        self.items, self.positions = items, positions

    def __len__(self):
        return len(self.positions)

    def __getitem__(self, key):
        chosen = self.positions[key]
        if isinstance(self.items, np.ndarray):
            return self.items[chosen]
        if np.ndim(chosen) == 0:
            return self.items[int(chosen)]
        return [self.items[int(p)] for p in chosen]


class _PixelStore:
    """The shared cache of an :class:`ImageSource`: per size, one flat file,
    which rows hold pixels and which items could not be decoded."""

    def __init__(self, items, ids, n_jobs, chunk_size, strict, progress):
        self.items, self.ids = items, ids
        self.n_jobs, self.chunk_size = n_jobs, chunk_size
        self.strict, self.progress = strict, progress
        # (h, w) -> {"file", "fd", "filled" (bool per item), "failed" {position: reason}}
        self.sizes = {}
        self.n_decoded = 0

    def state(self, size):
        if size not in self.sizes:
            pixels = tempfile.TemporaryFile(prefix="xray-bench-pixels-")
            pixels.truncate(len(self.items) * size[0] * size[1])   # sparse until written
            self.sizes[size] = {"file": pixels, "fd": pixels.fileno(),
                                "filled": np.zeros(len(self.items), bool), "failed": {}}
        return self.sizes[size]

    def fill(self, size, positions):
        """Decode the items at ``positions`` not decoded at ``size`` yet."""
        from xray_features.stream import map_images

        state = self.state(size)
        todo = np.unique(positions)
        todo = todo[~state["filled"][todo]]
        if not len(todo):
            return state
        row = size[0] * size[1]
        ids = None if self.ids is None else _Take(np.asarray(self.ids), todo)
        chunks = map_images(functools.partial(_decode, size=size), _Take(self.items, todo),
                            n_jobs=self.n_jobs, chunk_size=self.chunk_size,
                            strict=self.strict, progress=self.progress, ids=ids,
                            desc=f"decoding at {size[0]}x{size[1]}")
        for start, images, skipped in chunks:
            for offset, image in enumerate(images):
                if image is not None:
                    os.pwrite(state["fd"], np.ascontiguousarray(image, np.uint8).tobytes(),
                              int(todo[start + offset]) * row)
            for index, _, reason in skipped:
                state["failed"][int(todo[index])] = reason
            self.n_decoded += len(images)
        state["filled"][todo] = True
        return state


class ImageSource:
    """Images as a lazy ``(N, H, W)`` uint8 stack at one size, decoded on demand.

    Parameters
    ----------
    images_or_paths : sequence of paths, or (N, H, W) uint8 ndarray
        Image files (any format :func:`xray_features.load_image` reads) or
        images in memory.
    size : int or (int, int)
        Working size; every image is resized with padding to it.
    ids : sequence of str, optional
        Names of the images in skip reports (default: the path or position).
    n_jobs, chunk_size : int
        Decoding workers and images per task (:func:`~xray_features.map_images`).
    strict : bool
        Raise on the first unreadable image instead of counting it in
        :meth:`skipped`.
    progress : bool
        Show a progress bar while decoding.

    Attributes
    ----------
    shape : (int, int, int)
    dtype : numpy.dtype
        Always uint8.

    Examples
    --------
    >>> stack = np.zeros((5, 20, 10), np.uint8); stack[:, 5:15, 2:8] = 200
    >>> source = ImageSource(stack, 16)
    >>> source.shape, source[1:3].shape, source[[4, 0]].dtype
    ((5, 16, 16), (2, 16, 16), dtype('uint8'))
    >>> int(source.at(8)[0].max()), len(source.subset([0, 2]))
    (200, 2)
    """

    ndim = 3
    dtype = np.dtype(np.uint8)

    def __init__(self, images_or_paths, size, *, ids=None, n_jobs=1, chunk_size=256,
                 strict=False, progress=False):
        self.size = check_pair(size, name="size", parts=("height", "width"))
        items = images_or_paths
        if isinstance(items, np.ndarray):
            if items.ndim != 3 or items.dtype != np.uint8:
                raise ValueError(f"ImageSource: an array must be an (N, H, W) uint8 stack; got "
                                 f"shape {items.shape} dtype {items.dtype}.")
        elif isinstance(items, (str, bytes, os.PathLike)) or not hasattr(items, "__len__"):
            raise TypeError("ImageSource: images_or_paths must be a list of image paths or "
                            f"an (N, H, W) uint8 array; got {type(items).__name__}.")
        else:
            items = [os.fspath(item) for item in items]
        if not len(items):
            raise ValueError("ImageSource: images_or_paths is empty; give at least one image.")
        if ids is not None and len(ids) != len(items):
            raise ValueError(f"ImageSource: ids must name every image ({len(items)}); got "
                             f"{len(ids)}.")
        self._store = _PixelStore(items, ids, n_jobs, chunk_size, strict, progress)
        self._index = np.arange(len(items))
        self._filled = False   # every image of this view decoded at self.size

    @classmethod
    def _view(cls, store, index, size):
        view = cls.__new__(cls)
        view._store, view._index, view.size, view._filled = store, index, size, False
        return view

    # ------------------------------------------------------------ views
    def __len__(self):
        return len(self._index)

    @property
    def shape(self):
        return (len(self), *self.size)

    def __repr__(self):
        kind = "array" if isinstance(self._store.items, np.ndarray) else "files"
        return f"ImageSource({len(self)} images from {kind}, at {self.size[0]}x{self.size[1]})"

    def subset(self, indices):
        """The images at ``indices`` (ints or a boolean mask), sharing this cache."""
        view = ImageSource._view(self._store, self._index[_as_index(indices, len(self))],
                                 self.size)
        view._filled = self._filled   # a part of a decoded view is decoded
        return view

    def at(self, size):
        """The same images at another size (decoded from the sources once per size)."""
        return ImageSource._view(self._store, self._index,
                                 check_pair(size, name="size", parts=("height", "width")))

    @property
    def n_decoded(self):
        """How many decodes this source and its views did (each image once per size)."""
        return self._store.n_decoded

    def _direct(self):
        items = self._store.items
        return isinstance(items, np.ndarray) and items.shape[1:] == self.size

    # -------------------------------------------------------- decoding
    def validate(self):
        """Decode every image at this size (once) and return the skipped ones.

        Returns
        -------
        skipped : list of (int, str, str)
            ``(position in this view, id, reason)`` of each unreadable image.
        """
        if self._direct():
            return []
        failed = self._store.fill(self.size, self._index)["failed"]
        self._filled = True
        ids = self._store.ids
        return [(k, str(ids[p]) if ids is not None else str(self._store.items[p]), failed[p])
                for k, p in enumerate(self._index.tolist()) if p in failed]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._read(self._index[[int(key)]])[0]
        if isinstance(key, slice):
            return self._read(self._index[key])
        return self._read(self._index[_as_index(key, len(self))])

    def __iter__(self):
        for _, chunk in self.iter_chunks():
            yield from chunk

    def __array__(self, dtype=None, copy=None):
        stack = self._read(self._index)
        return stack if dtype is None else stack.astype(dtype)

    def iter_chunks(self, chunk_size=256):
        """Yield ``(start, (n, H, W) stack)`` over the images, in order."""
        for start in range(0, len(self), chunk_size):
            yield start, self._read(self._index[start:start + chunk_size])

    def _read(self, positions):
        store = self._store
        if self._direct():
            return store.items[positions]
        if not self._filled:   # one pass over the whole view, the first time only
            store.fill(self.size, self._index)
            self._filled = True
        state = store.state(self.size)
        bad = [p for p in positions.tolist() if p in state["failed"]]
        if bad:
            raise ValueError(f"image {bad[0]} could not be decoded ({state['failed'][bad[0]]}); "
                             "drop it first (ImageSource.validate lists the skipped images).")
        row = self.size[0] * self.size[1]
        out = np.empty((len(positions), *self.size), np.uint8)
        flat = out.reshape(len(positions), row)
        # Runs of consecutive rows are read with one call each.
        breaks = np.flatnonzero(np.diff(positions) != 1) + 1
        for run in np.split(np.arange(len(positions)), breaks):
            if len(run):
                data = os.pread(state["fd"], row * len(run), int(positions[run[0]]) * row)
                flat[run[0]:run[-1] + 1] = np.frombuffer(data, np.uint8).reshape(-1, row)
        return out


def _as_index(indices, n):
    index = np.asarray(indices)
    if index.dtype == bool:
        if index.shape != (n,):
            raise ValueError(f"ImageSource: a boolean mask needs shape ({n},); got "
                             f"{index.shape}.")
        return np.flatnonzero(index)
    if index.size == 0:
        return index.astype(np.int64).ravel()
    if index.dtype.kind not in "iu" or index.ndim != 1:
        raise TypeError(f"ImageSource: indices must be a 1-D array of ints, a slice or a "
                        f"boolean mask; got dtype {index.dtype} shape {index.shape}.")
    if index.min() < -n or index.max() >= n:
        raise IndexError(f"ImageSource: indices must lie in [0, {n}); got "
                         f"{index.min()}..{index.max()}.")
    return index
