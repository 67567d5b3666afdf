"""The model names a run accepts: registry presets, ``NAME@SIZE`` variants
(:mod:`classifiers.variants`) and ``ensemble`` (:mod:`benchmarks.ensemble`),
checked before any data is loaded."""

from benchmarks.ensemble import ENSEMBLE, ensemble_settings
from classifiers.variants import split_variant

__all__ = ["check_run_models", "NAMES_HELP"]

#: One line for listings (``xray-bench models``) on the two name forms.
NAMES_HELP = ("NAME@SIZE (e.g. cnn-small@64) is preset NAME at working size SIZE, a model "
              "of its own; 'ensemble' averages the run's other models with members and "
              "weights chosen on the validation set (--set ensemble.members=a,b, "
              "ensemble.metric=roc_auc|log_loss, ensemble.rounds=20).")


def check_run_models(models, model_params):
    """Check the names in a run's ``models`` and ``model_params``.

    Raises
    ------
    ValueError
        An unknown preset, a malformed or too small ``@SIZE``, a variant of
        a preset without an ``image_size`` parameter, or invalid ensemble
        settings (:func:`benchmarks.ensemble.ensemble_settings`).

    Examples
    --------
    >>> check_run_models(["hog-xgb", "cnn-small@64"], {"cnn-small@64": {"epochs": 2}})
    >>> check_run_models(["hogg-xgb@64"], {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown model(s) hogg-xgb@64; available: edge-xgb, ... ensemble.
    """
    from classifiers import available_models, get_model

    known = available_models()
    unknown = []
    for name in dict.fromkeys(list(models) + list(model_params)):
        if name == ENSEMBLE:
            continue
        base, size = split_variant(name)
        if base not in known:
            unknown.append(name)
        elif size is not None and "image_size" not in get_model(base).get_params(deep=False):
            raise ValueError(f"model {name!r}: preset {base!r} has no image_size parameter, "
                             "so it has no variants at another size.")
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; available: "
                         f"{', '.join(known)}, NAME@SIZE of these, and {ENSEMBLE}.")
    if ENSEMBLE in models:
        ensemble_settings(models, model_params)
