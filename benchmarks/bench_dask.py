"""Scale figures of ``--scheduler local:N``: feature extraction and whole runs.

For each worker count it starts a local Dask cluster (one thread per worker
process) and times

* feature extraction alone: the preset's extractor mapped over the PNG
  files by tasks on the workers (:func:`classifiers._xgb_dask.extract_on_cluster`,
  files read by the workers), in images per second, after one warm-up chunk;
* the whole run: ``xray-bench run --data DIR --models MODEL --image-size SIZE
  --scheduler ADDRESS`` on the same cluster (loading, splits, every part,
  the reports);

and once without Dask: :func:`xray_features.extract_features` in this
process and the same run without ``--scheduler``. It then projects both to
``--project`` films (default: NIH ChestX-ray14, 112,120) from the measured
per-image costs, adding the cost of decoding a film of ``--project-size``
pixels (default 1024, the NIH originals) instead of the generated 256-pixel
ones, measured here on a few such files.

Without ``--data`` it writes ``--n-images`` phantom films of 256 pixels as
PNG files (two class folders) to a temporary folder first.

Example::

    nice -n 10 python -m benchmarks.bench_dask --n-images 2000 --workers 1 2
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["main"]

_NIH_FILMS = 112_120


def _files(folder):
    return sorted(p for p in Path(folder).rglob("*.png") if p.is_file())


def _extractor(model, image_size):
    from classifiers import get_model

    classifier = get_model(model, image_size=image_size)
    return classifier._make_extractor()


def _decode_seconds(size, n=20, seed=0):
    """Seconds per film to read and shrink a ``size``-pixel PNG to 224 pixels."""
    import cv2

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(n):  # film-like: smooth with noise, so PNG compresses as films do
            image = cv2.GaussianBlur(rng.integers(0, 255, (size, size), dtype=np.uint8),
                                     (0, 0), 8) + rng.integers(0, 8, (size, size),
                                                               dtype=np.uint8)
            paths.append(str(Path(folder) / f"film{index}.png"))
            cv2.imwrite(paths[-1], image)
        started = time.perf_counter()
        for path in paths:
            cv2.resize(cv2.imread(path, cv2.IMREAD_GRAYSCALE), (224, 224),
                       interpolation=cv2.INTER_AREA)
        return (time.perf_counter() - started) / n


def _run_seconds(folder, model, image_size, out, scheduler=None):
    from benchmarks.runner import run_benchmark

    started = time.perf_counter()
    run_benchmark(data=str(folder), models=(model,), image_size=image_size, out=str(out),
                  quiet=True, n_bootstrap=200, scheduler=scheduler)
    return time.perf_counter() - started


def measure(folder, *, model="edge-xgb", image_size=224, workers=(1, 2), scratch):
    """Rows of figures: one without Dask (``workers`` 0), one per worker count."""
    from classifiers._xgb_dask import extract_on_cluster
    from benchmarks.distributed import open_client
    from xray_features import extract_features

    paths = [str(p) for p in _files(folder)]
    extractor = _extractor(model, image_size)
    extract_features(paths[:8], extractor, progress=False)  # imports and first calls
    started = time.perf_counter()
    extract_features(paths, extractor, progress=False)
    rows = [{"workers": 0, "start_s": 0.0,
             "extract_img_s": len(paths) / (time.perf_counter() - started),
             "run_s": _run_seconds(folder, model, image_size, Path(scratch) / "run-0")}]
    for count in workers:
        started = time.perf_counter()
        with open_client(f"local:{count}") as client:
            start_s = time.perf_counter() - started
            extract_on_cluster(client, paths[:8 * count], extractor, chunk_size=8)  # warm-up
            started = time.perf_counter()
            extract_on_cluster(client, paths, extractor, chunk_size=64)
            rate = len(paths) / (time.perf_counter() - started)
            run_s = _run_seconds(folder, model, image_size, Path(scratch) / f"run-{count}",
                                 scheduler=client.scheduler.address)
        rows.append({"workers": count, "start_s": start_s, "extract_img_s": rate,
                     "run_s": run_s})
    return rows


def project(rows, n_images, n_films, decode_s, decode_here_s):
    """Projected hours for ``n_films``: extraction alone, and the whole run
    scaled linearly from ``n_images``; both add the extra decoding of the
    larger originals (``decode_s - decode_here_s`` per film, spread over the
    workers)."""
    projected = []
    for row in rows:
        parallel = max(1, row["workers"])
        extra = max(0.0, decode_s - decode_here_s) / parallel
        per_image = 1 / row["extract_img_s"] + extra
        run_per_image = (row["run_s"] / n_images) + extra
        projected.append({**row, "extract_h": n_films * per_image / 3600,
                          "run_h": n_films * run_per_image / 3600})
    return projected


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="a folder of PNG films in class folders "
                        "(default: generate --n-images phantoms)")
    parser.add_argument("--n-images", type=int, default=2000)
    parser.add_argument("--model", default="edge-xgb")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--project", type=int, default=_NIH_FILMS,
                        help="films to project to (default NIH ChestX-ray14, 112,120)")
    parser.add_argument("--project-size", type=int, default=1024,
                        help="side of those films in pixels (default 1024)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.data
        if folder is None:
            from xray_features.synthetic import write_phantom_folder

            folder = write_phantom_folder(Path(scratch) / "films", n_images=args.n_images,
                                          size=256)
        n_images = len(_files(folder))
        rows = measure(folder, model=args.model, image_size=args.image_size,
                       workers=args.workers, scratch=scratch)
    decode_s, decode_here_s = _decode_seconds(args.project_size), _decode_seconds(256)
    print(f"{n_images} films, {args.model} at {args.image_size} px; decoding a "
          f"{args.project_size}-px PNG to 224 px: {decode_s * 1000:.1f} ms, a 256-px one: "
          f"{decode_here_s * 1000:.1f} ms")
    print("| workers | cluster start (s) | extraction (img/s) | run wall (s) "
          f"| projected extraction, {args.project:,} films (h) | projected run (h) |")
    print("|---|---|---|---|---|---|")
    for row in project(rows, n_images, args.project, decode_s, decode_here_s):
        name = "no Dask" if row["workers"] == 0 else f"local:{row['workers']}"
        print(f"| {name} | {row['start_s']:.1f} | {row['extract_img_s']:.1f} | "
              f"{row['run_s']:.1f} | {row['extract_h']:.2f} | {row['run_h']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
