"""Does ``xray-bench run`` fit in the same memory for 2,000 and 100,000 films?

For each number of films N (``--sizes``) the script writes N synthetic
radiographs (fracture phantoms of :mod:`xray_features.synthetic`, two class
folders) as 256-pixel PNG files, in parallel, into ``--root/films-N/``
(reused when a finished folder is there), then runs the harness on them as
a child process::

    xray-bench run --data films-N --models edge-xgb,cnn-small --image-size 256 \\
        --set cnn-small.epochs=1 --quiet --out runs/N [--scheduler S]

and prints, per N, the wall time, the peak resident memory of the run (the
largest process, from ``wait4``, and the sum over the run's process tree,
polled from ``/proc``), the size of the edge feature matrix (the one thing
that must grow with N) and the images per second of feature extraction
(decoding the PNG files and extracting edge features with
:func:`xray_features.extract_features`, on up to 2,000 of the files).

Examples::

    nice -n 10 python -m benchmarks.bench.bench_scale --sizes 2000,20000 --root /tmp/xray-scale
    python -m benchmarks.bench.bench_scale --sizes 2000 --scheduler local:2
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["main", "write_films", "run_harness"]

_TASK = "fracture"
_BLOCK = 500


def _write_block(folder, start, stop, size, seed):
    import cv2

    from xray_features.synthetic import TASKS, make_phantom, phantom_seed

    for index in range(start, stop):
        label = index % 2
        image = make_phantom(_TASK, label, size=size, seed=phantom_seed(seed, index))
        cv2.imwrite(str(folder / TASKS[_TASK][label] / f"film_{index:06d}.png"), image)
    return stop - start


def write_films(folder, n_films, *, size=256, seed=0, n_jobs=-1):
    """Write ``n_films`` phantoms as PNG files in class folders; reuse a finished folder.

    Returns the folder. A file ``.complete.json`` marks a finished one.
    (:func:`xray_features.synthetic.write_phantom_folder` makes the whole
    stack in memory first, in one process: 6.5 GB for 100,000 films.)
    """
    from joblib import Parallel, delayed

    from xray_features.synthetic import TASKS

    folder = Path(folder)
    marker = folder / ".complete.json"
    record = {"n_films": n_films, "size": size, "seed": seed, "task": _TASK}
    if marker.is_file() and json.loads(marker.read_text()) == record:
        return folder
    for name in TASKS[_TASK]:
        (folder / name).mkdir(parents=True, exist_ok=True)
    Parallel(n_jobs=n_jobs)(delayed(_write_block)(folder, start, min(start + _BLOCK, n_films),
                                                  size, seed)
                            for start in range(0, n_films, _BLOCK))
    marker.write_text(json.dumps(record))
    return folder


def _tree_rss(pid):
    """Resident bytes of ``pid`` and its descendants, from ``/proc``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        tree.add(current)
        todo.extend(child for child, parent in parents.items() if parent == current)
    total = 0
    for member in tree:
        try:
            with open(f"/proc/{member}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_harness(data, out, *, models, image_size, settings=(), scheduler=None):
    """Run ``xray-bench run`` as a child; return (seconds, peak RSS of the
    largest process, polled peak RSS of the process tree), RSS in bytes."""
    command = [sys.executable, "-m", "benchmarks", "run", "--data", str(data), "--models",
               models, "--image-size", str(image_size), "--quiet", "--fresh", "--out",
               str(out)]
    for setting in settings:
        command += ["--set", setting]
    if scheduler:
        command += ["--scheduler", scheduler]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peak_tree, done = [0], threading.Event()

    def poll():
        while not done.wait(0.5):
            peak_tree[0] = max(peak_tree[0], _tree_rss(child.pid))

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    poller.join()
    seconds = time.perf_counter() - started
    if child.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {child.returncode}")
    return seconds, usage.ru_maxrss * 1024, peak_tree[0]


def feature_rate(folder, *, n_files=2000, image_size=256, n_jobs=1):
    """Images per second of decoding + edge features on up to ``n_files`` files."""
    from xray_features.batch import extract_features
    from xray_features.combine import make_features

    files = sorted(str(path) for path in Path(folder).glob("*/*.png"))[:n_files]
    extractor = make_features("edge").set_params(image_size=image_size) \
        if "image_size" in make_features("edge").get_params() else make_features("edge")
    _, report = extract_features(files, extractor, n_jobs=n_jobs, progress=False)
    return report.images_per_second


def _n_features():
    from xray_features.combine import make_features

    return len(make_features("edge").get_feature_names_out())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="2000,20000,100000",
                        help="numbers of films, comma-separated (default 2000,20000,100000)")
    parser.add_argument("--root", default="results/scale",
                        help="folder for the films and the runs (default results/scale)")
    parser.add_argument("--models", default="edge-xgb,cnn-small")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1, help="cnn-small epochs (default 1)")
    parser.add_argument("--scheduler", help="passed on to xray-bench run --scheduler")
    parser.add_argument("--n-jobs", type=int, default=-1, help="workers writing the films")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    root = Path(args.root)
    n_features = _n_features()
    print(f"{'films':>8} {'wall s':>8} {'peak RSS MB':>12} {'tree RSS MB':>12} "
          f"{'features MB':>12} {'feature img/s':>14}", flush=True)
    rows = []
    for n_films in sizes:
        folder = write_films(root / f"films-{n_films}", n_films, size=args.image_size,
                             n_jobs=args.n_jobs)
        seconds, peak, tree = run_harness(
            folder, root / "runs" / f"{n_films}", models=args.models,
            image_size=args.image_size,
            settings=[f"cnn-small.epochs={args.epochs}"] if "cnn-small" in args.models else [],
            scheduler=args.scheduler)
        rate = feature_rate(folder, image_size=args.image_size)
        matrix = n_films * n_features * 4
        rows.append({"films": n_films, "seconds": round(seconds, 1),
                     "peak_rss_mb": round(peak / 2**20), "tree_rss_mb": round(tree / 2**20),
                     "feature_matrix_mb": round(matrix / 2**20, 1),
                     "feature_images_per_second": round(rate, 1)})
        print(f"{n_films:>8} {seconds:>8.0f} {peak / 2**20:>12.0f} {tree / 2**20:>12.0f} "
              f"{matrix / 2**20:>12.1f} {rate:>14.1f}", flush=True)
    if len(rows) > 1:
        base = rows[0]["peak_rss_mb"]
        for row in rows[1:]:
            ratio = (row["peak_rss_mb"] - row["feature_matrix_mb"]) / base
            print(f"{row['films']} films: peak RSS beyond the feature matrix = "
                  f"{ratio:.2f} x the {rows[0]['films']}-film figure")
    (root / f"scale-{args.models.replace(',', '+')}.json").write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
