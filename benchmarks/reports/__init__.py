"""Everything rebuilt from a run's saved results (``run.json`` and
``parts/``): the leaderboard, the plots, the learning curve and
``report.html``.

- :mod:`~benchmarks.reports.saved`: what the reports read, as records:
  :class:`~benchmarks.reports.saved.SavedRun` (``run.json``) and
  :class:`~benchmarks.reports.saved.SavedParts` (``parts/``);
- :mod:`~benchmarks.reports.table`: the leaderboard as one table record and
  its Markdown rendering (``report.html`` renders it as HTML);
- :mod:`~benchmarks.reports.leaderboard`: ``results.csv/json/md``,
  ``predictions.csv``, ``pairwise.csv``, ``splits.csv`` and ``run.json``;
- :mod:`~benchmarks.reports.plots`: confusion matrices, ROC and PR curves;
- :mod:`~benchmarks.reports.calibration_plots`: reliability diagrams;
- :mod:`~benchmarks.reports.curves`: ``learning_curve.csv`` and its plot;
- :mod:`~benchmarks.reports.ensemble`: ``ensemble.json`` and the leaderboard's
  notes on an ensemble's members;
- :mod:`~benchmarks.reports.html`: ``report.html`` and ``xray-bench report``.
"""

__all__ = []
