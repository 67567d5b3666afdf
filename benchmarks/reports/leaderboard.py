"""From predictions to outputs: each part's metrics row and predictions
table, then the run's tables, leaderboard (``results.md``, the table of
:mod:`benchmarks.reports.table`), plots, ``predictions.csv``, ``splits.csv``
and ``run.json``. Everything here works on scores and saved results (the
records of :mod:`benchmarks.reports.saved`), never on live models, so the
outputs can be rebuilt at any time."""

import json
import os
import platform
import sys
from pathlib import Path

import numpy as np

from benchmarks.evaluation.scoring import extra_metrics
from benchmarks.parts.plan import run_model_names
from benchmarks.reports.ensemble import write_ensemble_record
from benchmarks.reports.table import leaderboard_markdown, leaderboard_table
from benchmarks.results.csv_cells import frame_to_csv
from benchmarks.results.outdir import record_outputs, write_output
from benchmarks.results.predictions_table import predictions_csv
from benchmarks.results.store import json_default
from xray_features.utils import make_folders

__all__ = ["write_outputs", "write_run_record", "write_splits", "run_leaderboard",
           "format_leaderboard", "library_versions", "run_model_names"]

#: Leading columns of results.csv, in this order; per-class and tuned
#: columns follow.
RESULT_COLUMNS = ("model", "fold", "accuracy", "balanced_accuracy", "precision", "recall",
                  "specificity", "f1", "roc_auc", "average_precision", "threshold",
                  "fit_seconds", "predict_seconds", "error", "ece", "brier")


def write_outputs(out, parts, run):
    """Write results.csv/json/md, predictions.csv and plots; return the table.

    Parameters
    ----------
    out : Path
        The run's output directory.
    parts : benchmarks.reports.saved.SavedParts
        The finished parts (their records and predictions).
    run : benchmarks.reports.saved.SavedRun
        The dataset's name, task and class names and the run's settings.

    Returns
    -------
    results : pandas.DataFrame
    """
    import pandas as pd

    records, predictions = parts.records, parts.predictions
    names = run_model_names(run.models, run.calibrate)
    order = {name: i for i, name in enumerate(names)}
    records = sorted((record for record in records if record["model"] in order),
                     key=lambda record: (order[record["model"]], record["fold"]))
    if len(predictions):
        predictions = predictions[predictions["model"].isin(order)]
        predictions = predictions.sort_values(
            ["model", "fold"], key=lambda column: column.map(order) if column.name == "model"
            else column, kind="stable").reset_index(drop=True)
    rows = [record["row"] for record in records]
    if run.cv:  # each model's folds, then its mean and pooled rows
        rows = sorted(rows + _fold_summaries(rows, predictions, run),
                      key=lambda row: order[row["model"]])
    results = pd.DataFrame(rows)
    for column in RESULT_COLUMNS:
        if column not in results:
            results[column] = np.nan if column != "error" else ""
    ordered = list(RESULT_COLUMNS) + [c for c in results.columns if c not in RESULT_COLUMNS]
    results = results[ordered]
    results["error"] = results["error"].fillna("")

    write_output(out, "results.csv", frame_to_csv(results))
    write_output(out, "results.json", json.dumps(
        results.replace({np.nan: None}).to_dict(orient="records"), indent=1,
        default=json_default))
    write_output(out, "predictions.csv", predictions_csv(predictions))
    write_ensemble_record(out, records)
    pairwise = _write_pairwise(out, results, predictions, run)
    write_output(out, "results.md", leaderboard_markdown(run_leaderboard(results, pairwise, run)))
    _write_plots(Path(out), records, predictions, run)
    return results


def run_leaderboard(results, pairwise, run):
    """The :class:`~benchmarks.reports.table.LeaderboardTable` of a run's
    results and paired tests (``pairwise`` None with fewer than two models)."""
    from benchmarks.evaluation.pairwise import not_below_best

    return leaderboard_table(results, name=run.name, task=run.task,
                             class_names=run.class_names, cv=run.cv,
                             not_below_best=not_below_best(pairwise)[1])


def _write_pairwise(out, results, predictions, run):
    """``pairwise.csv``: paired tests of every pair of models on the same
    test images (pooled out-of-fold predictions with cross-validation)."""
    from benchmarks.evaluation.pairwise import pairwise_comparisons

    test = predictions[predictions["split"] == "test"] if len(predictions) else predictions
    if not len(test) or test["model"].nunique() < 2:
        return None
    thresholds = {}
    if "tuned_threshold" in results:
        for _, row in results.iterrows():
            if str(row["fold"]).isdigit() and np.isfinite(row["tuned_threshold"]):
                thresholds[(row["model"], int(row["fold"]))] = float(row["tuned_threshold"])
    table = pairwise_comparisons(test, task=run.task, class_names=run.class_names,
                                 thresholds=thresholds, n_boot=run.n_bootstrap, seed=run.seed)
    write_output(out, "pairwise.csv", frame_to_csv(table))
    return table


def write_splits(out, dataset, splits):
    """Write ``splits.csv``: the set (train/val/test) of every image in every
    fold, with its group when the dataset has groups.

    Examples
    --------
    >>> write_splits(out, dataset, splits)  # doctest: +SKIP
    """
    import pandas as pd

    frames = []
    for split in splits:
        for name in ("train", "val", "test"):
            indices = getattr(split, name)
            frame = {"id": dataset.ids[indices], "fold": split.fold, "set": name}
            if dataset.groups is not None:
                frame["group"] = dataset.groups[indices]
            frames.append(pd.DataFrame(frame))
    write_output(out, "splits.csv", frame_to_csv(pd.concat(frames)))


def _fold_summaries(rows, predictions, run):
    """Mean and std over folds, and metrics pooled over out-of-fold
    predictions, one row each per model."""
    from benchmarks.evaluation.metrics import evaluate_predictions, summarize_folds
    from benchmarks.results.predictions_table import predictions_to_arrays

    summaries = []
    for model in dict.fromkeys(row["model"] for row in rows):
        folds = [row for row in rows if row["model"] == model and not row.get("error")]
        if not folds:
            continue
        summaries.append({"model": model, "fold": "mean", "error": "",
                          **summarize_folds(folds)})
        test = predictions[(predictions["model"] == model) & (predictions["split"] == "test")]
        if len(test):
            y_true, proba = predictions_to_arrays(test, task=run.task,
                                                  class_names=run.class_names)
            pooled = evaluate_predictions(y_true, proba, task=run.task,
                                          class_names=run.class_names)
            pooled.update(extra_metrics(y_true, proba, run.task, ordinal=run.ordinal))
            summaries.append({"model": model, "fold": "pooled", "error": "", **pooled})
    return summaries


def format_leaderboard(results, dataset, config, *, not_below_best=()):
    """The Markdown leaderboard, best ROC AUC first: :func:`leaderboard_table`
    of ``results`` rendered by :func:`leaderboard_markdown`.

    Examples
    --------
    >>> format_leaderboard(results, dataset, config)  # doctest: +SKIP
    '# Leaderboard: phantoms:fracture ...'
    """
    return leaderboard_markdown(leaderboard_table(
        results, name=dataset.name, task=dataset.task, class_names=dataset.class_names,
        cv=config.cv, not_below_best=not_below_best))


def _write_plots(out, records, predictions, run):
    """Confusion matrices and training curves per model; ROC and PR curves
    overlaying all models (test predictions, all folds pooled), in
    ``out/plots`` (a real folder, never a link; each file written atomically)."""
    from benchmarks.reports.calibration_plots import plot_reliability_diagram
    from benchmarks.evaluation.metrics import confusion_matrices
    from benchmarks.results.predictions_table import predictions_to_arrays
    from benchmarks.reports.plots import (plot_confusion_matrix, plot_pr_curves, plot_roc_curves,
                                          plot_training_history)

    directory = out / "plots"
    record_outputs(out, make_folders(directory, out) + [directory])

    def target(name):  # listed before it is written: a kill leaves no orphan
        record_outputs(out, [directory / name])
        return directory / name
    curves = {}
    test = predictions[predictions["split"] == "test"] if len(predictions) else predictions
    for model in dict.fromkeys(test["model"]) if len(test) else ():
        y_true, proba = predictions_to_arrays(test[test["model"] == model], task=run.task,
                                              class_names=run.class_names)
        if run.task == "multilabel":
            y_pred = (proba >= 0.5).astype(int)
        elif run.task == "binary":
            y_pred = (proba[:, 1] >= 0.5).astype(int)
        else:
            y_pred = proba.argmax(axis=1)
        counts, normalised = confusion_matrices(y_true, y_pred,
                                                labels=list(range(len(run.class_names))))
        plot_confusion_matrix(counts, run.class_names, target(f"confusion_{model}.png"),
                              normalised=normalised, title=model)
        curves[model] = (y_true, proba[:, 1] if run.task == "binary" else proba)
        plot_reliability_diagram(y_true, proba, target(f"reliability_{model}.png"),
                                 task=run.task, title=f"{model}: reliability")
    if curves:
        plot_roc_curves(curves, target("roc.png"))
        plot_pr_curves(curves, target("pr.png"))
    for record in records:
        if record.get("history"):
            suffix = "" if record["fold"] == 0 else f"_fold{record['fold']}"
            plot_training_history(record["history"],
                                  target(f"history_{record['model']}{suffix}.png"))


def library_versions():
    """Versions of the libraries that shape the numbers, those installed
    (read from package metadata, importing none of them)."""
    from classifiers.persistence import library_versions as installed_versions

    extra = ("scipy", "scikit-image", "opencv-python-headless", "xgboost", "keras",
             "tensorflow", "jax", "torch", "pydicom", "pandas")
    versions = {"python": platform.python_version()}
    versions.update((name, version) for name, version in installed_versions(extra).items()
                    if version is not None)
    if "keras" in sys.modules:
        versions["keras_backend"] = sys.modules["keras"].backend.backend()
    return versions


def write_run_record(out, config, dataset, leakage_report, *, status, timings,
                     command=None):
    """Write ``run.json``: status, command, configuration, seed, library
    versions, dataset fingerprint and summary, leakage checks, machine and
    timings.

    Parameters
    ----------
    out : Path
        The run's output directory.
    config : benchmarks.BenchmarkConfig
    dataset : benchmarks.Dataset
    leakage_report : dict
        Findings of the split checks (duplicate images across sets).
    status : {'running', 'interrupted', 'terminated', 'finished'} or 'failed: <reason>'
    timings : dict
        Seconds spent per step (``load_seconds``, ``parts``, ``total_seconds`` ...).
    command : list of str, optional
        The command line; ``sys.argv`` if omitted.

    Examples
    --------
    >>> write_run_record(out, config, dataset, {}, status="finished",
    ...                  timings={"total_seconds": 12.0})  # doctest: +SKIP
    """
    import dataclasses
    from datetime import datetime, timezone

    from classifiers.backends import backend_record

    record = {
        "status": status,
        "command": list(command) if command is not None else list(sys.argv),
        "working_directory": os.getcwd(),
        "config": dataclasses.asdict(config),
        "seed": config.seed,
        "dataset": {"name": dataset.name, "fingerprint": dataset.fingerprint(),
                    "summary": dataset.summary(), "n_skipped": len(dataset.skipped),
                    "skipped": [list(item) for item in dataset.skipped[:100]]},
        "leakage": leakage_report,
        "versions": library_versions(),
        "backend": backend_record(config.models),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "machine": platform.machine(), "cpu_count": os.cpu_count()},
        "timings": timings,
        "wall_seconds": timings.get("total_seconds"),
        "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_output(out, "run.json", json.dumps(record, indent=1, default=json_default))
