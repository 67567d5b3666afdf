"""The ``xray-bench`` command (also ``python -m benchmarks``).

Sub-commands: ``run`` (benchmark models on a dataset), ``predict`` (a saved
model on image files) and ``models`` (the model registry).
"""

import argparse
import json
import sys

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
Compare handcrafted-feature baselines (XGBoost) against CNNs on X-ray images,
with the same splits and the same metrics for every model.

commands:
  run      fit and evaluate models on a dataset (the built-in phantoms when
           --data is absent) and write results, predictions and plots
  predict  apply a saved model to image files (PNG/JPEG/TIFF/DICOM)
  models   list the available models and their default parameters
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
                     "(see benchmarks/configs/); flags given here override it")
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
    data.add_argument("--strict", action="store_true",
                      help="refuse unreadable images instead of skipping and counting them")
    evaluation = run.add_argument_group("evaluation")
    evaluation.add_argument("--models", type=_csv_list, metavar="A,B,...",
                            help="registry names or 'all' (default: the classical "
                            "presets and cnn-small)")
    evaluation.add_argument("--split", choices=("auto", "official", "holdout"), help="the dataset's own split or a stratified "
                            "train/val/test hold-out (default: official when present)")
    evaluation.add_argument("--cv", type=int, metavar="K", help="K-fold cross-validation")
    evaluation.add_argument("--image-size", type=int, metavar="N",
                            help="square size every model sees (default: each model's own)")
    evaluation.add_argument("--threshold", choices=("youden", "sensitivity"), help="how the binary threshold is chosen "
                            "on validation data (reported beside 0.5)")
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
    predict.add_argument("--output", metavar="FILE", help="also write a .csv or .json")
    predict.add_argument("--quiet", action="store_true", help="print nothing")

    commands.add_parser("models", help="list available models and their defaults",
                        description="List every registered model with its defaults.")
    return parser


def _run(args):
    from benchmarks.runner import BenchmarkConfig, run_benchmark

    settings = _config_file(args.config) if args.config else {}
    options = {key: value for key, value in {
        "image_dir": args.images, "labels": args.labels, "label_col": args.label_col,
        "image_col": args.image_col, "group_col": args.group_col, "positive": args.positive,
        "negative": args.negative, "classes": args.classes,
        "multilabel": args.multilabel or None}.items() if value is not None}
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
    if "models" in settings:
        settings["models"] = tuple(settings["models"])
    results = run_benchmark(BenchmarkConfig(**settings))
    failed = results["error"].astype(bool).sum()
    return 1 if failed == len(results) else 0


def _config_file(path):
    """Read a JSON file of :class:`benchmarks.BenchmarkConfig` fields."""
    import dataclasses

    from benchmarks.runner import BenchmarkConfig

    try:
        settings = json.loads(open(path, encoding="utf-8").read())
    except OSError as error:
        raise FileNotFoundError(f"cannot read configuration file '{path}': "
                                f"{error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"configuration file '{path}' is not valid JSON: {error}") from None
    known = {field.name for field in dataclasses.fields(BenchmarkConfig)}
    unknown = sorted(set(settings) - known)
    if not isinstance(settings, dict) or unknown:
        raise ValueError(f"configuration file '{path}' has unknown keys {unknown}; "
                         f"known keys: {sorted(known)}")
    return settings


def _predict(args):
    from benchmarks.predict import predict_files

    frame = predict_files(args.model, args.files)
    if args.output:
        if args.output.endswith(".json"):
            frame.to_json(args.output, orient="records", indent=1)
        else:
            frame.to_csv(args.output, index=False)
    if not args.quiet:
        print(frame.to_string(index=False))
    return 1 if frame["error"].astype(bool).any() else 0


def _models(args):
    from classifiers.registry import describe_models

    for entry in describe_models():
        print(f"{entry['name']:<16} {entry['kind']:<10} {entry['description']}")
        defaults = ", ".join(f"{key}={value!r}" for key, value in entry["defaults"].items())
        print(f"{'':<16} {defaults}")
    return 0


def main(argv=None):
    """Entry point of ``xray-bench``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # The default job: the quick comparison on the built-in phantoms.
        args = parser.parse_args(["run"] + list(argv if argv is not None else sys.argv[1:]))
    handler = {"run": _run, "predict": _predict, "models": _models}[args.command]
    try:
        return handler(args)
    except (ValueError, FileNotFoundError, NotADirectoryError) as error:
        print(f"xray-bench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xray-bench: interrupted; finished results are kept, run the same "
              "command again to resume", file=sys.stderr)
        return 130
