"""``python -m benchmarks`` is the same as the ``xray-bench`` command."""

from benchmarks.cli import main

raise SystemExit(main())
