"""Tests of the run's ensemble: selection on validation only, scoring, refusal, resume."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import runner
from benchmarks.evaluation.ensemble import ensemble_settings, select_members
from benchmarks.parts.ensemble import ensemble_part
from benchmarks.results.predictions_table import prediction_frame
from benchmarks.runner import BenchmarkConfig, run_benchmark
from benchmarks.evaluation.splits import Split
from benchmarks.results.store import ResultStore

CLASSES = ("intact", "fracture")


def _columns(positive):
    positive = np.asarray(positive, dtype=float)
    return np.column_stack([1 - positive, positive])


def _halves():
    """Validation targets and three members: ``a`` separates the first half
    of the images, ``b`` the second (each says 0.5 elsewhere), ``noise`` is
    anti-correlated. Alone a and b reach ROC AUC 0.875 (50 + 25 + 25 / 2 of
    100 pairs); averaged 50/50 they separate every image (1.0)."""
    y = np.array([0, 1] * 10)
    first = np.arange(20) < 10
    sharp = np.where(y == 1, 0.9, 0.1)
    a = _columns(np.where(first, sharp, 0.5))
    b = _columns(np.where(first, 0.5, sharp))
    noise = _columns(np.where(y == 1, 0.3, 0.6))
    return y, {"a": a, "b": b, "noise": noise}


def test_greedy_selection_finds_the_known_weights_and_ignores_noise():
    y, probas = _halves()
    chosen = select_members(y, probas, task="binary", class_names=CLASSES, rounds=10)
    assert chosen.weights == {"a": 0.5, "b": 0.5}
    assert chosen.score == 1.0
    assert chosen.single_scores["a"] == pytest.approx(0.875)
    assert chosen.single_scores["noise"] == 0.0
    assert chosen.path[0][0] == "a" and chosen.path[1] == ("b", 1.0)
    # log-loss: the sharp member's own images count most; noise still unused.
    by_loss = select_members(y, probas, task="binary", class_names=CLASSES,
                             metric="log_loss", rounds=10)
    assert "noise" not in by_loss.weights
    assert sum(by_loss.weights.values()) == pytest.approx(1.0)


def test_selection_errors_are_named():
    y, probas = _halves()
    with pytest.raises(ValueError, match="at least two members"):
        select_members(y, {"a": probas["a"]}, task="binary", class_names=CLASSES)
    with pytest.raises(ValueError, match="one class has no ROC AUC"):
        select_members(np.zeros(20, int), probas, task="binary", class_names=CLASSES)
    with pytest.raises(ValueError, match="metric must be one of"):
        select_members(y, probas, task="binary", class_names=CLASSES, metric="f1")


@pytest.mark.parametrize("params, message", [
    ({"members": "a,zzz"}, r"members \['zzz'\] are not other models"),
    ({"members": ["a"]}, "at least two other models"),
    ({"rounds": 0}, "rounds must be an integer >= 1"),
    ({"metric": "f1"}, "metric must be one of"),
    ({"weights": [1, 2]}, "no setting.s. weights"),
])
def test_ensemble_settings_are_checked(params, message):
    with pytest.raises(ValueError, match=message):
        ensemble_settings(["a", "b", "ensemble"], {"ensemble": params})


def _stored_run(tmp_path, members, *, shuffle_test=False, save_models=False):
    """A store holding saved parts of ``members`` (name -> (val, test)
    probabilities) on a 20/20-image split, as a run would have left it."""
    n = 20
    dataset = SimpleNamespace(ids=np.array([f"img{i:02d}" for i in range(2 * n + 4)]),
                              labels=np.array([0, 1] * (n + 2)), task="binary",
                              class_names=CLASSES)
    split = Split(0, np.arange(2 * n, 2 * n + 4), np.arange(n), np.arange(n, 2 * n))
    store = ResultStore(tmp_path, {"seed": 0})
    rng = np.random.default_rng(1)
    for name, (val, test) in members.items():
        test = test[rng.permutation(len(test))] if shuffle_test else test
        frame = prediction_frame(name, dataset, split, test, val)
        store.save_part(name, 0, {"model": name, "fold": 0, "error": "",
                                  "fit_seconds": 2.0, "predict_seconds": 0.5}, frame)
    config = BenchmarkConfig(models=(*members, "ensemble"), n_bootstrap=50,
                             save_models=save_models)
    return dataset, split, config, store


def test_ensemble_never_looks_at_test_predictions(tmp_path):
    y, probas = _halves()
    rng = np.random.default_rng(0)
    members = {name: (proba, _columns(rng.random(20))) for name, proba in probas.items()}
    rows = [ensemble_part(*_stored_run(tmp_path / str(shuffle), members,
                                       shuffle_test=shuffle))[0] for shuffle in (False, True)]
    assert rows[0]["error"] == "" and rows[1]["error"] == ""
    assert json.loads(rows[0]["ensemble_weights"]) == {"a": 0.5, "b": 0.5}
    assert rows[0]["ensemble_weights"] == rows[1]["ensemble_weights"]
    assert rows[0]["roc_auc"] != rows[1]["roc_auc"]  # the test set did change
    # Selection time is its fit time; the chosen members' fits are summed apart.
    assert rows[0]["members_fit_seconds"] == 4.0 and rows[0]["predict_seconds"] == 1.0
    assert rows[0]["fit_seconds"] < 4.0


def test_perfect_and_random_member_give_a_perfect_validation_score(tmp_path):
    rng = np.random.default_rng(3)
    y = np.array([0, 1] * 10)
    perfect = _columns(np.where(y == 1, 0.8, 0.3))
    members = {"random": (_columns(rng.random(20)), _columns(rng.random(20))),
               "perfect": (perfect, perfect)}
    dataset, split, config, store = _stored_run(tmp_path, members, save_models=True)
    saved = []
    row, predictions, _, _, _ = ensemble_part(dataset, split, config, store,
                                              save=saved.append)
    assert row["ensemble_val_score"] == 1.0 and row["roc_auc"] == 1.0
    assert json.loads(row["ensemble_weights"]) == {"perfect": 1.0}
    test = predictions[predictions["split"] == "test"]
    assert np.allclose(test["proba_fracture"], perfect[:, 1])
    # No member was saved: the ensemble says so and is scored all the same.
    assert row["model_saved"] == "no: member(s) perfect have no saved model" and not saved


def test_ensemble_of_a_learning_curve_point_uses_that_points_members(tmp_path):
    from benchmarks.evaluation.learning_curves import CurvePoint

    y, probas = _halves()
    dataset, split, config, store = _stored_run(
        tmp_path, {name: (p, p) for name, p in probas.items()})
    point = CurvePoint(0, "2", 1, split.train[:2])
    for name, proba in (("a", probas["noise"]), ("b", probas["b"])):  # other fits there
        frame = prediction_frame(name, dataset, split, proba, proba)
        store.save_part(name, 0, {"model": name, "fold": 0, "error": ""}, frame,
                        key=point.key)
    row, predictions, *_ = ensemble_part(dataset, Split(0, point.train, split.val, split.test),
                                         config, store, point)
    assert json.loads(row["ensemble_weights"]) == {"b": 1.0}
    assert row["train_size"] == "2" and row["seed"] == 1 and row["n_train"] == 2
    assert set(predictions["train_size"]) == {"2"} and set(predictions["seed"]) == {1}


def test_ensemble_with_fewer_than_two_finished_members_records_why(tmp_path):
    y, probas = _halves()
    dataset, split, config, store = _stored_run(
        tmp_path, {name: (p, p) for name, p in probas.items()})
    store.save_part("b", 0, {"model": "b", "fold": 0, "error": "ValueError: broke"})
    store.save_part("noise", 0, {"model": "noise", "fold": 0, "error": "ValueError: broke"})
    row = ensemble_part(dataset, split, config, store)[0]
    assert "needs at least two finished members" in row["error"]
    assert "['b', 'noise']" in row["error"]


def test_an_ensemble_is_recomputed_when_a_failed_member_has_since_finished(tmp_path):
    from benchmarks.parts.ensemble import ensemble_is_stale

    y, probas = _halves()
    members = {name: (p, p) for name, p in probas.items()}
    dataset, split, config, store = _stored_run(tmp_path, members)
    store.save_part("noise", 0, {"model": "noise", "fold": 0, "error": "ValueError: broke"})
    assert ensemble_is_stale(store, 0, "", config)  # never computed
    row, predictions, *_ = ensemble_part(dataset, split, config, store)
    store.save_part("ensemble", 0, row, predictions)
    assert json.loads(row["ensemble_candidates"]) == ["a", "b"]
    assert not ensemble_is_stale(store, 0, "", config)
    frame = prediction_frame("noise", dataset, split, probas["noise"], probas["noise"])
    store.save_part("noise", 0, {"model": "noise", "fold": 0, "error": ""}, frame)
    assert ensemble_is_stale(store, 0, "", config)


PHANTOMS = {"n_images": 48, "image_size": 32}
FAST = {"edge-xgb": {"n_estimators": 10}, "hog-xgb": {"n_estimators": 10}}


def _run(out, **options):
    settings = {"data": "phantoms:fracture", "dataset_options": PHANTOMS,
                "models": ("edge-xgb", "hog-xgb", "ensemble"), "image_size": 32,
                "model_params": FAST, "n_bootstrap": 100, "out": out, "quiet": True}
    return run_benchmark(**{**settings, **options})


def test_run_with_an_ensemble_saves_it_and_resumes(tmp_path, monkeypatch):
    from classifiers import load_model

    results = _run(tmp_path, save_models=True)
    assert results["model"].tolist() == ["edge-xgb", "hog-xgb", "ensemble"]
    row = results.iloc[2]
    assert row["error"] == "" and 0 <= row["roc_auc"] <= 1
    assert np.isfinite(row["tuned_accuracy"]) and np.isfinite(row["f1_ci_low"])
    weights = json.loads(row["ensemble_weights"])
    record = json.loads((tmp_path / "ensemble.json").read_text())
    assert record[0]["weights"] == weights and record[0]["model_saved"] == "yes"
    assert "ensemble: " in (tmp_path / "results.md").read_text()
    # The saved ensemble predicts what the run recorded for the test images.
    predictions = pd.read_csv(tmp_path / "predictions.csv", dtype={"id": str})
    test = predictions[(predictions["model"] == "ensemble") & (predictions["split"] == "test")]
    from benchmarks import load_dataset

    dataset = load_dataset("phantoms:fracture", seed=0, **PHANTOMS)
    index = {image_id: i for i, image_id in enumerate(dataset.ids)}
    images = dataset.images[[index[i] for i in test["id"]]]
    model = load_model(tmp_path / "models" / "ensemble")
    assert np.allclose(model.predict_proba(images)[:, 1], test["proba_fracture"], atol=1e-6)
    explained = model.explain(images[:1])[0]  # the heaviest member's map
    assert explained.method.endswith(f"of member {next(iter(weights))}")

    def no_refit(*args, **kwargs):
        raise AssertionError("a finished part was computed again")

    monkeypatch.setattr(runner, "ensemble_part", no_refit)
    again = _run(tmp_path, save_models=True)
    assert again["ensemble_weights"].iloc[2] == row["ensemble_weights"]
    timings = json.loads((tmp_path / "run.json").read_text())["timings"]["parts"]
    assert timings["ensemble/fold0"] == "done earlier"


def test_ensemble_is_refused_before_any_work_without_validation(tmp_path, monkeypatch):
    from benchmarks.evaluation import splits as splits_module

    def no_validation(dataset, **options):
        n = len(dataset.labels)
        return [Split(0, np.arange(n // 2), np.arange(0), np.arange(n // 2, n))]

    monkeypatch.setattr(splits_module, "make_splits", no_validation)
    monkeypatch.setattr(runner, "_run_part", lambda *a, **k: pytest.fail("fitted"))
    with pytest.raises(ValueError, match="fold 0 has no validation set"):
        _run(tmp_path)
    assert not (tmp_path / "parts").exists()


def test_ensemble_of_one_member_is_refused_before_loading(tmp_path, monkeypatch, capsys):
    from benchmarks.cli import main

    monkeypatch.setattr(runner, "_load_dataset", lambda *a: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match="at least two other models"):
        _run(tmp_path, models=("edge-xgb", "ensemble"))
    assert main(["run", "--models", "edge-xgb,ensemble", "--out", str(tmp_path / "x"),
                 "--quiet"]) == 2
    assert "at least two other models" in capsys.readouterr().err
