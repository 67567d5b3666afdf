"""The settings of a run: :class:`BenchmarkConfig`, the JSON file that
holds them (``--config``) and the model names a run accepts.

A configuration file's values have their JSON type checked here, with a
message that names the file and the key: a JSON file gives ``"no"`` where a
boolean was meant, or ``3`` where a dict of model parameters was meant, and
neither may be taken as something else. Model names (registry presets,
``NAME@SIZE`` variants of :mod:`classifiers.variants` and ``ensemble`` of
:mod:`benchmarks.evaluation.ensemble`) are checked before any data is loaded.
"""

import dataclasses
import json
import numbers
from pathlib import Path

import numpy as np

from benchmarks.evaluation.calibration import CALIBRATION_METHODS
from benchmarks.evaluation.ensemble import ENSEMBLE, ensemble_settings
from benchmarks.evaluation.learning_curves import parse_train_sizes
from benchmarks.parts.distributed import check_scheduler
from classifiers.variants import split_variant
from xray_features._safety import MAX_IMAGE_SIZE
from xray_features._validation import check_n_jobs, check_scalar

__all__ = ["BenchmarkConfig", "DEFAULT_MODELS", "read_config_file", "check_run_models",
           "NAMES_HELP"]

#: The quick comparison run when no model is named: every classical preset
#: against the small CNN.
DEFAULT_MODELS = ("edge-xgb", "hog-xgb", "texture-xgb", "all-xgb", "cnn-small")

_SPLITS = ("auto", "official", "holdout")
_THRESHOLD_METHODS = ("youden", "sensitivity")


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Everything that defines a benchmark run.

    Parameters
    ----------
    data : str or Path, optional
        A class folder, a CSV file, a MedMNIST ``.npz``, or ``None`` (also
        ``"phantoms"``, ``"phantoms:<task>"``) for the built-in phantoms.
    dataset_options : dict, optional
        Further keyword arguments of :func:`benchmarks.load_dataset`
        (``image_dir``, ``label_col``, ``group_col``, ``positive``,
        ``negative``, ``classes``, ``multilabel``, ``n_images`` ...).
    models : sequence of str or str
        Registry names (see :func:`classifiers.available_models`), a
        comma-separated string, or ``"all"``; ``NAME@SIZE`` is preset NAME
        at ``image_size=SIZE`` (:mod:`classifiers.variants`) and
        ``"ensemble"`` averages the other models (:mod:`benchmarks.evaluation.ensemble`).
    split : {'auto', 'official', 'holdout'}
        ``'auto'`` uses the dataset's own split when it has one.
    cv : int, optional
        Stratified (group-aware when groups exist) k-fold cross-validation
        instead of a single split.
    image_size : int, optional
        Side of the square images every model sees. ``None`` keeps each
        model's own default. Image files are decoded once per size a model
        asks for (the first pass, which finds unreadable files, at this
        size or 224) into a pixel cache that models read in chunks.
    seed : int
        Seed of the splits, the models and the bootstrap.
    out : str or Path
        Output directory; running again into it resumes the run.
    save_models, quiet, fresh, strict : bool
        Keep fitted models under ``out/models/``; print no progress; delete
        earlier results in ``out``; refuse unreadable images.
    n_jobs : int
        Processes for decoding image files.
    model_params : dict of dict, optional
        Parameter overrides per model name, e.g. ``{"cnn": {"epochs": 30}}``.
    threshold_method : {'youden', 'sensitivity'}
        How the binary threshold is chosen on validation data.
    target_sensitivity : float
        Sensitivity to reach with ``threshold_method='sensitivity'``.
    n_bootstrap : int
        Bootstrap resamples for the 95% confidence intervals.
    calibrate : {None, 'temperature', 'isotonic', 'sigmoid'}
        Post-hoc calibration fitted on each model's validation predictions
        only (:func:`benchmarks.evaluation.calibration.fit_calibrator`). The calibrated
        model is reported as its own row, ``<model>+<method>``, beside the
        uncalibrated one, so every metric, plot and paired test shows before
        and after.
    ordinal : bool or sequence of str
        The classes are ordered grades: ``True`` takes the order from
        ``dataset_options['classes']`` when given, else natural sort of the
        class names; a sequence gives the order. Adds quadratic-weighted
        kappa, mean absolute grade error and within-one-grade accuracy, and
        puts confusion matrices in grade order.
    train_sizes : str or sequence, optional
        Learning curve: also refit every model on nested, stratified
        (group-aware) subsets of each training set of these sizes, e.g.
        ``"50,100,300,1000,all"`` (see :mod:`benchmarks.evaluation.learning_curves`),
        scored on the same validation and test sets; writes
        ``learning_curve.csv`` and ``plots/learning_curve.png``.
    curve_seeds : int
        Subsets (and model seeds) per size below 1000 images; larger sizes
        and ``"all"`` are fitted once.
    scheduler : str, optional
        Run the parts as tasks on a Dask cluster: ``"local:N"`` starts ``N``
        local worker processes, ``"tcp://host:8786"`` connects to a
        scheduler (see :mod:`benchmarks.parts.distributed`; needs
        ``pip install "xray-bench[dask]"``). The numbers equal a run without it.

    Examples
    --------
    >>> BenchmarkConfig(models=("hog-xgb",), cv=3).validate().cv
    3
    """

    data: object = None
    dataset_options: dict = dataclasses.field(default_factory=dict)
    models: tuple = DEFAULT_MODELS
    split: str = "auto"
    cv: object = None
    image_size: object = None
    seed: int = 0
    out: str = "xray-bench-results"
    save_models: bool = False
    quiet: bool = False
    fresh: bool = False
    strict: bool = False
    n_jobs: int = 1
    model_params: dict = dataclasses.field(default_factory=dict)
    threshold_method: str = "youden"
    target_sensitivity: float = 0.95
    n_bootstrap: int = 1000
    calibrate: object = None
    ordinal: object = False
    train_sizes: object = None
    curve_seeds: int = 3
    scheduler: object = None

    def validate(self):
        """Raise ``ValueError`` naming the first invalid setting; return self."""
        if not self.models or not all(isinstance(m, str) and m for m in self.models):
            raise ValueError(f"models must name at least one model (see `xray-bench "
                             f"models`); got {self.models!r}.")
        if self.split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}; got {self.split!r}.")
        check_scalar(self.cv, "cv", low=2, allow_none=True, hint="It is the number of folds.")
        if self.cv is not None and self.split != "auto":
            raise ValueError(f"cv={self.cv} and split={self.split!r} contradict each other; "
                             "give one of them.")
        check_scalar(self.image_size, "image_size", low=8, high=MAX_IMAGE_SIZE, allow_none=True)
        for switch in ("save_models", "quiet", "fresh", "strict"):
            if not isinstance(getattr(self, switch), (bool, np.bool_)):
                raise ValueError(f"{switch} must be True or False; got "
                                 f"{getattr(self, switch)!r}.")
        check_scalar(self.seed, "seed", low=0)
        check_n_jobs(self.n_jobs, low=-1)
        check_scalar(self.n_bootstrap, "n_bootstrap", low=1)
        if self.threshold_method not in _THRESHOLD_METHODS:
            raise ValueError(f"threshold_method must be one of {_THRESHOLD_METHODS}; "
                             f"got {self.threshold_method!r}.")
        check_scalar(self.target_sensitivity, "target_sensitivity", integer=False, low=0, high=1,
                     low_open=True)
        if self.calibrate is not None and self.calibrate not in CALIBRATION_METHODS:
            raise ValueError(f"calibrate must be None or one of {CALIBRATION_METHODS}; got "
                             f"{self.calibrate!r}.")
        if not (isinstance(self.ordinal, bool) or (
                isinstance(self.ordinal, (list, tuple)) and len(self.ordinal) >= 2)):
            raise ValueError("ordinal must be True/False or the class names in grade order "
                             f"(at least two); got {self.ordinal!r}.")
        if self.train_sizes is not None:
            parse_train_sizes(self.train_sizes)
        check_scalar(self.curve_seeds, "curve_seeds", low=1)
        if self.scheduler is not None:
            check_scheduler(self.scheduler)
        if not isinstance(self.dataset_options, dict):
            raise ValueError(f"dataset_options must be a dict of load_dataset options; got "
                             f"{self.dataset_options!r}.")
        if not isinstance(self.model_params, dict) or not all(
                isinstance(params, dict) for params in self.model_params.values()):
            raise ValueError("model_params must map model names to dicts of parameters, "
                             f"e.g. {{'cnn': {{'epochs': 30}}}}; got {self.model_params!r}.")
        return self



def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_str_list(value):
    return isinstance(value, str) or (isinstance(value, list)
                                      and all(isinstance(item, str) for item in value))


def _is_model_params(value):
    return isinstance(value, dict) and all(isinstance(params, dict)
                                           for params in value.values())


#: key -> (check, what a valid value is)
_TYPES = {
    "data": (lambda v: v is None or isinstance(v, str), "a path string or null"),
    "dataset_options": (lambda v: isinstance(v, dict), "an object of load_dataset options"),
    "models": (_is_str_list, "a list of model names (or one comma-separated string)"),
    "split": (lambda v: isinstance(v, str), "a string ('auto', 'official' or 'holdout')"),
    "cv": (lambda v: v is None or _is_int(v), "an integer number of folds or null"),
    "image_size": (lambda v: v is None or _is_int(v), "an integer or null"),
    "seed": (_is_int, "an integer"),
    "out": (lambda v: isinstance(v, str), "a path string"),
    "save_models": (lambda v: isinstance(v, bool), "true or false"),
    "quiet": (lambda v: isinstance(v, bool), "true or false"),
    "fresh": (lambda v: isinstance(v, bool), "true or false"),
    "strict": (lambda v: isinstance(v, bool), "true or false"),
    "n_jobs": (_is_int, "an integer"),
    "model_params": (_is_model_params, "an object mapping model names to objects of "
                     "parameters, e.g. {\"cnn\": {\"epochs\": 30}}"),
    "threshold_method": (lambda v: isinstance(v, str), "a string ('youden' or "
                         "'sensitivity')"),
    "target_sensitivity": (_is_number, "a number in (0, 1]"),
    "n_bootstrap": (_is_int, "an integer"),
    "train_sizes": (lambda v: v is None or isinstance(v, str) or (
        isinstance(v, list) and all(_is_int(x) or x == "all" for x in v)),
        "a list of sizes such as [50, 100, \"all\"], a string \"50,100,all\" or null"),
    "curve_seeds": (_is_int, "an integer"),
    "calibrate": (lambda v: v is None or isinstance(v, str),
                  "a string ('temperature', 'isotonic' or 'sigmoid') or null"),
    "ordinal": (lambda v: isinstance(v, bool) or _is_str_list(v),
                "true, false or a list of grade names in order"),
    "scheduler": (lambda v: v is None or isinstance(v, str),
                  "a Dask scheduler address ('tcp://host:8786'), 'local:N' or null"),
}


def read_config_file(path):
    """Return the settings of a JSON configuration file, types checked.

    Raises
    ------
    FileNotFoundError
        If the file cannot be read.
    ValueError
        If it is not a JSON object of known keys with values of the right
        JSON type; the message names the file and the key.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.json"
    >>> _ = path.write_text('{"models": ["hog-xgb"], "fresh": "no"}')
    >>> read_config_file(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: configuration file '...run.json': "fresh" must be true or false (a JSON \
boolean); got "no"
    """
    try:
        settings = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise FileNotFoundError(f"cannot read configuration file '{path}': "
                                f"{error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"configuration file '{path}' is not valid JSON: {error}") from None
    known = {field.name for field in dataclasses.fields(BenchmarkConfig)}
    if not isinstance(settings, dict):
        raise ValueError(f"configuration file '{path}' must hold a JSON object of settings "
                         f"(known keys: {sorted(known)}); got a {type(settings).__name__}")
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(f"configuration file '{path}' has unknown keys {unknown}; "
                         f"known keys: {sorted(known)}")
    for key, value in settings.items():
        check, expected = _TYPES.get(key, (lambda v: True, ""))
        if not check(value):
            kind = " (a JSON boolean)" if expected == "true or false" else ""
            raise ValueError(f"configuration file '{path}': \"{key}\" must be "
                             f"{expected}{kind}; got {json.dumps(value)}")
    if isinstance(settings.get("models"), list):
        settings["models"] = tuple(settings["models"])
    return settings


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
        settings (:func:`benchmarks.evaluation.ensemble.ensemble_settings`).

    Examples
    --------
    >>> check_run_models(["hog-xgb", "cnn-small@64"], {"cnn-small@64": {"epochs": 2}})
    >>> check_run_models(["hogg-xgb@64"], {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown model(s) hogg-xgb@64; available: edge-xgb, ... ensemble.
    """
    # The registry lists every model family: loaded when names are checked, not
    # when a configuration is imported.
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
