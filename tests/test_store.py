"""Tests of the results directory: atomic writes, resumable parts, refusal to mix runs."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from benchmarks.results.outdir import write_output
from benchmarks.results.store import ResultStore, RunConfigMismatch, json_default, write_atomic

ROW = {"model": "edge-xgb", "fold": 0, "f1": 0.5, "error": ""}


def _predictions(model="edge-xgb", fold=0):
    return pd.DataFrame({"id": ["007", "010"], "split": "test", "fold": fold, "model": model,
                         "y_true": [0, 1], "proba_a": [0.75, 0.25], "proba_b": [0.25, 0.75]})


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.json"
    write_atomic(path, "old")
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.txt"
    write_atomic(path, "old")
    with pytest.raises(TypeError):
        write_atomic(path, 123)  # not text: the write fails midway
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_json_default_converts_numpy_and_paths(tmp_path):
    text = json.dumps({"a": np.float32(0.5), "b": np.arange(3), "c": tmp_path / "x",
                       "d": {2, 1}}, default=json_default)
    assert json.loads(text) == {"a": 0.5, "b": [0, 1, 2], "c": str(tmp_path / "x"),
                                "d": [1, 2]}
    with pytest.raises(TypeError, match="cannot serialise object"):
        json_default(object())


def test_saved_part_is_done_and_loads_back(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    assert not store.is_done("edge-xgb", 0)
    store.save_part("edge-xgb", 0, ROW, _predictions(), {"val_logloss": [0.7, 0.6]},
                    {"n_estimators": 20})
    assert store.is_done("edge-xgb", 0, {"n_estimators": 20})
    assert not store.is_done("edge-xgb", 1, {"n_estimators": 20})
    records, predictions = ResultStore(tmp_path, {"seed": 0}).load_parts()
    assert [r["row"] for r in records] == [ROW]
    assert records[0]["history"] == {"val_logloss": [0.7, 0.6]}
    assert predictions["id"].tolist() == ["007", "010"]  # ids stay strings
    assert predictions["proba_b"].tolist() == [0.25, 0.75]


def test_done_part_with_other_parameters_is_refused(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW, _predictions(), params={"n_estimators": 20})
    with pytest.raises(RunConfigMismatch, match="n_estimators.*20"):
        store.is_done("edge-xgb", 0, {"n_estimators": 30})


def test_failed_part_is_retried_with_any_parameters_and_keeps_its_traceback(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    failed = {**ROW, "error": "ValueError: max_depth must be >= 0"}
    store.save_part("edge-xgb", 0, failed, params={"max_depth": -5},
                    traceback="Traceback (most recent call last): ...")
    trace = tmp_path / "parts" / "edge-xgb__fold0.traceback.txt"
    assert trace.read_text().startswith("Traceback")
    assert not store.is_done("edge-xgb", 0, {"max_depth": -5})
    assert not store.is_done("edge-xgb", 0, {"max_depth": 3})
    store.save_part("edge-xgb", 0, ROW, _predictions(), params={"max_depth": 3})
    assert store.is_done("edge-xgb", 0, {"max_depth": 3})
    assert not trace.exists()


def test_failed_part_contributes_no_predictions(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW, _predictions())
    store.save_part("edge-xgb", 0, {**ROW, "error": "RuntimeError: boom"}, traceback="...")
    records, predictions = store.load_parts()
    assert records[0]["row"]["error"] == "RuntimeError: boom"
    assert len(predictions) == 0
    assert not (tmp_path / "parts" / "edge-xgb__fold0.csv").exists()


def test_other_configuration_is_refused_naming_what_differs(tmp_path):
    ResultStore(tmp_path, {"seed": 0, "cv": None}).save_part("edge-xgb", 0, ROW)
    with pytest.raises(RunConfigMismatch, match=r"differs in: seed\).*--fresh"):
        ResultStore(tmp_path, {"seed": 1, "cv": None})
    # The refused store changed nothing.
    assert json.loads((tmp_path / "fingerprint.json").read_text()) == {"cv": None, "seed": 0}
    assert ResultStore(tmp_path, {"seed": 0, "cv": None}).is_done("edge-xgb", 0)


def test_fresh_deletes_earlier_results_only(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW, _predictions())
    write_output(tmp_path, "models/edge-xgb/model.json", "{}")
    write_output(tmp_path, "results.csv", "model\n")
    (tmp_path / "notes.txt").write_text("mine")  # the user's, not a run's
    store = ResultStore(tmp_path, {"seed": 1}, fresh=True)
    assert not store.is_done("edge-xgb", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".xray-bench-manifest.json", "fingerprint.json", "notes.txt", "parts"]


def test_fresh_never_deletes_a_folder_that_no_run_wrote(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "weights.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="not empty and was not created by xray-bench"):
        ResultStore(tmp_path, {"seed": 0}, fresh=True)
    assert (tmp_path / "models" / "weights.bin").exists()


def test_parts_without_fingerprint_are_refused(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "hog-xgb__fold0.json").write_text("{}")
    with pytest.raises(RunConfigMismatch, match="without a fingerprint.json"):
        ResultStore(tmp_path, {"seed": 0})


def test_output_path_that_is_a_file_is_refused(tmp_path):
    path = tmp_path / "results"
    path.write_text("")
    with pytest.raises(ValueError, match="out must be a directory"):
        ResultStore(path, {"seed": 0})


def test_leftover_temporary_files_are_removed(tmp_path):
    ResultStore(tmp_path, {"seed": 0})
    leftover = tmp_path / "parts" / ".edge-xgb__fold0.json.abc.tmp"
    leftover.write_text("{")
    ResultStore(tmp_path, {"seed": 0})
    assert not leftover.exists()
    assert os.listdir(tmp_path / "parts") == []


def test_model_dir_per_split_and_per_fold(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    assert store.model_dir("hog-xgb") == tmp_path / "models" / "hog-xgb"
    assert store.model_dir("hog-xgb", 2) == tmp_path / "models" / "hog-xgb-fold2"
