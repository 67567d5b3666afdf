"""Does test-time augmentation help the CNNs? TTA off and on, same fitted model.

Fits each network once per dataset -- the four-class phantoms (hold-out
split), then, when the folder exists, the pneumonia224 chest films (official
split) with the settings of ``benchmarks/configs/pneumonia224.json`` -- and
scores the same fitted model on the test images with ``tta=False`` and
``tta=True`` (the default views: original, shifts of 4% of the side, zooms of
0.95 and 1.05). Prints one row per (dataset, model, tta): test ROC AUC
(macro one-vs-rest for several classes), accuracy at 0.5 (argmax for several
classes), predict time per image, and the load average (``uptime``) after
the prediction, since the machine may be shared.

Example::

    nice -n 10 python -m benchmarks.bench.bench_tta --models cnn-small,cnn --image-size 64

Shifts and zooms move black borders into the films; a network trained
without such augmentation (``augment: false`` in the pneumonia224 config)
has not seen them, so compare with ``--augment '{"flip": null}'`` too.
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import load_dataset
from benchmarks.evaluation.metrics import evaluate_predictions
from benchmarks.evaluation.splits import make_splits
from classifiers import get_model

__all__ = ["main", "tta_rows"]

_CONFIG = Path(__file__).parent / "configs" / "pneumonia224.json"


def tta_rows(model, images, labels, *, task, class_names):
    """Score a fitted Keras model on ``images`` with TTA off, then on.

    Returns
    -------
    rows : list of dict
        ``tta``, ``roc_auc``, ``accuracy``, ``predict_ms_per_image``,
        ``load_average`` (1, 5 and 15 minutes) per setting.
    """
    rows = []
    for tta in (False, True):
        model.set_params(tta=tta)
        model.predict_proba(images[:model.batch_size + 1])  # graph tracing, off the clock
        tic = time.perf_counter()
        proba = model.predict_proba(images)
        seconds = time.perf_counter() - tic
        metrics = evaluate_predictions(labels, proba, task=task, class_names=class_names)
        rows.append({"tta": tta, "roc_auc": metrics["roc_auc"],
                     "accuracy": metrics["accuracy"],
                     "predict_ms_per_image": 1000 * seconds / len(images),
                     "load_average": " ".join(f"{v:.2f}" for v in os.getloadavg())})
    model.set_params(tta=False)
    return rows


def _datasets(args):
    """(name, train, val, test, model parameters per preset), loaded at the size."""
    phantoms = load_dataset("phantoms", n_images=args.n_phantoms, image_size=128,
                            seed=args.seed)
    split = make_splits(phantoms, strategy="holdout", seed=args.seed)[0]
    phantoms = phantoms.load_images(size=args.image_size)
    yield ("phantoms", *(phantoms.subset(split_part) for split_part in
                         (split.train, split.val, split.test)), {})
    if not Path(args.pneumonia).is_dir():
        print(f"{args.pneumonia} not found: phantoms only", flush=True)
        return
    films = load_dataset(args.pneumonia)
    parts = [films.subset(np.flatnonzero(films.split == name)).load_images(size=args.image_size)
             for name in ("train", "val", "test")]
    params = json.loads(_CONFIG.read_text(encoding="utf-8"))["model_params"]
    yield ("pneumonia224", *parts, params)


def main(argv=None):
    """Print one markdown row per (dataset, model, tta); optionally save a CSV."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_tta",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="cnn-small,cnn")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--pneumonia", default="../shared/data/pneumonia224",
                        help="class folder with train/val/test (skipped when absent)")
    parser.add_argument("--n-phantoms", type=int, default=400)
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="cap the epochs of every fit (default: the preset's or config's)")
    parser.add_argument("--augment", type=json.loads, default=None,
                        help='training augmentation of every fit as JSON, e.g. '
                             '\'{"flip": null}\' (default: the preset\'s or config\'s)')
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="CSV file for the rows")
    args = parser.parse_args(argv)

    print("| data | model | tta | test ROC AUC | accuracy | predict ms/img | fit s | "
          "epochs | load average |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|", flush=True)
    table = []
    for name, train, val, test, config_params in _datasets(args):
        for preset in args.models.split(","):
            params = {**config_params.get(preset, {}), "image_size": args.image_size,
                      "random_state": args.seed}
            if args.augment is not None:
                params["augment"] = args.augment
            if args.max_epochs is not None:
                params["epochs"] = min(params.get("epochs", args.max_epochs), args.max_epochs)
            model = get_model(preset, **params)
            tic = time.perf_counter()
            model.fit(train.images, train.labels, validation_data=(val.images, val.labels))
            fit_seconds = time.perf_counter() - tic
            for row in tta_rows(model, test.images, test.labels, task=test.task,
                                class_names=test.class_names):
                row = {"data": name, "model": preset, **row, "fit_seconds": fit_seconds,
                       "epochs": model.n_epochs_}
                table.append(row)
                print(f"| {name} | {preset} | {'on' if row['tta'] else 'off'} | "
                      f"{row['roc_auc']:.4f} | {row['accuracy']:.4f} | "
                      f"{row['predict_ms_per_image']:.2f} | {fit_seconds:.0f} | "
                      f"{row['epochs']} | {row['load_average']} |", flush=True)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
