"""Image classifiers behind one scikit-learn style contract.

Every model takes a stack (or sequence) of 2-D images, follows
``fit(images, y, *, validation_data=None)`` / ``predict`` / ``predict_proba``,
saves itself with ``save(path)`` and comes back with :func:`load_model`.
Every fitted model also explains its predictions (:func:`explain`) and
carries an out-of-distribution guard (:class:`OODGuard`).
Models are listed and built by name through :func:`available_models` and
:func:`get_model`. Heavy libraries (xgboost, keras) load only when a model
that needs them is used.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submodules=["base", "xgb", "keras_models", "transfer", "training",
                "persistence", "registry", "ood", "explanations", "backends",
                "backbone_weights", "pretrain", "ensemble", "variants"],
    submod_attrs={
        "base": ["ImageClassifierMixin", "infer_task"],
        "xgb": ["FeatureXGBClassifier"],
        "keras_models": ["CNNClassifier"],
        "transfer": ["TransferClassifier", "BACKBONES"],
        "pretrain": ["pretrain_rotation"],
        "ensemble": ["EnsembleClassifier"],
        "backends": ["use_backend", "describe_backend"],
        "persistence": ["load_model", "ModelLoadError"],
        "ood": ["OODGuard", "OODResult"],
        "explanations": ["explain", "ExplanationResult"],
        "registry": ["get_model", "available_models", "model_defaults", "describe_models"],
    },
)
