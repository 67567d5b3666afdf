"""Feature extraction over many images: chunked, parallel, cached, lenient.

:func:`extract_features` maps an extractor's pure per-image
``extract_one`` over arrays or image files. Images are streamed in chunks:
files are decoded inside the worker processes, one at a time, so memory stays
flat however many images there are; only the float32 feature matrix grows.

The on-disk cache keeps one ``.npy`` vector per image under
``cache_dir/<extractor key>/``. The extractor key hashes the extractor's
class, its parameters (nested ones included), the package version and the
source of the extractor's package (its private modules included), so
changing any of them starts a fresh folder. The image key hashes the image *content*: the file bytes (plus the
loader's name) for paths, or dtype, shape and pixels for arrays. Content is
safer than path, size and modification time, which miss an edited file of
the same size and break on copies and renames; hashing a file costs far less
than decoding it. Files are written to a temporary name and renamed, so
parallel workers or an interrupted run never leave a partial vector.
"""

import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from xray_features._atomic import write_bytes_atomic
from xray_features._validation import check_image, check_n_jobs, check_scalar

__all__ = ["extract_features", "ExtractionReport"]

_CACHE_FORMAT = 1   # bump when the cache layout or key recipe changes


@dataclass(frozen=True, eq=False)
class ExtractionReport:
    """What :func:`extract_features` did.

    Attributes
    ----------
    n_images : int
        Images given.
    n_ok : int
        Images with features: the rows of ``X``.
    kept : (n_ok,) ndarray of int
        Input position of each row of ``X`` (``y[report.kept]`` aligns labels).
    skipped : tuple of (str, str)
        ``(id, reason)`` of every image that could not be read or was invalid.
    n_cached : int
        Images whose features came from the cache.
    seconds : float
        Wall-clock time.
    images_per_second : float
        ``n_images / seconds``.
    """

    n_images: int
    n_ok: int
    kept: np.ndarray = field(repr=False)
    skipped: tuple
    n_cached: int
    seconds: float
    images_per_second: float

    def __repr__(self):
        return (f"ExtractionReport(n_images={self.n_images}, n_ok={self.n_ok}, "
                f"skipped={len(self.skipped)}, n_cached={self.n_cached}, "
                f"seconds={self.seconds:.3g}, images_per_second={self.images_per_second:.3g})")


# ------------------------------------------------------------------- cache
def _describe(value):
    """A JSON-able, deterministic description of parameters (nested estimators)."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return {"class": f"{type(value).__module__}.{type(value).__qualname__}",
                "params": {key: _describe(params[key]) for key in sorted(params)}}
    if isinstance(value, (list, tuple)):
        return [_describe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _describe(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _classes(description):
    if isinstance(description, dict):
        found = {description["class"]} if "class" in description else set()
        return found.union(*(_classes(value) for value in description.values()))
    if isinstance(description, list):
        return set().union(*(_classes(item) for item in description))
    return set()


def _source_files(module_name):
    """The files whose source can change the output of a class of this module:
    every module of its package (extractors share private modules such as
    ``xray_features._lbp``), or the module alone outside a package."""
    file = getattr(sys.modules.get(module_name), "__file__", None)
    if not file or not os.path.isfile(file):
        return []
    if "." not in module_name:
        return [Path(file)]
    return sorted(Path(file).parent.glob("*.py"))


def _extractor_key(extractor):
    """(hex key, description) identifying the extractor's output."""
    from importlib.metadata import PackageNotFoundError, version

    description = _describe(extractor)
    try:
        package_version = version("xray-bench")
    except PackageNotFoundError:
        package_version = "unknown"
    sources = {}
    for name in sorted({cls.rsplit(".", 1)[0] for cls in _classes(description)}):
        for file in _source_files(name):
            sources[f"{name}:{file.name}"] = hashlib.sha256(file.read_bytes()).hexdigest()
    record = {"extractor": description, "version": package_version,
              "cache_format": _CACHE_FORMAT, "sources": sources}
    token = getattr(extractor, "_cache_token", None)
    if token is not None:   # e.g. the SHA-256 of a network's weights file
        record["token"] = token()
    text = json.dumps(record, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24], record


class _FeatureCache:
    """One float32 ``.npy`` file per image content, in two-letter sub-folders."""

    def __init__(self, directory, loader_name, n_features):
        self.directory = Path(directory)
        self.loader_name = loader_name
        self.n_features = n_features

    def key(self, item, is_path):
        digest = hashlib.blake2b(digest_size=20)
        if is_path:
            from xray_features._safety import check_regular_file

            # Never open a FIFO or device (it blocks or never ends); the loader says why.
            check_regular_file(item)
            digest.update(f"file\0{self.loader_name}\0".encode())
            with open(item, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        else:
            array = np.ascontiguousarray(item)
            digest.update(f"array\0{array.dtype.str}\0{array.shape}\0".encode())
            digest.update(array.view(np.uint8).data if array.size else b"")
        return digest.hexdigest()

    def _path(self, key):
        return self.directory / key[:2] / f"{key}.npy"

    def load(self, key):
        try:
            vector = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError):   # missing or damaged: recompute
            return None
        if vector.shape != (self.n_features,) or vector.dtype != np.float32:
            return None
        return vector

    def store(self, key, vector):
        write_bytes_atomic(self._path(key),
                           lambda handle: np.save(handle, vector, allow_pickle=False),
                           root=self.directory)


# ------------------------------------------------------------------ worker
def _is_path(item):
    return isinstance(item, (str, bytes, os.PathLike))


def _reason(exc):
    return getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"


def _not_an_image(item):
    """Why ``item`` is neither an image array nor a path, or None if it may be one."""
    if _is_path(item) or isinstance(item, (np.ndarray, list, tuple)) or hasattr(
            item, "__array__"):
        return None
    return (f"item is {type(item).__name__} {item!r:.40}, not a 2-D image array or an "
            "image file path")


def _extract_chunk(start, items, extractor, loader, cache, n_features, strict, single_thread):
    """Features of the chunk at ``start``: (start, features, ok mask,
    [(position, reason, path or None)], n_cached).

    Runs in a worker process; decodes one image at a time. In strict mode it
    stops at the first failure, which the caller raises.
    """
    import cv2

    threads = cv2.getNumThreads()
    if single_thread:   # one process per core already; avoid oversubscription
        cv2.setNumThreads(1)
    if loader is None:
        from xray_features.io import load_image as loader
    features = np.zeros((len(items), n_features), dtype=np.float32)
    ok = np.zeros(len(items), dtype=bool)
    failures, n_cached = [], 0
    batched, pending = getattr(extractor, "_batched", False), []
    try:
        for position, item in enumerate(items):
            is_path, key = _is_path(item), None
            if cache is not None:
                try:
                    key = cache.key(item, is_path)
                except (OSError, ValueError, TypeError):   # the checks below say why
                    key = None
                cached = cache.load(key) if key else None
                if cached is not None:
                    features[position], ok[position] = cached, True
                    n_cached += 1
                    continue
            path = os.fsdecode(item) if is_path else None
            try:
                wrong = _not_an_image(item)
                if wrong:
                    raise TypeError(wrong)
                image = check_image(loader(item) if is_path else item)
            except Exception as exc:   # noqa: BLE001 - any loader failure is reported
                failures.append((position, _reason(exc), path))
            else:
                if batched:   # a network: the chunk's images go through it together
                    pending.append((position, image, key, path))
                    continue
                try:
                    features[position] = extractor.extract_one(image)
                    ok[position] = True
                except (ValueError, TypeError) as exc:   # e.g. float values outside [0, 1]
                    failures.append((position, _reason(exc), path))
                else:
                    if key:
                        cache.store(key, features[position])
            if failures and strict:
                break
        if pending and not (failures and strict):
            _extract_pending(pending, extractor, cache, features, ok, failures)
    finally:
        if single_thread:
            cv2.setNumThreads(threads)
    return start, features, ok, failures, n_cached


def _extract_pending(pending, extractor, cache, features, ok, failures):
    """Features of the decoded images of a chunk in one ``extract_many`` call;
    when the batch fails, each image alone, so only the bad ones are skipped."""
    images = [image for _, image, _, _ in pending]
    try:
        vectors = extractor.extract_many(images)
    except (ValueError, TypeError):
        vectors = None
    for index, (position, image, key, path) in enumerate(pending):
        if vectors is None:
            try:
                vector = extractor.extract_one(image)
            except (ValueError, TypeError) as exc:
                failures.append((position, _reason(exc), path))
                continue
        else:
            vector = vectors[index]
        features[position], ok[position] = vector, True
        if key:
            cache.store(key, features[position])


# -------------------------------------------------------------- main entry
def _check_inputs(images_or_paths):
    """Return (items, n) where n is None for an iterable of unknown length."""
    if _is_path(images_or_paths):
        raise TypeError("images_or_paths must be a sequence of images or file paths; got "
                        f"the single path {images_or_paths!r}. Wrap it in a list, or list "
                        "a folder with sorted(Path(folder).glob('*.png')).")
    if isinstance(images_or_paths, np.ndarray):
        if images_or_paths.ndim != 3:
            raise ValueError("images_or_paths must be an (N, H, W) stack or a sequence of "
                             f"2-D images or paths; got an array of shape "
                             f"{images_or_paths.shape}. Wrap a single image as [image].")
        return images_or_paths, len(images_or_paths)
    if hasattr(images_or_paths, "__len__") and hasattr(images_or_paths, "__getitem__"):
        return images_or_paths, len(images_or_paths)
    if hasattr(images_or_paths, "__iter__"):
        return iter(images_or_paths), None
    raise TypeError("images_or_paths must be a sequence of images or file paths; got "
                    f"{type(images_or_paths).__name__}.")


def _check_options(extractor, n_jobs, chunk_size, image_loader):
    if not (hasattr(extractor, "extract_one") and hasattr(extractor, "get_feature_names_out")):
        raise TypeError("extractor must be an xray_features extractor with extract_one(), "
                        f"e.g. make_features('hog'); got {type(extractor).__name__}.")
    check_n_jobs(n_jobs)
    check_scalar(chunk_size, "chunk_size", low=1)
    if image_loader is not None and not callable(image_loader):
        raise TypeError("image_loader must be a function path -> 2-D array, or None for "
                        f"xray_features.load_image; got {type(image_loader).__name__}.")


def _chunks(items, n, size):
    """(start, items of the chunk); slices of a sequence, batches of an iterator."""
    if n is not None:
        for start in range(0, n, size):
            yield start, items[start:start + size]
        return
    start = 0
    while batch := list(islice(items, size)):
        yield start, batch
        start += len(batch)


def _open_cache(cache_dir, extractor, image_loader, n_features):
    key, record = _extractor_key(extractor)
    directory = Path(cache_dir) / key
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "extractor.json").exists():   # for people browsing the cache
        text = json.dumps(record, indent=1, sort_keys=True).encode()
        write_bytes_atomic(directory / "extractor.json", text, root=directory)
    # A custom loader is identified by its qualified name.
    loader_name = "default" if image_loader is None else ".".join(
        (getattr(image_loader, "__module__", None) or "",
         getattr(image_loader, "__qualname__", None) or repr(image_loader)))
    return _FeatureCache(directory, loader_name, n_features)


def _raise_strict(path, identifier, reason):
    from xray_features.io import ImageLoadError

    if path is not None:
        raise ImageLoadError(path, reason)
    raise ValueError(f"image {identifier!r} is not valid: {reason} (use strict=False to "
                     "skip and report invalid images).")


def extract_features(images_or_paths, extractor, *, n_jobs=1, chunk_size=256, cache_dir=None,
                     strict=False, progress=True, image_loader=None, ids=None):
    """Extract features from many images or image files, in parallel chunks.

    Parameters
    ----------
    images_or_paths : (N, H, W) ndarray, or sequence or iterable of 2-D arrays or paths
        Images (any size and supported dtype) and/or image files; files are
        decoded with ``image_loader`` inside the workers. An iterable without
        a length (e.g. a generator) is consumed chunk by chunk.
    extractor : ImageFeatures
        E.g. ``make_features("all")``; its ``extract_one`` is mapped.
    n_jobs : int, optional
        Worker processes (joblib's loky backend); -1 uses every core. 1 runs
        in this process.
    chunk_size : int, optional
        Images per task. With ``n_jobs > 1`` and a known length, chunks are
        made smaller when needed to give each worker about four tasks.
    cache_dir : str or os.PathLike, optional
        Folder for the on-disk feature cache (see the module notes); a re-run
        reads cached vectors instead of decoding and extracting.
    strict : bool, optional
        Raise on the first unreadable file (:class:`ImageLoadError`) or
        invalid image (``ValueError``) instead of skipping it. Skipped items
        (unreadable files; items that are not 2-D arrays or paths, such as
        ``None``, an int or a 3-D stack) are listed in ``report.skipped``
        by position or path and summarised in one ``UserWarning``.
    progress : bool, optional
        Show a tqdm progress bar.
    image_loader : callable, optional
        ``loader(path) -> 2-D array``; default :func:`xray_features.load_image`.
        Must be picklable when ``n_jobs != 1``.
    ids : sequence of str, optional
        Names used in the report; default the path, or the position.

    Returns
    -------
    X : (n_ok, F) ndarray of float32
        One row per image that could be read, in input order; finite.
    report : ExtractionReport
        Counts, ``kept`` positions of the rows and ``skipped`` (id, reason).

    Raises
    ------
    ImageLoadError
        In strict mode, for an unreadable file.
    ValueError
        In strict mode for an invalid image; always when no image could be
        used, or for invalid arguments.

    Examples
    --------
    >>> from xray_features.texture import TextureFeatures
    >>> images = np.zeros((3, 32, 32), dtype=np.uint8)
    >>> X, report = extract_features(images, TextureFeatures(image_size=32), progress=False)
    >>> X.shape, report.n_ok, report.skipped
    ((3, 106), 3, ())
    """
    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    started = time.perf_counter()
    items, n = _check_inputs(images_or_paths)
    _check_options(extractor, n_jobs, chunk_size, image_loader)
    if n == 0:
        raise ValueError("images_or_paths is empty; expected at least one image or path.")
    if ids is not None and n is not None and len(ids) != n:
        raise ValueError(f"ids must give one name per image ({n}); got {len(ids)}.")
    n_features = len(extractor.get_feature_names_out())
    cache = None if cache_dir is None else _open_cache(cache_dir, extractor, image_loader,
                                                       n_features)
    workers = effective_n_jobs(n_jobs)
    if workers > 1 and n is not None:
        chunk_size = max(1, min(chunk_size, math.ceil(n / (4 * workers))))
    parallel = workers > 1 and (n is None or n > chunk_size)
    calls = (delayed(_extract_chunk)(start, chunk, extractor, image_loader, cache, n_features,
                                     strict, parallel)
             for start, chunk in _chunks(items, n, chunk_size))
    if parallel:   # a lazy generator: at most about 2 * workers chunks in flight
        results = Parallel(n_jobs=workers, backend="loky", return_as="generator")(calls)
    else:
        results = (function(*args, **kwargs) for function, args, kwargs in calls)
    X = np.empty((n, n_features), dtype=np.float32) if n is not None else None
    blocks, ok_parts, skipped, n_cached, seen = [], [], [], 0, 0
    bar = tqdm(total=n, disable=not progress, desc="features", unit="img")
    try:
        for start, features, ok, failures, chunk_cached in results:
            for position, reason, path in failures:
                index = start + position
                identifier = str(ids[index]) if ids is not None and index < len(ids) \
                    else path if path is not None else str(index)
                if strict:
                    _raise_strict(path, identifier, reason)
                skipped.append((identifier, reason))
            if X is not None:
                X[start:start + len(ok)] = features
            else:
                blocks.append(features)
            ok_parts.append(ok)
            n_cached += chunk_cached
            seen += len(ok)
            bar.update(len(ok))
    finally:
        bar.close()
        with warnings.catch_warnings():
            # Stopped early (strict mode): joblib would list the unused tasks.
            warnings.filterwarnings("ignore", message=".*tasks have been successfully executed")
            results.close()   # cancels outstanding work
    if ids is not None and len(ids) != seen:
        raise ValueError(f"ids must give one name per image ({seen}); got {len(ids)}.")
    ok = np.concatenate(ok_parts)
    kept = np.flatnonzero(ok)
    shown = "; ".join(f"'{name}': {reason}" for name, reason in skipped[:3])
    if not len(kept):
        raise ValueError(f"no features extracted: all {seen} images were skipped ({shown}).")
    if skipped:   # never silent: X has fewer rows than images given
        warnings.warn(f"extract_features: skipped {len(skipped)} of {seen} image(s), e.g. "
                      f"{shown}; X has {len(kept)} rows, report.kept gives their positions "
                      "and report.skipped every reason (strict=True raises instead).",
                      UserWarning, stacklevel=2)
    X = np.concatenate(blocks) if X is None else X
    if len(kept) < seen:
        X = X[kept]
    seconds = time.perf_counter() - started
    report = ExtractionReport(n_images=seen, n_ok=len(kept), kept=kept, skipped=tuple(skipped),
                              n_cached=n_cached, seconds=seconds,
                              images_per_second=seen / seconds if seconds > 0 else math.inf)
    return X, report
