"""Read a JSON file of :class:`benchmarks.BenchmarkConfig` fields (``--config``).

Every value's JSON type is checked here, with a message that names the file
and the key: a JSON file gives ``"no"`` where a boolean was meant, or ``3``
where a dict of model parameters was meant, and neither may be taken as
something else.
"""

import dataclasses
import json
import numbers
from pathlib import Path

__all__ = ["read_config_file"]


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
    from benchmarks.runner import BenchmarkConfig

    try:
        # utf-8-sig: editors on Windows save JSON with a byte-order mark
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
        check, expected = _TYPES.get(key, (lambda v: True, ""))
        if not check(value):
            kind = " (a JSON boolean)" if expected == "true or false" else ""
            raise ValueError(f"configuration file '{path}': \"{key}\" must be "
                             f"{expected}{kind}; got {json.dumps(value)}")
    if isinstance(settings.get("models"), list):
        settings["models"] = tuple(settings["models"])
    return settings
