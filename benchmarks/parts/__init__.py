"""The parts of a run: one (model, fold) each, producing its metrics row
and predictions.

- :mod:`~benchmarks.parts.record`: :class:`~benchmarks.parts.record.PartResult`,
  what every producer returns;
- :mod:`~benchmarks.parts.plan`: which parts a run needs, for the runner
  and for a report of a run that has not finished;
- fitting one model on one split and scoring it stays beside the loop that
  schedules it, in :mod:`benchmarks.runner`;
- :mod:`~benchmarks.parts.calibrated`: the post-hoc calibrated version of a
  fitted part (``<model>+<method>``);
- :mod:`~benchmarks.parts.ensemble`: the ``ensemble`` part, from its
  members' saved predictions;
- :mod:`~benchmarks.parts.distributed`: running the parts as tasks on a
  Dask cluster.
"""

__all__ = []
