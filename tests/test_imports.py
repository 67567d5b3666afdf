"""The import graph of the toolkit, read from the source with ``ast``.

The requirements of ``setup.cfg`` match the libraries the code imports.
Three rules checked over every module of ``xray_features``, ``classifiers``
and ``benchmarks``:

- no cycle among module-level imports (a module never imports, at load
  time, one that imports it back);
- the layers stay in order: ``xray_features`` imports neither of the others,
  ``classifiers`` never imports ``benchmarks``;
- a module never imports the package that holds it (e.g. the loaders of
  ``benchmarks.datasets`` import ``benchmarks.datasets._record``, never
  ``benchmarks.datasets``, whose ``__init__`` sits above them).

Imports inside functions are read too and count for the last two rules,
but not for the first: the project imports heavy libraries and some
implementation modules lazily on purpose (``Dataset.load_images`` hands
over to ``benchmarks.datasets._image_loading``, which needs ``Dataset``), and
such an import runs only once every module has finished loading, so it
cannot leave a module half-initialised the way a module-level cycle does.
"""

import ast
import configparser
import importlib
import importlib.metadata
import pkgutil
import re
import sys
from pathlib import Path

import pytest

#: The toolkit's packages, bottom layer first.
PACKAGES = ("xray_features", "classifiers", "benchmarks")


def package_modules(package):
    """``{module name: (source path, is a package)}`` for ``package`` and all below it."""
    root = importlib.import_module(package)
    modules = {package: (Path(root.__file__), True)}
    for info in pkgutil.walk_packages(root.__path__, prefix=package + "."):
        spec = info.module_finder.find_spec(info.name)
        modules[info.name] = (Path(spec.origin), info.ispkg)
    return modules


def _absolute(module, is_package, node):
    """The module named by an ``ImportFrom`` node, relative imports resolved."""
    if node.level == 0:
        return node.module
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imports_of(module, path, is_package, known):
    """``{(imported module, 'module' or 'function')}`` for the known modules ``module`` imports.

    ``from a.b import c`` imports ``a.b.c`` when that is a module, else ``a.b``;
    an import nested in a function (at any depth) is a ``'function'`` import.
    """
    found = set()

    def nearest_known(name):
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            inner = "function" if isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) else where
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(module, is_package, child)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                           for alias in child.names]
            else:
                targets = []
            for target in targets:
                target = nearest_known(target)
                if target and target != module:
                    found.add((target, inner))
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "module")
    return found


def find_cycle(graph):
    """One cycle of ``graph`` (``{node: iterable of nodes}``) as ``[a, b, ..., a]``, or None.

    A depth-first search that keeps the current path (hand-written: a dozen
    lines, against a graph library the project does not otherwise need).
    """
    state = {}   # node -> "open" while on the path, "done" once explored
    path = []

    def visit(node):
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


@pytest.fixture(scope="module")
def edges():
    """``{(importer, imported): {'module', 'function'}}`` over the three packages."""
    modules = {}
    for package in PACKAGES:
        modules.update(package_modules(package))
    out = {}
    for module, (path, is_package) in modules.items():
        for target, where in imports_of(module, path, is_package, modules):
            out.setdefault((module, target), set()).add(where)
    return out


# ------------------------------------------------------------------ the cycle finder itself

def test_find_cycle_on_small_graphs():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}) is None   # a diamond
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": ["y"], "y": ["z"], "z": ["y"]}) == ["y", "z", "y"]
    assert find_cycle({"s": ["s"]}) == ["s", "s"]


def test_imports_of_reads_module_and_function_level_and_relative_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text("import pkg.low\nfrom . import sib\nfrom .low import thing\n"
                      "def f():\n    from pkg.high import g\n    import numpy\n")
    known = {"pkg", "pkg.low", "pkg.sib", "pkg.high", "pkg.mod"}
    assert imports_of("pkg.mod", source, False, known) == {
        ("pkg.low", "module"), ("pkg.sib", "module"), ("pkg.high", "function")}


# ------------------------------------------------------------------ the rules

def test_the_walk_reaches_nested_modules_and_both_kinds_of_import(edges):
    assert edges[("benchmarks.datasets._csv", "benchmarks.datasets._record")] == {"module"}
    assert edges[("benchmarks.datasets._record",
                  "benchmarks.datasets._image_loading")] == {"function"}
    assert ("benchmarks.inspection.metadata", "benchmarks.datasets._csv") in edges
    assert ("classifiers.xgb", "classifiers.base") in edges


def test_no_module_level_import_cycle(edges):
    graph = {}
    for (importer, imported), where in edges.items():
        if "module" in where:
            graph.setdefault(importer, set()).add(imported)
    cycle = find_cycle(graph)
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle)


def test_lower_layers_never_import_upper_ones(edges):
    rank = {package: i for i, package in enumerate(PACKAGES)}
    upward = sorted(f"{a} -> {b} ({'/'.join(sorted(w))} level)" for (a, b), w in edges.items()
                    if rank[a.split(".")[0]] < rank[b.split(".")[0]])
    assert not upward, f"imports from a lower layer into an upper one: {upward}"


def test_no_module_imports_its_own_package(edges):
    inward = sorted(f"{a} -> {b}" for (a, b), _ in edges.items() if a.startswith(b + "."))
    assert not inward, f"modules that import the package holding them: {inward}"


#: The rooms of ``benchmarks``, bottom first: a room imports only rooms below
#: it (at module or function level). ``evaluation`` is numbers in, numbers
#: out; ``results`` is what a run saves; ``parts`` produce one (model, fold);
#: ``config`` declares the settings; ``reports`` are rebuilt from saved
#: results; ``runner`` runs; ``cli``, ``app`` and ``bench`` sit on top.
BENCHMARK_ROOMS = ("_moved", "datasets", "evaluation", "results", "parts", "config", "reports",
                   "runner", "predict", "inspection", "app", "cli", "__main__", "bench")

#: Imports that go against the rooms' order, each with its reason.
ALLOWED_UPWARD = {
    # Paired tests read the predictions table through its one reader instead
    # of a second copy of its layout.
    ("benchmarks.evaluation.pairwise", "benchmarks.results.predictions_table"),
}


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_benchmarks_rooms_import_only_rooms_below_them(edges):
    rank = {room: i for i, room in enumerate(BENCHMARK_ROOMS)}
    upward = sorted(
        f"{a} -> {b}" for (a, b), _ in edges.items()
        if a.startswith("benchmarks.") and b.startswith("benchmarks.")
        and _room(a) != _room(b) and (a, b) not in ALLOWED_UPWARD
        and rank[_room(a)] < rank[_room(b)])
    assert not upward, f"imports into a room above the importer: {upward}"
    assert set(BENCHMARK_ROOMS) >= {_room(m) for (m, _) in edges if m.startswith("benchmarks.")}


def test_no_import_cycle_at_any_level_but_the_one_inside_datasets(edges):
    """Function-level imports count here too: a cycle through them is real
    coupling even when it cannot leave a module half-initialised. The one
    kept is inside ``benchmarks.datasets`` (see its ``_record`` docstring:
    ``Dataset.load_images`` hands over to the image loader, which builds
    ``Dataset`` records)."""
    graph = {}
    for (importer, imported), _ in edges.items():
        if importer.startswith("benchmarks.datasets.") and imported.startswith(
                "benchmarks.datasets."):
            continue
        graph.setdefault(importer, set()).add(imported)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


#: Function-level imports of the toolkit's own modules, per package: they keep
#: ``import benchmarks`` and ``xray-bench --help`` light (heavy libraries sit
#: behind them) and let a call find a name at call time. The numbers may only
#: go down.
FUNCTION_LEVEL_CEILING = {"xray_features": 9, "classifiers": 53, "benchmarks": 134}


def test_function_level_imports_of_own_modules_do_not_grow():
    counts = dict.fromkeys(PACKAGES, 0)

    def visit(node, module, is_package, package, inside):
        for child in ast.iter_child_nodes(node):
            if inside and isinstance(child, (ast.Import, ast.ImportFrom)):
                names = ([alias.name for alias in child.names] if isinstance(child, ast.Import)
                         else [_absolute(module, is_package, child) or ""])
                if any(name.split(".")[0] in PACKAGES for name in names):
                    counts[package] += 1
            visit(child, module, is_package, package, inside or isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    for package in PACKAGES:
        for module, (path, is_package) in package_modules(package).items():
            visit(ast.parse(path.read_text(encoding="utf-8")), module, is_package, package, False)
    grown = {p: (counts[p], FUNCTION_LEVEL_CEILING[p]) for p in PACKAGES
             if counts[p] > FUNCTION_LEVEL_CEILING[p]}
    assert not grown, f"function-level imports of own modules above the ceiling: {grown}"


def test_datasets_public_names_import_from_the_package():
    from benchmarks.datasets import Dataset, DatasetError, DatasetWarning, load_dataset

    ds = load_dataset("phantoms:fracture", n_images=4, image_size=32)
    assert isinstance(ds, Dataset)
    assert issubclass(DatasetError, ValueError) and issubclass(DatasetWarning, UserWarning)


# ------------------------------------------------------------------ requirements

#: Keras backends a user may choose instead of TensorFlow, installed by hand.
OPTIONAL_BACKENDS = {"torch", "jax"}


def _distribution(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(text):
    return {_distribution(re.match(r"[A-Za-z0-9_.-]+", line.strip()).group())
            for line in text.splitlines() if line.strip()}


def imported_distributions():
    """``{distribution: an importing module}`` for third-party imports at any level."""
    modules = {}
    for package in PACKAGES:
        modules.update(package_modules(package))
    by_module = importlib.metadata.packages_distributions()
    found = {}
    for module, (path, _) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in PACKAGES:
                    continue
                for dist in by_module.get(top, [top]):
                    found.setdefault(_distribution(dist), module)
    return found


def test_install_requires_lists_exactly_what_the_code_imports():
    setup_cfg = Path(__file__).resolve().parents[1] / "setup.cfg"
    if not setup_cfg.is_file():
        pytest.skip("no setup.cfg beside the tests (installed package)")
    config = configparser.ConfigParser()
    config.read(setup_cfg, encoding="utf-8")
    required = _requirements(config["options"]["install_requires"])
    extras = set().union(*(_requirements(v) for v in config["options.extras_require"].values()))
    imported = imported_distributions()
    unused = sorted(required - set(imported))
    assert not unused, f"install_requires lists {unused}, which no module imports"
    unlisted = sorted(f"{dist} (imported by {module})" for dist, module in imported.items()
                      if dist not in required | extras | OPTIONAL_BACKENDS)
    assert not unlisted, f"imported but not in setup.cfg: {unlisted}"
