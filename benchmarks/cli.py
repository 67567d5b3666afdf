"""The ``xray-bench`` command (also ``python -m benchmarks``).

Sub-commands: ``run`` (benchmark models on a dataset), ``predict`` (a saved
model on image files) and ``models`` (the model registry).
"""

import argparse
import json
import os
import sys
import textwrap

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
Compare handcrafted-feature baselines (XGBoost) against CNNs on X-ray images,
with the same splits and the same metrics for every model.

commands:
  run      fit and evaluate models on a dataset (the built-in phantoms when
           --data is absent) and write results, predictions and plots
  predict  apply a saved model to image files (PNG/JPEG/TIFF/DICOM)
  models   list the available models and their default parameters
  pretrain pretrain a transfer backbone on unlabelled training images
           (rotation prediction) for `run --set MODEL.weights=DIR`
"""


def _csv_list(text):
    return tuple(item.strip() for item in text.split(",") if item.strip())


def _model_setting(text):
    """Parse MODEL.PARAM=VALUE; VALUE is read as JSON when it parses
    (numbers, true/false, lists), else kept as a string."""
    target, separator, value = text.partition("=")
    model, dot, param = target.partition(".")
    if not separator or not dot or not model or not param:
        raise argparse.ArgumentTypeError(
            f"expected MODEL.PARAM=VALUE (e.g. cnn.epochs=30); got {text!r}")
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    return model, param, value


def _data_option(text):
    """Parse KEY=VALUE for load_dataset; VALUE is read as JSON when it parses."""
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE (e.g. n_images=100); got {text!r}")
    try:
        value = json.loads(value)
    except json.JSONDecodeError:
        pass
    return key.strip(), value


def build_parser():
    """Return the argument parser of ``xray-bench``."""
    parser = argparse.ArgumentParser(
        prog="xray-bench", description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="{run,predict,models}")

    run = commands.add_parser(
        "run", help="benchmark models on a dataset",
        description="Fit and evaluate models with the same splits and metrics; write "
                    "results.csv/json/md, predictions.csv, plots and run.json to --out. "
                    "Re-running into the same --out resumes an interrupted run.")
    run.add_argument("--config", metavar="FILE", help="a JSON file of run settings "
                     "(BenchmarkConfig fields, e.g. {\"models\": [\"hog-xgb\"], \"cv\": 5}); "
                     "flags given here override it")
    data = run.add_argument_group("data")
    data.add_argument("--data", help="a folder with one sub-folder per class, a CSV of "
                      "file names and labels, or a MedMNIST .npz (default: built-in "
                      "synthetic phantoms)")
    data.add_argument("--images", metavar="DIR", help="where a CSV's image files live "
                      "(default: the CSV's folder)")
    data.add_argument("--labels", metavar="CSV", help="labels of a folder of (DICOM) "
                      "files given with --data, as a CSV of file names and labels")
    data.add_argument("--label-col", help="CSV column with labels")
    data.add_argument("--image-col", help="CSV column with file names")
    data.add_argument("--group-col", help="CSV column with group ids such as patient ids "
                      "(splits then keep each group on one side)")
    data.add_argument("--positive", type=_csv_list, metavar="LABEL[,LABEL]",
                      help="binary task: images carrying any of these labels ...")
    data.add_argument("--negative", metavar="LABEL", help="... against images whose only "
                      "label is this one (e.g. 'No Finding')")
    data.add_argument("--classes", type=_csv_list, metavar="A,B,...",
                      help="multi-class task over these classes (images with exactly one)")
    data.add_argument("--multilabel", action="store_true", help="multi-label task")
    data.add_argument("--data-option", dest="data_options", type=_data_option,
                      action="append", default=[], metavar="KEY=VALUE",
                      help="another load_dataset option (repeatable), e.g. n_images=100 "
                      "or image_size=64 for the phantoms")
    data.add_argument("--strict", action="store_true",
                      help="refuse unreadable images instead of skipping and counting them")
    evaluation = run.add_argument_group("evaluation")
    evaluation.add_argument("--models", type=_csv_list, metavar="A,B,...",
                            help="registry names or 'all' (default: the classical "
                            "presets and cnn-small)")
    evaluation.add_argument("--split", choices=("auto", "official", "holdout"),
                            help="the dataset's own split or a stratified train/val/test "
                            "hold-out (default auto: official when present)")
    evaluation.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation")
    evaluation.add_argument("--image-size", type=int, metavar="N",
                            help="square size every model sees (default: each model's own)")
    evaluation.add_argument("--threshold", choices=("youden", "sensitivity"),
                            help="how the binary threshold is chosen on validation data "
                            "(reported beside 0.5)")
    evaluation.add_argument("--target-sensitivity", type=float,
                            help="sensitivity to reach with --threshold sensitivity")
    evaluation.add_argument("--set", dest="settings", type=_model_setting, action="append",
                            default=[], metavar="MODEL.PARAM=VALUE",
                            help="override a model parameter (repeatable)")
    evaluation.add_argument("--seed", type=int, help="random seed (default 0)")
    output = run.add_argument_group("output")
    output.add_argument("--out", metavar="DIR",
                        help="output directory (default xray-bench-results)")
    output.add_argument("--save-models", action="store_true",
                        help="keep each fitted model under DIR/models/")
    output.add_argument("--fresh", action="store_true",
                        help="delete earlier results in DIR and start over")
    output.add_argument("--n-jobs", type=int, help="processes for decoding (default 1)")
    output.add_argument("--quiet", action="store_true", help="no progress output")

    predict = commands.add_parser(
        "predict", help="apply a saved model to image files",
        description="Print the predicted label and probabilities for each file.")
    predict.add_argument("model", help="a model directory written by save() or --save-models")
    predict.add_argument("files", nargs="+", help="image files (PNG/JPEG/TIFF/DICOM)")
    predict.add_argument("--output", metavar="FILE", help="also write the table to a .csv "
                         "or .json file")
    predict.add_argument("--quiet", action="store_true", help="print nothing")

    commands.add_parser("models", help="list available models and their defaults",
                        description="List every registered model with its defaults.")
    _add_backend_and_pretrain(commands, run, predict)
    return parser


# --- Keras backend choice and self-supervised pretraining ----------------------
def _add_backend_and_pretrain(commands, *keras_commands):
    """``--backend`` on every command that may load Keras, and ``pretrain``."""
    from classifiers.backends import BACKENDS

    def backend_option(command):
        command.add_argument("--backend", choices=sorted(BACKENDS),
                             help="Keras backend (sets KERAS_BACKEND before Keras loads; "
                             "default: the KERAS_BACKEND environment variable, else "
                             "tensorflow)")

    pretrain = commands.add_parser(
        "pretrain", help="pretrain a backbone on unlabelled training images",
        description="Self-supervised pretraining by rotation prediction (Gidaris et al. "
                    "2018) on the pixels of the training split only (no labels, no "
                    "validation or test images). Writes backbone weights that "
                    "`run --set MODEL.weights=DIR` starts from.")
    pretrain.add_argument("--data", help="the dataset, as for `run` (default: phantoms)")
    pretrain.add_argument("--data-option", dest="data_options", type=_data_option,
                          action="append", default=[], metavar="KEY=VALUE",
                          help="another load_dataset option (repeatable)")
    pretrain.add_argument("--backbone", default="mobilenetv2",
                          help="transfer backbone to pretrain (default mobilenetv2)")
    pretrain.add_argument("--out", required=True, metavar="DIR",
                          help="new or empty directory for the weights")
    pretrain.add_argument("--image-size", type=int, default=64, metavar="N",
                          help="square side (default 64)")
    pretrain.add_argument("--epochs", type=int, default=10, help="maximum epochs (default 10)")
    pretrain.add_argument("--batch-size", type=int, default=32,
                          help="images per batch, each in 4 rotations (default 32)")
    pretrain.add_argument("--learning-rate", type=float, default=1e-3)
    pretrain.add_argument("--seed", type=int, default=0,
                          help="seeds the weights, and the hold-out split of data without "
                          "a split of its own (use the seed of the later `run`)")
    pretrain.add_argument("--quiet", action="store_true", help="no progress output")
    for command in (*keras_commands, pretrain):
        backend_option(command)
    commands.metavar = "{run,predict,models,pretrain}"


def _pretrain(args, command):
    from benchmarks.pretrain_command import run_pretrain

    return run_pretrain(args)
# -------------------------------------------------------------------------------


def _run(args, command):
    from benchmarks.runner import BenchmarkConfig, run_benchmark

    settings = _config_file(args.config) if args.config else {}
    options = {key: value for key, value in {
        "image_dir": args.images, "labels": args.labels, "label_col": args.label_col,
        "image_col": args.image_col, "group_col": args.group_col, "positive": args.positive,
        "negative": args.negative, "classes": args.classes,
        "multilabel": args.multilabel or None}.items() if value is not None}
    options.update(dict(args.data_options))
    if options:
        settings["dataset_options"] = {**settings.get("dataset_options", {}), **options}
    model_params = {name: dict(params) for name, params
                    in settings.get("model_params", {}).items()}
    for model, param, value in args.settings:
        model_params.setdefault(model, {})[param] = value
    if model_params:
        settings["model_params"] = model_params
    # Flags given on the command line win over the configuration file.
    flags = {"data": args.data, "models": args.models, "split": args.split, "cv": args.cv,
             "image_size": args.image_size, "seed": args.seed, "out": args.out,
             "n_jobs": args.n_jobs, "threshold_method": args.threshold,
             "target_sensitivity": args.target_sensitivity}
    settings.update({key: value for key, value in flags.items() if value is not None})
    for switch in ("save_models", "quiet", "fresh", "strict"):
        if getattr(args, switch):
            settings[switch] = True
    results = run_benchmark(BenchmarkConfig(**settings), command=command)
    folds = results[~results["fold"].astype(str).isin(["mean", "pooled"])]
    failed = folds[folds["error"].astype(bool)]
    if len(failed):
        print(f"xray-bench: {len(failed)} of {len(folds)} model fit(s) failed "
              f"({', '.join(dict.fromkeys(failed['model']))}); see the error column of "
              "results.csv and parts/*.traceback.txt. Run the same command again to retry "
              "them.", file=sys.stderr)
        return 1
    return 0


def _config_file(path):
    """Read a JSON file of :class:`benchmarks.BenchmarkConfig` fields."""
    import dataclasses
    from pathlib import Path

    from benchmarks.runner import BenchmarkConfig

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
    if isinstance(settings.get("models"), list):
        settings["models"] = tuple(settings["models"])
    return settings


def _predict(args, command):
    from benchmarks.predict import predict_files

    if args.output and not args.output.lower().endswith((".csv", ".json")):
        raise ValueError(f"--output must name a .csv or .json file; got '{args.output}'")
    frame = predict_files(args.model, args.files)
    if args.output:
        if args.output.lower().endswith(".json"):  # json keeps every digit; to_json 10
            from pathlib import Path

            records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            Path(args.output).write_text(json.dumps(records, indent=1), encoding="utf-8")
        else:
            frame.to_csv(args.output, index=False)
    if not args.quiet:
        print(frame.to_string(index=False))
    unreadable = frame[frame["error"].astype(bool)]
    if len(unreadable):
        print(f"xray-bench: {len(unreadable)} of {len(frame)} file(s) could not be read, "
              f"e.g. {unreadable['error'].iloc[0]}", file=sys.stderr)
        return 1
    return 0


def _models(args, command):
    from classifiers.registry import describe_models, get_model

    for entry in describe_models():
        try:  # the class defaults as well as the preset's own settings
            defaults = get_model(entry["name"]).get_params(deep=False)
        except (ImportError, TypeError, ValueError):
            defaults = entry["defaults"]
        print(f"{entry['name']:<16} {entry['kind']:<15} {entry['description']}")
        text = ", ".join(f"{key}={value!r}" for key, value in defaults.items())
        print(textwrap.fill(text, width=100, initial_indent=" " * 4,
                            subsequent_indent=" " * 4))
    return 0


_COMMANDS = {"run": _run, "predict": _predict, "models": _models, "pretrain": _pretrain}


def main(argv=None):
    """Entry point of ``xray-bench``; returns the exit code.

    Without a command, ``run`` is meant: ``xray-bench`` alone runs the quick
    comparison on the built-in phantoms, and ``xray-bench --models hog-xgb``
    is ``xray-bench run --models hog-xgb``.

    Examples
    --------
    >>> main(["models"])  # doctest: +SKIP
    0
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["run"] + argv
    args = build_parser().parse_args(argv)
    # TensorFlow's start-up notices drown the progress output; a value set by
    # the user is kept.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from classifiers.backends import use_backend

        use_backend(getattr(args, "backend", None))
        return _COMMANDS[args.command](args, ["xray-bench"] + argv)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"xray-bench: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xray-bench: interrupted; finished results are kept, run the same "
              "command again to resume", file=sys.stderr)
        return 130
