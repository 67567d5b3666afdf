"""The ``xray-bench`` command: its parser, its sub-commands and the quiet mode.

- :mod:`~benchmarks.cli.commands`: the parser (flags of ``run`` derived from
  :class:`benchmarks.config.BenchmarkConfig`) and the sub-commands;
- :mod:`~benchmarks.cli.quiet`: TensorFlow's native log lines hidden
  unless ``--verbose``;
- :mod:`~benchmarks.cli.pretrain`: ``xray-bench pretrain``.

Examples
--------
>>> from benchmarks.cli import build_parser
>>> build_parser().parse_args(["run", "--models", "hog-xgb"]).models
('hog-xgb',)
"""

from benchmarks.cli.commands import build_parser, main

__all__ = ["main", "build_parser"]
