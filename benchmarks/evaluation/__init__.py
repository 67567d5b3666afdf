"""Numbers in, numbers out: the evaluation maths of a run, with no files.

- :mod:`~benchmarks.evaluation.splits`: leakage-safe train/validation/test
  splits and duplicate-image checks;
- :mod:`~benchmarks.evaluation.metrics`: every metric from one function,
  thresholds, bootstrap intervals, confusion matrices;
- :mod:`~benchmarks.evaluation.calibration`: post-hoc calibrators, ECE and
  reliability tables;
- :mod:`~benchmarks.evaluation.ordinal`: grade order and ordinal metrics;
- :mod:`~benchmarks.evaluation.pairwise`: paired tests between models
  (DeLong, paired bootstrap, McNemar, Holm);
- :mod:`~benchmarks.evaluation.learning_curves`: the nested training
  subsets of a learning curve;
- :mod:`~benchmarks.evaluation.ensemble`: choosing an ensemble's members
  and weights on validation predictions;
- :mod:`~benchmarks.evaluation.scoring`: one part's metrics row from its
  scores.

Each sub-module is imported by name; this package re-exports nothing, so
importing one never loads the others.
"""

__all__ = []
