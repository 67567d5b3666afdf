"""A run on a Dask cluster: ``xray-bench run --scheduler``.

``--scheduler tcp://host:8786`` connects to a running scheduler;
``--scheduler local:N`` starts a :class:`distributed.LocalCluster` of ``N``
single-threaded worker processes for the run and closes it at the end.

Each part of the run (a model on a fold, a learning-curve point) is one task
on the cluster; the client saves each part's results as it arrives, so the
results store keeps one writer and an interrupted run resumes as without
Dask. When a worker dies, the scheduler runs its part tasks again on
another worker; a part that had handed image chunks to the dead worker
records the error instead, and running the same command again retries it.
A part that fits an XGBoost preset secedes from its worker's thread
pool and spreads its feature extraction over every worker, then trains with
:mod:`xgboost.dask` (:mod:`classifiers._xgb_dask`). Other models (the Keras
CNNs among them) fit inside their part's task.

Dask is an optional dependency (``pip install "xray-bench[dask]"``),
imported only when a scheduler is given.
"""

import contextlib
import logging
import uuid
from functools import partial

__all__ = ["check_scheduler", "open_client", "run_on_cluster", "run_parts", "cluster_calls"]

_INSTALL = 'pip install "xray-bench[dask]"'


def check_scheduler(scheduler):
    """Check a ``--scheduler`` value and that Dask is installed; return it.

    Parameters
    ----------
    scheduler : str
        ``"local:N"`` (``N >= 1`` local worker processes) or a scheduler
        address such as ``"tcp://host:8786"``.

    Raises
    ------
    ValueError
        For another value, or when ``dask.distributed`` (or what
        ``xgboost.dask`` needs of Dask) is not installed.

    Examples
    --------
    >>> check_scheduler("local:2")  # doctest: +SKIP
    'local:2'
    >>> check_scheduler("local:0")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scheduler must be 'local:N' with N >= 1 worker processes, ... got 'local:0'.
    """
    rule = ("scheduler must be 'local:N' with N >= 1 worker processes, or a scheduler "
            f"address such as 'tcp://host:8786'; got {scheduler!r}.")
    if not isinstance(scheduler, str):
        raise ValueError(rule)
    if scheduler.startswith("local:"):
        count = scheduler.removeprefix("local:")
        if not (count.isdigit() and int(count) >= 1):
            raise ValueError(rule)
    elif "://" not in scheduler or scheduler.endswith("://"):
        raise ValueError(rule)
    try:
        import dask.dataframe  # noqa: F401 - xgboost.dask needs it (and pyarrow)
        import distributed  # noqa: F401
    except ImportError as error:
        raise ValueError(f"--scheduler needs Dask, which is not installed here ({error}); "
                         f"install it with: {_INSTALL}") from None
    return scheduler


@contextlib.contextmanager
def open_client(scheduler):
    """A ``distributed.Client`` for ``scheduler`` (see :func:`check_scheduler`),
    closed on exit, with the local cluster it started, if any.

    Examples
    --------
    >>> with open_client("local:2") as client:  # doctest: +SKIP
    ...     len(client.nthreads())
    2
    """
    import distributed

    check_scheduler(scheduler)
    if scheduler.startswith("local:"):
        # Worker processes, one thread each: feature extraction and XGBoost
        # are single-threaded per task, and a failing task cannot take the
        # run down with it.
        with distributed.LocalCluster(n_workers=int(scheduler.removeprefix("local:")),
                                      threads_per_worker=1, processes=True,
                                      dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as error:
        raise OSError(f"cannot reach the Dask scheduler at {scheduler!r}: {error}") from None
    with client:
        yield client


def run_on_cluster(scheduler, function, jobs, on_done, *, shared, say=print):
    """:func:`run_parts` on a client of ``scheduler``; return what ``run.json``
    records of the cluster (``{"scheduler", "n_workers"}``)."""
    with open_client(scheduler) as client:
        n_workers = len(client.nthreads())
        say(f"{len(jobs)} part(s) as tasks on the Dask cluster at {scheduler} "
            f"({n_workers} worker(s)) ...")
        if jobs:
            run_parts(client, function, jobs, on_done, shared=shared)
    return {"scheduler": scheduler, "n_workers": n_workers}


def run_parts(client, function, jobs, on_done, *, shared):
    """Run ``function(shared, *args)`` for every ``(label, args)`` of ``jobs``
    as tasks; call ``on_done(index, outcome)`` here, in this process, as each
    one finishes (in completion order). ``outcome`` is the task's return
    value, or the exception that ended it (e.g. ``KilledWorker`` after its
    worker died too often). ``shared`` goes to the cluster once.

    On an interrupt the tasks still running are cancelled and the interrupt
    raised; parts handed to ``on_done`` before it stay done.

    Examples
    --------
    >>> run_parts(client, fit_part, [("edge-xgb", (split,))], save,
    ...           shared=dataset)  # doctest: +SKIP
    """
    from distributed import as_completed

    # A copy on every worker: a task that loses its worker runs again on
    # another one, which must still hold the data (scattered data cannot be
    # recomputed).
    shared = client.scatter(shared, hash=False, broadcast=True)
    token = uuid.uuid4().hex[:8]
    futures = {client.submit(function, shared, *args, pure=False,
                             key=f"part-{index}-{_key_safe(label)}-{token}"): index
               for index, (label, args) in enumerate(jobs)}
    try:
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001 - recorded as the part's error
                outcome = error
            on_done(futures[future], outcome)
    except BaseException:
        client.cancel(list(futures))
        raise


def _key_safe(label):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


@contextlib.contextmanager
def cluster_calls(model):
    """``(fit, predict_proba)`` of ``model`` inside a part's task: an XGBoost
    preset works on the whole cluster (its worker thread seceded meanwhile),
    any other model in this task."""
    from classifiers.xgb import FeatureXGBClassifier

    if not (isinstance(model, FeatureXGBClassifier) and model._fits_on_cluster):
        yield model.fit, model.predict_proba
        return
    from distributed import worker_client

    from classifiers._xgb_dask import fit_on_cluster, predict_proba_on_cluster

    with worker_client() as client:
        yield (partial(fit_on_cluster, model, client),
               partial(predict_proba_on_cluster, model, client))
