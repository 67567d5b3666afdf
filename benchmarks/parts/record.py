"""What one part of a run produces: :class:`PartResult`."""

import dataclasses
import traceback as _traceback

__all__ = ["PartResult", "failed_result"]


@dataclasses.dataclass(frozen=True)
class PartResult:
    """The outcome of one (model, fold[, learning-curve point]) of a run.

    Every part producer (a fit, the ensemble) returns one; the runner saves
    it (:meth:`benchmarks.results.store.ResultStore.save_part`).

    Parameters
    ----------
    row : dict
        The part's row of ``results.csv``: its metrics, sizes, timings and
        ``error`` (``""`` when it succeeded).
    predictions : pandas.DataFrame, optional
        Its rows of ``predictions.csv``; ``None`` when it failed.
    history : dict, optional
        The training history of a network (per-epoch losses), if any.
    traceback : str, optional
        The traceback of its failure, if it failed.
    variants : list of (dict, pandas.DataFrame)
        Rows and predictions of the versions derived from it (the post-hoc
        calibrated ``<model>+<method>``), saved before it.

    Notes
    -----
    A result also unpacks as the tuple ``(row, predictions, history,
    traceback, variants)``, the order these fields were returned in before
    they had names.

    Examples
    --------
    >>> result = PartResult({"model": "hog-xgb", "error": ""})
    >>> row, predictions, history, trace, variants = result
    >>> result.failed, variants
    (False, [])
    """

    row: dict
    predictions: object = None
    history: object = None
    traceback: object = None
    variants: list = dataclasses.field(default_factory=list)

    @property
    def failed(self):
        """Whether the part recorded an error."""
        return bool(self.row.get("error"))

    def __iter__(self):
        return iter((self.row, self.predictions, self.history, self.traceback, self.variants))

    def __getitem__(self, index):
        return tuple(self)[index]


def failed_result(row, error, trace=None):
    """The :class:`PartResult` of a part that raised ``error``: ``row`` with its
    ``error`` cell set, no predictions, and the traceback (``trace``, else the
    one being handled).

    Examples
    --------
    >>> failed_result({"model": "cnn", "error": ""}, ValueError("no\\nmemory"), "...").row
    {'model': 'cnn', 'error': 'ValueError: no memory'}
    """
    row["error"] = f"{type(error).__name__}: {error}".replace("\n", " ")
    return PartResult(row, traceback=trace if trace is not None else _traceback.format_exc())
