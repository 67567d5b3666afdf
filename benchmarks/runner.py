"""One run, many models: the same splits and the same evaluation for each.

:func:`run_benchmark` is what ``xray-bench run`` calls. Each finished
(model, fold) is saved as it completes (see :mod:`benchmarks.store`), so an
interrupted run resumes where it stopped; a model that fails records its
error and the run goes on.
"""

import dataclasses
import logging
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from benchmarks.store import ResultStore

__all__ = ["BenchmarkConfig", "run_benchmark", "DEFAULT_MODELS"]

logger = logging.getLogger(__name__)

#: The quick comparison run when no model is named: every classical preset
#: against the small CNN.
DEFAULT_MODELS = ("edge-xgb", "hog-xgb", "texture-xgb", "all-xgb", "cnn-small")

_SPLITS = ("auto", "official", "holdout")
_THRESHOLD_METHODS = ("youden", "sensitivity")


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Everything that defines a benchmark run.

    Parameters
    ----------
    data : str or Path, optional
        A class folder, a CSV file, a MedMNIST ``.npz``, or ``None`` (also
        ``"phantoms"``) for the built-in synthetic phantoms.
    dataset_options : dict, optional
        Further keyword arguments of :func:`benchmarks.load_dataset`
        (``image_dir``, ``label_col``, ``group_col``, ``positive``,
        ``negative``, ``classes``, ``multilabel``, ...).
    models : sequence of str
        Registry names (see :func:`classifiers.available_models`).
    split : {'auto', 'official', 'holdout'}
        ``'auto'`` uses the dataset's own split when it has one.
    cv : int, optional
        Stratified (group-aware when groups exist) k-fold cross-validation
        instead of a single split.
    image_size : int, optional
        Side of the square images every model sees. ``None`` keeps each
        model's own default; files are then decoded at 224 pixels.
    model_params : dict of dict, optional
        Parameter overrides per model name, e.g. ``{"cnn": {"epochs": 30}}``.
    threshold_method : {'youden', 'sensitivity'}
        How the binary threshold is chosen on validation data.
    target_sensitivity : float
        Sensitivity to reach with ``threshold_method='sensitivity'``.
    n_bootstrap : int
        Bootstrap resamples for the 95% confidence intervals.
    """

    data: object = None
    dataset_options: dict = dataclasses.field(default_factory=dict)
    models: tuple = DEFAULT_MODELS
    split: str = "auto"
    cv: object = None
    image_size: object = None
    seed: int = 0
    out: str = "xray-bench-results"
    save_models: bool = False
    quiet: bool = False
    fresh: bool = False
    strict: bool = False
    n_jobs: int = 1
    model_params: dict = dataclasses.field(default_factory=dict)
    threshold_method: str = "youden"
    target_sensitivity: float = 0.95
    n_bootstrap: int = 1000

    def validate(self):
        """Raise ``ValueError`` naming the first invalid setting."""
        if not self.models:
            raise ValueError("models is empty; name at least one model "
                             "(see `xray-bench models`).")
        if self.split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}; got {self.split!r}.")
        if self.cv is not None and (not isinstance(self.cv, int) or self.cv < 2):
            raise ValueError(f"cv must be an integer >= 2 (number of folds); got {self.cv!r}.")
        if self.image_size is not None and (not isinstance(self.image_size, int)
                                            or self.image_size < 8):
            raise ValueError(f"image_size must be an integer >= 8; got {self.image_size!r}.")
        if self.threshold_method not in _THRESHOLD_METHODS:
            raise ValueError(f"threshold_method must be one of {_THRESHOLD_METHODS}; "
                             f"got {self.threshold_method!r}.")
        if not 0 < self.target_sensitivity <= 1:
            raise ValueError("target_sensitivity must be in (0, 1]; got "
                             f"{self.target_sensitivity!r}.")
        if not isinstance(self.model_params, dict) or not all(
                isinstance(params, dict) for params in self.model_params.values()):
            raise ValueError("model_params must map model names to dicts of parameters, "
                             f"e.g. {{'cnn': {{'epochs': 30}}}}; got {self.model_params!r}.")
        return self


def run_benchmark(config=None, **options):
    """Fit and evaluate every model on the same splits; return the results.

    Parameters
    ----------
    config : BenchmarkConfig, optional
        The run's settings; keyword ``options`` override its fields.
    **options
        Any :class:`BenchmarkConfig` field.

    Returns
    -------
    results : pandas.DataFrame
        One row per model (and per fold with ``cv``), the same table as
        ``results.csv`` in the output directory.

    Examples
    --------
    >>> results = run_benchmark(models=["hog-xgb"], out="tmp-results",
    ...                         quiet=True)  # doctest: +SKIP
    >>> results[["model", "f1", "roc_auc"]]  # doctest: +SKIP
    """
    from classifiers import available_models

    config = dataclasses.replace(config or BenchmarkConfig(), **options)
    if "all" in config.models:
        config = dataclasses.replace(config, models=tuple(available_models()))
    config.validate()
    named = list(config.models) + list(config.model_params)
    unknown = sorted({name for name in named if name not in available_models()})
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; available: "
                         f"{', '.join(available_models())}.")
    started = time.perf_counter()
    out = Path(config.out)

    dataset, load_size = _load_dataset(config)
    splits, leakage_report = _make_splits(dataset, config)
    store = ResultStore(out, _fingerprint(dataset, config), fresh=config.fresh)
    from benchmarks.report import write_run_record
    write_run_record(out, config, dataset, leakage_report, status="running",
                     seconds=time.perf_counter() - started)

    parts = [(split, name) for split in splits for name in config.models]
    for number, (split, name) in enumerate(parts, start=1):
        label = name if len(splits) == 1 else f"{name} (fold {split.fold})"
        params = config.model_params.get(name, {})
        if store.is_done(name, split.fold, params):
            _say(config, f"[{number}/{len(parts)}] {label}: done earlier, skipped")
            continue
        _say(config, f"[{number}/{len(parts)}] {label}: fitting on "
                     f"{len(split.train)} images ...")
        row, predictions, history = _run_part(name, dataset, split, config, store,
                                              load_size)
        store.save_part(name, split.fold, row, predictions, history, params)
        outcome = (f"error: {row['error']}" if row.get("error") else
                   f"F1 {row['f1']:.3f}, ROC AUC {row['roc_auc']:.3f}, "
                   f"fit {row['fit_seconds']:.1f} s")
        _say(config, f"[{number}/{len(parts)}] {label}: {outcome}")

    from benchmarks.report import write_outputs
    results = write_outputs(out, store, dataset, config)
    write_run_record(out, config, dataset, leakage_report, status="finished",
                     seconds=time.perf_counter() - started)
    if not config.quiet:
        print((out / "results.md").read_text(encoding="utf-8"))
        print(f"Results in {out}/ ({time.perf_counter() - started:.0f} s)")
    return results


def _say(config, message):
    if not config.quiet:
        print(message, file=sys.stderr, flush=True)


def _load_dataset(config):
    """Load the dataset into memory; return it and the size files were
    decoded at (``None`` when the source held arrays already)."""
    from benchmarks.datasets import load_dataset

    options = dict(config.dataset_options)
    options.setdefault("strict", config.strict)
    if config.data is None or str(config.data).startswith("phantoms"):
        options.setdefault("seed", config.seed)
    dataset = load_dataset(config.data, **options)
    load_size = None
    if dataset.images is None:
        load_size = config.image_size or 224
        dataset = dataset.load_images(size=load_size, strict=config.strict,
                                      n_jobs=config.n_jobs, progress=not config.quiet)
    if dataset.skipped:
        _say(config, f"{len(dataset.skipped)} image(s) skipped: "
                     + "; ".join(f"{i}: {r}" for i, r in dataset.skipped[:3]))
    _say(config, repr(dataset))
    return dataset, load_size


def _make_splits(dataset, config):
    """Build the splits and report byte-identical images across their sides."""
    from benchmarks.splits import find_duplicate_images, make_splits

    if config.cv:
        splits = make_splits(dataset, strategy="cv", n_folds=config.cv, seed=config.seed)
    else:
        strategy = config.split
        if strategy == "auto":
            strategy = "official" if dataset.split is not None else "holdout"
        splits = make_splits(dataset, strategy=strategy, seed=config.seed)
    duplicates = []
    for split in splits:
        pairs = find_duplicate_images(dataset.images, split.train, split.test)
        duplicates.extend((split.fold, str(dataset.ids[i]), str(dataset.ids[j]))
                          for i, j in pairs)
    if duplicates:
        _say(config, f"warning: {len(duplicates)} image(s) in a test set are byte-identical "
                     f"to training images, e.g. {duplicates[0][2]} == {duplicates[0][1]}; "
                     "listed in run.json")
    return splits, {"duplicates_train_test": duplicates, "n_splits": len(splits)}


def _fingerprint(dataset, config):
    """What makes two runs' numbers comparable. The model list is not part
    of it (adding a model to a finished run only runs that model), and model
    parameters are checked per finished part."""
    return {
        "dataset": dataset.fingerprint(),
        "split": config.split, "cv": config.cv, "seed": config.seed,
        "image_size": config.image_size,
        "threshold_method": config.threshold_method,
        "target_sensitivity": config.target_sensitivity,
        "n_bootstrap": config.n_bootstrap,
    }


def _build_model(name, config):
    from classifiers import get_model

    params = dict(config.model_params.get(name, {}))
    model = get_model(name, **params)
    available = model.get_params(deep=False)
    defaults = {"random_state": config.seed}
    if config.image_size is not None:
        defaults["image_size"] = config.image_size
    if "verbose" in available:
        defaults["verbose"] = 0 if config.quiet else 1
    model.set_params(**{key: value for key, value in defaults.items()
                        if key in available and key not in params})
    return model


def _run_part(name, dataset, split, config, store, load_size):
    """Fit one model on one split; return (row, predictions, history)."""
    row = {"model": name, "fold": split.fold, "n_train": len(split.train),
           "n_val": len(split.val), "n_test": len(split.test), "error": ""}
    try:
        model = _build_model(name, config)
        images, labels = dataset.images, dataset.labels
        validation = ((images[split.val], labels[split.val]) if len(split.val) else None)
        start = time.perf_counter()
        model.fit(images[split.train], labels[split.train], validation_data=validation)
        row["fit_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        proba_test = np.asarray(model.predict_proba(images[split.test]))
        row["predict_seconds"] = time.perf_counter() - start
        row["images_per_second"] = len(split.test) / max(row["predict_seconds"], 1e-9)
        proba_val = (np.asarray(model.predict_proba(images[split.val]))
                     if len(split.val) else None)
        row.update(_score(dataset, split, proba_test, proba_val, config))
        predictions = _prediction_frame(name, dataset, split, proba_test, proba_val)
        history = getattr(model, "history_", None)
        if config.save_models:
            _save_model(model, store.model_dir(name, split.fold), dataset, load_size)
        return row, predictions, history
    except Exception as error:  # one model's failure must not end the run
        row["error"] = f"{type(error).__name__}: {error}"
        trace = store.parts / f"{name}__fold{split.fold}.traceback.txt"
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        return row, None, None


def _score(dataset, split, proba_test, proba_val, config):
    """All metrics of one part: at 0.5, at the validation threshold, CIs."""
    from benchmarks.metrics import bootstrap_ci, choose_threshold, evaluate_predictions

    y_test = dataset.labels[split.test]
    options = {"task": dataset.task, "class_names": dataset.class_names}
    metrics = evaluate_predictions(y_test, proba_test, threshold=0.5, **options)
    if dataset.task == "multiclass":
        metrics["threshold"] = float("nan")
    for metric in ("f1", "roc_auc"):
        low, high = bootstrap_ci(y_test, proba_test, metric, n_boot=config.n_bootstrap,
                                 seed=config.seed, **options)
        metrics[f"{metric}_ci_low"], metrics[f"{metric}_ci_high"] = low, high
    if dataset.task == "binary" and proba_val is not None:
        y_val = dataset.labels[split.val]
        if len(np.unique(y_val)) == 2:
            threshold = choose_threshold(y_val, _positive_scores(proba_val),
                                         method=config.threshold_method,
                                         target_sensitivity=config.target_sensitivity)
            tuned = evaluate_predictions(y_test, proba_test, threshold=threshold, **options)
            for key in ("threshold", "accuracy", "balanced_accuracy", "precision",
                        "recall", "specificity", "f1"):
                metrics[f"tuned_{key}"] = tuned[key]
    return metrics


def _positive_scores(proba):
    proba = np.asarray(proba)
    return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba.ravel()


def _prediction_frame(name, dataset, split, proba_test, proba_val):
    """Per-image predictions of the validation and test sets."""
    import pandas as pd

    frames = []
    for part, indices, proba in (("val", split.val, proba_val), ("test", split.test, proba_test)):
        if proba is None or len(indices) == 0:
            continue
        frame = {"id": dataset.ids[indices], "split": part, "fold": split.fold, "model": name}
        labels = dataset.labels[indices]
        if dataset.task == "multilabel":
            for column, label in enumerate(dataset.class_names):
                frame[f"y_true_{label}"] = labels[:, column]
        else:
            frame["y_true"] = labels
        for column, label in enumerate(dataset.class_names):
            frame[f"proba_{label}"] = proba[:, column]
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def _save_model(model, directory, dataset, load_size):
    """Save the fitted model with what ``xray-bench predict`` needs to
    reproduce the run's input pipeline on raw files."""
    import json

    from benchmarks.store import write_atomic

    model.save(directory)
    write_atomic(Path(directory) / "input.json", json.dumps({
        "class_names": list(dataset.class_names), "task": dataset.task,
        "load_size": load_size}, indent=2))
