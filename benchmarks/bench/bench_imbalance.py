"""Do the Keras defaults cope with a rare positive class?

Builds an imbalanced task from a binary class folder with train/val/test
splits (13% positives by default, about 700 training films, like a typical
held-out chest-film task), trains each network twice -- with every image
weighted alike (``class_weight=None``) and with the defaults (balanced class
weights) -- and prints test ROC AUC, F1 and the share of images predicted
positive at the 0.5 threshold. A model that predicts only the majority class
has F1 0 and a positive share of 0.

Example::

    nice -n 10 python -m benchmarks.bench.bench_imbalance --data ../shared/data/pneumonia224 \\
        --size 64 --models cnn-small
"""

import argparse
import sys
import time

import numpy as np

__all__ = ["imbalanced_indices", "main"]


def imbalanced_indices(labels, n, positive_share, seed):
    """``n`` indices of which ``positive_share`` have label 1 (random, seeded).

    Examples
    --------
    >>> labels = np.array([0] * 50 + [1] * 50)
    >>> picked = imbalanced_indices(labels, 20, 0.1, 0)
    >>> len(picked), int(labels[picked].sum())
    (20, 2)
    """
    rng = np.random.default_rng(seed)
    n_pos = int(round(n * positive_share))
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if n_pos > len(pos) or n - n_pos > len(neg):
        raise ValueError(f"cannot draw {n_pos} positives and {n - n_pos} negatives from "
                         f"{len(pos)} and {len(neg)}; lower n.")
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                   rng.choice(neg, n - n_pos, replace=False)]))


def main(argv=None):
    """Print one row per (model, class weighting)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_imbalance",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--models", default="cnn-small")
    parser.add_argument("--share", type=float, default=0.13, help="positive share")
    parser.add_argument("--n-train", type=int, default=700)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weightings", default="none,balanced",
                        help="class weightings to compare (none, balanced)")
    args = parser.parse_args(argv)

    from sklearn.metrics import f1_score, roc_auc_score

    from benchmarks.datasets import load_dataset
    from classifiers import get_model

    dataset = load_dataset(args.data)
    parts = {}
    for split, n in (("train", args.n_train), ("val", 115), ("test", 250)):
        part = dataset.subset(dataset.split == split)
        part = part.subset(imbalanced_indices(part.labels, n, args.share, args.seed))
        parts[split] = part.load_images(size=args.size)
    print(" ".join(f"{k}: {len(v)} ({int(v.labels.sum())} positive)"
                   for k, v in parts.items()), flush=True)
    train, val, test = parts["train"], parts["val"], parts["test"]
    print("| model | class_weight | test AUC | F1 at 0.5 | predicted positive | epochs | fit s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in args.models.split(","):
        for weighting in [None if w == "none" else w for w in args.weightings.split(",")]:
            model = get_model(name, image_size=args.size, class_weight=weighting,
                              random_state=args.seed)
            tic = time.perf_counter()
            model.fit(train.images, train.labels,
                      validation_data=(val.images, val.labels))
            seconds = time.perf_counter() - tic
            proba = model.predict_proba(test.images)[:, 1]
            predicted = proba >= 0.5
            print(f"| {name} | {weighting} | {roc_auc_score(test.labels, proba):.3f} | "
                  f"{f1_score(test.labels, predicted, zero_division=0):.3f} | "
                  f"{predicted.mean():.3f} | {model.n_epochs_} | {seconds:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
