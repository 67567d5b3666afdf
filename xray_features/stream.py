"""Map a per-image function over many images or files, one chunk at a time.

:func:`map_images` is the streaming sibling of
:func:`xray_features.batch.extract_features`: the same chunks, the same
joblib (loky) workers and the same counted skips, but instead of filling a
feature matrix it *yields* each chunk's results, so the caller can fold them
into running sums and drop them. Memory then holds a few chunks, however many
images there are.
"""

import math
import warnings

from xray_features._validation import check_n_jobs, check_scalar
from xray_features.batch import _check_inputs, _chunks, _is_path, _reason

__all__ = ["map_images"]


def _map_chunk(start, items, function, strict, single_thread):
    """``(start, results, failures)`` of one chunk; runs in a worker process.

    ``results[k]`` is ``function(items[k])`` or ``None`` where it raised;
    ``failures`` lists ``(position, reason)``. Strict mode stops at the first
    failure, which the caller raises.
    """
    import cv2

    threads = cv2.getNumThreads()
    if single_thread:   # one process per core already; avoid oversubscription
        cv2.setNumThreads(1)
    results, failures = [], []
    try:
        for position, item in enumerate(items):
            try:
                results.append(function(item))
            except Exception as exc:   # noqa: BLE001 - any failure is counted and reported
                results.append(None)
                failures.append((position, _reason(exc)))
                if strict:
                    break
    finally:
        if single_thread:
            cv2.setNumThreads(threads)
    return start, results, failures


def _check_options(function, n_jobs, chunk_size):
    if not callable(function):
        raise TypeError(f"function must be callable (image or path -> result); got "
                        f"{type(function).__name__}.")
    check_n_jobs(n_jobs)
    check_scalar(chunk_size, "chunk_size", low=1)


def map_images(function, images_or_paths, *, n_jobs=1, chunk_size=256, strict=False,
               progress=True, ids=None, desc="images"):
    """Apply ``function`` to every image or file; yield the results chunk by chunk.

    Parameters
    ----------
    function : callable
        ``function(item) -> result`` for one image (2-D array) or file path;
        a pure, picklable function when ``n_jobs != 1``. Whatever it raises
        marks the item as skipped, with the exception's ``reason`` attribute
        (as :class:`~xray_features.io.ImageLoadError` has) or its message.
    images_or_paths : (N, H, W) ndarray, or sequence or iterable of arrays or paths
        The items; an iterable without a length is consumed chunk by chunk.
    n_jobs : int, optional
        Worker processes (joblib's loky backend); -1 uses every core, 1 runs
        here.
    chunk_size : int, optional
        Items per task; with ``n_jobs > 1`` and a known length, made smaller
        when needed to give each worker about four tasks.
    strict : bool, optional
        Raise ``ValueError`` naming the first item that failed, instead of
        skipping it.
    progress : bool, optional
        Show a tqdm progress bar.
    ids : sequence of str, optional
        Names of the items for skip reports; default the path, or the position.
    desc : str, optional
        Label of the progress bar.

    Yields
    ------
    start : int
        Position of the chunk's first item.
    results : list
        One entry per item of the chunk, ``None`` for a skipped one.
    skipped : list of (int, str, str)
        ``(position in the input, id, reason)`` of each skipped item.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.arange(3 * 4, dtype=np.uint8).reshape(3, 2, 2)
    >>> brightest = lambda image: int(image.max())
    >>> [r for _, results, _ in map_images(brightest, images, progress=False) for r in results]
    [3, 7, 11]
    >>> chunks = list(map_images(len, ["a.png", 5], progress=False, chunk_size=1))
    >>> chunks[1][2]
    [(1, '1', "TypeError: object of type 'int' has no len()")]
    """
    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    items, n = _check_inputs(images_or_paths)
    _check_options(function, n_jobs, chunk_size)
    if ids is not None and n is not None and len(ids) != n:
        raise ValueError(f"ids must give one name per item ({n}); got {len(ids)}.")
    workers = effective_n_jobs(n_jobs)
    if workers > 1 and n is not None and n:
        chunk_size = max(1, min(chunk_size, math.ceil(n / (4 * workers))))
    parallel = workers > 1 and (n is None or n > chunk_size)
    chunks = {}   # start -> the chunk's items, to name the skipped ones

    def calls():
        for start, chunk in _chunks(items, n, chunk_size):
            chunks[start] = chunk
            yield delayed(_map_chunk)(start, chunk, function, strict, parallel)

    if parallel:   # a lazy generator: at most about 2 * workers chunks in flight
        results = Parallel(n_jobs=workers, backend="loky", return_as="generator")(calls())
    else:
        results = (call(*args, **kwargs) for call, args, kwargs in calls())
    bar = tqdm(total=n, disable=not progress, desc=desc, unit="img")
    try:
        for start, chunk_results, failures in results:
            chunk = chunks.pop(start)
            skipped = []
            for position, reason in failures:
                index = start + position
                item = chunk[position]
                identifier = (str(ids[index]) if ids is not None and index < len(ids)
                              else str(item) if _is_path(item) else str(index))
                if strict:
                    raise ValueError(f"cannot use {identifier!r}: {reason} (strict mode; "
                                     "without it the item is skipped and counted).")
                skipped.append((index, identifier, reason))
            bar.update(len(chunk_results))
            yield start, chunk_results, skipped
    finally:
        bar.close()
        with warnings.catch_warnings():
            # Stopped early: joblib would list the unused tasks.
            warnings.filterwarnings("ignore", message=".*tasks have been successfully executed")
            close = getattr(results, "close", None)
            if close is not None:
                close()   # cancels outstanding work
