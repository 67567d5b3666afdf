"""Per-epoch training cost of Keras models that do not fit a CPU budget.

A full epoch of ResNet50 on 4,708 films at 96 px takes many minutes on a
2-core CPU, too long to train to convergence there. This script measures
what one epoch costs without paying for whole epochs: it fits each model on
``--n-images`` stratified training films for two epochs, times each epoch
with a Keras callback and keeps the second (free of graph tracing and
oneDNN or XLA set-up), then scales it to the size of the training split.

Example (pneumonia224 at 96 px)::

    python -m benchmarks.bench.bench_epoch_cost --data ../shared/data/pneumonia224 \\
        --models resnet50,inceptionv3,xception --size 96 --n-images 128

prints, per model: seconds per epoch on the sample, the projected seconds
per epoch on the whole training split, and training images per second.
"""

import argparse
import sys
import time

import numpy as np

__all__ = ["main", "one_epoch_seconds"]

#: Parameters that make a registry preset train for exactly ``epochs`` epochs
#: with nothing else in the timing (no validation split, no callbacks).
_NO_EXTRAS = {"validation_split": 0, "early_stopping_patience": None,
              "reduce_lr_patience": None}


def _epoch_params(name, epochs):
    from classifiers import model_defaults

    family = "transfer" if "backbone" in model_defaults(name) else "cnn"
    if family == "transfer":   # weights=None trains end to end in one stage
        return {"weights": None, "epochs_frozen": epochs, "epochs_finetune": 0, **_NO_EXTRAS}
    return {"epochs": epochs, **_NO_EXTRAS}


def one_epoch_seconds(name, images, labels, *, size, batch_size=32):
    """Seconds of the second training epoch of preset ``name`` on ``images``.

    The first epoch pays for graph tracing and kernel set-up once per fit;
    the second is what every further epoch costs.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.random.default_rng(0).integers(0, 255, (8, 32, 32)).astype(np.uint8)
    >>> one_epoch_seconds("cnn-small", images, np.arange(8) % 2, size=16) > 0
    True
    """
    import keras

    from classifiers import get_model

    epoch_seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epoch_seconds.append(time.perf_counter() - self.started)

    model = get_model(name, image_size=size, batch_size=batch_size, **_epoch_params(name, 2))
    # The models build their own callbacks; the timer joins them for this fit.
    own_callbacks = model._callbacks
    model._callbacks = lambda has_validation: [*own_callbacks(has_validation), EpochTimer()]
    model.fit(images, labels)
    return epoch_seconds[-1]


def main(argv=None):
    """Measure and print the per-epoch cost of each model."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_epoch_cost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True,
                        help="a dataset source (class folder, CSV, .npz) with a training split")
    parser.add_argument("--models", default="resnet50,inceptionv3,xception")
    parser.add_argument("--size", type=int, default=96, help="image side (default 96)")
    parser.add_argument("--n-images", type=int, default=128,
                        help="stratified training films timed (default 128)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    from benchmarks.bench.bench_pretrain import _stratified_subset
    from benchmarks.datasets import load_dataset

    dataset = load_dataset(args.data)
    train = dataset if dataset.split is None else dataset.subset(dataset.split == "train")
    if args.n_images >= len(train):
        sys.exit(f"--n-images must be below the {len(train)} training films.")
    sample = train.subset(_stratified_subset(train.labels, args.n_images, 0))
    sample = sample.load_images(size=args.size)
    print(f"{dataset.name}: {len(train)} training films; timing one epoch on "
          f"{len(sample)} at {args.size} px")
    print(f"{'model':<16} {'s/epoch (sample)':>17} {'s/epoch (all)':>14} {'train img/s':>12}")
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        seconds = one_epoch_seconds(name, sample.images, sample.labels, size=args.size,
                                    batch_size=args.batch_size)
        rate = len(sample) / seconds
        print(f"{name:<16} {seconds:>17.1f} {len(train) / rate:>14.0f} {rate:>12.1f}",
              flush=True)


if __name__ == "__main__":
    main()
