"""The README's PneumoniaMNIST command, on a slice of the real data.

Skips cleanly when ``../shared/data/pneumoniamnist.npz`` (beside the
repository) is absent; the data is never copied into the project.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.evaluation.metrics import evaluate_predictions
from benchmarks.results.predictions_table import predictions_to_arrays

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pneumoniamnist.npz"
CONFIG = ROOT / "benchmarks" / "configs" / "pneumonia-medmnist.json"

pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"{DATA} is absent")


@pytest.fixture(scope="module")
def data_slice(tmp_path_factory):
    """A random slice of each official split, in the same layout (the file
    is ordered by label, so a head slice would hold one class)."""
    arrays = np.load(DATA)
    rng = np.random.default_rng(0)
    sliced = {}
    for split, n in {"train": 300, "val": 100, "test": 100}.items():
        chosen = np.sort(rng.choice(len(arrays[f"{split}_labels"]), n, replace=False))
        for kind in ("images", "labels"):
            sliced[f"{split}_{kind}"] = arrays[f"{split}_{kind}"][chosen]
    path = tmp_path_factory.mktemp("pneumonia") / "slice.npz"
    np.savez(path, **sliced)
    return path


def test_readme_command_runs_on_a_slice_and_predictions_recompute_the_table(
        data_slice, tmp_path):
    settings = json.loads(CONFIG.read_text())
    classical = [name for name in settings["models"] if name.endswith("-xgb")]
    assert {"edge-xgb", "hog-xgb", "texture-xgb", "all-xgb"} <= set(classical)
    out = tmp_path / "out"
    code = main(["run", "--config", str(CONFIG), "--data", str(data_slice),
                 "--models", ",".join(classical), "--out", str(out), "--quiet"])
    assert code == 0, (out / "results.csv").read_text()

    results = pd.read_csv(out / "results.csv")
    assert sorted(results["model"]) == sorted(classical)
    assert (results["n_test"] == 100).all()
    # Real films carry signal: every classical preset is well above chance.
    assert (results["roc_auc"] > 0.75).all(), results[["model", "roc_auc"]]

    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    for _, row in results.iterrows():
        test = predictions[(predictions["model"] == row["model"])
                           & (predictions["split"] == "test")]
        y_true, proba = predictions_to_arrays(test, task="binary", class_names=("0", "1"))
        again = evaluate_predictions(y_true, proba, task="binary", class_names=("0", "1"))
        for metric in ("accuracy", "f1", "roc_auc"):
            assert again[metric] == pytest.approx(row[metric], abs=1e-12)
        tuned = evaluate_predictions(y_true, proba, task="binary", class_names=("0", "1"),
                                     threshold=row["tuned_threshold"])
        assert tuned["accuracy"] == pytest.approx(row["tuned_accuracy"], abs=1e-12)
