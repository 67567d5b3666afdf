"""The README is a front door and the user guide stays in step with the code.

The documentation itself is built by ``.ci/run`` with warnings as errors
(``sphinx-build -W``); these checks need no Sphinx.
"""

import re
from pathlib import Path

from benchmarks.results.outdir import RUN_OUTPUTS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_readme_is_at_most_400_lines():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 400


def test_readme_links_point_at_files_that_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(((?:docs|benchmarks)/[^)#]+)", readme)
    assert targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_every_page_is_in_a_toctree():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^((?:guide|benchmarks|api)/[\w-]+)$", index, flags=re.M))
    pages = {str(path.relative_to(DOCS).with_suffix(""))
             for folder in ("guide", "benchmarks") for path in (DOCS / folder).glob("*.md")}
    assert pages <= listed, f"pages in no toctree of docs/index.md: {sorted(pages - listed)}"


def test_the_table_of_outputs_lists_every_output_a_run_writes():
    harness = (DOCS / "guide" / "harness.md").read_text(encoding="utf-8")
    table = harness[harness.index("## What a run writes"):]
    table = table[:table.index("\n\n", table.index("| file |"))]
    named = set(re.findall(r"`([\w.]+)/?`", table))
    missing = sorted(set(RUN_OUTPUTS) - named)
    assert not missing, f"docs/guide/harness.md does not list {missing}"


def test_measurement_scripts_are_named_by_their_module_path():
    text = "\n".join(path.read_text(encoding="utf-8") for path in DOCS.rglob("*.md"))
    assert not re.search(r"python -m benchmarks\.bench_", text)
    for name in set(re.findall(r"python -m benchmarks\.bench\.(\w+)", text)):
        assert (ROOT / "benchmarks" / "bench" / f"{name}.py").is_file(), name
