"""The settings of a run, each declared once: :class:`BenchmarkConfig`.

Every setting is one field of :class:`BenchmarkConfig` declared with
:func:`_setting`: its default, its type and documentation, its validation,
the JSON type a configuration file must give (``--config``) and, where it
has one, its ``xray-bench run`` flag. The class docstring, :meth:`validate`,
:func:`read_config_file` and the flags of :func:`add_flags` are all read
from that one declaration (:data:`SETTINGS`), so a new setting is one field
here.

A configuration file's values have their JSON type checked, with a message
that names the file and the key: a JSON file gives ``"no"`` where a boolean
was meant, or ``3`` where a dict of model parameters was meant, and neither
may be taken as something else. Model names (registry presets,
``NAME@SIZE`` variants of :mod:`classifiers.variants` and ``ensemble`` of
:mod:`benchmarks.evaluation.ensemble`) are checked before any data is loaded.
"""

import argparse
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
from xray_features.utils import MAX_IMAGE_SIZE, check_n_jobs, check_scalar

__all__ = ["BenchmarkConfig", "DEFAULT_MODELS", "SPLITS", "THRESHOLD_METHODS", "SETTINGS",
           "add_flags", "flag_settings", "comma_list", "read_config_file", "check_run_models",
           "NAMES_HELP"]

#: The quick comparison run when no model is named: every classical preset
#: against the small CNN.
DEFAULT_MODELS = ("edge-xgb", "hog-xgb", "texture-xgb", "all-xgb", "cnn-small")

#: Values of ``split`` (``--split``).
SPLITS = ("auto", "official", "holdout")
#: Values of ``threshold_method`` (``--threshold``).
THRESHOLD_METHODS = ("youden", "sensitivity")


def comma_list(text):
    """Split ``"a, b,,c"`` into ``('a', 'b', 'c')`` (the ``A,B,...`` flags).

    Examples
    --------
    >>> comma_list("hog-xgb, cnn,")
    ('hog-xgb', 'cnn')
    """
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _train_sizes_flag(text):
    """Parse ``--train-sizes N,N,...,all``; an invalid list is a usage error."""
    try:
        return parse_train_sizes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ----------------------------------------------------------------- JSON types of a config file
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


def _null_or(check):
    return lambda value: value is None or check(value)


# ----------------------------------------------------------------- validation of a value
def _one_of(options, name, *, allow_none=False):
    def check(value, config):
        if not (allow_none and value is None) and value not in options:
            raise ValueError(f"{name} must be {'None or ' if allow_none else ''}one of "
                             f"{options}; got {value!r}.")
    return check


def _scalar(name, **rules):
    return lambda value, config: check_scalar(value, name, **rules)


def _switch(name):
    def check(value, config):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"{name} must be True or False; got {value!r}.")
    return check


def _check_models(models, config):
    if not models or not all(isinstance(m, str) and m for m in models):
        raise ValueError(f"models must name at least one model (see `xray-bench "
                         f"models`); got {models!r}.")


def _check_cv(cv, config):
    check_scalar(cv, "cv", low=2, allow_none=True, hint="It is the number of folds.")
    if cv is not None and config.split != "auto":
        raise ValueError(f"cv={cv} and split={config.split!r} contradict each other; "
                         "give one of them.")


def _check_ordinal(ordinal, config):
    if not (isinstance(ordinal, bool) or (
            isinstance(ordinal, (list, tuple)) and len(ordinal) >= 2)):
        raise ValueError("ordinal must be True/False or the class names in grade order "
                         f"(at least two); got {ordinal!r}.")


def _check_dataset_options(options, config):
    if not isinstance(options, dict):
        raise ValueError(f"dataset_options must be a dict of load_dataset options; got "
                         f"{options!r}.")


def _check_model_params(model_params, config):
    if not isinstance(model_params, dict) or not all(
            isinstance(params, dict) for params in model_params.values()):
        raise ValueError("model_params must map model names to dicts of parameters, "
                         f"e.g. {{'cnn': {{'epochs': 30}}}}; got {model_params!r}.")


def _setting(default, kind, doc, *, json, expected, check=None, flag=None, **cli):
    """One field of :class:`BenchmarkConfig` with everything about it.

    ``kind`` and ``doc`` make its entry in the class docstring; ``json`` and
    ``expected`` the JSON type a configuration file must give;
    ``check(value, config)`` raises ``ValueError`` on an invalid value;
    ``flag`` and the keywords ``cli`` (of ``add_argument``) its
    ``xray-bench run`` flag, if any.
    """
    metadata = {"kind": kind, "doc": doc, "json": json, "expected": expected,
                "check": check, "flag": flag, "cli": cli}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=dict, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


_BOOLEAN = {"json": lambda v: isinstance(v, bool), "expected": "true or false"}


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """Everything that defines a benchmark run.

    Examples
    --------
    >>> BenchmarkConfig(models=("hog-xgb",), cv=3).validate().cv
    3
    """

    data: object = _setting(
        None, "str or Path, optional",
        "A class folder, a CSV file, a MedMNIST ``.npz``, or ``None`` (also "
        "``\"phantoms\"``, ``\"phantoms:<task>\"``) for the built-in phantoms.",
        json=_null_or(lambda v: isinstance(v, str)), expected="a path string or null",
        flag="--data", help="a folder with one sub-folder per class, a CSV of file names and "
        "labels, or a MedMNIST .npz (default: built-in synthetic phantoms)")
    dataset_options: dict = _setting(
        {}, "dict, optional",
        "Further keyword arguments of :func:`benchmarks.load_dataset` (``image_dir``, "
        "``label_col``, ``group_col``, ``positive``, ``negative``, ``classes``, "
        "``multilabel``, ``n_images`` ...).",
        json=lambda v: isinstance(v, dict), expected="an object of load_dataset options",
        check=_check_dataset_options)
    models: tuple = _setting(
        DEFAULT_MODELS, "sequence of str or str",
        "Registry names (see :func:`classifiers.available_models`), a comma-separated "
        "string, or ``\"all\"``; ``NAME@SIZE`` is preset NAME at ``image_size=SIZE`` "
        "(:mod:`classifiers.variants`) and ``\"ensemble\"`` averages the other models "
        "(:mod:`benchmarks.evaluation.ensemble`).",
        json=_is_str_list, expected="a list of model names (or one comma-separated string)",
        check=_check_models, flag="--models", type=comma_list, metavar="A,B,...",
        help="registry names or 'all' (default: the classical presets and cnn-small); "
        "NAME@SIZE is preset NAME at image size SIZE, 'ensemble' averages the others "
        "(see `models`)")
    split: str = _setting(
        "auto", "{'auto', 'official', 'holdout'}",
        "``'auto'`` uses the dataset's own split when it has one.",
        json=lambda v: isinstance(v, str), expected="a string ('auto', 'official' or 'holdout')",
        check=_one_of(SPLITS, "split"), flag="--split", choices=SPLITS,
        help="the dataset's own split or a stratified train/val/test hold-out (default "
        "auto: official when present)")
    cv: object = _setting(
        None, "int, optional",
        "Stratified (group-aware when groups exist) k-fold cross-validation instead of a "
        "single split.",
        json=_null_or(_is_int), expected="an integer number of folds or null",
        check=_check_cv, flag="--cv", type=int, metavar="K", help="K-fold cross-validation")
    image_size: object = _setting(
        None, "int, optional",
        "Side of the square images every model sees. ``None`` keeps each model's own "
        "default. Image files are decoded once per size a model asks for (the first pass, "
        "which finds unreadable files, at this size or 224) into a pixel cache that models "
        "read in chunks.",
        json=_null_or(_is_int), expected="an integer or null",
        check=_scalar("image_size", low=8, high=MAX_IMAGE_SIZE, allow_none=True),
        flag="--image-size", type=int, metavar="N",
        help="square size every model sees (default: each model's own)")
    seed: int = _setting(
        0, "int", "Seed of the splits, the models and the bootstrap.",
        json=_is_int, expected="an integer", check=_scalar("seed", low=0),
        flag="--seed", type=int, help="random seed (default 0)")
    out: str = _setting(
        "xray-bench-results", "str or Path",
        "Output directory; running again into it resumes the run.",
        json=lambda v: isinstance(v, str), expected="a path string",
        flag="--out", metavar="DIR", help="output directory (default xray-bench-results)")
    save_models: bool = _setting(
        False, "bool", "Keep fitted models under ``out/models/``.", **_BOOLEAN,
        check=_switch("save_models"), flag="--save-models", action="store_true",
        help="keep each fitted model under DIR/models/")
    quiet: bool = _setting(
        False, "bool", "Print no progress.", **_BOOLEAN, check=_switch("quiet"),
        flag="--quiet", action="store_true", help="no progress output")
    fresh: bool = _setting(
        False, "bool", "Delete earlier results in ``out``.", **_BOOLEAN,
        check=_switch("fresh"), flag="--fresh", action="store_true",
        help="delete earlier results in DIR and start over")
    strict: bool = _setting(
        False, "bool", "Refuse unreadable images.", **_BOOLEAN, check=_switch("strict"),
        flag="--strict", action="store_true",
        help="refuse unreadable images instead of skipping and counting them")
    n_jobs: int = _setting(
        1, "int", "Processes for decoding image files.",
        json=_is_int, expected="an integer", check=lambda v, c: check_n_jobs(v, low=-1),
        flag="--n-jobs", type=int, help="processes for decoding (default 1)")
    model_params: dict = _setting(
        {}, "dict of dict, optional",
        "Parameter overrides per model name, e.g. ``{\"cnn\": {\"epochs\": 30}}``.",
        json=_is_model_params, expected="an object mapping model names to objects of "
        "parameters, e.g. {\"cnn\": {\"epochs\": 30}}", check=_check_model_params)
    threshold_method: str = _setting(
        "youden", "{'youden', 'sensitivity'}",
        "How the binary threshold is chosen on validation data.",
        json=lambda v: isinstance(v, str), expected="a string ('youden' or 'sensitivity')",
        check=_one_of(THRESHOLD_METHODS, "threshold_method"), flag="--threshold",
        choices=THRESHOLD_METHODS, help="how the binary threshold is chosen on validation "
        "data (reported beside 0.5)")
    target_sensitivity: float = _setting(
        0.95, "float", "Sensitivity to reach with ``threshold_method='sensitivity'``.",
        json=_is_number, expected="a number in (0, 1]",
        check=_scalar("target_sensitivity", integer=False, low=0, high=1, low_open=True),
        flag="--target-sensitivity", type=float,
        help="sensitivity to reach with --threshold sensitivity")
    n_bootstrap: int = _setting(
        1000, "int", "Bootstrap resamples for the 95% confidence intervals.",
        json=_is_int, expected="an integer", check=_scalar("n_bootstrap", low=1))
    calibrate: object = _setting(
        None, "{None, 'temperature', 'isotonic', 'sigmoid'}",
        "Post-hoc calibration fitted on each model's validation predictions only "
        "(:func:`benchmarks.evaluation.calibration.fit_calibrator`). The calibrated model "
        "is reported as its own row, ``<model>+<method>``, beside the uncalibrated one, so "
        "every metric, plot and paired test shows before and after.",
        json=_null_or(lambda v: isinstance(v, str)),
        expected="a string ('temperature', 'isotonic' or 'sigmoid') or null",
        check=_one_of(CALIBRATION_METHODS, "calibrate", allow_none=True), flag="--calibrate",
        choices=CALIBRATION_METHODS, help="also report each model after a post-hoc "
        "calibration fitted on its validation predictions (row <model>+<method>)")
    ordinal: object = _setting(
        False, "bool or sequence of str",
        "The classes are ordered grades: ``True`` takes the order from "
        "``dataset_options['classes']`` when given, else natural sort of the class names; a "
        "sequence gives the order. Adds quadratic-weighted kappa, mean absolute grade error "
        "and within-one-grade accuracy, and puts confusion matrices in grade order.",
        json=lambda v: isinstance(v, bool) or _is_str_list(v),
        expected="true, false or a list of grade names in order", check=_check_ordinal,
        flag="--ordinal", nargs="?", const=True, type=comma_list, metavar="A,B,...",
        help="the classes are ordered grades (order from this list, else --classes, else "
        "natural sort): adds quadratic-weighted kappa, mean absolute grade error and "
        "within-one-grade accuracy")
    train_sizes: object = _setting(
        None, "str or sequence, optional",
        "Learning curve: also refit every model on nested, stratified (group-aware) "
        "subsets of each training set of these sizes, e.g. ``\"50,100,300,1000,all\"`` "
        "(see :mod:`benchmarks.evaluation.learning_curves`), scored on the same validation "
        "and test sets; writes ``learning_curve.csv`` and ``plots/learning_curve.png``.",
        json=lambda v: v is None or isinstance(v, str) or (
            isinstance(v, list) and all(_is_int(x) or x == "all" for x in v)),
        expected="a list of sizes such as [50, 100, \"all\"], a string \"50,100,all\" or null",
        check=lambda v, c: v is None or parse_train_sizes(v), flag="--train-sizes",
        type=_train_sizes_flag, metavar="N,N,...,all",
        help="also refit every model on nested, stratified subsets of the training set of "
        "these sizes (e.g. 50,100,300,1000,all), scored on the same val/test sets; writes "
        "learning_curve.csv and plots/learning_curve.png")
    curve_seeds: int = _setting(
        3, "int",
        "Subsets (and model seeds) per size below 1000 images; larger sizes and ``\"all\"`` "
        "are fitted once.",
        json=_is_int, expected="an integer", check=_scalar("curve_seeds", low=1),
        flag="--curve-seeds", type=int, metavar="K",
        help="subsets per size below 1000 images (default 3); larger sizes and 'all' are "
        "fitted once")
    scheduler: object = _setting(
        None, "str, optional",
        "Run the parts as tasks on a Dask cluster: ``\"local:N\"`` starts ``N`` local "
        "worker processes, ``\"tcp://host:8786\"`` connects to a scheduler (see "
        ":mod:`benchmarks.parts.distributed`; needs ``pip install \"xray-bench[dask]\"``). "
        "The numbers equal a run without it.",
        json=_null_or(lambda v: isinstance(v, str)),
        expected="a Dask scheduler address ('tcp://host:8786'), 'local:N' or null",
        check=lambda v, c: v is None or check_scheduler(v), flag="--scheduler",
        metavar="ADDRESS|local:N", help="run the parts as tasks on a Dask cluster: a "
        "scheduler address (tcp://host:8786) or local:N for N local worker processes; same "
        "numbers as without it")

    def validate(self):
        """Raise ``ValueError`` naming the first invalid setting; return self."""
        for name, setting in SETTINGS.items():
            if setting["check"] is not None:
                setting["check"](getattr(self, name), self)
        return self


#: ``{name: declaration}`` of every setting, in field order (see :func:`_setting`).
SETTINGS = {field.name: field.metadata for field in dataclasses.fields(BenchmarkConfig)}


def _parameters_section():
    lines = ["Parameters", "----------"]
    for name, setting in SETTINGS.items():
        lines.append(f"{name} : {setting['kind']}")
        words, line = setting["doc"].split(), "   "
        for word in words:
            if len(line) + len(word) > 75:
                lines.append(line)
                line = "   "
            line += " " + word
        lines.append(line)
    return "\n".join("    " + line if line else "" for line in lines)


BenchmarkConfig.__doc__ = BenchmarkConfig.__doc__.replace(
    "\n\n    Examples", "\n\n" + _parameters_section() + "\n\n    Examples", 1)


def add_flags(parser, *names):
    """Add the ``xray-bench run`` flags of the settings ``names`` to ``parser``.

    Each flag's ``dest`` is the setting's name, its default ``None`` (or
    ``False`` for a switch) so that an absent flag leaves the setting to the
    configuration file or the default.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_flags(parser, "cv", "threshold_method")
    >>> parser.parse_args(["--cv", "5", "--threshold", "sensitivity"])
    Namespace(cv=5, threshold_method='sensitivity')
    """
    for name in names:
        setting = SETTINGS[name]
        parser.add_argument(setting["flag"], dest=name, **setting["cli"])


def flag_settings(args):
    """The settings given as flags in parsed ``args`` (absent ones left out).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_flags(parser, "seed", "fresh", "quiet")
    >>> flag_settings(parser.parse_args(["--seed", "3", "--fresh"]))
    {'seed': 3, 'fresh': True}
    """
    given = {}
    for name, setting in SETTINGS.items():
        value = getattr(args, name, None) if setting["flag"] else None
        if value is not None and value is not False:
            given[name] = value
    return given


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
        settings = json.loads(Path(path).read_text(encoding="utf-8-sig"))
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
        setting = SETTINGS[key]
        check, expected = setting["json"], setting["expected"]
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
