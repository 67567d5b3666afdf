"""What the outputs of a run need to know about it, as small records read
from what it saved: :class:`SavedRun` from ``run.json`` (or from the run that
writes it), :class:`SavedParts` from ``parts/``."""

import dataclasses
from pathlib import Path

from benchmarks.config import BenchmarkConfig
from benchmarks.results.store import read_parts

__all__ = ["SavedRun", "SavedParts"]

_DEFAULTS = {field.name: field.default for field in dataclasses.fields(BenchmarkConfig)}


@dataclasses.dataclass(frozen=True)
class SavedRun:
    """The dataset and the settings a run's tables and plots depend on.

    Parameters
    ----------
    name : str
        The dataset's name.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : tuple of str
    models : tuple of str
        The run's models, in order (without their calibrated versions).
    calibrate : str, optional
        The post-hoc calibration method, if any.
    cv : int, optional
        The number of cross-validation folds; None for one split.
    n_bootstrap : int
        Resamples of the paired bootstrap.
    seed : int
    ordinal : bool
        Whether the classes are ordered grades.

    Examples
    --------
    >>> run = {"config": {"models": ["hog-xgb"], "cv": 3},
    ...        "dataset": {"summary": {"name": "phantoms", "task": "binary",
    ...                                "class_names": ["intact", "fracture"]}}}
    >>> saved = SavedRun.from_record(run)
    >>> saved.models, saved.cv, saved.class_names, saved.n_bootstrap
    (('hog-xgb',), 3, ('intact', 'fracture'), 1000)
    """

    name: str
    task: str
    class_names: tuple
    models: tuple
    calibrate: object = None
    cv: object = None
    n_bootstrap: int = _DEFAULTS["n_bootstrap"]
    seed: int = _DEFAULTS["seed"]
    ordinal: bool = False

    @classmethod
    def from_config(cls, dataset, config):
        """The record of a run in progress: its dataset and configuration."""
        return cls(name=dataset.name, task=dataset.task, class_names=tuple(dataset.class_names),
                   models=tuple(config.models), calibrate=config.calibrate, cv=config.cv,
                   n_bootstrap=config.n_bootstrap, seed=config.seed,
                   ordinal=bool(config.ordinal))

    @classmethod
    def from_record(cls, run, name=None):
        """The record of a saved run, from its ``run.json`` (a dict); None when
        it does not say the task and the class names. ``name`` is the
        dataset's name where ``run.json`` has none."""
        summary = ((run or {}).get("dataset") or {}).get("summary") or {}
        if not summary.get("task") or not summary.get("class_names"):
            return None
        config = {**_DEFAULTS, **(run.get("config") or {})}
        return cls(name=summary.get("name", name), task=summary["task"],
                   class_names=tuple(summary["class_names"]),
                   models=tuple(config["models"] or ()), calibrate=config["calibrate"],
                   cv=config["cv"], n_bootstrap=config["n_bootstrap"], seed=config["seed"],
                   ordinal=bool(config["ordinal"]))


@dataclasses.dataclass(frozen=True)
class SavedParts:
    """The finished parts of a run: their saved records (metrics row,
    history ...) and their predictions table.

    Parameters
    ----------
    records : list of dict
        One per finished part (see :func:`benchmarks.results.store.read_parts`).
    predictions : pandas.DataFrame
        Their rows of ``predictions.csv``, together.
    """

    records: list
    predictions: object

    @classmethod
    def read(cls, folder):
        """The parts saved in ``folder`` (a run's ``parts/``)."""
        return cls(*read_parts(Path(folder)))

    @classmethod
    def from_store(cls, store):
        """The parts a :class:`~benchmarks.results.store.ResultStore` holds."""
        return cls(*store.load_parts())
