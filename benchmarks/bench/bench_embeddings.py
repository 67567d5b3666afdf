"""What frozen EfficientNet-Lite embeddings cost beside decoding the films.

For the image files of a folder (every file below it, in sorted order):

1. decode every film and resize it with padding to ``--size``, as a run's
   pixel cache does (:class:`xray_features.image_source.ImageSource`);
2. compute the embeddings of the decoded films with
   :class:`classifiers.embeddings.BackboneEmbeddings` (no cache), after one
   warm-up batch that builds the network and loads the weights;

and print both times, images per second, their ratio and the load average
before and after (the machine may be shared).

Example (all 5,856 pneumonia224 films at 224 px)::

    python -m benchmarks.bench.bench_embeddings --data ../shared/data/pneumonia224
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from classifiers.embeddings import BackboneEmbeddings
from xray_features.image_source import ImageSource

__all__ = ["main"]

_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm"}


def _load():
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv=None):
    """Time decoding and embedding; print one line each and their ratio."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_embeddings",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a folder of image files")
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-images", type=int, default=None, help="the first N files only")
    args = parser.parse_args(argv)

    files = sorted(str(p) for p in Path(args.data).rglob("*")
                   if p.is_file() and p.suffix.lower() in _SUFFIXES)[:args.n_images]
    if not files:
        raise SystemExit(f"{args.data}: no image files")
    print(f"{len(files)} films, load average {_load()}", flush=True)
    tic = time.perf_counter()
    source = ImageSource(files, args.size)
    pixels = np.asarray(source)
    decode = time.perf_counter() - tic
    print(f"decode + resize to {args.size} px: {decode:.1f} s "
          f"({len(files) / decode:.0f} img/s)", flush=True)
    extractor = BackboneEmbeddings(args.backbone, image_size=args.size,
                                   batch_size=args.batch_size)
    extractor.extract_many(list(pixels[:args.batch_size]))  # builds the network, off the clock
    tic = time.perf_counter()
    embeddings = np.concatenate([extractor.extract_many(list(pixels[start:start + 256]))
                                 for start in range(0, len(pixels), 256)])
    embed = time.perf_counter() - tic
    print(f"embeddings {embeddings.shape}: {embed:.1f} s ({len(files) / embed:.0f} img/s, "
          f"{1000 * embed / len(files):.1f} ms/img)")
    print(f"embedding / decoding: {embed / decode:.1f}x; load average {_load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
