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
process and the same run without ``--scheduler``. Extraction is also
measured in CPU seconds of the worker processes per image, which a machine
shared with other work inflates far less than wall time. It then projects to
``--project`` films (default: NIH ChestX-ray14, 112,120) from the measured
per-image costs, adding the cost of decoding a film of ``--project-size``
pixels (default 1024, the NIH originals) instead of the generated 256-pixel
ones, measured here on a few such files.

Without ``--data`` it writes ``--n-images`` phantom films of 256 pixels as
PNG files (two class folders) to a temporary folder first.

Example::

    nice -n 10 python -m benchmarks.bench.bench_dask --n-images 2000 --workers 1 2
"""

import argparse
import resource
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
    """CPU seconds per film to read and shrink a ``size``-pixel PNG to 224 pixels."""
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
        started = _cpu_seconds()
        for path in paths:
            cv2.resize(cv2.imread(path, cv2.IMREAD_GRAYSCALE), (224, 224),
                       interpolation=cv2.INTER_AREA)
        return (_cpu_seconds() - started) / n


def _cpu_seconds():
    """CPU seconds of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_seconds(folder, model, image_size, out, scheduler=None):
    from benchmarks.runner import run_benchmark

    started = time.perf_counter()
    run_benchmark(data=str(folder), models=(model,), image_size=image_size, out=str(out),
                  quiet=True, n_bootstrap=200, scheduler=scheduler)
    return time.perf_counter() - started


def measure(folder, *, model="edge-xgb", image_size=224, workers=(1, 2), scratch):
    """Rows of figures: one without Dask (``workers`` 0), one per worker count."""
    from classifiers._xgb_dask import extract_on_cluster
    from benchmarks.parts.distributed import open_client
    from xray_features import extract_features

    paths = [str(p) for p in _files(folder)]
    extractor = _extractor(model, image_size)
    extract_features(paths[:8], extractor, progress=False)  # imports and first calls
    started, cpu = time.perf_counter(), _cpu_seconds()
    extract_features(paths, extractor, progress=False)
    rows = [{"workers": 0, "start_s": 0.0,
             "extract_img_s": len(paths) / (time.perf_counter() - started),
             "cpu_s": (_cpu_seconds() - cpu) / len(paths),
             "run_s": _run_seconds(folder, model, image_size, Path(scratch) / "run-0")}]
    for count in workers:
        started = time.perf_counter()
        with open_client(f"local:{count}") as client:
            start_s = time.perf_counter() - started
            extract_on_cluster(client, paths[:8 * count], extractor, chunk_size=8)  # warm-up
            started, cpu = time.perf_counter(), sum(client.run(_cpu_seconds).values())
            extract_on_cluster(client, paths, extractor, chunk_size=64)
            rate = len(paths) / (time.perf_counter() - started)
            cpu = (sum(client.run(_cpu_seconds).values()) - cpu) / len(paths)
            run_s = _run_seconds(folder, model, image_size, Path(scratch) / f"run-{count}",
                                 scheduler=client.scheduler.address)
        rows.append({"workers": count, "start_s": start_s, "extract_img_s": rate,
                     "cpu_s": cpu, "run_s": run_s})
    return rows


def project(rows, n_images, n_films, decode_s, decode_here_s):
    """Projected hours for ``n_films``, adding the extra decoding of larger
    originals (``decode_s - decode_here_s`` per film):

    * ``extract_h``: from the measured CPU time per image, spread evenly over
      the workers (as if each had a free core);
    * ``extract_wall_h``: from the measured wall-clock rate here;
    * ``run_h``: the whole run's wall time, scaled linearly from ``n_images``
      (fixed costs such as the reports are scaled too, so this is high).
    """
    projected = []
    for row in rows:
        parallel = max(1, row["workers"])
        extra = max(0.0, decode_s - decode_here_s)
        projected.append({
            **row, "extract_h": n_films * (row["cpu_s"] + extra) / parallel / 3600,
            "extract_wall_h": n_films * (1 / row["extract_img_s"] + extra / parallel) / 3600,
            "run_h": n_films * (row["run_s"] / n_images + extra / parallel) / 3600})
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
    print("| workers | cluster start (s) | extraction (img/s) | CPU per image (ms) "
          "| run wall (s) | projected extraction, free cores (h) | projected extraction, "
          "rate here (h) | projected run (h) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in project(rows, n_images, args.project, decode_s, decode_here_s):
        name = "no Dask" if row["workers"] == 0 else f"local:{row['workers']}"
        print(f"| {name} | {row['start_s']:.1f} | {row['extract_img_s']:.1f} | "
              f"{row['cpu_s'] * 1000:.2f} | {row['run_s']:.1f} | {row['extract_h']:.2f} | "
              f"{row['extract_wall_h']:.2f} | {row['run_h']:.2f} |")
    print(f"projected to {args.project:,} films of {args.project_size} px: per image "
          f"(CPU per image + {(decode_s - decode_here_s) * 1000:.1f} ms more decoding) "
          "/ workers; runs scaled linearly")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
