"""Sphinx configuration of the xray-bench documentation.

Build: ``sphinx-build -W -b html docs docs/_build/html`` (``-W``: a broken
docstring, link or reference fails the build). User-guide pages are
Markdown (MyST); the API reference is generated from the numpydoc
docstrings by autodoc.
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "xray-bench"
author = "xray-bench contributors"
copyright = "xray-bench contributors, BSD-3-Clause"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "member-order": "bysource"}
# The heavy libraries are imported where used, so importing a module for its
# docstrings loads none of them.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_static_path = []
html_title = "xray-bench"


def _skip_generated(app, what, name, obj, skip, options):
    """Leave out the ``set_*_request`` methods scikit-learn generates on
    every estimator (metadata routing): not the toolkit's, and their
    docstrings refer to scikit-learn's own glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_generated)
