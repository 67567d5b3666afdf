"""Keras backends: choosing one, recording it, and models that cross backends.

The round-trip tests train under PyTorch and JAX in a subprocess, save,
reload under TensorFlow and compare predictions. Under CI (the ``CI``
environment variable set) a missing PyTorch or JAX is a failure, not a
skip: CI installs both so that those paths are always exercised.

Under JAX, building a transfer backbone compiles one XLA program per weight
shape (about 110 s of CPU for MobileNetV2), so the JAX round trip covers the
small CNN by default and adds MobileNetV2 when ``XRAY_BENCH_SLOW_TESTS=1``.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from classifiers import backends

ROOT = Path(__file__).resolve().parents[1]

TRAIN = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    from classifiers import CNNClassifier, TransferClassifier
    out, names = sys.argv[1], sys.argv[2].split(",")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 80, (12, 36, 36)).astype(np.uint8)
    y = np.arange(12) % 2
    images[y == 1, 8:28, 8:28] = 220
    fast = dict(batch_size=6, validation_split=0, early_stopping_patience=None,
                reduce_lr_patience=None)
    models = {
        "cnn-small": CNNClassifier("small", image_size=16, epochs=2, **fast),
        "mobilenetv2": TransferClassifier("mobilenetv2", weights=None, image_size=32,
                                          epochs_frozen=1, epochs_finetune=0, **fast),
    }
    for name in names:
        model = models[name]
        model.fit(images, y)
        model.save(f"{out}/{name}")
        np.save(f"{out}/{name}.npy", model.predict_proba(images))
    np.save(f"{out}/images.npy", images)
    print(json.dumps({"backend": keras.backend.backend()}))
""")

PREDICT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    from classifiers import load_model
    out, names = sys.argv[1], sys.argv[2].split(",")
    images = np.load(f"{out}/images.npy")
    diffs = {}
    for name in names:
        proba = load_model(f"{out}/{name}").predict_proba(images)
        diffs[name] = float(np.abs(proba - np.load(f"{out}/{name}.npy")).max())
    print(json.dumps({"backend": keras.backend.backend(), "diffs": diffs}))
""")


def _python(script, backend, out, names):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, str(out), ",".join(names)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _require(module):
    if importlib.util.find_spec(module) is not None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{module} is not installed, but CI must run the {module}-backend test "
                    "(.ci/run installs torch==2.13.0 and jax)")
    pytest.skip(f"{module} is not installed")


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_models_trained_on_another_backend_predict_the_same_under_tensorflow(
        backend, tmp_path):
    _require(backend)
    names = ["cnn-small", "mobilenetv2"]
    if backend == "jax" and os.environ.get("XRAY_BENCH_SLOW_TESTS") != "1":
        names = ["cnn-small"]
    trained = _python(TRAIN, backend, tmp_path, names)
    assert trained["backend"] == backend
    reloaded = _python(PREDICT, "tensorflow", tmp_path, names)
    assert reloaded["backend"] == "tensorflow"
    assert set(reloaded["diffs"]) == set(names)
    for name, diff in reloaded["diffs"].items():
        assert diff < 1e-4, f"{name}: largest difference {diff:.2e}"
    sidecar = json.loads((tmp_path / names[-1] / "model.json").read_text())
    assert sidecar["native"]["keras_backend"] == backend


def test_use_backend_checks_the_name_and_the_library(monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(ValueError, match=r"backend must be one of \['jax', 'tensorflow'"):
        backends.use_backend("theano")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else real(name, *a))
    with pytest.raises(ValueError, match=r"needs the 'jax' package, which is not installed"):
        backends.use_backend("jax")
    assert backends.use_backend(None) is None and "KERAS_BACKEND" not in os.environ


def test_use_backend_refuses_a_switch_once_keras_is_loaded(monkeypatch):
    import keras

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    loaded = keras.backend.backend()
    other = next(name for name in ("torch", "tensorflow") if name != loaded)
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    with pytest.raises(ValueError, match=f"already loaded with the '{loaded}' backend"):
        backends.use_backend(other)
    assert backends.use_backend(loaded) == loaded
    assert os.environ["KERAS_BACKEND"] == loaded


def test_cli_backend_option_reports_a_late_switch(monkeypatch, capsys):
    import keras

    from benchmarks.cli import main

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    other = "torch" if keras.backend.backend() != "torch" else "tensorflow"
    if importlib.util.find_spec(other) is None:
        pytest.skip(f"{other} is not installed")
    assert main(["run", "--backend", other, "--models", "edge-xgb"]) == 2
    assert "already loaded" in capsys.readouterr().err


def test_backend_record_names_backend_and_device():
    import keras

    record = backends.backend_record(["hog-xgb", "cnn-small"])
    assert record["keras_backend"] == keras.backend.backend()
    assert record["device"] in ("CPU", "GPU") and record["device_name"]
    assert record["mixed_precision"] == (record["device"] == "GPU")
    assert backends.backend_record(["hog-xgb"])["keras_backend"] is None


def test_mixed_precision_is_automatic_and_validated():
    assert backends.resolve_mixed_precision("auto") == bool(backends.gpu_names())
    assert backends.resolve_mixed_precision(True) is True
    with pytest.raises(TypeError, match="mixed_precision must be True, False or 'auto'"):
        backends.resolve_mixed_precision("yes")


def test_run_json_records_the_backend(tmp_path):
    from benchmarks import run_benchmark

    run_benchmark(models="edge-xgb", out=tmp_path, quiet=True,
                  dataset_options={"n_images": 24, "image_size": 32})
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["backend"]["device"] == "CPU"
    assert record["backend"]["keras_backend"] is None
    assert np.isfinite(record["wall_seconds"])
