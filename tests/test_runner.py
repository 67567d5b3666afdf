"""Tests of run_benchmark: same splits for every model, fold summaries, failures, resuming."""

import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import runner
from benchmarks.evaluation.metrics import evaluate_predictions
from benchmarks.results.predictions_table import predictions_to_arrays
from benchmarks.runner import BenchmarkConfig, run_benchmark

PHANTOMS = {"n_images": 60, "image_size": 64}
FAST = {"edge-xgb": {"n_estimators": 20}, "hog-xgb": {"n_estimators": 20}}
METRICS = ["accuracy", "balanced_accuracy", "precision", "recall", "specificity", "f1",
           "roc_auc", "average_precision"]
CLASSES = ("intact", "fracture")


def _run(out, **options):
    settings = {"data": "phantoms:fracture", "dataset_options": PHANTOMS,
                "models": ("edge-xgb",), "image_size": 32,
                "model_params": {"edge-xgb": FAST["edge-xgb"]}, "n_bootstrap": 200,
                "out": out, "quiet": True}
    return run_benchmark(**{**settings, **options})


def test_cv_gives_fold_mean_and_pooled_rows(tmp_path):
    results = _run(tmp_path, cv=3)
    assert results["fold"].astype(str).tolist() == ["0", "1", "2", "mean", "pooled"]
    folds = results.iloc[:3]
    mean = results.iloc[3]
    for metric in METRICS:
        assert mean[metric] == pytest.approx(folds[metric].mean(), abs=1e-12)
        assert mean[f"{metric}_std"] == pytest.approx(folds[metric].std(ddof=1), abs=1e-12)
    # Every image is tested exactly once; pooled metrics are those of all
    # out-of-fold predictions together.
    predictions = pd.read_csv(tmp_path / "predictions.csv", dtype={"id": str})
    test = predictions[predictions["split"] == "test"]
    assert sorted(test["id"]) == [f"phantom-{i:05d}" for i in range(60)]
    y, proba = predictions_to_arrays(test, task="binary", class_names=CLASSES)
    pooled = evaluate_predictions(y, proba, task="binary", class_names=CLASSES)
    for metric in METRICS:
        assert results.iloc[4][metric] == pytest.approx(pooled[metric], abs=1e-12)
    # The models of a fold saw exactly the sets listed in splits.csv.
    splits = pd.read_csv(tmp_path / "splits.csv", dtype={"id": str})
    for (fold, part), rows in predictions.groupby(["fold", "split"]):
        listed = splits[(splits["fold"] == fold) & (splits["set"] == part)]
        assert sorted(rows["id"]) == sorted(listed["id"])
    assert splits.groupby("fold")["id"].nunique().tolist() == [60, 60, 60]


def test_every_model_gets_the_same_splits_and_timings(tmp_path):
    results = _run(tmp_path, models=("edge-xgb", "hog-xgb"), model_params=FAST)
    assert results["model"].tolist() == ["edge-xgb", "hog-xgb"]
    assert (results[["n_train", "n_val", "n_test"]].nunique() == 1).all()
    assert results["n_train"].iloc[0] + results["n_val"].iloc[0] + \
        results["n_test"].iloc[0] == 60
    assert (results["fit_seconds"] > 0).all() and (results["predict_seconds"] > 0).all()
    assert np.allclose(results["images_per_second"],
                       results["n_test"] / results["predict_seconds"])
    # A feature model sees each training image once per fit.
    assert np.allclose(results["train_images_per_second"],
                       results["n_train"] / results["fit_seconds"])
    predictions = pd.read_csv(tmp_path / "predictions.csv", dtype={"id": str})
    ids = [sorted(group["id"]) for _, group in predictions.groupby("model")]
    assert ids[0] == ids[1]


def test_failing_model_records_its_error_and_is_retried(tmp_path, monkeypatch):
    from classifiers.xgb import FeatureXGBClassifier

    real_fit = FeatureXGBClassifier.fit

    def failing_hog_fit(self, *args, **kwargs):
        if self.features == "hog":
            raise ValueError("max_depth broke the booster")
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(FeatureXGBClassifier, "fit", failing_hog_fit)
    results = _run(tmp_path, models=("hog-xgb", "edge-xgb"), model_params=FAST)
    failed, finished = results.iloc[0], results.iloc[1]
    assert failed["model"] == "hog-xgb" and "max_depth" in failed["error"]
    assert np.isnan(failed["f1"])
    assert finished["error"] == "" and 0 <= finished["roc_auc"] <= 1
    trace = tmp_path / "parts" / "hog-xgb__fold0.traceback.txt"
    assert "Traceback" in trace.read_text() and "max_depth" in trace.read_text()
    assert "failed: ValueError" in (tmp_path / "results.md").read_text()
    done_part = tmp_path / "parts" / "edge-xgb__fold0.json"
    stamp = done_part.stat().st_mtime_ns

    # The next run retries the failed part (now working) and skips the
    # finished one.
    monkeypatch.setattr(FeatureXGBClassifier, "fit", real_fit)
    results = _run(tmp_path, models=("hog-xgb", "edge-xgb"), model_params=FAST)
    assert results["error"].tolist() == ["", ""]
    assert done_part.stat().st_mtime_ns == stamp
    assert not trace.exists()
    timings = json.loads((tmp_path / "run.json").read_text())["timings"]["parts"]
    assert timings["edge-xgb/fold0"] == "done earlier"
    assert isinstance(timings["hog-xgb/fold0"], float)


def test_interrupted_run_is_marked_and_resumes(tmp_path, monkeypatch):
    real_run_part = runner._run_part
    calls = []

    def interrupted_second_part(*args):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_part(*args)

    monkeypatch.setattr(runner, "_run_part", interrupted_second_part)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, models=("edge-xgb", "hog-xgb"), model_params=FAST)
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "interrupted"
    assert [p.name for p in (tmp_path / "parts").glob("*.json")] == ["edge-xgb__fold0.json"]

    monkeypatch.setattr(runner, "_run_part", real_run_part)
    results = _run(tmp_path, models=("edge-xgb", "hog-xgb"), model_params=FAST)
    assert results["error"].tolist() == ["", ""]
    assert json.loads((tmp_path / "run.json").read_text())["status"] == "finished"


def test_asking_for_saved_models_refits_parts_that_kept_none(tmp_path):
    _run(tmp_path)
    part = tmp_path / "parts" / "edge-xgb__fold0.json"
    first = json.loads(part.read_text())["row"]
    stamp = part.stat().st_mtime_ns
    _run(tmp_path, save_models=True)
    assert part.stat().st_mtime_ns != stamp
    saved = tmp_path / "models" / "edge-xgb"
    assert (saved / "model.json").exists()
    assert json.loads((saved / "input.json").read_text()) == {
        "class_names": list(CLASSES), "task": "binary", "load_size": None}
    assert json.loads(part.read_text())["row"]["roc_auc"] == first["roc_auc"]
    stamp = part.stat().st_mtime_ns
    _run(tmp_path, save_models=True)  # now kept: nothing to redo
    assert part.stat().st_mtime_ns == stamp


def test_multiclass_rows_have_macro_and_per_class_columns(tmp_path):
    results = _run(tmp_path, data="phantoms:four-class",
                   dataset_options={"n_images": 48, "image_size": 64})
    names = ("bone-intact", "bone-fracture", "joint-normal", "joint-double-contour")
    row = results.iloc[0]
    per_class = [row[f"f1_{name}"] for name in names]
    assert row["f1"] == pytest.approx(np.mean(per_class))
    assert np.isnan(row["threshold"])
    predictions = pd.read_csv(tmp_path / "predictions.csv")
    assert [c for c in predictions if c.startswith("proba_")] == [f"proba_{n}" for n in names]
    assert np.allclose(predictions.filter(like="proba_").sum(axis=1), 1)


def test_unknown_parameter_is_refused_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no parameter.*n_trees.*n_estimators"):
        _run(out, model_params={"edge-xgb": {"n_trees": 5}})
    assert not out.exists()


@pytest.mark.parametrize("params, message", [
    ({"max_depth": "abc"}, r"'max_depth' .* must be an int .* Got 'abc'"),
    ({"n_estimators": -1}, r"'n_estimators' .* range \[1, inf\)\. Got -1"),
    ({"learning_rate": float("nan")}, r"'learning_rate' .* Got nan"),
])
def test_invalid_parameter_values_are_refused_before_loading_data(tmp_path, monkeypatch,
                                                                  params, message):
    def no_loading(config):
        raise AssertionError("the data was loaded before the parameters were checked")

    monkeypatch.setattr(runner, "_load_dataset", no_loading)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"model 'edge-xgb' \(--set edge-xgb.PARAM=VALUE"):
        _run(out, model_params={"edge-xgb": params})
    with pytest.raises(ValueError, match=message):
        _run(out, model_params={"edge-xgb": params})
    assert not out.exists()


def test_unknown_model_lists_the_available_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown model.*hog-xbg.*available: edge-xgb"):
        _run(tmp_path, models=("hog-xbg",))


@pytest.mark.parametrize("field, value, message", [
    ("cv", 1, "cv must be an integer >= 2"),
    ("split", "random", "split must be one of"),
    ("image_size", 4, "image_size must be an integer from 8 to 4096"),
    ("models", (), "models must name at least one model"),
    ("n_bootstrap", 0, "n_bootstrap must be"),
    ("threshold_method", "f1", "threshold_method must be one of"),
    ("model_params", {"cnn": 30}, "model_params must map model names to dicts"),
    ("fresh", "no", "fresh must be True or False; got 'no'"),
    ("quiet", "yes", "quiet must be True or False"),
])
def test_invalid_settings_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        BenchmarkConfig(**{field: value}).validate()


def test_cv_contradicting_a_split_is_refused():
    with pytest.raises(ValueError, match="contradict"):
        BenchmarkConfig(cv=3, split="holdout").validate()


def test_model_names_from_a_string_or_all():
    from classifiers import available_models

    config = runner._resolve_config(None, {"models": "edge-xgb, hog-xgb,edge-xgb"})
    assert config.models == ("edge-xgb", "hog-xgb")
    assert runner._resolve_config(None, {"models": ("all",)}).models == \
        tuple(available_models())
    assert dataclasses.replace(config, seed=3).validate().seed == 3


def test_probabilities_are_aligned_to_every_dataset_class():
    dataset = SimpleNamespace(task="multiclass", class_names=("a", "b", "c"))
    model = SimpleNamespace(classes_=np.array([0, 2]),
                            predict_proba=lambda images: np.array([[0.25, 0.75]]))
    assert runner._aligned_proba(model, None, dataset).tolist() == [[0.25, 0.0, 0.75]]
