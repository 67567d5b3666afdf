"""One run, many models: the same splits and the same evaluation for each.

:func:`run_benchmark` is what ``xray-bench run`` calls. Each finished
(model, fold) is saved as it completes (see :mod:`benchmarks.results.store`), so an
interrupted run resumes where it stopped; a model that fails records its
error and the run goes on.
"""

import contextlib
import dataclasses
import errno
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.config import DEFAULT_MODELS, BenchmarkConfig, check_run_models
from benchmarks.evaluation.ensemble import ENSEMBLE
from benchmarks.evaluation.scoring import ScoringSettings, score_part
from benchmarks.evaluation.splits import Split
from benchmarks.parts.calibrated import calibrated_part
from benchmarks.parts.ensemble import check_ensemble_splits, ensemble_is_stale, ensemble_part
from benchmarks.parts.plan import plan_parts
from benchmarks.parts.record import PartResult, failed_result
from benchmarks.reports.saved import SavedParts, SavedRun
from benchmarks.results.outdir import check_output, data_folders, record_outputs, write_output
from benchmarks.results.predictions_table import prediction_frame
from benchmarks.results.store import ResultStore
from xray_features.utils import make_folders

__all__ = ["BenchmarkConfig", "ResolvedConfig", "run_benchmark", "resolve_config",
           "DEFAULT_MODELS", "RunTerminated"]


class RunTerminated(KeyboardInterrupt):
    """The run was asked to stop (SIGTERM); ``run.json`` says "terminated"."""


def run_benchmark(config=None, *, command=None, **options):
    """Fit and evaluate every model on the same splits; return the results.

    Parameters
    ----------
    config : BenchmarkConfig, optional
        The run's settings; keyword ``options`` override its fields. A
        :class:`ResolvedConfig` without ``options`` runs as it is.
    command : list of str, optional
        The command line recorded in ``run.json`` (default ``sys.argv``).
    **options
        Any :class:`BenchmarkConfig` field.

    Returns
    -------
    results : pandas.DataFrame
        One row per model (and per fold with ``cv``, plus ``"mean"`` and
        ``"pooled"`` rows), the same table as ``results.csv``.

    Raises
    ------
    ValueError
        An invalid setting, an unknown model or model parameter, a dataset
        that cannot be read or split (``DatasetError``), or an output
        directory holding another configuration's results
        (:class:`benchmarks.results.store.RunConfigMismatch`).

    Examples
    --------
    >>> results = run_benchmark(models="edge-xgb", out="tmp-results", quiet=True,
    ...                         dataset_options={"n_images": 40})  # doctest: +SKIP
    >>> results[["model", "f1", "roc_auc"]]  # doctest: +SKIP
    """
    from benchmarks.reports.leaderboard import write_outputs, write_run_record, write_splits

    if options or not isinstance(config, ResolvedConfig):
        config = resolve_config(config, options)
    out = Path(config.out)
    # Refused before any work: an output folder inside the data, or one the
    # toolkit did not create.
    check_output(out, data=_data_folders(config), folder=True)
    timings = {}
    started = time.perf_counter()

    dataset, source = _load_dataset(config)
    timings["load_seconds"] = time.perf_counter() - started
    splits, leakage_report = _make_splits(dataset, source, config)
    check_ensemble_splits(splits, config)  # refused before any fit
    curve = _plan_curve(dataset, splits, config)
    store = ResultStore(out, _fingerprint(dataset, config), fresh=config.fresh)
    by_fold = {split.fold: split for split in splits}
    parts = [(by_fold[part.fold], part.model, part.point)
             for part in plan_parts(config.models, by_fold, curve)]
    done = {(name, split.fold, point.key if point else ""):
            _is_done(store, name, split, config, point)
            for split, name, point in parts}  # checks every part's parameters before any work
    write_splits(out, dataset, splits)

    def record(status):
        timings["total_seconds"] = time.perf_counter() - started
        write_run_record(out, config, dataset, leakage_report, status=status,
                         timings=timings, command=command)

    record("running")
    timings["parts"] = {}

    def finish(number, label, key, name, split, part_key, result, seconds, model=None):
        row, predictions, history, trace, variants = result
        if model is not None:  # fitted on a cluster worker: saved here, the one writer
            try:
                _save_or_keep(_saver(store, name, split, config, dataset, source, None),
                              model, result)
            except DiskFullWhileSaving:
                finish(number, label, key, name, split, part_key, result, seconds)
                raise
            except Exception as error:  # noqa: BLE001 - recorded like a failed fit
                row["error"] = f"{type(error).__name__}: {error}".replace("\n", " ")
                predictions, trace, variants = None, traceback.format_exc(), []
        for variant_row, variant_predictions in variants:  # calibrated, saved first
            store.save_part(variant_row["model"], split.fold, variant_row,
                            variant_predictions, None, _params(name, config))
        store.save_part(name, split.fold, row, predictions, history,
                        _params(name, config), traceback=trace, key=part_key)
        timings["parts"][key] = seconds
        outcome = (f"failed: {row['error']}" if row["error"] else
                   f"F1 {row['f1']:.3f}, ROC AUC {row['roc_auc']:.3f}, "
                   f"fit {row['fit_seconds']:.1f} s")
        _say(config, f"[{number}/{len(parts)}] {label}: {outcome}")

    try:
        todo = []
        for number, (split, name, point) in enumerate(parts, start=1):
            label = name if len(splits) == 1 else f"{name} (fold {split.fold})"
            key = f"{name}/fold{split.fold}"
            part_key = point.key if point else ""
            if point is not None:  # a learning-curve point: a subset of the training set
                label, key = f"{label} [{part_key}]", f"{key}/{part_key}"
                split = Split(split.fold, point.train, split.val, split.test)
            if done[(name, split.fold, part_key)] and not (
                    name == ENSEMBLE and ensemble_is_stale(store, split.fold, part_key, config)):
                _say(config, f"[{number}/{len(parts)}] {label}: done earlier, skipped")
                timings["parts"][key] = "done earlier"
                continue
            todo.append((number, label, key, name, split, part_key, point))
        # Ensembles are computed here from their members' saved predictions, after
        # every other part (on a cluster too: they need the members' results).
        ensembles = [part for part in todo if part[3] == ENSEMBLE]
        todo = [part for part in todo if part[3] != ENSEMBLE]
        if config.scheduler is not None:  # parts as tasks; results saved here as they come
            from benchmarks.parts.distributed import run_on_cluster

            def on_done(index, outcome):
                number, label, key, name, split, part_key, point = todo[index]
                result, model, seconds = (outcome if not isinstance(outcome, BaseException)
                                          else (_failed_part(name, split, point, outcome),
                                                None, None))
                finish(number, label, key, name, split, part_key, result, seconds, model)

            timings["cluster"] = run_on_cluster(
                config.scheduler, _part_task, [(label, (name, split, config, point))
                                               for _, label, _, name, split, _, point in todo],
                on_done, shared=dataset, say=lambda message: _say(config, message))
            todo = []
        for number, label, key, name, split, part_key, point in todo + ensembles:
            _say(config, f"[{number}/{len(parts)}] {label}: " + (
                f"choosing members on {len(split.val)} validation images ..."
                if name == ENSEMBLE else f"fitting on {len(split.train)} images ..."))
            part_started = time.perf_counter()
            save = _saver(store, name, split, config, dataset, source, point)
            try:
                result = (ensemble_part(dataset, split, config, store, point, save=save)
                          if name == ENSEMBLE else
                          _run_part(name, dataset, split, config, save, source, point))
            except DiskFullWhileSaving as error:  # its predictions are kept
                finish(number, label, key, name, split, part_key, error.result,
                       time.perf_counter() - part_started)
                raise
            finish(number, label, key, name, split, part_key, result,
                   time.perf_counter() - part_started)
        report_started = time.perf_counter()
        results = write_outputs(out, SavedParts.from_store(store),
                                SavedRun.from_config(dataset, config))
        if curve:
            from benchmarks.reports.curves import write_learning_curve

            write_learning_curve(out, store, dataset, config, curve)
        timings["report_seconds"] = time.perf_counter() - report_started
    except KeyboardInterrupt as error:
        _record_if_possible(record, "terminated" if isinstance(error, RunTerminated)
                            else "interrupted")
        raise
    except OSError as error:
        if error.errno != errno.ENOSPC:
            _record_if_possible(record, f"failed: {error}")
            raise
        try:  # the predictions of every finished part, where space allows
            write_outputs(out, SavedParts.from_store(store),
                          SavedRun.from_config(dataset, config))
        except Exception:  # noqa: BLE001 - the full disk is the error to report
            pass
        _record_if_possible(record, "failed: disk full")
        raise OSError(errno.ENOSPC, f"disk full while writing results to '{out}' ({error}). "
                      "Finished parts are kept; free some space and run the same command "
                      "again to resume.") from None
    except Exception as error:
        _record_if_possible(record, f"failed: {type(error).__name__}: {error}")
        raise
    record("finished")
    from benchmarks.reports.html import write_html_report

    write_html_report(out)
    if not config.quiet:
        print((out / "results.md").read_text(encoding="utf-8"))
        print(f"Results in {out}/ ({time.perf_counter() - started:.0f} s)")
    return results


def _record_if_possible(record, status):
    """Write ``run.json`` with ``status`` unless writing fails too (a full
    disk): the error that ended the run is the one to report."""
    try:
        record(status)
    except OSError:
        pass


def _data_folders(config):
    """The folders a run reads images from (its output must not be among them)."""
    return data_folders(config.data, config.dataset_options.get("image_dir"))


@dataclasses.dataclass(frozen=True)
class ResolvedConfig(BenchmarkConfig):
    """A :class:`BenchmarkConfig` as :func:`resolve_config` returns it: model
    names expanded, settings, models and parameters checked (each model built
    once to check them), ready for :func:`run_benchmark` to run as it is.
    Changes go through :func:`resolve_config` (or ``run_benchmark``'s
    options), not ``dataclasses.replace``, which would keep the type
    without the checks."""


def resolve_config(config, options):
    """Apply ``options`` (a dict of :class:`BenchmarkConfig` fields) to
    ``config``, expand model names and check them and their parameters.

    Returns
    -------
    ResolvedConfig

    Examples
    --------
    >>> resolve_config(None, {"models": "edge-xgb, hog-xgb,edge-xgb"}).models
    ('edge-xgb', 'hog-xgb')
    """
    from classifiers import available_models

    if config is not None and not isinstance(config, BenchmarkConfig):
        raise TypeError(f"config must be a BenchmarkConfig; got {type(config).__name__}.")
    config = dataclasses.replace(config or BenchmarkConfig(), **options)
    models = config.models
    if isinstance(models, str):
        models = [name.strip() for name in models.split(",") if name.strip()]
    models = tuple(models)
    if "all" in models:
        models = tuple(available_models())
    config = dataclasses.replace(config, models=tuple(dict.fromkeys(models)))
    config.validate()
    if config.train_sizes is not None:
        from benchmarks.evaluation.learning_curves import parse_train_sizes

        config = dataclasses.replace(config,
                                     train_sizes=parse_train_sizes(config.train_sizes))
    check_run_models(config.models, config.model_params)  # presets, NAME@SIZE, ensemble
    for name in config.models:
        if name == ENSEMBLE:
            continue
        # Unknown and invalid parameters fail here, before any work.
        model = _build_model(name, config)
        try:
            getattr(model, "_validate_params", lambda: None)()
        except (ValueError, TypeError) as error:
            raise ValueError(f"model {name!r} (--set {name}.PARAM=VALUE or model_params): "
                             f"{error}") from None
    return ResolvedConfig(**{field.name: getattr(config, field.name)
                             for field in dataclasses.fields(config)})


_resolve_config = resolve_config  # its earlier, private name


def _say(config, message):
    if not config.quiet:
        print(message, file=sys.stderr, flush=True)


def _load_dataset(config):
    """Load the dataset and open its images as one lazy source (files are
    decoded once, at ``config.image_size`` or 224, to find unreadable ones;
    each model then reads the source at its own size); return both."""
    from benchmarks.datasets._image_loading import open_images
    from benchmarks.datasets import load_dataset

    options = dict(config.dataset_options)
    options.setdefault("strict", config.strict)
    if config.data is None or str(config.data).startswith("phantoms"):
        options.setdefault("seed", config.seed)
    try:
        dataset = load_dataset(config.data, **options)
    except TypeError as error:  # an option that does not apply to this source
        raise ValueError(str(error)) from None
    dataset, source = open_images(dataset, size=config.image_size or 224,
                                  strict=config.strict, n_jobs=config.n_jobs,
                                  progress=not config.quiet)
    if config.ordinal:
        from benchmarks.evaluation.ordinal import reorder_classes

        order = config.ordinal if not isinstance(config.ordinal, bool) else \
            config.dataset_options.get("classes")
        dataset = reorder_classes(dataset, order)
    if dataset.skipped:
        _say(config, f"{len(dataset.skipped)} image(s) skipped: "
                     + "; ".join(f"{i}: {r}" for i, r in dataset.skipped[:3]))
    _say(config, repr(dataset))
    return dataset, source


def _make_splits(dataset, source, config):
    """Build the splits and report byte-identical images across their sides."""
    from benchmarks.evaluation.splits import find_duplicate_images, make_splits

    if config.cv:
        splits = make_splits(dataset, strategy="cv", n_folds=config.cv, seed=config.seed)
    else:
        strategy = config.split
        if strategy == "auto":
            strategy = "official" if dataset.split is not None else "holdout"
        splits = make_splits(dataset, strategy=strategy, seed=config.seed)
    duplicates = []
    for split in splits:
        pairs = find_duplicate_images(source, split.train, split.test)
        duplicates.extend((split.fold, str(dataset.ids[i]), str(dataset.ids[j]))
                          for i, j in pairs)
    if duplicates:
        _say(config, f"warning: {len(duplicates)} image(s) in a test set are byte-identical "
                     f"to training images, e.g. {duplicates[0][2]} == {duplicates[0][1]}; "
                     "listed in run.json")
    return splits, {"duplicates_train_test": duplicates, "n_splits": len(splits)}


def _plan_curve(dataset, splits, config):
    """The learning curve's points (none without ``train_sizes``); notes on
    clamped sizes are printed."""
    from benchmarks.evaluation.learning_curves import plan_learning_curve

    if config.train_sizes is None:
        return []
    points, notes = plan_learning_curve(dataset, splits, config.train_sizes,
                                        curve_seeds=config.curve_seeds, seed=config.seed)
    for note in dict.fromkeys(notes):
        _say(config, f"note: {note}")
    return points


def _fingerprint(dataset, config):
    """What makes two runs' numbers comparable. The model list is not part
    of it (adding a model to a finished run only runs that model), and model
    parameters are checked per finished part."""
    fingerprint = {
        "dataset": dataset.fingerprint(),
        "split": config.split, "cv": config.cv, "seed": config.seed,
        "image_size": config.image_size,
        "threshold_method": config.threshold_method,
        "target_sensitivity": config.target_sensitivity,
        "n_bootstrap": config.n_bootstrap,
    }
    if config.ordinal:  # only when set, so earlier runs' directories still resume
        fingerprint["ordinal"] = True
    return fingerprint


def _model_dir(store, name, split, config):
    return store.model_dir(name, split.fold if config.cv else None)


def _params(name, config):
    """The parameters of model ``name`` (with ``image_size`` of a NAME@SIZE variant)."""
    from classifiers.variants import variant_params

    return variant_params(name, config.model_params)


def _is_done(store, name, split, config, point=None):
    key = point.key if point else ""
    damage = store.damaged(name, split.fold, key=key)
    if damage:  # refitted, never dropped: said even with --quiet
        print(f"xray-bench: warning: {damage}; fitting {name} (fold {split.fold}) again",
              file=sys.stderr, flush=True)
    done = store.is_done(name, split.fold, _params(name, config), key=key)
    if done and config.calibrate and len(split.val) and not key:  # calibrated version missing
        done = store.is_done(f"{name}+{config.calibrate}", split.fold, _params(name, config))
    if done and config.save_models and not key:  # asked to keep models it did not keep before
        directory = _model_dir(store, name, split, config)
        return all((directory / file).is_file() for file in ("model.json", "input.json"))
    return done


def _build_model(name, config, seed_offset=0):
    from classifiers import get_model
    from classifiers.variants import base_name

    params = _params(name, config)
    try:
        model = get_model(base_name(name), **params)
    except TypeError:
        known = sorted(get_model(base_name(name)).get_params(deep=False))
        unknown = sorted(set(params) - set(known))
        raise ValueError(f"model {name!r} has no parameter(s) {', '.join(unknown)}; its "
                         f"parameters are: {', '.join(known)}.") from None
    available = model.get_params(deep=False)
    defaults = {"random_state": config.seed + seed_offset}
    if config.image_size is not None:
        defaults["image_size"] = config.image_size
    if "verbose" in available:
        defaults["verbose"] = 0 if config.quiet else 2
    model.set_params(**{key: value for key, value in defaults.items()
                        if key in available and key not in params})
    return model


def _part_row(name, split, point):
    row = {"model": name, "fold": split.fold, "n_train": len(split.train),
           "n_val": len(split.val), "n_test": len(split.test), "error": ""}
    if point is not None:
        row.update(train_size=point.train_size, seed=point.curve_seed)
    return row


def _failed_part(name, split, point, error):
    """The result of a part whose task ended without a result (its worker died)."""
    return failed_result(_part_row(name, split, point), error,
                         "".join(traceback.format_exception(error)))


def _saver(store, name, split, config, dataset, source, point):
    """What saves a part's fitted model (``None``: not kept)."""
    if not config.save_models or point is not None:
        return None

    def save(model):
        # Files were read at the model's own size: predict reproduces that.
        load_size = None if dataset.images is not None else _model_size(model, source)
        _save_model(model, _model_dir(store, name, split, config), dataset, load_size,
                    store.directory)
    return save


def _part_task(dataset, name, split, config, point):
    """One part as a Dask task: (result of :func:`_run_part`, the fitted model
    when the client is to save it, seconds)."""
    from benchmarks.datasets._image_loading import dataset_source

    started, kept = time.perf_counter(), []
    # The client's source keeps its pixels in a local temporary file; a worker
    # opens its own over the same images (unreadable ones already dropped).
    source = dataset_source(dataset, size=config.image_size or 224)
    result = _run_part(name, dataset, split, config,
                       kept.append if config.save_models and point is None else None,
                       source, point, on_cluster=True)
    return result, (kept[0] if kept else None), time.perf_counter() - started


def _run_part(name, dataset, split, config, save, source, point=None, *, on_cluster=False):
    """Fit one model on one split (or on a learning-curve ``point``'s
    subset, already in ``split.train``, with the model seed offset by its
    curve seed); return its :class:`~benchmarks.parts.record.PartResult`,
    ``variants`` the calibrated version's (row, predictions), if any.
    ``save(model)`` keeps the fitted model; ``on_cluster``: this is a Dask
    task (see :func:`benchmarks.parts.distributed.cluster_calls`)."""
    row = _part_row(name, split, point)
    try:
        model = _build_model(name, config, point.curve_seed if point else 0)
        images, labels = source.subset, dataset.labels  # lazy: each model reads its size
        validation = ((images(split.val), labels[split.val]) if len(split.val) else None)
        calls = contextlib.nullcontext((model.fit, model.predict_proba))
        if on_cluster:
            from benchmarks.parts.distributed import cluster_calls

            calls = cluster_calls(model)
        # Progress of the models (Keras prints to stdout) goes to stderr with
        # the rest of the progress, so stdout carries only the leaderboard.
        with contextlib.redirect_stdout(sys.stderr), calls as (fit, predict_proba):
            start = time.perf_counter()
            fit(images(split.train), labels[split.train], validation_data=validation)
            row["fit_seconds"] = time.perf_counter() - start
            start = time.perf_counter()
            proba_test = _aligned_proba(model, images(split.test), dataset, predict_proba)
            row["predict_seconds"] = time.perf_counter() - start
            proba_val = (_aligned_proba(model, images(split.val), dataset, predict_proba)
                         if len(split.val) else None)
        row["images_per_second"] = len(split.test) / max(row["predict_seconds"], 1e-9)
        # Training throughput: images seen per second of fit (a network sees the
        # training set once per epoch; a feature model once, extraction included).
        epochs = max(int(getattr(model, "n_epochs_", 1) or 1), 1)
        row["train_images_per_second"] = (len(split.train) * epochs
                                          / max(row["fit_seconds"], 1e-9))
        row.update(score_part(dataset, split, proba_test, proba_val,
                              ScoringSettings.from_config(config)))
        predictions = prediction_frame(name, dataset, split, proba_test, proba_val)
        if point is not None:
            predictions = predictions.assign(train_size=point.train_size,
                                             n_train=len(split.train),
                                             seed=point.curve_seed)
        history = getattr(model, "history_", None) or None
        variants = [calibrated_part(row, dataset, split, proba_test, proba_val, config)
                    ] if config.calibrate and point is None else []
        result = PartResult(row, predictions, history, None, variants)
        if save is not None:
            _save_or_keep(save, model, result)
        return result
    except DiskFullWhileSaving:
        raise
    except Exception as error:  # one model's failure must not end the run
        return failed_result(row, error)


class DiskFullWhileSaving(OSError):
    """The disk filled up while a fitted model was saved; ``result`` is the
    part's result (its predictions), saved before the run ends."""

    def __init__(self, error, result):
        where = f": '{error.filename}'" if error.filename else ""
        super().__init__(errno.ENOSPC, f"{error.strerror or error}{where}")
        self.result = result


def _save_or_keep(save, model, result):
    """Save a fitted model; a full disk ends the run (``failed: disk full``)
    with the part's predictions kept, any other error fails the part."""
    try:
        save(model)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise DiskFullWhileSaving(error, result) from None
        raise


def _model_size(model, source):
    """The size a model read its images at (its ``image_size``), as ``input.json`` records it.

    None for a model that reads its images at several sizes (the hybrid's
    handcrafted and deep parts): ``predict`` then hands it the decoded files,
    which it resizes once per size from the originals, as the run did."""
    if getattr(model, "_reads_several_sizes", False):
        return None
    resolved = getattr(model, "_resolved_image_size", None)  # Keras: its default when None
    size = list(resolved()) if resolved else model.get_params().get("image_size")
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return list(size)
    return size if isinstance(size, (int, np.integer)) else source.size[0]


def _aligned_proba(model, images, dataset, predict_proba=None):
    """``predict_proba`` with one column per dataset class, in class order
    (a class absent from a training split gets probability 0)."""
    proba = np.asarray((predict_proba or model.predict_proba)(images), dtype=np.float64)
    if dataset.task == "multilabel":
        return proba
    classes = np.asarray(model.classes_).astype(np.int64)
    n_classes = len(dataset.class_names)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    aligned = np.zeros((len(proba), n_classes))
    aligned[:, classes] = proba
    return aligned


def _save_model(model, directory, dataset, load_size, out):
    """Save the fitted model with what ``xray-bench predict`` needs to
    reproduce the run's input pipeline on raw files (``out/models/<name>``:
    no link on the way, every file listed in the manifest)."""
    import json

    directory = Path(directory)
    record_outputs(out, make_folders(directory.parent, out) + [directory])
    model.save(directory, on_staging=lambda staging: record_outputs(out, [staging]))
    write_output(out, directory.relative_to(out) / "input.json", json.dumps({
        "class_names": list(dataset.class_names), "task": dataset.task,
        "load_size": load_size}, indent=2))
    record_outputs(out, [path for path in directory.iterdir() if not path.is_symlink()])
