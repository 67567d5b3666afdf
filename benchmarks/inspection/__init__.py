"""Look at a dataset before training on it: ``xray-bench inspect``.

:func:`inspect_dataset` streams the images once and returns the summaries;
:func:`write_inspection` writes them as PNG figures, ``inspect.json`` and
one self-contained ``inspect.html``. The modules, one idea each:
``describe`` (what one image contributes), ``accumulate`` (running
per-class summaries), ``hashing`` (duplicates), ``confounding`` (properties
that go with the label), ``metadata`` (view and modality from a CSV),
``engine`` (the pass), ``figures``, ``page`` and ``outputs``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["describe", "accumulate", "hashing", "confounding", "metadata", "engine",
                "figures", "page", "outputs"],
    submod_attrs={
        "engine": ["inspect_dataset"],
        "outputs": ["write_inspection", "format_summary"],
    },
)
