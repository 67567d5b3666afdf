"""A :class:`~classifiers.xgb.FeatureXGBClassifier` fitted on a Dask cluster.

Features are extracted by tasks on the cluster's workers, one task per
chunk of images, with the per-chunk function of
:func:`xray_features.extract_features` (the feature cache, when the model
has a ``cache_dir``, is opened on the worker: a shared folder or one per
worker). The booster is trained by :mod:`xgboost.dask` on a dask array built
from the chunks' futures, and comes back as a plain ``xgboost.XGBClassifier``
in the same preset class, so saving, prediction and reports are unchanged.

The training matrix is stacked on one worker, as one partition, before
training. Spread over two workers, XGBoost's distributed ``hist`` training
samples rows and sums gradients per worker and no longer equals a fit in one
process (measured: probabilities differing by up to 0.19 on 3,000 rows);
all of it on one worker gives the same trees, to the bit. Several partitions
on one worker would do too, but ``xgboost.dask`` lets the scheduler move them
(it regroups them with ``client.compute``), and on small data it does.
Feature matrices are small next to the images (NIH ChestX-ray14 with the
``all`` preset is about 112,120 x 300 float32, 130 MB), so one worker holds
them easily.

Examples
--------
>>> from distributed import Client, LocalCluster  # doctest: +SKIP
>>> with LocalCluster(n_workers=2, processes=True) as cluster, Client(cluster) as client:
...     model = fit_on_cluster(FeatureXGBClassifier("edge"), client, images, y)  # doctest: +SKIP
"""

import math
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["fit_on_cluster", "predict_proba_on_cluster", "extract_on_cluster"]

_ATTEMPTS = 3   # sends of the chunks when workers holding them die


def fit_on_cluster(model, client, images, y, *, validation_data=None):
    """``model.fit`` with features and training on the cluster of ``client``.

    Parameters
    ----------
    model : FeatureXGBClassifier
    client : distributed.Client
        Connected to the cluster (inside a task: ``distributed.worker_client()``).
    images, y, validation_data
        As for :meth:`FeatureXGBClassifier.fit`.

    Returns
    -------
    model : FeatureXGBClassifier
        Fitted; equal to ``model.fit(images, y, validation_data=...)``.
    """
    engine = _ClusterEngine(client, model)
    return model._fit(images, y, validation_data, extract=engine.extract, train=engine.train)


def predict_proba_on_cluster(model, client, images):
    """``model.predict_proba(images)`` with the features extracted on the cluster."""
    return model._predict_proba(images, extract=_ClusterEngine(client, model).extract)


def _chunk_task(start, items, extractor, cache_dir, n_features, strict):
    """One chunk's features on a worker: :func:`xray_features.batch._extract_chunk`
    with the cache opened where the worker is."""
    from xray_features.batch import _extract_chunk, _open_cache

    cache = None if cache_dir is None else _open_cache(cache_dir, extractor, None, n_features)
    return _extract_chunk(start, items, extractor, None, cache, n_features, strict, True)


def extract_on_cluster(client, images_or_paths, extractor, *, chunk_size=256, cache_dir=None,
                       strict=True):
    """Map the extractor over chunks of images or file paths on the workers.

    Parameters
    ----------
    client : distributed.Client
    images_or_paths : (N, H, W) ndarray or sequence of 2-D arrays or paths
        Paths are read by the workers, so they must name files the workers see.
    extractor : ImageFeatures
    chunk_size : int
        Most images per task; smaller when needed to give each worker about
        four tasks.
    cache_dir : str or os.PathLike, optional
        The feature cache folder as seen by the workers.
    strict : bool
        Raise on the first image that cannot be used; else skip it.

    Returns
    -------
    X : (n_ok, F) ndarray of float32
        As :func:`xray_features.extract_features` returns it.
    kept : (n_ok,) ndarray of int
        Input positions of the rows.
    skipped : list of (int, str)
        Position and reason of each skipped image.
    chunks : list of (distributed.Future, int)
        Each chunk's task on the cluster (its result's second item is the
        chunk's feature block, skipped rows zero) and its row count, in order.

    Examples
    --------
    >>> X, kept, skipped, chunks = extract_on_cluster(client, images, extractor)  # doctest: +SKIP
    """
    from concurrent.futures import CancelledError

    from distributed import KilledWorker

    from xray_features.batch import _check_inputs, _check_options, _raise_strict

    items, n = _check_inputs(images_or_paths)
    _check_options(extractor, 1, chunk_size, None)
    if not n:
        raise ValueError("images_or_paths must be a non-empty sequence of images or paths; "
                         f"got {type(images_or_paths).__name__} of length {n}.")
    n_workers = max(1, len(client.nthreads()))
    size = max(1, min(chunk_size, math.ceil(n / (4 * n_workers))))
    starts = list(range(0, n, size))
    blocks = [items[start:start + size] for start in starts]
    n_features = len(extractor.get_feature_names_out())
    for attempt in range(_ATTEMPTS):
        sent = blocks
        if isinstance(items, np.ndarray):  # pixels go to the workers once, not in the graph
            sent = client.scatter(blocks)
        tasks = client.map(_chunk_task, starts, sent, extractor=extractor,
                           cache_dir=cache_dir, n_features=n_features, strict=strict,
                           pure=False)
        try:
            results = client.gather(tasks)
            break
        except (CancelledError, KilledWorker):
            # A worker holding chunks died: scattered pixels cannot be
            # recomputed, so send them again.
            if attempt == _ATTEMPTS - 1:
                raise
    skipped = []
    for start, _, _, failures, _ in results:
        for position, reason, path in failures:
            if strict:
                _raise_strict(path, str(start + position), reason)
            skipped.append((start + position, reason))
    ok = np.concatenate([result[2] for result in results])
    kept = np.flatnonzero(ok)
    X = np.concatenate([result[1] for result in results])[kept]
    chunks = [(task, len(block_ok)) for task, (_, _, block_ok, _, _) in zip(tasks, results)]
    return X, kept, skipped, chunks


def _stack_features(*chunk_results):
    """The feature blocks of chunk results, stacked (all rows: strict mode)."""
    return np.concatenate([result[1] for result in chunk_results])


class _ClusterEngine:
    """The two steps of :meth:`FeatureXGBClassifier._fit` on a cluster. It
    remembers the chunk futures of each matrix it extracted (by identity),
    so training builds its dask arrays from them instead of sending the
    matrix again."""

    def __init__(self, client, model):
        self.client = client
        self.model = model
        self._chunks = []   # (X, chunk futures) of this fit

    def extract(self, stack):
        X, _, _, chunks = extract_on_cluster(self.client, stack, self.model.extractor_,
                                             cache_dir=self.model.cache_dir, strict=True)
        self._chunks.append((X, chunks))
        return X

    def _on_worker(self, worker, X, *columns):
        """One-partition dask arrays of ``X`` (stacked on ``worker`` from its
        chunk tasks) and of each per-row array of ``columns`` (``None``
        stays ``None``), sent to ``worker``."""
        import dask
        import dask.array as da

        client = self.client
        found = [chunks for known, chunks in self._chunks if known is X]
        if found:
            block = client.submit(_stack_features, *[task for task, _ in found[0]],
                                  workers=[worker], allow_other_workers=False, pure=False)
        else:
            [block] = client.scatter([X], workers=[worker])
        arrays = [da.from_delayed(dask.delayed(block), shape=X.shape, dtype=X.dtype)]
        for values in columns:
            if values is not None:
                values = np.asarray(values)
                [part] = client.scatter([values], workers=[worker])
                values = da.from_delayed(dask.delayed(part), shape=values.shape,
                                         dtype=values.dtype)
            arrays.append(values)
        return arrays

    def train(self, booster, X, y, fit_kwargs):
        import xgboost
        from xgboost import dask as dxgb

        # Every partition on one worker: the same trees as a fit in one
        # process (see the module notes).
        worker = self._home_worker()
        X_d, y_d, weight_d = self._on_worker(worker, X, y, fit_kwargs.get("sample_weight"))
        eval_sets = fit_kwargs.get("eval_set", [])
        eval_weights = fit_kwargs.get("sample_weight_eval_set", [None] * len(eval_sets))
        evals = [self._on_worker(worker, X_val, y_val, w_val)
                 for (X_val, y_val), w_val in zip(eval_sets, eval_weights)]
        model = dxgb.DaskXGBClassifier(**booster.get_params())
        model.client = self.client
        kwargs = {"sample_weight": weight_d, "verbose": False}
        if evals:
            kwargs["eval_set"] = [(X_val, y_val) for X_val, y_val, _ in evals]
            if any(w is not None for _, _, w in evals):
                kwargs["sample_weight_eval_set"] = [w for _, _, w in evals]
        model.fit(X_d, y_d, **kwargs)
        # Back as the booster a fit in one process gives: through the same
        # file format as save() and load(), which keeps the classes.
        fitted = xgboost.XGBClassifier()
        with tempfile.TemporaryDirectory() as folder:
            model.save_model(Path(folder) / "model.ubj")
            fitted.load_model(Path(folder) / "model.ubj")
        if not evals:
            return fitted, {}, None
        early = booster.get_params()["early_stopping_rounds"] is not None
        return fitted, model.evals_result(), model.best_iteration if early else None

    def _home_worker(self):
        """The worker running this code when it is a task, else the first one."""
        try:
            from distributed import get_worker

            return get_worker().address
        except ValueError:  # not in a task
            return sorted(self.client.nthreads())[0]

