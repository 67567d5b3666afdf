"""The ``xray-bench`` command (also ``python -m benchmarks``).

Sub-commands: ``run`` (benchmark models on a dataset), ``inspect`` (look at
a dataset first), ``predict`` (a saved model on image files) and ``models``
(the model registry).
"""

import argparse
import json
import os
import signal
import sys
import textwrap

from benchmarks.config import add_flags, comma_list, flag_settings
from benchmarks.results.outdir import RUN_OUTPUTS, check_output, data_folders

__all__ = ["main", "build_parser"]

_DESCRIPTION = """\
Compare handcrafted-feature baselines (XGBoost) against CNNs on X-ray images,
with the same splits and the same metrics for every model.

commands:
  run      fit and evaluate models on a dataset (the built-in phantoms when
           --data is absent) and write results, predictions and plots
  inspect  look at a dataset before training: counts, image properties,
           mean/difference/eigen-images, contrast, duplicates, leakage
  predict  apply a saved model to image files (PNG/JPEG/TIFF/DICOM)
  models   list the available models and their default parameters
  report   rebuild a run's tables, plots and report.html from its saved results
  serve    a web page and JSON API around a saved model (127.0.0.1)
  pretrain pretrain a transfer backbone on unlabelled training images
           (rotation prediction) for `run --set MODEL.weights=DIR`
"""


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
    commands = parser.add_subparsers(dest="command",
                                     metavar="{run,inspect,predict,models,report,serve,pretrain}")

    run = commands.add_parser(
        "run", help="benchmark models on a dataset",
        description="Fit and evaluate models with the same splits and metrics; write "
                    "results.csv/json/md, predictions.csv, plots and run.json to --out. "
                    "Re-running into the same --out resumes an interrupted run.")
    run.add_argument("--config", metavar="FILE", help="a JSON file of run settings "
                     "(BenchmarkConfig fields, e.g. {\"models\": [\"hog-xgb\"], \"cv\": 5}); "
                     "flags given here override it")
    _add_data_arguments(run)
    # The flags of run settings come from their one declaration (benchmarks.config).
    evaluation = run.add_argument_group("evaluation")
    add_flags(evaluation, "models", "cv", "image_size", "threshold_method",
              "target_sensitivity")
    evaluation.add_argument("--set", dest="settings", type=_model_setting, action="append",
                            default=[], metavar="MODEL.PARAM=VALUE",
                            help="override a model parameter (repeatable)")
    add_flags(evaluation, "seed")
    output = run.add_argument_group("output")
    add_flags(output, "out", "save_models", "fresh", "n_jobs", "quiet")
    output.add_argument("--verbose", action="store_true", help="let TensorFlow's native log "
                        "lines through (hidden by default)")
    # Calibration, ordinal grades and the report command.
    add_flags(run.add_argument_group("calibration and grades"), "calibrate", "ordinal")
    add_flags(run.add_argument_group("learning curve"), "train_sizes", "curve_seeds")
    # --- Dask ---------------------------------------------------------------------
    add_flags(run.add_argument_group("Dask cluster (pip install \"xray-bench[dask]\")"),
              "scheduler")
    # --- end Dask -----------------------------------------------------------------
    report = commands.add_parser(
        "report", help="rebuild a run's report.html from its saved results",
        description="Remake results.csv/md, pairwise.csv, plots and report.html of a run "
                    "(finished or not) from DIR/parts and DIR/run.json; parts not finished "
                    "are marked missing.")
    report.add_argument("directory", metavar="DIR", help="the --out folder of a run")
    report.add_argument("--quiet", action="store_true", help="print nothing")

    _add_inspect_parser(commands)

    predict = commands.add_parser(
        "predict", help="apply a saved model to image files",
        description="Print the predicted label and probabilities for each file.")
    predict.add_argument("model", help="a model directory written by save() or --save-models")
    predict.add_argument("files", nargs="+", help="image files (PNG/JPEG/TIFF/DICOM)")
    predict.add_argument("--output", metavar="FILE", help="also write the table to a .csv "
                         "or .json file (refused if it exists, unless --overwrite)")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace an existing --output file or --explain overlays")
    predict.add_argument("--quiet", action="store_true", help="print nothing")
    predict.add_argument("--verbose", action="store_true", help="let TensorFlow's native "
                         "log lines through (hidden by default)")
    predict.add_argument("--ood", choices=("flag", "refuse", "off"), default="flag",
                         help="images unlike the training images: answer and flag them "
                         "(default), refuse to label them, or do not check")
    predict.add_argument("--explain", metavar="DIR", help="write a heatmap overlay per "
                         "image to DIR as <name>.explain.png (refused if one exists, "
                         "unless --overwrite)")

    commands.add_parser("models", help="list available models and their defaults",
                        description="List every registered model with its defaults.")
    serve = _add_serve_parser(commands)
    _add_backend_and_pretrain(commands, run, predict, serve)
    return parser


def _add_data_arguments(parser):
    """The dataset options shared by ``run`` and ``inspect``."""
    data = parser.add_argument_group("data")
    add_flags(data, "data")
    data.add_argument("--images", metavar="DIR", help="where a CSV's image files live "
                      "(default: the CSV's folder)")
    data.add_argument("--labels", metavar="CSV", help="labels of a folder of (DICOM) "
                      "files given with --data, as a CSV of file names and labels")
    data.add_argument("--label-col", help="CSV column with labels")
    data.add_argument("--image-col", help="CSV column with file names")
    data.add_argument("--group-col", help="CSV column with group ids such as patient ids "
                      "(splits then keep each group on one side)")
    data.add_argument("--positive", type=comma_list, metavar="LABEL[,LABEL]",
                      help="binary task: images carrying any of these labels ...")
    data.add_argument("--negative", metavar="LABEL", help="... against images whose only "
                      "label is this one (e.g. 'No Finding')")
    data.add_argument("--classes", type=comma_list, metavar="A,B,...",
                      help="multi-class task over these classes (images with exactly one)")
    data.add_argument("--multilabel", action="store_true", help="multi-label task")
    data.add_argument("--data-option", dest="data_options", type=_data_option,
                      action="append", default=[], metavar="KEY=VALUE",
                      help="another load_dataset option (repeatable), e.g. n_images=100 "
                      "or image_size=64 for the phantoms")
    add_flags(data, "split", "strict")


def _dataset_options(args):
    """load_dataset options from the shared data arguments (unset ones left out)."""
    options = {key: value for key, value in {
        "image_dir": args.images, "labels": args.labels, "label_col": args.label_col,
        "image_col": args.image_col, "group_col": args.group_col, "positive": args.positive,
        "negative": args.negative, "classes": args.classes,
        "multilabel": args.multilabel or None}.items() if value is not None}
    options.update(dict(args.data_options))
    return options


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


def _pretrain(args, command):
    from benchmarks.cli.pretrain import run_pretrain

    return run_pretrain(args)
# -------------------------------------------------------------------------------


def _run(args, command):
    from benchmarks.config import read_config_file
    from benchmarks.runner import BenchmarkConfig, resolve_config, run_benchmark

    settings = read_config_file(args.config) if args.config else {}
    options = _dataset_options(args)
    if options:
        settings["dataset_options"] = {**settings.get("dataset_options", {}), **options}
    model_params = {name: dict(params) for name, params
                    in settings.get("model_params", {}).items()}
    for model, param, value in args.settings:
        model_params.setdefault(model, {})[param] = value
    if model_params:
        settings["model_params"] = model_params
    # Flags given on the command line win over the configuration file.
    settings.update(flag_settings(args))
    # Settings and parameters checked before any work, once: run_benchmark
    # runs the resolved configuration as it is.
    config = resolve_config(BenchmarkConfig(**settings), {})
    _silence_tensorflow(args, _uses_keras(config.models))
    results = run_benchmark(config, command=command)
    folds = results[~results["fold"].astype(str).isin(["mean", "pooled"])]
    failed = folds[folds["error"].astype(bool)]
    if len(failed):
        print(f"xray-bench: {len(failed)} of {len(folds)} model fit(s) failed "
              f"({', '.join(dict.fromkeys(failed['model']))}); see the error column of "
              "results.csv and parts/*.traceback.txt. Run the same command again to retry "
              "them.", file=sys.stderr)
        return 1
    return 0


def _uses_keras(models):
    from classifiers.registry import describe_models

    from classifiers.variants import base_name

    kinds = {entry["name"]: entry["kind"] for entry in describe_models()}
    return any(kinds.get(base_name(name), "").startswith("keras") for name in models)


def _silence_tensorflow(args, needs_tensorflow):
    from benchmarks.cli.quiet import silence_tensorflow

    # Under another Keras backend TensorFlow is never loaded, so not here either.
    needs_tensorflow = needs_tensorflow and os.environ.get(
        "KERAS_BACKEND", "tensorflow") == "tensorflow"
    silence_tensorflow(verbose=args.verbose, needs_tensorflow=needs_tensorflow)


def _predict(args, command):
    from pathlib import Path

    from benchmarks.results.csv_cells import frame_to_csv
    from benchmarks.predict import predict_files
    from xray_features.utils import write_text_atomic

    if args.output:
        output = Path(args.output)
        if not args.output.lower().endswith((".csv", ".json")):
            raise ValueError(f"--output must name a .csv or .json file; got '{args.output}'")
        if output.is_dir():
            raise ValueError(f"--output '{args.output}' is a directory; name a .csv or .json "
                             "file")
        check_output(output, flag="--output", files=[output], overwrite=args.overwrite)
    try:  # a Keras model loads TensorFlow: quietly, unless --verbose
        sidecar = json.loads((Path(args.model) / "model.json").read_text(encoding="utf-8"))
        needs_tensorflow = "xgb" not in str(sidecar.get("estimator", "xgb"))
    except (OSError, ValueError, AttributeError):
        needs_tensorflow = False
    _silence_tensorflow(args, needs_tensorflow)
    frame = predict_files(args.model, args.files, ood=args.ood, explain_dir=args.explain,
                          overwrite=args.overwrite)
    _report_ood(frame, args.ood)
    if args.output:
        # Written whole at the end (temporary file, then rename): a failed
        # predict leaves no partial file, and a link is replaced, not followed.
        if args.output.lower().endswith(".json"):  # json keeps every digit; to_json 10
            records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
            write_text_atomic(args.output, json.dumps(records, indent=1))
        else:
            write_text_atomic(args.output, frame_to_csv(frame))
    if not args.quiet:
        print(frame.to_string(index=False))
    unreadable = frame[frame["error"].astype(bool)]
    if len(unreadable):
        print(f"xray-bench: {len(unreadable)} of {len(frame)} file(s) could not be read, "
              f"e.g. {unreadable['error'].iloc[0]}", file=sys.stderr)
        return 1
    return 0


def _report_ood(frame, mode):
    from classifiers.ood import NO_GUARD_REASON

    if mode == "off" or not len(frame):
        return
    if (frame["ood_reason"] == NO_GUARD_REASON).any():
        print(f"xray-bench: {NO_GUARD_REASON}; images are not checked", file=sys.stderr)
        return
    flagged = frame[frame["ood_flag"].fillna(False).astype(bool)]
    if len(flagged):
        verb = "refused" if mode == "refuse" else "flagged"
        print(f"xray-bench: {len(flagged)} of {len(frame)} image(s) {verb} as unlike the "
              f"training images, e.g. {flagged['file'].iloc[0]}: "
              f"{flagged['ood_reason'].iloc[0]}", file=sys.stderr)


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
    from benchmarks.config import NAMES_HELP

    print(textwrap.fill(NAMES_HELP, width=100))
    return 0


def _report(args, command):
    from pathlib import Path

    from benchmarks.reports.html import rebuild_outputs, write_html_report

    directory = Path(args.directory)
    if not (directory / "run.json").is_file() and not (directory / "fingerprint.json").is_file():
        raise ValueError(f"'{directory}' is not the output folder of an xray-bench run "
                         "(no run.json or fingerprint.json in it)")
    # The files report rewrites: refused in a folder the toolkit did not create.
    check_output(directory, flag="DIR", folder=True,
                 files=[directory / name for name in ("report.html", *RUN_OUTPUTS)
                        if "." in name and name not in ("run.json", "fingerprint.json")])
    rebuild_outputs(directory)
    path = write_html_report(directory)
    if not args.quiet:
        print(path)
    return 0


# ------------------------------------------------------------------ inspect
def _add_inspect_parser(commands):
    inspect = commands.add_parser(
        "inspect", help="look at a dataset before training on it",
        description="Stream the images once and write counts, image properties (with "
                    "confounding warnings), mean/std/difference/eigen-images, histograms, "
                    "contrast, examples and duplicates across splits as PNGs, inspect.json "
                    "and one self-contained inspect.html to --out.")
    inspect.add_argument("source", nargs="?", metavar="DATA",
                         help="the dataset (same as --data; default: the phantoms)")
    _add_data_arguments(inspect)
    look = inspect.add_argument_group("inspection")
    look.add_argument("--image-size", type=int, default=128, metavar="N",
                      help="working size of the mean, difference and eigen-images "
                      "(default 128)")
    look.add_argument("--components", type=int, default=4, metavar="K",
                      help="eigen-images per class (default 4; 0: none)")
    look.add_argument("--examples", type=int, default=16, metavar="K",
                      help="random example images per class (default 16)")
    look.add_argument("--near-distance", type=int, default=24, metavar="BITS",
                      help="largest perceptual-hash distance (of 256 bits) counted as a "
                      "near-duplicate (default 24; re-encoded copies of a film stay "
                      "within about 10, different films are 40 or more apart)")
    look.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    look.add_argument("--out", metavar="DIR", default="xray-bench-inspect",
                      help="output directory (default xray-bench-inspect)")
    look.add_argument("--n-jobs", type=int, default=1, help="processes for decoding "
                      "(default 1)")
    look.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _inspect(args, command):
    import time

    from benchmarks.inspection import format_summary, inspect_dataset, write_inspection
    from benchmarks.inspection.outputs import prepare_output

    if args.source and args.data and args.source != args.data:
        raise ValueError(f"two datasets given: DATA {args.source!r} and --data "
                         f"{args.data!r}; give one.")
    started = time.perf_counter()
    options = _dataset_options(args)
    check_output(args.out, data=data_folders(args.source or args.data,
                                             options.get("image_dir")))
    prepare_output(args.out)   # refuse a bad --out before the long pass
    result = inspect_dataset(
        args.source or args.data, dataset_options=options,
        split=args.split or "auto", image_size=args.image_size,
        n_components=args.components, n_examples=args.examples,
        max_distance=args.near_distance, seed=args.seed, n_jobs=args.n_jobs,
        strict=args.strict, quiet=args.quiet)
    record = write_inspection(result, args.out, command=command)
    if not args.quiet:
        print(format_summary(record, args.out, time.perf_counter() - started))
    return 0


# --- serve: a web app around a saved model --------------------------------------------
def _add_serve_parser(commands):
    serve = commands.add_parser(
        "serve", help="a web page and JSON API around a saved model",
        description="Serve a page to upload films (PNG/JPEG/TIFF/DICOM) and see the "
                    "prediction, heatmap and out-of-distribution verdict of each, with a "
                    "JSON API at POST /predict. Nothing uploaded is written to disk.")
    serve.add_argument("model", help="a model directory written by save() or --save-models")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on "
                       "(default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--ood", choices=("refuse", "flag", "off"), default="refuse",
                       help="films unlike the training images: refuse them (default), "
                       "answer and flag them, or do not check")
    serve.add_argument("--max-file-mb", type=float, default=50.0, help="largest upload "
                       "per file in MB (default 50)")
    serve.add_argument("--max-pixels", type=int, default=8192 * 8192,
                       help="largest image in pixels (default 8192*8192)")
    serve.add_argument("--max-files", type=int, default=32,
                       help="most files per request (default 32)")
    serve.add_argument("--max-request-pixels", type=int, default=4 * 8192 * 8192,
                       help="pixels one request may have decoded in all (default "
                       "4*8192*8192); files beyond get a 413 entry")
    serve.add_argument("--max-decodes", type=int, default=1,
                       help="files decoded at once on the whole server, which bounds its "
                       "memory (default 1: about 260 MB for an 8192x8192 RGB PNG)")
    return serve


def _serve(args, command):
    from benchmarks.app import UploadLimits, require_app_extra, serve

    if not 1 <= args.port <= 65535:
        raise ValueError(f"--port must be from 1 to 65535; got {args.port}")
    limits = {"--max-pixels": args.max_pixels, "--max-files": args.max_files,
              "--max-request-pixels": args.max_request_pixels,
              "--max-decodes": args.max_decodes}
    if args.max_file_mb <= 0 or min(limits.values()) < 1:
        raise ValueError(f"--max-file-mb, {', '.join(limits)} must be positive")
    require_app_extra()
    limits = UploadLimits(max_bytes=int(args.max_file_mb * 2 ** 20),
                          max_pixels=args.max_pixels, max_files=args.max_files,
                          max_request_pixels=args.max_request_pixels,
                          max_decodes=args.max_decodes)
    serve(args.model, host=args.host, port=args.port, ood=args.ood, limits=limits)
    return 0
# --- end serve ---------------------------------------------------------------------------


_COMMANDS = {"run": _run, "inspect": _inspect, "predict": _predict, "models": _models,
             "report": _report, "serve": _serve, "pretrain": _pretrain}


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
    from benchmarks.runner import RunTerminated

    def terminate(signum, frame):
        raise RunTerminated()

    try:  # SIGTERM ends the run like Ctrl-C, with run.json saying "terminated"
        previous = signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        from classifiers.backends import use_backend

        use_backend(getattr(args, "backend", None))
        code = _COMMANDS[args.command](args, ["xray-bench"] + argv)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        return _closed_pipe()
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())
        print(f"xray-bench: error: {message}", file=sys.stderr)
        return 2
    except RunTerminated:
        resume = ("; finished results are kept, run the same command again to resume"
                  if args.command == "run" else "")
        print(f"xray-bench: terminated (SIGTERM){resume}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("xray-bench: interrupted; finished results are kept, run the same "
              "command again to resume", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _closed_pipe():
    """The reader of stdout went away (``xray-bench models | head -1``): stop
    quietly with 141 (128 + SIGPIPE), as a shell tool would."""
    try:  # nothing more may reach the closed pipe, not even at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 141
