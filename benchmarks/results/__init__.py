"""What a run writes and reads back: the output folder and its manifest,
the store of finished parts (fingerprint and resume), the predictions table
and the CSV/JSON cells.

- :mod:`~benchmarks.results.outdir`: claiming an output folder, the
  manifest of what the toolkit wrote, the list of a run's outputs;
- :mod:`~benchmarks.results.store`: one file set per finished part, the
  run's fingerprint, resuming;
- :mod:`~benchmarks.results.predictions_table`: ``predictions.csv`` and
  its reading back into arrays;
- :mod:`~benchmarks.results.csv_cells`: CSV cells that are safe to open in
  a spreadsheet.
"""

__all__ = []
