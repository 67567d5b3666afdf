"""``xray-bench pretrain``: a self-supervised backbone from a dataset's training pixels.

Only the pixels of the training split are read into the pretraining: never
labels, never the validation or test images. The split is the dataset's own
(``train/`` folder, a CSV's split column, a MedMNIST ``train_*`` array) or,
when it has none, the training side of the same stratified hold-out split
``xray-bench run --seed`` makes, so a later benchmark with that seed never
tests on a film the backbone has seen.
"""

import time

import numpy as np

from benchmarks.results.outdir import check_output, data_folders

__all__ = ["training_pixels", "run_pretrain"]


def training_pixels(data, *, size, seed=0, options=None, strict=False):
    """Pixels of a dataset's training images (no labels).

    Parameters
    ----------
    data : str or path-like or None
        Any source :func:`benchmarks.load_dataset` reads.
    size : int
        Square side the images are decoded at.
    seed : int
        Seed of the hold-out split, for sources without a split of their own.
    options : dict, optional
        Further :func:`benchmarks.load_dataset` options.
    strict : bool

    Returns
    -------
    images : (N, size, size) uint8 ndarray
    description : str
        Which images they are, for messages and records.

    Examples
    --------
    >>> images, text = training_pixels("phantoms:fracture", size=32,
    ...                                options={"n_images": 20})
    >>> images.shape[1:], "hold-out" in text
    ((32, 32), True)
    """
    from benchmarks.datasets import load_dataset
    from benchmarks.evaluation.splits import make_splits

    dataset = load_dataset(data, strict=strict, **dict(options or {}))
    if dataset.split is not None and (dataset.split == "train").any():
        train = np.flatnonzero(dataset.split == "train")
        description = f"the {len(train)} images of the dataset's own training split"
    else:
        train = make_splits(dataset, strategy="holdout", seed=seed)[0].train
        description = (f"the {len(train)} training images of the seed-{seed} stratified "
                       "hold-out split")
    subset = dataset.subset(np.sort(train))
    # Labels stay behind: only the pixel stack leaves this function.
    if subset.images is None or subset.images.shape[1:] != (size, size):
        subset = subset.load_images(size=size, strict=strict)
    return subset.images, description


def run_pretrain(args):
    """The ``pretrain`` sub-command (parsed arguments in, exit code out)."""
    from classifiers.pretrain import pretrain_rotation

    started = time.perf_counter()
    options = dict(args.data_options)
    check_output(args.out, data=data_folders(args.data, options.get("image_dir")))
    images, description = training_pixels(args.data, size=args.image_size, seed=args.seed,
                                          options=options)
    if not args.quiet:
        print(f"pretraining {args.backbone} by rotation prediction on {description} at "
              f"{args.image_size} px", flush=True)
    record = pretrain_rotation(images, args.out, backbone=args.backbone,
                               image_size=args.image_size, epochs=args.epochs,
                               batch_size=args.batch_size, learning_rate=args.learning_rate,
                               random_state=args.seed, verbose=0 if args.quiet else 2)
    if not args.quiet:
        history = record["history"]
        val = record["val_accuracy"]
        print(f"rotation accuracy {history['accuracy'][-1]:.3f} (training)"
              + (f", {val:.3f} (held out)" if val is not None else "")
              + f" after {record['epochs_run']} epoch(s), chance 0.25; "
              f"{time.perf_counter() - started:.0f} s")
        print(f"backbone weights in {args.out}/; use them with "
              f"--set {args.backbone}.weights={args.out}")
    return 0
