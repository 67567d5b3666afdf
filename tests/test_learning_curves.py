"""Tests of learning curves: nested stratified subsets, clamping and refusing
sizes, the saved outputs (recomputed from their predictions), resuming."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmarks import runner
from benchmarks.cli import build_parser
from benchmarks.reports.curves import plot_learning_curve
from benchmarks.evaluation.learning_curves import (nested_order, nested_subset, parse_train_sizes,
                                                   plan_learning_curve)
from benchmarks.evaluation.metrics import choose_threshold, evaluate_predictions
from benchmarks.results.predictions_table import predictions_to_arrays
from benchmarks.runner import run_benchmark
from benchmarks.evaluation.splits import Split
from benchmarks.results.store import ResultStore

CLASSES = ("intact", "fracture")
FAST = {"edge-xgb": {"n_estimators": 20}, "hog-xgb": {"n_estimators": 20}}
TIMING = ["fit_seconds", "predict_seconds", "images_per_second",
          "train_images_per_second"]


def _data(labels, groups=None):
    labels = np.asarray(labels)
    return SimpleNamespace(labels=labels, groups=groups, task="binary", class_names=CLASSES)


# ------------------------------------------------------------------ subsets
def test_subsets_are_nested_and_stratified():
    labels = np.array([0] * 75 + [1] * 25)  # 25% positives
    train = np.arange(100)
    for seed in range(3):
        order = nested_order(train, labels, task="binary", seed=seed)
        subsets = [nested_subset(order, size) for size in (8, 20, 40, 80)]
        for small, large in zip(subsets, subsets[1:]):
            assert set(small) < set(large)
        for subset in subsets:
            positives = labels[subset].sum()
            assert abs(positives - 0.25 * len(subset)) <= 1, (seed, len(subset), positives)
        assert sorted(np.concatenate(order)) == list(train)
    first = nested_subset(nested_order(train, labels, task="binary", seed=0), 20)
    other = nested_subset(nested_order(train, labels, task="binary", seed=1), 20)
    assert not np.array_equal(first, other)  # seeds give other subsets
    again = nested_subset(nested_order(train, labels, task="binary", seed=0), 20)
    assert np.array_equal(first, again)  # and the same seed the same one


def test_groups_are_never_split_and_subsets_stay_nested():
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 4, size=40)  # 40 patients with 1-3 films each
    groups = np.repeat([f"p{g}" for g in range(40)], sizes)
    labels = np.repeat(np.arange(40) % 3 == 0, sizes).astype(int)
    train = np.arange(len(labels))
    order = nested_order(train, labels, task="binary", groups=groups, seed=0)
    previous = set()
    for size in (10, 25, 50):
        subset = nested_subset(order, size)
        assert len(subset) >= size
        taken = set(groups[subset])
        for group in taken:  # every film of a taken patient is taken
            assert set(np.flatnonzero(groups == group)) <= set(subset)
        assert previous <= set(subset)
        previous = set(subset)
        assert set(labels[subset]) == {0, 1}


def test_plan_clamps_large_sizes_and_refuses_sizes_missing_a_class():
    data = _data([0] * 27 + [1] * 3 + [0] * 10)
    split = Split(0, np.arange(30), [], np.arange(30, 40))
    points, notes = plan_learning_curve(data, [split], "20,30,500", curve_seeds=2)
    assert [(p.train_size, p.curve_seed, len(p.train)) for p in points] == [
        ("20", 0, 20), ("20", 1, 20), ("all", 0, 30)]
    assert notes == [f"train size {n} is at least the 30 training images of fold 0: "
                     "fitted once, as all" for n in (30, 500)]
    points, notes = plan_learning_curve(data, [split], "20", curve_seeds=1)
    assert [(p.train_size, len(p.train)) for p in points] == [("20", 20)] and notes == []
    with pytest.raises(ValueError, match=r"train size 4 is too small to hold every class "
                                         r".*\{'intact': 4, 'fracture': 0\}"):
        plan_learning_curve(data, [split], "4,all")


def test_plan_fits_large_sizes_once():
    data = _data(np.arange(2400) % 2)
    split = Split(0, np.arange(2200), [], np.arange(2200, 2400))
    points, _ = plan_learning_curve(data, [split], "999,1000,all", curve_seeds=3)
    assert [(p.train_size, p.curve_seed) for p in points] == [
        ("999", 0), ("999", 1), ("999", 2), ("1000", 0), ("all", 0)]


@pytest.mark.parametrize("text, expected", [
    ("50,100,all", (50, 100, "all")), ("300, 50", (50, 300)), ([10, "all", 10], (10, "all"))])
def test_train_sizes_parse(text, expected):
    assert parse_train_sizes(text) == expected


@pytest.mark.parametrize("bad", ["0,10", "ten", "10,-5", "", [1.5]])
def test_bad_train_sizes_are_refused(bad):
    with pytest.raises(ValueError, match="train_sizes"):
        parse_train_sizes(bad)


def test_cli_parses_train_sizes(capsys):
    args = build_parser().parse_args(["run", "--train-sizes", "50,100,all",
                                      "--curve-seeds", "2"])
    assert args.train_sizes == (50, 100, "all") and args.curve_seeds == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--train-sizes", "50,lots"])
    assert "train_sizes entries must be positive integers" in capsys.readouterr().err


def test_store_keeps_keyed_parts_apart(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    frame = pd.DataFrame({"id": ["a"], "model": ["m"], "fold": [0]})
    store.save_part("m", 0, {"model": "m", "error": ""}, frame)
    store.save_part("m", 0, {"model": "m", "error": ""}, frame.assign(train_size="5"),
                    key="n5-seed0")
    assert store.is_done("m", 0) and store.is_done("m", 0, key="n5-seed0")
    assert not store.is_done("m", 0, key="n5-seed1")
    records, predictions = store.load_parts()
    keyed, keyed_predictions = store.load_parts(keyed=True)
    assert [r.get("key") for r in records] == [None]
    assert [r["key"] for r in keyed] == ["n5-seed0"]
    assert "train_size" not in predictions and keyed_predictions["train_size"].tolist() == [5]
    with pytest.raises(ValueError, match="key may hold"):
        store.save_part("m", 0, {"model": "m", "error": ""}, key="../x")


# ------------------------------------------------------------------ runs
def _run(out, **options):
    settings = {"data": "phantoms:fracture", "dataset_options": {"n_images": 60,
                                                                 "image_size": 64},
                "models": ("edge-xgb", "hog-xgb"), "image_size": 32, "model_params": FAST,
                "n_bootstrap": 50, "train_sizes": "10,20,all", "curve_seeds": 2,
                "out": out, "quiet": True}
    return run_benchmark(**{**settings, **options})


def test_curve_outputs_recompute_from_their_predictions(tmp_path):
    results = _run(tmp_path)
    curve = pd.read_csv(tmp_path / "learning_curve.csv", dtype={"train_size": str})
    assert curve[["model", "train_size", "seed"]].values.tolist() == [
        [model, size, seed] for model in ("edge-xgb", "hog-xgb")
        for size, seed in (("10", 0), ("10", 1), ("20", 0), ("20", 1), ("all", 0))]
    assert curve["error"].isna().all()  # no error text in any row
    # The full-size points are the run's own results rows.
    full = curve[curve["train_size"] == "all"].reset_index(drop=True)
    for column in ("n_train", "roc_auc", "f1", "tuned_accuracy", "f1_ci_low"):
        assert full[column].tolist() == pytest.approx(results[column].tolist(), abs=1e-12)
    assert curve.loc[curve["train_size"] != "all", "n_train"].tolist() == [10, 10, 20, 20] * 2

    predictions = pd.read_csv(tmp_path / "learning_curve_predictions.csv",
                              dtype={"id": str, "train_size": str})
    for _, row in curve.iterrows():
        rows = predictions[(predictions["model"] == row["model"])
                           & (predictions["train_size"] == row["train_size"])
                           & (predictions["seed"] == row["seed"])]
        assert (rows["n_train"] == row["n_train"]).all()
        test, val = rows[rows["split"] == "test"], rows[rows["split"] == "val"]
        y, proba = predictions_to_arrays(test, task="binary", class_names=CLASSES)
        metrics = evaluate_predictions(y, proba, task="binary", class_names=CLASSES)
        for metric in ("accuracy", "f1", "roc_auc", "average_precision"):
            assert row[metric] == pytest.approx(metrics[metric], abs=1e-9)
        y_val, proba_val = predictions_to_arrays(val, task="binary", class_names=CLASSES)
        threshold = choose_threshold(y_val, proba_val[:, 1])
        tuned = evaluate_predictions(y, proba, task="binary", class_names=CLASSES,
                                     threshold=threshold)
        assert row["tuned_accuracy"] == pytest.approx(tuned["accuracy"], abs=1e-9)

    # Every subset is nested in the next larger one of its seed and scored
    # on the run's own test set.
    subsets = pd.read_csv(tmp_path / "learning_curve_subsets.csv",
                          dtype={"id": str, "train_size": str})
    splits = pd.read_csv(tmp_path / "splits.csv", dtype={"id": str})
    train_ids = set(splits.loc[splits["set"] == "train", "id"])
    for seed in (0, 1):
        ids = [set(subsets[(subsets["train_size"] == size)
                           & (subsets["seed"] == (seed if size != "all" else 0))]["id"])
               for size in ("10", "20", "all")]
        assert ids[0] < ids[1] < ids[2] == train_ids
    assert set(predictions.loc[predictions["split"] == "test", "id"]) == set(
        splits.loc[splits["set"] == "test", "id"])
    # The normal outputs keep one fit per model.
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == len(
        predictions[predictions["train_size"] == "all"])
    assert (tmp_path / "plots" / "learning_curve.png").stat().st_size > 10_000


def test_curve_resumed_after_a_kill_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    _run(tmp_path / "whole")
    real_run_part = runner._run_part
    calls = []

    def killed_mid_curve(*args):
        calls.append(args[0])
        if len(calls) == 5:  # the third curve point
            raise KeyboardInterrupt
        return real_run_part(*args)

    monkeypatch.setattr(runner, "_run_part", killed_mid_curve)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "resumed")
    assert len(list((tmp_path / "resumed" / "parts").glob("*__n*.json"))) == 2
    monkeypatch.setattr(runner, "_run_part", real_run_part)
    _run(tmp_path / "resumed")
    whole, resumed = (pd.read_csv(tmp_path / name / "learning_curve.csv").drop(columns=TIMING)
                      for name in ("whole", "resumed"))
    pd.testing.assert_frame_equal(whole, resumed)
    for name in ("learning_curve_predictions.csv", "learning_curve_subsets.csv"):
        assert (tmp_path / "whole" / name).read_text() == \
            (tmp_path / "resumed" / name).read_text()


def test_plot_needs_the_curve_columns(tmp_path):
    with pytest.raises(ValueError, match="missing.*n_train"):
        plot_learning_curve(pd.DataFrame({"model": ["a"], "train_size": ["5"],
                                          "roc_auc": [0.5], "f1": [0.5]}),
                            tmp_path / "c.png")


@pytest.mark.parametrize("name", ["pneumonia224-curves.json", "pneumonia224.json"])
def test_pneumonia224_configurations_are_valid(name):
    from pathlib import Path

    from benchmarks.config import read_config_file

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / name
    config = runner._resolve_config(runner.BenchmarkConfig(**read_config_file(path)), {})
    assert config.data == "../shared/data/pneumonia224" and config.split == "official"
    # Every preset has its parameters (a NAME@SIZE variant inherits NAME's; the
    # ensemble has none), and no parameters are left without a model.
    from classifiers.variants import base_name

    assert set(config.model_params) == {base_name(m) for m in config.models if m != "ensemble"}
    if name == "pneumonia224-curves.json":
        assert config.train_sizes == (50, 100, 300, 1000, "all")
