"""Which parts a run needs: :func:`plan_parts`, what the runner schedules,
and :func:`planned_rows`, the (model, fold) rows they save, which a report
compares with the parts it finds."""

import dataclasses

from benchmarks.evaluation.ensemble import ENSEMBLE

__all__ = ["PlannedPart", "plan_parts", "planned_rows", "run_model_names"]


@dataclasses.dataclass(frozen=True)
class PlannedPart:
    """One part of a run: a model on a fold, on all of its training images
    or on a learning-curve ``point`` (a subset of them)."""

    model: str
    fold: int
    point: object = None


def plan_parts(models, folds, points=()):
    """The parts of a run in the order it runs them: every model on every
    fold, then on every learning-curve point below the full training set;
    the ensemble after all of them (it is chosen from its members' results).

    Parameters
    ----------
    models : sequence of str
    folds : iterable of int
    points : sequence of learning-curve points, optional
        Each with its ``fold`` and ``key`` (``""`` for the full training set,
        which the plain parts already cover).

    Returns
    -------
    list of PlannedPart

    Examples
    --------
    >>> [(p.model, p.fold) for p in plan_parts(["ensemble", "hog-xgb"], range(2))]
    [('hog-xgb', 0), ('hog-xgb', 1), ('ensemble', 0), ('ensemble', 1)]
    """
    parts = [PlannedPart(name, fold) for fold in folds for name in models]
    parts += [PlannedPart(name, point.fold, point)
              for point in points if point.key for name in models]
    parts.sort(key=lambda part: part.model == ENSEMBLE)  # stable: the order above otherwise
    return parts


def run_model_names(models, calibrate=None):
    """The models of a run in order, each followed by its post-hoc
    calibrated version (``<model>+<method>``) when ``calibrate`` names a method.

    Examples
    --------
    >>> run_model_names(["hog-xgb", "cnn"], "isotonic")
    ['hog-xgb', 'hog-xgb+isotonic', 'cnn', 'cnn+isotonic']
    """
    method = calibrate
    return [variant for name in models
            for variant in ((name, f"{name}+{method}") if method else (name,))]


def planned_rows(models, n_folds, calibrate=None):
    """The (model, fold) rows the parts of :func:`plan_parts` save (each
    fitted part with its calibrated version), model by model.

    Examples
    --------
    >>> planned_rows(["hog-xgb", "cnn"], 2, "isotonic")[:3]
    [('hog-xgb', 0), ('hog-xgb', 1), ('hog-xgb+isotonic', 0)]
    """
    names = run_model_names(models, calibrate)
    rows = [(name, part.fold) for part in plan_parts(models, range(n_folds))
            for name in run_model_names([part.model], calibrate)]
    return sorted(rows, key=lambda row: (names.index(row[0]), row[1]))
