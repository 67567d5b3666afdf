"""Runs on a Dask cluster (``--scheduler``): same numbers as without it,
features made on the workers, a worker that dies, Dask not installed."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.runner import run_benchmark

#: A tiny four-class phantom run: two XGBoost presets, one holdout split.
_RUN = dict(models=("edge-xgb", "hog-xgb"), image_size=32, n_bootstrap=20, quiet=True,
            dataset_options={"n_images": 48})
_TIMINGS = ["fit_seconds", "predict_seconds", "images_per_second",
            "train_images_per_second"]


def _numbers(out):
    results = pd.read_csv(Path(out) / "results.csv")
    assert results["error"].isna().all(), results["error"].tolist()  # "" reads as NaN
    results = results.drop(columns=_TIMINGS)
    predictions = pd.read_csv(Path(out) / "predictions.csv")
    return results, predictions


def _needs_dask():
    """Skip without the Dask extra, except under CI, which must run these tests."""
    try:
        import distributed  # noqa: F401
        import xgboost.dask  # noqa: F401
    except ImportError as error:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Dask tests: pip install \".[dask]\" ({error})")
        pytest.skip(f"needs the Dask extra ({error})")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run without Dask."""
    out = tmp_path_factory.mktemp("reference") / "out"
    run_benchmark(out=str(out), **_RUN)
    return out


@pytest.fixture(scope="module")
def client():
    _needs_dask()
    from benchmarks.parts.distributed import open_client

    with open_client("local:2") as client:
        yield client


def test_scheduler_values_are_checked():
    from benchmarks.parts.distributed import check_scheduler

    for wrong in ("local:0", "local:x", "host:8786", "tcp://", 3):
        with pytest.raises(ValueError, match="local:N"):
            check_scheduler(wrong)


def test_without_dask_the_message_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    code = main(["run", "--models", "edge-xgb", "--scheduler", "local:2", "--quiet",
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert 'pip install "xray-bench[dask]"' in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before any work


def test_local_cluster_gives_the_same_metrics_and_splits(reference, tmp_path):
    _needs_dask()
    out = tmp_path / "out"
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"n_bootstrap": _RUN["n_bootstrap"], "scheduler": "local:2"}))
    code = main(["run", "--config", str(config), "--models", "edge-xgb,hog-xgb",
                 "--image-size", "32", "--quiet", "--data-option", "n_images=48",
                 "--out", str(out)])
    assert code == 0
    (results, predictions), (expected, expected_predictions) = _numbers(out), _numbers(
        reference)
    pd.testing.assert_frame_equal(results, expected, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(predictions, expected_predictions, rtol=0, atol=1e-6)
    assert (out / "splits.csv").read_bytes() == (reference / "splits.csv").read_bytes()
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["scheduler"] == "local:2"
    assert record["timings"]["cluster"] == {"scheduler": "local:2", "n_workers": 2}


def test_features_on_workers_equal_extract_features(client, tmp_path):
    import cv2

    from classifiers._xgb_dask import extract_on_cluster
    from xray_features import extract_features
    from xray_features.edges import BrightEdgeFeatures

    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (9, 32, 32), dtype=np.uint8)
    images[::2, 10:20, 12:16] = 255  # a bright bar in every other image
    extractor = BrightEdgeFeatures(image_size=32)
    expected, _ = extract_features(images, extractor, progress=False)
    X, kept, skipped, chunks = extract_on_cluster(client, images, extractor, chunk_size=2)
    np.testing.assert_array_equal(X, expected)
    assert kept.tolist() == list(range(9)) and skipped == []
    assert len(chunks) == 5 and [rows for _, rows in chunks] == [2, 2, 2, 2, 1]
    assert len(client.who_has([future for future, _ in chunks])) == 5
    # Files are read by the workers; one is not an image and is skipped.
    paths = []
    for index, image in enumerate(images[:4]):
        paths.append(tmp_path / f"film{index}.png")
        cv2.imwrite(str(paths[-1]), image)
    paths.insert(2, tmp_path / "notes.png")
    paths[2].write_text("not an image")
    cache = tmp_path / "cache"
    for _ in range(2):  # the second pass reads the workers' cache
        X, kept, skipped, _ = extract_on_cluster(client, paths, extractor, chunk_size=2,
                                                 cache_dir=cache, strict=False)
        np.testing.assert_array_equal(X, expected[:4])
        assert kept.tolist() == [0, 1, 3, 4] and [i for i, _ in skipped] == [2]
    assert len(list(cache.rglob("*.npy"))) == 4


def _kill_first_part(marker):
    """A worker plugin: the worker that starts the first part's task dies
    (defined here so that it travels by value to the workers)."""
    from distributed import WorkerPlugin

    class KillFirstPart(WorkerPlugin):
        def transition(self, key, start, finish, **kwargs):
            if finish == "executing" and str(key).startswith("part-"):
                try:
                    os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    return
                os._exit(1)

    return KillFirstPart()


def test_a_worker_that_dies_mid_run_does_not_lose_the_run(client, reference, tmp_path):
    marker = tmp_path / "killed"
    client.register_plugin(_kill_first_part(str(marker)), name="kill-first-part")
    try:
        out = tmp_path / "out"
        run_benchmark(out=str(out), scheduler=client.scheduler.address, **_RUN)
    finally:
        client.unregister_worker_plugin("kill-first-part")
    assert marker.exists()  # a worker did die
    (results, predictions), (expected, expected_predictions) = _numbers(out), _numbers(
        reference)
    assert results["error"].isna().all()
    pd.testing.assert_frame_equal(results, expected, rtol=0, atol=1e-6)
    pd.testing.assert_frame_equal(predictions, expected_predictions, rtol=0, atol=1e-6)
    # Parts saved on the cluster resume without it (and are not fitted again).
    again = run_benchmark(out=str(out), **_RUN)
    parts = json.loads((out / "run.json").read_text())["timings"]["parts"]
    assert set(parts.values()) == {"done earlier"}
    assert len(again) == len(results)
