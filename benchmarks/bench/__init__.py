"""Measurement scripts and their data, apart from the code users import.

Each ``bench_*`` module is run as ``python -m benchmarks.bench.NAME``
(``python -m benchmarks.bench.bench_features --help``); the user guide
gives each one's command beside the numbers it printed.
:mod:`~benchmarks.bench._hostile_cases` holds the hostile inputs of
``bench_hostile`` as data and :mod:`~benchmarks.bench.ood_sets` the
synthetic out-of-distribution image sets of ``bench_ood_explain``.
"""

__all__ = []
