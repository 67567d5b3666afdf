"""One evaluation harness for every model: datasets, leakage-safe splits,
metrics, plots, a leaderboard and the ``xray-bench`` command."""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["datasets", "splits", "metrics", "plots", "runner", "cli", "calibration",
                "pairwise", "ordinal", "html_report", "inspection"],
    submod_attrs={
        "datasets": ["Dataset", "DatasetError", "DatasetWarning", "load_dataset"],
        "splits": ["Split", "LeakageError", "make_splits", "check_group_leakage",
                   "shared_groups", "find_duplicate_images", "image_digest"],
        "metrics": ["evaluate_predictions", "choose_threshold", "bootstrap_ci",
                    "confusion_matrices"],
        "runner": ["run_benchmark", "BenchmarkConfig"],
    },
)
