"""One evaluation harness for every model: datasets, leakage-safe splits,
metrics, plots, a leaderboard and the ``xray-bench`` command.

The package is laid out by idea: :mod:`benchmarks.config` (the settings of
a run), :mod:`benchmarks.runner` (:func:`run_benchmark`),
:mod:`benchmarks.evaluation` (the maths), :mod:`benchmarks.parts` (one
model on one split), :mod:`benchmarks.results` (what a run saves),
:mod:`benchmarks.reports` (what is rebuilt from it), :mod:`benchmarks.cli`,
:mod:`benchmarks.datasets`, :mod:`benchmarks.inspection`,
:mod:`benchmarks.app` and :mod:`benchmarks.bench` (measurement scripts).
Module paths of the earlier flat layout (``benchmarks.metrics`` ...) still
import: see :mod:`benchmarks._moved`.
"""

import lazy_loader as _lazy

from benchmarks import _moved

_moved.install()

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["datasets", "splits", "metrics", "plots", "runner", "cli", "calibration",
                "pairwise", "ordinal", "html_report", "inspection"],
    submod_attrs={
        "datasets": ["Dataset", "DatasetError", "DatasetWarning", "load_dataset"],
        "evaluation.splits": ["Split", "LeakageError", "make_splits", "check_group_leakage",
                              "shared_groups", "find_duplicate_images", "image_digest"],
        "evaluation.metrics": ["evaluate_predictions", "choose_threshold", "bootstrap_ci",
                               "confusion_matrices"],
        "runner": ["run_benchmark"],
        "config": ["BenchmarkConfig"],
    },
)
