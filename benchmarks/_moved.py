"""Module paths that moved, kept importable under their old names.

``benchmarks`` is laid out by idea (``evaluation``, ``parts``, ``results``,
``reports``, ``cli``, ``bench`` ...). Code written against the earlier flat
layout, ``from benchmarks.metrics import evaluate_predictions`` or
``import benchmarks.predictions_table``, keeps working: importing an old
name gives the module at its new place, the same object (so
``benchmarks.metrics is benchmarks.evaluation.metrics``), and nothing is
copied or wrapped. New code imports the new paths.

The measurement scripts moved too and are run under their new names,
``python -m benchmarks.bench.bench_features`` (``python -m`` needs the
module itself, not an alias).

Examples
--------
>>> import benchmarks.metrics, benchmarks.evaluation.metrics
>>> benchmarks.metrics is benchmarks.evaluation.metrics
True
>>> MOVED["benchmarks.store"]
'benchmarks.results.store'
"""

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["MOVED", "install"]

#: Old module path -> new module path, the one table of moved modules.
MOVED = {
    "benchmarks.splits": "benchmarks.evaluation.splits",
    "benchmarks.metrics": "benchmarks.evaluation.metrics",
    "benchmarks.calibration": "benchmarks.evaluation.calibration",
    "benchmarks.ordinal": "benchmarks.evaluation.ordinal",
    "benchmarks.pairwise": "benchmarks.evaluation.pairwise",
    "benchmarks.learning_curves": "benchmarks.evaluation.learning_curves",
    "benchmarks.ensemble": "benchmarks.evaluation.ensemble",
    "benchmarks.ensemble_part": "benchmarks.parts.ensemble",
    "benchmarks.distributed": "benchmarks.parts.distributed",
    "benchmarks.store": "benchmarks.results.store",
    "benchmarks.predictions_table": "benchmarks.results.predictions_table",
    "benchmarks.report": "benchmarks.reports.leaderboard",
    "benchmarks.plots": "benchmarks.reports.plots",
    "benchmarks.calibration_plots": "benchmarks.reports.calibration_plots",
    "benchmarks.html_report": "benchmarks.reports.html",
    "benchmarks.curve_report": "benchmarks.reports.curves",
    "benchmarks.model_names": "benchmarks.config",
    "benchmarks.pretrain_command": "benchmarks.cli.pretrain",
    "benchmarks.ood_sets": "benchmarks.bench.ood_sets",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name of :data:`MOVED` and loads it as the module at its new place."""

    def __init__(self):
        self._specs = {}

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        module = importlib.import_module(MOVED[spec.name])
        self._specs[spec.name] = module.__spec__  # the import system overwrites it next
        return module

    def exec_module(self, module):
        """Nothing to run (the module was loaded under its new name) but to
        give it back its own ``__spec__``."""
        module.__spec__ = self._specs.pop(module.__spec__.name)


_FINDER = _Alias()


def install():
    """Put the finder of old names first on ``sys.meta_path`` (once;
    ``benchmarks`` calls this): first, so that no other finder (an editable
    install of an earlier version, say) answers for an old name."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)
