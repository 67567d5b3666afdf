"""The run on a folder of files: each file decoded once per size, same numbers as in memory."""

import json

import numpy as np
import pandas as pd
import pytest

from benchmarks.reports import leaderboard as report
from benchmarks.datasets import _image_loading
from benchmarks.datasets import DatasetWarning
from benchmarks.runner import run_benchmark
from classifiers.base import ImageClassifierMixin
from xray_features.image_source import ImageSource
from xray_features.synthetic import write_phantom_folder

MODELS = {"edge-xgb": {"n_estimators": 20},
          "texture-xgb": {"n_estimators": 20, "image_size": 24}}


def _run(folder, out, models):
    return run_benchmark(data=str(folder), models=models, image_size=32,
                         model_params=MODELS, n_bootstrap=50, out=str(out), quiet=True)


def test_a_folder_run_decodes_each_file_once_per_size_with_in_memory_numbers(
        tmp_path, monkeypatch):
    import xray_features.io as io

    folder = write_phantom_folder(tmp_path / "films", n_images=40, size=48, seed=0)
    (folder / "intact" / "broken.png").write_bytes(b"not an image")
    # Plots and the OOD guard (its lazy fit: test_image_source) are not what this tests.
    monkeypatch.setattr(report, "_write_plots", lambda *args, **kwargs: None)
    monkeypatch.setattr(ImageClassifierMixin, "_fit_ood_guard", lambda *args: None)
    calls, real = [], io.load_image
    monkeypatch.setattr(io, "load_image", lambda path, **kw: calls.append(path)
                        or real(path, **kw))
    with pytest.warns(DatasetWarning, match="skipped 1 item.*broken.png"):
        lazy = _run(folder, tmp_path / "lazy", tuple(MODELS))
    assert lazy["error"].eq("").all()
    # 41 files at 32 px (the first pass, and edge-xgb's size), the 40 readable ones at 24 px.
    assert len(calls) == 41 + 40
    run = json.loads((tmp_path / "lazy" / "run.json").read_text())
    assert "broken.png" in json.dumps(run)
    assert len(pd.read_csv(tmp_path / "lazy" / "splits.csv")) == 40

    def in_memory(dataset, *, size, strict, n_jobs, progress):  # the earlier decode loop
        decoded = [_image_loading.decode_one(path, size) for path in dataset.paths]
        keep = [i for i, (image, _) in enumerate(decoded) if image is not None]
        images = np.stack([decoded[i][0] for i in keep])
        return dataset.subset(np.asarray(keep)), ImageSource(images, size)

    monkeypatch.setattr(_image_loading, "open_images", in_memory)
    eager = _run(folder, tmp_path / "eager", ("edge-xgb",))
    columns = ["model", "f1", "roc_auc", "accuracy", "n_test"]
    pd.testing.assert_frame_equal(lazy[columns].iloc[:1], eager[columns])
    scores = [pd.read_csv(tmp_path / name / "predictions.csv").query("model == 'edge-xgb'")
              .filter(like="proba") for name in ("lazy", "eager")]
    np.testing.assert_array_equal(scores[0].to_numpy(), scores[1].to_numpy())
