"""Models by name: the presets compared by the benchmark.

Each name maps to an estimator class (by import path, imported only when the
model is built, so using the XGBoost presets never imports Keras) and the
parameters the preset sets. Anything else keeps the class default.
"""

import difflib
import importlib

__all__ = ["get_model", "available_models", "model_defaults", "describe_models"]

_XGB = "classifiers.xgb.FeatureXGBClassifier"
_CNN = "classifiers.keras_models.CNNClassifier"
_TRANSFER = "classifiers.transfer.TransferClassifier"
_LINEAR = "classifiers.linear.LinearProbeClassifier"
_HYBRID = "classifiers.hybrid.HybridXGBClassifier"

# name -> (kind, class path, preset parameters, one-line description);
# insertion order is the display order: classical, small to large networks.
_MODELS = {
    "edge-xgb": ("xgboost", _XGB, {"features": "edge"},
                 "XGBoost on bright-edge features (edge density, orientation, contour)"),
    "hog-xgb": ("xgboost", _XGB, {"features": "hog"},
                "XGBoost on histograms of oriented gradients (HOG)"),
    "texture-xgb": ("xgboost", _XGB, {"features": "texture"},
                    "XGBoost on texture features (LBP, GLCM, intensity statistics)"),
    "all-xgb": ("xgboost", _XGB, {"features": "all"},
                "XGBoost on edge, HOG and texture features combined"),
    "lite0-linear": ("linear", _LINEAR, {"features": "lite0", "cache_dir": "auto"},
                     "Linear probe: logistic regression on frozen ImageNet "
                     "EfficientNet-Lite0 embeddings"),
    "lite0-xgb": ("xgboost", _XGB, {"features": "lite0", "image_size": 224,
                                    "cache_dir": "auto"},
                  "XGBoost on frozen ImageNet EfficientNet-Lite0 embeddings"),
    "hybrid-xgb": ("xgboost", _HYBRID, {"cache_dir": "auto"},
                   "XGBoost on handcrafted features plus the Lite0 linear probe's score"),
    "cnn-small": ("keras", _CNN, {"architecture": "small"},
                  "Small convolutional network trained from scratch"),
    "cnn": ("keras", _CNN, {"architecture": "deep"},
            "Deeper convolutional network trained from scratch"),
    "mobilenetv2": ("keras-transfer", _TRANSFER, {"backbone": "mobilenetv2"},
                    "Transfer learning from a MobileNetV2 backbone"),
    "efficientnetb0": ("keras-transfer", _TRANSFER, {"backbone": "efficientnetb0"},
                       "Transfer learning from an EfficientNetB0 backbone"),
    "efficientnet-lite0": ("keras-transfer", _TRANSFER, {"backbone": "efficientnet-lite0"},
                           "Fine-tuned ImageNet EfficientNet-Lite0 (weights installed, "
                           "no download)"),
    "efficientnet-lite1": ("keras-transfer", _TRANSFER, {"backbone": "efficientnet-lite1"},
                           "Fine-tuned ImageNet EfficientNet-Lite1"),
    "efficientnet-lite2": ("keras-transfer", _TRANSFER, {"backbone": "efficientnet-lite2"},
                           "Fine-tuned ImageNet EfficientNet-Lite2"),
    "resnet50": ("keras-transfer", _TRANSFER, {"backbone": "resnet50"},
                 "Transfer learning from a ResNet50 backbone"),
    "inceptionv3": ("keras-transfer", _TRANSFER, {"backbone": "inceptionv3"},
                    "Transfer learning from an InceptionV3 backbone"),
    "xception": ("keras-transfer", _TRANSFER, {"backbone": "xception"},
                 "Transfer learning from an Xception backbone"),
}


def available_models():
    """Names accepted by :func:`get_model`, in display order.

    Returns
    -------
    names : list of str
        Classical (XGBoost) presets first, then networks from small to large.

    Examples
    --------
    >>> available_models()[:4]
    ['edge-xgb', 'hog-xgb', 'texture-xgb', 'all-xgb']
    """
    return list(_MODELS)


def _lookup(name):
    if not isinstance(name, str):
        raise TypeError(f"model name must be a str; got {type(name).__name__}")
    if name not in _MODELS:
        key = name.strip().lower().replace("_", "-")
        if key in _MODELS:
            return _MODELS[key]
        close = difflib.get_close_matches(key, list(_MODELS), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown model {name!r}.{hint} Available models: "
                         f"{', '.join(_MODELS)}")
    return _MODELS[name]


def model_defaults(name):
    """Parameters a preset sets (a fresh dict; class defaults not repeated).

    Parameters
    ----------
    name : str
        One of :func:`available_models`.

    Returns
    -------
    defaults : dict

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists close matches).

    Examples
    --------
    >>> model_defaults("hog-xgb")
    {'features': 'hog'}
    """
    return dict(_lookup(name)[2])


def get_model(name, **params):
    """Build a fresh, unfitted estimator for a preset.

    Parameters
    ----------
    name : str
        One of :func:`available_models` (case and ``_``/``-`` are forgiven).
    **params
        Parameters overriding the preset's and the class's defaults.

    Returns
    -------
    estimator : scikit-learn style classifier

    Raises
    ------
    ValueError
        If ``name`` is unknown (the message lists close matches).
    TypeError
        If a parameter is not accepted by the model class.

    Examples
    --------
    >>> model = get_model("edge-xgb", n_estimators=50)
    >>> type(model).__name__, model.features, model.n_estimators
    ('FeatureXGBClassifier', 'edge', 50)
    """
    _, path, defaults, _ = _lookup(name)
    module_name, _, attr = path.rpartition(".")
    cls = getattr(importlib.import_module(module_name), attr)
    merged = {**defaults, **params}
    try:
        return cls(**merged)
    except TypeError as exc:
        raise TypeError(f"model {name!r} ({attr}) does not accept these parameters: {exc}") \
            from exc


def describe_models():
    """One record per model for listings (imports no model library).

    Returns
    -------
    models : list of dict
        Keys ``name``, ``kind`` ("xgboost", "linear", "keras" or "keras-transfer"),
        ``description`` (one line) and ``defaults`` (the preset parameters).

    Examples
    --------
    >>> describe_models()[0]["name"], describe_models()[0]["kind"]
    ('edge-xgb', 'xgboost')
    """
    return [{"name": name, "kind": kind, "description": text, "defaults": dict(defaults)}
            for name, (kind, _, defaults, text) in _MODELS.items()]
