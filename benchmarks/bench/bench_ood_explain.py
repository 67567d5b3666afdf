"""Measure the OOD guard, the explanations and the app's first-prediction time.

Three measurements, each printed as a table (and written as JSON with
``--out``)::

    python -m benchmarks.bench.bench_ood_explain ood        # AUROC per OOD kind, ID pass rate
    python -m benchmarks.bench.bench_ood_explain pointing   # pointing game on phantoms
    python -m benchmarks.bench.bench_ood_explain app MODEL_DIR   # browser timing

``ood``: a chest-film model (``--ood-model``, default all-xgb at 64 px) is
fitted on the PneumoniaMNIST-224 training films (``pneumonia224`` folders;
``--data``), which fits its guard with the threshold on the val films; the
guard then scores the test films (in distribution) and six synthetic
out-of-distribution sets of :mod:`benchmarks.bench.ood_sets`. AUROC uses the
guard's score with any fired sanity check ranked above every distance.

``pointing``: models are fitted on fracture phantoms at 128 px
(:mod:`xray_features.synthetic`, 'easy'), and for each correctly classified
fractured test phantom the peak of the heatmap of the "fracture" class is
a hit when it lies on the fracture mask or within 5 pixels of it.

``app``: the app is started on a free loopback port with the saved model
and a 1024 x 1024 PNG is uploaded through the page in headless Chromium;
the time from the click to the result on the page is reported.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["measure_ood", "measure_pointing", "measure_app", "main"]


def _default_data():
    here = Path(__file__).resolve().parents[2] / "shared" / "data" / "pneumonia224"
    return here if here.is_dir() else Path("/work/shared/data/pneumonia224")


def _load_split(root, split, limit=None, seed=0):
    from xray_features import load_image

    images, labels = [], []
    for label, folder in enumerate(sorted(p for p in (root / split).iterdir() if p.is_dir())):
        files = sorted(folder.iterdir())
        for file in files:
            images.append(load_image(file))
            labels.append(label)
    images, labels = np.stack(images), np.asarray(labels)
    if limit and len(images) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(images), limit, replace=False))
        images, labels = images[keep], labels[keep]
    return images, labels


def _auroc(id_scores, ood_scores):
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(id_scores)), np.ones(len(ood_scores))]
    return float(roc_auc_score(y, np.r_[id_scores, ood_scores]))


def _ranked(results):
    """Guard score with a fired sanity check ranked above any distance."""
    return np.array([1e9 if r.check not in ("", "distance") else r.score for r in results])


def measure_ood(data=None, *, model="all-xgb", image_size=64, n_per_kind=150,
                train_limit=None, seed=0):
    """AUROC per OOD kind and the pass rate of in-distribution test films."""
    from benchmarks.bench.ood_sets import OOD_KINDS, make_ood_set
    from classifiers import get_model
    from xray_features.preprocess import to_uint8

    root = Path(data) if data else _default_data()
    if not root.is_dir():
        raise FileNotFoundError(f"no pneumonia224 folder at '{root}'; pass --data")
    start = time.perf_counter()
    train, y_train = _load_split(root, "train", train_limit, seed)
    val, y_val = _load_split(root, "val")
    test, _ = _load_split(root, "test")
    params = {"image_size": image_size, "random_state": seed}
    if model.endswith("xgb"):
        params["n_estimators"] = 200
    fitted = get_model(model, **params).fit(train, y_train, validation_data=(val, y_val))
    fit_seconds = time.perf_counter() - start
    guard = fitted.ood_guard_
    id_results = guard.check(test)
    id_scores = _ranked(id_results)
    rows = [{"set": "in-distribution test films", "n": len(test),
             "flagged_percent": 100 * float(np.mean([r.flagged for r in id_results])),
             "auroc": None, "checks": _count_checks(id_results)}]
    for k, kind in enumerate(OOD_KINDS):
        images = make_ood_set(kind, n_per_kind, size=224, seed=seed + 1 + k, films=test)
        if kind == "photo":
            gray = [to_uint8(np.rint(im @ np.array([0.299, 0.587, 0.114])).clip(0, 255)
                             .astype(np.uint8)) for im in images]
            with_colour = guard.check(gray, images)
            rows.append(_ood_row("photo (colour file)", with_colour, id_scores))
            rows.append(_ood_row("photo (gray pixels only)", guard.check(gray), id_scores))
        else:
            rows.append(_ood_row(kind, guard.check(images), id_scores))
    return {"model": model, "image_size": image_size, "n_train": len(train),
            "threshold_source": guard.threshold_source_,
            "polarity_check": guard.polarity_ is not None,
            "id_pass_percent": 100 - rows[0]["flagged_percent"],
            "fit_seconds": round(fit_seconds, 1), "rows": rows}


def _count_checks(results):
    counts = {}
    for r in results:
        if r.flagged:
            counts[r.check] = counts.get(r.check, 0) + 1
    return counts


def _ood_row(name, results, id_scores):
    return {"set": name, "n": len(results),
            "flagged_percent": 100 * float(np.mean([r.flagged for r in results])),
            "auroc": _auroc(id_scores, _ranked(results)), "checks": _count_checks(results)}


def measure_pointing(models=("edge-xgb", "all-xgb", "cnn-small", "cnn"), *, n_train=400,
                     n_test=200, size=128, tolerance=5, seed=0, cnn_epochs=40,
                     task="fracture"):
    """Pointing-game hit rate per model on phantoms with known lesion masks
    (``task`` "fracture": long bones; "double-contour": joints)."""
    from scipy.ndimage import distance_transform_edt

    from classifiers import get_model
    from classifiers.explanations import heatmap_peak
    from xray_features.synthetic import make_joint, make_long_bone, make_phantom_dataset, \
        phantom_seed

    if task not in ("fracture", "double-contour"):
        raise ValueError(f"task must be 'fracture' or 'double-contour'; got {task!r}")
    images, labels, _ = make_phantom_dataset(task, n_images=n_train, size=size,
                                             seed=seed, difficulty="easy")
    n_val = n_train // 5
    test_seed = seed + 1000
    test, masks, y_test = [], [], []
    for i in range(n_test):
        fractured = i % 2 == 1
        if task == "fracture":
            image, mask = make_long_bone(size=size, fractured=fractured, difficulty="easy",
                                         seed=phantom_seed(test_seed, i), return_mask=True)
        else:
            image, mask = make_joint(size=size, double_contour=fractured, difficulty="easy",
                                     seed=phantom_seed(test_seed, i), return_mask=True)
        test.append(image), masks.append(mask), y_test.append(int(fractured))
    test, y_test = np.stack(test), np.asarray(y_test)
    rows = []
    for name in models:
        params = {"random_state": seed}
        if name.endswith("xgb"):
            params.update(image_size=size, n_estimators=200)
        else:
            params.update(image_size=size, epochs=cnn_epochs, augment=False,
                          early_stopping_patience=10)
        start = time.perf_counter()
        model = get_model(name, **params).fit(
            images[n_val:], labels[n_val:], validation_data=(images[:n_val], labels[:n_val]))
        fit_seconds = time.perf_counter() - start
        explanations = model.explain(test)
        predicted = np.array([e.predicted for e in explanations])
        positives = [i for i in range(n_test) if y_test[i] == 1 and predicted[i] == 1]
        hits = 0
        for i in positives:
            row, col = heatmap_peak(explanations[i].heatmap(1))
            hits += distance_transform_edt(~masks[i])[row, col] <= tolerance
        rows.append({"model": name, "accuracy": float(np.mean(predicted == y_test)),
                     "correct_positives": len(positives),
                     "pointing_percent": 100 * hits / max(len(positives), 1),
                     "method": explanations[0].method, "fit_seconds": round(fit_seconds, 1)})
    return {"task": task, "size": size, "tolerance_px": tolerance, "n_test": n_test,
            "rows": rows}


def measure_app(model_dir, *, side=1024, repeats=3):
    """Seconds from the click to the result on the page, first and repeated."""
    import threading

    import cv2
    import uvicorn
    from playwright.sync_api import sync_playwright

    from benchmarks.app import create_app

    start = time.perf_counter()
    app = create_app(model_dir)
    startup = time.perf_counter() - start
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    rng = np.random.default_rng(0)
    film = cv2.GaussianBlur(rng.integers(0, 256, (side, side)).astype(np.uint8), (0, 0), 8)
    path = Path(__import__("tempfile").mkdtemp()) / "film1024.png"
    path.write_bytes(cv2.imencode(".png", film)[1].tobytes())
    times = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking", "--disable-component-update"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            for _ in range(repeats):
                page.set_input_files("#files", str(path))
                t0 = time.perf_counter()
                page.click("#predict")
                page.wait_for_selector("#status[data-seconds]", state="attached")
                page.wait_for_selector("tr.result")
                times.append(time.perf_counter() - t0)
                page.evaluate("document.getElementById('status').removeAttribute"
                              "('data-seconds')")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"model_dir": str(model_dir), "image": f"{side}x{side} PNG",
            "startup_seconds": round(startup, 2), "first_seconds": round(times[0], 3),
            "repeat_seconds": [round(t, 3) for t in times[1:]]}


def _print_ood(result):
    print(f"OOD guard of {result['model']} at {result['image_size']} px, fitted on "
          f"{result['n_train']} films; threshold from {result['threshold_source']}; "
          f"polarity check {'on' if result['polarity_check'] else 'off'}")
    print(f"{'set':<30}{'n':>6}{'flagged %':>11}{'AUROC':>8}  checks")
    for row in result["rows"]:
        auroc = "" if row["auroc"] is None else f"{row['auroc']:.4f}"
        print(f"{row['set']:<30}{row['n']:>6}{row['flagged_percent']:>11.1f}{auroc:>8}  "
              f"{row['checks']}")
    print(f"in-distribution test films passing: {result['id_pass_percent']:.1f}%")


def _print_pointing(result):
    print(f"Pointing game: {result['task']} phantoms {result['size']} px, peak within "
          f"{result['tolerance_px']} px of the mask, {result['n_test']} test phantoms")
    print(f"{'model':<12}{'accuracy':>10}{'positives':>11}{'pointing %':>12}  method")
    for row in result["rows"]:
        print(f"{row['model']:<12}{row['accuracy']:>10.3f}{row['correct_positives']:>11}"
              f"{row['pointing_percent']:>12.1f}  {row['method']}")


def main(argv=None):
    """Command-line entry: ``python -m benchmarks.bench.bench_ood_explain {ood,pointing,app}``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=("ood", "pointing", "app"))
    parser.add_argument("model_dir", nargs="?", help="saved model (for 'app')")
    parser.add_argument("--data", help="pneumonia224 folder (for 'ood')")
    parser.add_argument("--ood-model", default="all-xgb")
    parser.add_argument("--models", default="edge-xgb,all-xgb,cnn-small,cnn")
    parser.add_argument("--task", default="fracture", choices=("fracture", "double-contour"))
    parser.add_argument("--epochs", type=int, default=40, help="CNN epochs (pointing)")
    parser.add_argument("--out", help="also write the result as JSON to this file")
    args = parser.parse_args(argv)
    if args.what == "ood":
        result = measure_ood(args.data, model=args.ood_model)
        _print_ood(result)
    elif args.what == "pointing":
        result = measure_pointing(tuple(m for m in args.models.split(",") if m),
                                  task=args.task, cnn_epochs=args.epochs)
        _print_pointing(result)
    else:
        if not args.model_dir:
            parser.error("'app' needs MODEL_DIR")
        result = measure_app(args.model_dir)
        print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
