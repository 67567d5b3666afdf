"""Throughput and memory benchmark of the handcrafted feature extractors.

Throughput mode writes synthetic radiograph phantoms as PNG files and, for
each working size, times (median images per second of several repeats):

* decoding and resizing alone (``cv2.imread`` + ``cv2.resize``), the floor
  any file-based pipeline pays;
* the straightforward per-image scikit-image loop a notebook would write
  (``hog`` + ``local_binary_pattern`` + ``graycomatrix``/``graycoprops`` +
  NumPy/SciPy statistics + Canny on the thresholded image), with the same
  feature settings as the toolkit's presets;
* each toolkit extractor ('edge', 'hog', 'texture') and the full stack
  ('all'), on decoded images and end to end from the files with
  :func:`xray_features.extract_features`, serially and with ``--n-jobs``.

Serial rates are per core (CPU time of all threads; OpenCV may use several
unless ``--cv2-threads 1``); parallel rates are also divided by the number of
workers, which run OpenCV single-threaded. Memory mode streams many images (a few files repeated) through
:func:`xray_features.extract_features` and prints the resident memory at
checkpoints, to show that it does not grow with the number of images beyond
the output matrix itself.

Examples::

    python -m benchmarks.bench.bench_features --sizes 128 224 --n-images 200 --n-jobs 2
    python -m benchmarks.bench.bench_features --memory --n-images 20000
"""

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from xray_features.combine import FEATURE_PRESETS

__all__ = ["main", "skimage_features", "write_phantom_pngs"]

_PRESETS = tuple(FEATURE_PRESETS)
_GLCM_PROPERTIES = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")


def write_phantom_pngs(folder, n_images, *, size=512, seed=0):
    """Write ``n_images`` phantoms (bones and joints, all classes) as PNG files."""
    import cv2

    from xray_features.synthetic import make_phantom_dataset

    images, _, _ = make_phantom_dataset("four-class", n_images=n_images, size=size, seed=seed)
    paths = []
    for index, image in enumerate(images):
        paths.append(Path(folder) / f"phantom_{index:05d}.png")
        cv2.imwrite(str(paths[-1]), image)
    return paths


def _decode_resize(path, size):
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)


def skimage_features(image):
    """The per-image scikit-image recipe: HOG, LBP, GLCM, statistics, edges.

    Same settings as the toolkit's presets (HOG 9 orientations, 16-pixel
    cells, 2 x 2 blocks; uniform LBP P=8 at R=1, 2; GLCM at distances 1, 3, 5,
    four angles, 32 levels; threshold 150 then Canny with sigma 1).
    """
    from scipy import stats
    from skimage.feature import (canny, graycomatrix, graycoprops, hog,
                                 local_binary_pattern)

    parts = [hog(image, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2),
                 block_norm="L2-Hys")]
    for radius in (1, 2):
        codes = local_binary_pattern(image, 8, radius, "uniform")
        parts.append(np.histogram(codes, bins=10, range=(0, 10), density=True)[0])
    glcm = graycomatrix(image // 8, [1, 3, 5], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                        levels=32, symmetric=True, normed=True)
    parts += [graycoprops(glcm, prop).ravel() for prop in _GLCM_PROPERTIES]
    values = image.ravel() / 255.0
    counts = np.histogram(values, bins=256, range=(0, 1))[0] / values.size
    counts = counts[counts > 0]
    parts.append(np.r_[values.mean(), values.std(), stats.skew(values), stats.kurtosis(values),
                       -np.sum(counts * np.log2(counts)),
                       np.percentile(values, [1, 5, 25, 50, 75, 95, 99])])
    mask = image > 150
    edges = canny(mask.astype(np.float64), sigma=1.0)
    parts.append(np.r_[mask.mean(), edges.mean()])
    return np.nan_to_num(np.concatenate(parts))


def _measure(tasks, repeats):
    """Median CPU and wall milliseconds per image of each task.

    ``tasks`` maps a name to ``(function, items)``. Repeats run round-robin
    over the tasks, so background load affects all of them alike; CPU time
    (all threads of this process) gives the per-core cost even when other
    processes compete for the cores.
    """
    for function, items in tasks.values():
        function(items[:1])   # warm up: lazy imports, first-call allocations
    cpu = {name: [] for name in tasks}
    wall = {name: [] for name in tasks}
    for _ in range(repeats):
        for name, (function, items) in tasks.items():
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            function(items)
            cpu[name].append(1000 * (time.process_time() - cpu_start) / len(items))
            wall[name].append(1000 * (time.perf_counter() - wall_start) / len(items))
    return {name: (statistics.median(cpu[name]), statistics.median(wall[name]))
            for name in tasks}


def _extractor(preset, size):
    from xray_features.combine import make_features

    extractor = make_features(preset)
    if preset == "all":
        return extractor.set_params(edge__image_size=size, hog__image_size=size,
                                    texture__image_size=size)
    return extractor.set_params(image_size=size)


def _serial_tasks(paths, size):
    from xray_features.batch import extract_features

    decoded = [_decode_resize(path, size) for path in paths]
    tasks = {
        "decode+resize (cv2)": (lambda items: [_decode_resize(p, size) for p in items], paths),
        "skimage loop, features only": (lambda items: [skimage_features(i) for i in items],
                                        decoded),
        "skimage loop, from files": (
            lambda items: [skimage_features(_decode_resize(p, size)) for p in items], paths),
    }
    for preset in _PRESETS:
        extractor = _extractor(preset, size)
        tasks[f"{preset}, features only"] = (
            lambda items, e=extractor: [e.extract_one(i) for i in items], decoded)
    stack = _extractor("all", size)
    tasks["all, from files (extract_features)"] = (
        lambda items: extract_features(items, stack, progress=False), paths)
    return tasks


def _throughput(args):
    import cv2

    from xray_features.batch import extract_features

    if args.cv2_threads:
        cv2.setNumThreads(args.cv2_threads)   # this process only: a benchmark setting
    with tempfile.TemporaryDirectory() as folder:
        paths = write_phantom_pngs(folder, args.n_images, size=args.source_size)
        print(f"{args.n_images} phantom PNGs of {args.source_size} x {args.source_size}; "
              f"medians of {args.repeats} repeats; serial rows run in this process "
              f"with {cv2.getNumThreads()} OpenCV thread(s)\n")
        for size in args.sizes:
            rows = _measure(_serial_tasks(paths, size), args.repeats)
            parallel = None
            if args.n_jobs > 1:
                stack = _extractor("all", size)
                extract_features(paths[:4 * args.n_jobs], stack, n_jobs=args.n_jobs,
                                 chunk_size=1, progress=False)   # start the workers
                walls = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    extract_features(paths, stack, n_jobs=args.n_jobs, progress=False)
                    walls.append(1000 * (time.perf_counter() - started) / len(paths))
                parallel = statistics.median(walls)
            _print_size(size, rows, args.n_jobs, parallel)


def _print_size(size, rows, n_jobs, parallel):
    n_features = len(_extractor("all", size).get_feature_names_out())
    print(f"working size {size} x {size} ('all': {n_features} features)")
    print(f"  {'':<38} {'CPU ms/img':>10} {'img/s/core':>10} {'wall ms/img':>11}")
    for name, (cpu, wall) in rows.items():
        print(f"  {name:<38} {cpu:10.2f} {1000 / cpu:10.1f} {wall:11.2f}")
    if parallel is not None:
        print(f"  {f'all, from files, n_jobs={n_jobs}':<38} {'':>10} "
              f"{1000 / parallel / n_jobs:10.1f} {parallel:11.2f}   "
              f"(total {1000 / parallel:.1f} img/s)")
    cpu = {name: values[0] for name, values in rows.items()}
    from_files = cpu["all, from files (extract_features)"]
    print(f"  'all' vs the skimage loop (CPU): "
          f"{cpu['skimage loop, features only'] / cpu['all, features only']:.1f}x faster on "
          f"decoded images, {cpu['skimage loop, from files'] / from_files:.1f}x from files")
    print(f"  'all' from files costs {from_files / cpu['decode+resize (cv2)']:.2f}x "
          f"decode+resize (skimage loop: "
          f"{cpu['skimage loop, from files'] / cpu['decode+resize (cv2)']:.2f}x)\n")


def _rss_mb(pid="self"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children_rss_mb():
    total = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            total += sum(_rss_mb(pid) for pid in (task / "children").read_text().split())
        except OSError:
            return float("nan")
    return total


_MEMORY_HEADER = (f"{'images':>8} {'RSS MB':>8} {'peak MB':>8} {'workers MB':>11} "
                  f"{'output MB':>10} {'RSS - output':>13}")


class _RecordingPaths:
    """A lazy sequence of ``n`` paths cycling over ``paths`` that prints memory
    whenever a chunk starting past the next checkpoint is requested."""

    def __init__(self, paths, n, checkpoints, n_features):
        self.paths, self.n, self.n_features = list(paths), n, n_features
        self.checkpoints = sorted(checkpoints)

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        if not isinstance(index, slice):
            return self.paths[index % len(self.paths)]
        start, stop, _ = index.indices(self.n)
        if self.checkpoints and start >= self.checkpoints[0]:
            self.checkpoints.pop(0)
            rss = _rss_mb()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            output = start * self.n_features * 4 / 2 ** 20   # rows written so far, at most
            print(f"{start:>8} {rss:8.1f} {peak:8.1f} {_children_rss_mb():11.1f} "
                  f"{output:10.1f} {rss - output:13.1f}", flush=True)
        return [self.paths[i % len(self.paths)] for i in range(start, stop)]


def _memory(args):
    from xray_features.batch import extract_features

    size = args.sizes[0]
    extractor = _extractor(args.preset, size)
    n_features = len(extractor.get_feature_names_out())
    with tempfile.TemporaryDirectory() as folder:
        files = write_phantom_pngs(folder, 16, size=args.source_size)
        checkpoints = np.linspace(0, args.n_images, 11)[:-1].astype(int).tolist()
        paths = _RecordingPaths(files, args.n_images, checkpoints, n_features)
        print(f"streaming {args.n_images} PNGs of {args.source_size} x {args.source_size} "
              f"(16 files repeated) through '{args.preset}' at {size} x {size} "
              f"({n_features} features), n_jobs={args.n_jobs}, chunk_size={args.chunk_size}")
        print(_MEMORY_HEADER)
        started = time.perf_counter()
        X, report = extract_features(paths, extractor, n_jobs=args.n_jobs,
                                     chunk_size=args.chunk_size, progress=False)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"done: X {X.shape} ({X.nbytes / 2 ** 20:.1f} MB), final RSS {_rss_mb():.1f} MB, "
          f"peak RSS {peak:.1f} MB, {report.n_images / seconds:.1f} images/s, "
          f"{seconds:.1f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench.bench_features",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224],
                        help="working sizes (memory mode uses the first)")
    parser.add_argument("--n-images", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source-size", type=int, default=512,
                        help="side of the PNG files (decode cost grows with it)")
    parser.add_argument("--memory", action="store_true", help="run the memory check")
    parser.add_argument("--preset", default="all", choices=_PRESETS,
                        help="extractor of the memory check")
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--cv2-threads", type=int, default=0,
                        help="OpenCV threads of the serial rows (default: OpenCV's "
                             "own choice); 1 makes their CPU time a single core's, as "
                             "in the parallel workers")
    args = parser.parse_args(argv)
    if args.n_images < 1 or args.repeats < 1 or args.n_jobs < 1 or args.cv2_threads < 0:
        parser.error("--n-images, --repeats and --n-jobs must be >= 1, --cv2-threads >= 0")
    (_memory if args.memory else _throughput)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
