"""The Keras backend (TensorFlow, PyTorch or JAX) and the device it runs on.

Keras 3 reads ``KERAS_BACKEND`` once, when it is first imported. Entry points
(the ``xray-bench`` command) call :func:`use_backend` before anything imports
Keras; library code only asks which backend and device are in use
(:func:`describe_backend`) and whether mixed precision should switch on by
itself (:func:`resolve_mixed_precision`: on a GPU, yes). Every backend library
is imported inside the function that needs it.
"""

import importlib.util
import os
import platform
import sys

__all__ = ["BACKENDS", "backend_record", "describe_backend", "gpu_names", "resolve_mixed_precision",
           "use_backend"]

#: Backend name -> (the Python module it needs, how to install it).
BACKENDS = {
    "tensorflow": ("tensorflow", "pip install tensorflow"),
    "torch": ("torch", "pip install torch"),
    "jax": ("jax", "pip install 'jax[cpu]' (or jax[cuda12] for a GPU)"),
}

#: The policy mixed precision uses (float16 compute, float32 weights; Keras
#: scales the loss). Output layers keep ``dtype="float32"``.
MIXED_POLICY = "mixed_float16"


def use_backend(name):
    """Make Keras use backend ``name``; call before Keras is first imported.

    Sets ``KERAS_BACKEND`` in this process's environment (which is what
    Keras reads), after checking that the backend's library is installed and
    that Keras has not already loaded with another backend.

    Parameters
    ----------
    name : {"tensorflow", "torch", "jax"} or None
        None keeps what the environment says (else Keras' default,
        TensorFlow) and changes nothing.

    Returns
    -------
    name : str or None

    Raises
    ------
    ValueError
        An unknown name, a library that is not installed, or Keras already
        imported with another backend.

    Examples
    --------
    >>> use_backend("theano")
    Traceback (most recent call last):
    ...
    ValueError: backend must be one of ['jax', 'tensorflow', 'torch']; got 'theano'.
    """
    if name is None:
        return None
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}; got {name!r}.")
    module, install = BACKENDS[name]
    if importlib.util.find_spec(module) is None:
        raise ValueError(f"the {name!r} Keras backend needs the {module!r} package, which is "
                         f"not installed; install it ({install}) or choose another backend.")
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "backend"):
        loaded = keras.backend.backend()
        if loaded != name:
            raise ValueError(f"Keras is already loaded with the {loaded!r} backend in this "
                             f"process; choose the backend ({name!r}) before Keras is "
                             "imported, e.g. KERAS_BACKEND=" + name + " in the environment.")
    os.environ["KERAS_BACKEND"] = name
    return name


def gpu_names(backend=None):
    """Names of the GPUs the backend sees (empty on a CPU-only machine).

    Parameters
    ----------
    backend : str, optional
        Default: the backend Keras uses (imports Keras).

    Returns
    -------
    names : list of str
    """
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return []
    if backend == "jax":
        import jax

        return [str(getattr(d, "device_kind", d)) for d in jax.devices()
                if d.platform != "cpu"]
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_physical_devices("GPU")
        return [tf.config.experimental.get_device_details(d).get("device_name", d.name)
                for d in devices]
    return []


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_backend():
    """The Keras backend, its version and the device models train on.

    Imports Keras (and so the backend library).

    Returns
    -------
    record : dict
        ``keras_backend``, ``keras_version``, ``backend_version``, ``device``
        (``"GPU"`` or ``"CPU"``), ``device_name`` (the first GPU's name, else
        the CPU's), ``gpus`` (all GPU names) and ``mixed_precision`` (whether
        ``mixed_precision="auto"`` switches it on here).

    Examples
    --------
    >>> sorted(describe_backend())  # doctest: +SKIP
    ['backend_version', 'device', 'device_name', 'gpus', 'keras_backend', ...]
    """
    from importlib import metadata

    import keras

    backend = keras.backend.backend()
    gpus = gpu_names(backend)
    try:
        version = metadata.version(BACKENDS.get(backend, (backend,))[0])
    except metadata.PackageNotFoundError:
        version = None
    return {"keras_backend": backend, "keras_version": keras.__version__,
            "backend_version": version, "device": "GPU" if gpus else "CPU",
            "device_name": gpus[0] if gpus else _cpu_name(), "gpus": gpus,
            "mixed_precision": bool(gpus)}


def resolve_mixed_precision(value):
    """Whether to build a model in mixed precision.

    Parameters
    ----------
    value : bool or "auto"
        ``"auto"``: on when the Keras backend sees a GPU.

    Returns
    -------
    bool

    Examples
    --------
    >>> resolve_mixed_precision(False)
    False
    """
    if isinstance(value, str) and value == "auto":
        return bool(gpu_names())
    if not isinstance(value, bool):
        import numpy as np

        if not isinstance(value, np.bool_):
            raise TypeError(f"mixed_precision must be True, False or 'auto'; got {value!r}.")
    return bool(value)


def backend_record(model_names):
    """What ``run.json`` records about the backend for a run of these models.

    Parameters
    ----------
    model_names : sequence of str
        Registry names of the run's models.

    Returns
    -------
    record : dict
        :func:`describe_backend` when a Keras model is among them (Keras and
        the backend are then imported); otherwise the CPU and no backend,
        without importing Keras.

    Examples
    --------
    >>> backend_record(["hog-xgb"])["keras_backend"] is None
    True
    """
    from classifiers.registry import describe_models

    from classifiers.variants import base_name

    kinds = {entry["name"]: entry["kind"] for entry in describe_models()}
    if any(kinds.get(base_name(name), "").startswith("keras") for name in model_names):
        return describe_backend()
    return {"keras_backend": None, "device": "CPU", "device_name": _cpu_name(),
            "note": "no Keras model in this run"}
