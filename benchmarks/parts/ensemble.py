"""The ``ensemble`` part of a run: computed from its members' saved predictions.

Each finished (model, fold[, learning-curve point]) part keeps its
validation and test probabilities (:mod:`benchmarks.results.store`). The ensemble of
that split (or point) reads them back, chooses members and weights on the
validation probabilities (:func:`benchmarks.evaluation.ensemble.select_members`),
averages the test probabilities with those weights and is scored like any
model. Nothing is refitted, so it runs after its members, in any later run
too.

Its row holds ``fit_seconds`` = the selection time (members' fits are not
included; their sum over the chosen members is ``members_fit_seconds``),
``predict_seconds`` = the chosen members' prediction times summed, and the
choice: ``ensemble_weights`` (JSON, member -> weight), ``ensemble_metric``,
``ensemble_val_score`` and ``ensemble_candidates`` (the finished members it
chose from). ``ensemble.json`` gathers them per fold.
"""

import json
import time

import numpy as np

from benchmarks.evaluation.ensemble import ENSEMBLE, ensemble_settings, select_members
from benchmarks.evaluation.scoring import ScoringSettings, score_part
from benchmarks.parts.calibrated import calibrated_part
from benchmarks.parts.record import PartResult, failed_result
from benchmarks.results.predictions_table import prediction_frame

__all__ = ["ensemble_part", "check_ensemble_splits", "ensemble_is_stale"]


def check_ensemble_splits(splits, config):
    """Refuse a run with ``ensemble`` but no validation set, before any fit.

    Raises
    ------
    ValueError
        If ``ensemble`` is among ``config.models`` and a split has no
        validation images.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from benchmarks.evaluation.splits import Split
    >>> check_ensemble_splits([Split(0, [0, 1], [], [2])],
    ...                       SimpleNamespace(models=("a", "b", "ensemble")))
    Traceback (most recent call last):
    ...
    ValueError: ensemble: fold 0 has no validation set, and members and weights are \
chosen on validation predictions only (never on test). Use a split with validation \
images (a 'val' set, or a validation fraction), or leave 'ensemble' out.
    """
    if ENSEMBLE not in config.models:
        return
    for split in splits:
        if not len(split.val):
            raise ValueError(f"{ENSEMBLE}: fold {split.fold} has no validation set, and "
                             "members and weights are chosen on validation predictions only "
                             "(never on test). Use a split with validation images (a 'val' "
                             "set, or a validation fraction), or leave 'ensemble' out.")


def _finished_members(store, fold, key, members):
    """(record, predictions) of each member part that finished without error."""
    found = {}
    for name in members:
        part = store.load_part(name, fold, key=key)
        if part is not None and not part[0]["row"].get("error") and part[1] is not None:
            found[name] = part
    return found


def ensemble_is_stale(store, fold, key, config):
    """Whether a saved ensemble part chose from other finished members than
    there are now (a member failed then and was fitted since): recompute it."""
    part = store.load_part(ENSEMBLE, fold, key=key)
    if part is None:
        return True
    members = ensemble_settings(config.models, config.model_params)["members"]
    recorded = part[0]["row"].get("ensemble_candidates")
    return recorded != json.dumps(sorted(_finished_members(store, fold, key, members)))


def _probabilities(frame, which, indices, dataset, name):
    """A member's probabilities on one set, in dataset class order, checked
    to be of exactly that set's images in that order."""
    rows = frame[frame["split"] == which]
    expected = np.asarray(dataset.ids)[indices].astype(str)
    if len(rows) != len(expected) or not np.array_equal(rows["id"].astype(str), expected):
        raise ValueError(f"the saved {which} predictions of {name!r} are not of this split's "
                         "images; run again with --fresh.")
    return rows[[f"proba_{label}" for label in dataset.class_names]].to_numpy(np.float64)


def ensemble_part(dataset, split, config, store, point=None, save=None):
    """Choose, average and score the ensemble of one split (or curve point).

    Parameters
    ----------
    dataset : benchmarks.Dataset
    split : benchmarks.Split
        With a learning-curve point, the split whose training set is the subset.
    config : benchmarks.BenchmarkConfig
    store : benchmarks.results.store.ResultStore
        Where the members' parts are saved.
    point : benchmarks.evaluation.learning_curves.CurvePoint, optional
    save : callable, optional
        ``save(model)`` keeps a fitted :class:`classifiers.ensemble.EnsembleClassifier`
        (with ``--save-models``; only for a run's own split, not curve points).

    Returns
    -------
    result : benchmarks.parts.record.PartResult
        As the runner's other parts; a failure is recorded in ``row["error"]``.

    Examples
    --------
    >>> ensemble_part(dataset, split, config, store)  # doctest: +SKIP
    """
    key = point.key if point else ""
    row = {"model": ENSEMBLE, "fold": split.fold, "n_train": len(split.train),
           "n_val": len(split.val), "n_test": len(split.test), "error": ""}
    if point is not None:
        row.update(train_size=point.train_size, seed=point.curve_seed)
    try:
        settings = ensemble_settings(config.models, config.model_params)
        if not len(split.val):
            raise ValueError("no validation set to choose members and weights on")
        parts = _finished_members(store, split.fold, key, settings["members"])
        row["ensemble_candidates"] = json.dumps(sorted(parts))
        if len(parts) < 2:
            missing = [name for name in settings["members"] if name not in parts]
            raise ValueError(f"needs at least two finished members; finished: "
                             f"{sorted(parts) or 'none'}, failed or missing: {missing}")
        val = {name: _probabilities(frame, "val", split.val, dataset, name)
               for name, (_, frame) in parts.items()}
        start = time.perf_counter()
        chosen = select_members(dataset.labels[split.val], val, task=dataset.task,
                                class_names=dataset.class_names, metric=settings["metric"],
                                rounds=settings["rounds"])
        proba_val = sum(weight * val[name] for name, weight in chosen.weights.items())
        proba_test = sum(weight * _probabilities(parts[name][1], "test", split.test,
                                                 dataset, name)
                         for name, weight in chosen.weights.items())
        row["fit_seconds"] = time.perf_counter() - start
        member_rows = [parts[name][0]["row"] for name in chosen.weights]
        row["members_fit_seconds"] = sum(r.get("fit_seconds", 0.0) for r in member_rows)
        row["predict_seconds"] = sum(r.get("predict_seconds", 0.0) for r in member_rows)
        row["images_per_second"] = len(split.test) / max(row["predict_seconds"], 1e-9)
        row.update(ensemble_weights=json.dumps(chosen.weights), ensemble_metric=chosen.metric,
                   ensemble_val_score=chosen.score)
        row.update(score_part(dataset, split, proba_test, proba_val,
                              ScoringSettings.from_config(config)))
        predictions = prediction_frame(ENSEMBLE, dataset, split, proba_test, proba_val)
        if point is not None:
            predictions = predictions.assign(train_size=point.train_size,
                                             n_train=len(split.train), seed=point.curve_seed)
        if config.save_models and point is None and save is not None:
            row["model_saved"] = _save_ensemble(chosen.weights, dataset, split, store, config,
                                                save)
        variants = [calibrated_part(row, dataset, split, proba_test, proba_val, config)
                    ] if config.calibrate and point is None else []
        return PartResult(row, predictions, None, None, variants)
    except Exception as error:  # a failed ensemble must not end the run
        return failed_result(row, error)


def _save_ensemble(weights, dataset, split, store, config, save):
    """Build the :class:`~classifiers.ensemble.EnsembleClassifier` of the
    chosen members' saved models and ``save`` it; say why when it cannot."""
    from sklearn.frozen import FrozenEstimator

    from classifiers import load_model
    from classifiers.ensemble import EnsembleClassifier

    folders = {name: store.model_dir(name, split.fold if config.cv else None)
               for name in weights}
    unsaved = [name for name, folder in folders.items()
               if not (folder / "model.json").is_file()]
    if unsaved:
        return f"no: member(s) {', '.join(unsaved)} have no saved model"
    members = [(name, FrozenEstimator(load_model(folder))) for name, folder in folders.items()]
    model = EnsembleClassifier(members, weights=list(weights.values()))
    validation = (dataset.images[split.val], dataset.labels[split.val])
    save(model.fit(dataset.images[split.train], dataset.labels[split.train],
                   validation_data=validation))
    return "yes"
