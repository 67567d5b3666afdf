"""Tests of the xray-bench command: outputs, resuming after a kill, refusal, predict, errors."""

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from benchmarks.cli import main
from benchmarks.evaluation.metrics import choose_threshold, evaluate_predictions
from benchmarks.results.predictions_table import predictions_to_arrays

PHANTOMS = ["--data", "phantoms:fracture", "--data-option", "n_images=60", "--data-option", "image_size=64",
            "--image-size", "32"]
FAST = ["--set", "edge-xgb.n_estimators=20", "--set", "hog-xgb.n_estimators=20"]
REQUIRED_COLUMNS = ["model", "fold", "accuracy", "balanced_accuracy", "precision", "recall",
                    "specificity", "f1", "roc_auc", "average_precision", "threshold",
                    "fit_seconds", "predict_seconds", "error"]
METRICS = REQUIRED_COLUMNS[2:11]
TUNED = ["threshold", "accuracy", "balanced_accuracy", "precision", "recall", "specificity",
         "f1"]
TIMING_COLUMNS = ["fit_seconds", "predict_seconds", "images_per_second",
                  "train_images_per_second"]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _main(argv):
    """Run the command in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _read_results(out):
    results = pd.read_csv(out / "results.csv", dtype={"fold": str, "error": str})
    results["error"] = results["error"].fillna("")
    return results


def _check_png(path):
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    assert len(data) > 5000, path
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    assert min(pixels.shape) >= 200 and pixels.std() > 5, path


def _check_outputs(out, models):
    """Every output of a finished single-split run, checked against each other."""
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished"
    for key in ("command", "config", "seed", "versions", "dataset", "machine", "timings"):
        assert key in run, key
    assert run["command"][:2] == ["xray-bench", "run"]
    assert {"numpy", "scikit-learn", "xgboost"} <= set(run["versions"])
    assert len(run["dataset"]["fingerprint"]) == 16
    assert run["machine"]["cpu_count"] >= 1
    assert run["timings"]["total_seconds"] > 0
    task = run["dataset"]["summary"]["task"]
    classes = tuple(run["dataset"]["summary"]["class_names"])

    results = _read_results(out)
    assert results.columns[:len(REQUIRED_COLUMNS)].tolist() == REQUIRED_COLUMNS
    assert results["model"].tolist() == list(models)
    records = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in records] == list(models)
    for record, (_, row) in zip(records, results.iterrows()):
        assert set(record) == set(results.columns)
        for key, value in record.items():
            if value is None:
                assert pd.isna(row[key]) or row[key] == "", key
            elif isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert str(row[key]) == str(value), key

    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    for _, row in results.iterrows():
        assert row["error"] == ""
        mine = predictions[predictions["model"] == row["model"]]
        test, val = mine[mine["split"] == "test"], mine[mine["split"] == "val"]
        assert len(test) == row["n_test"] and len(val) == row["n_val"]
        y, proba = predictions_to_arrays(test, task=task, class_names=classes)
        again = evaluate_predictions(y, proba, task=task, class_names=classes)
        for metric in METRICS:
            assert row[metric] == pytest.approx(again[metric], abs=1e-12, nan_ok=True), metric
        y_val, proba_val = predictions_to_arrays(val, task=task, class_names=classes)
        threshold = choose_threshold(y_val, proba_val)
        tuned = evaluate_predictions(y, proba, task=task, class_names=classes,
                                     threshold=threshold)
        for metric in TUNED:
            assert row[f"tuned_{metric}"] == pytest.approx(tuned[metric], abs=1e-12), metric
        _check_png(out / "plots" / f"confusion_{row['model']}.png")
        _check_png(out / "plots" / f"history_{row['model']}.png")
    _check_png(out / "plots" / "roc.png")
    _check_png(out / "plots" / "pr.png")
    leaderboard = (out / "results.md").read_text()
    for model in models:
        assert f"| {model} |" in leaderboard
    return results, predictions


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run of two fast models on small phantoms, settings partly from a file."""
    root = tmp_path_factory.mktemp("run")
    config = root / "settings.json"
    config.write_text(json.dumps({
        "models": ["edge-xgb", "hog-xgb"], "n_bootstrap": 200,
        "model_params": {"hog-xgb": {"n_estimators": 50, "max_depth": 3}}}))
    out = root / "out"
    code, stdout, stderr = _main(["run", "--config", config, *PHANTOMS, *FAST, "--out", out])
    return out, code, stdout, stderr


def test_run_writes_every_output(finished_run):
    out, code, stdout, stderr = finished_run
    assert code == 0, stderr
    _check_outputs(out, ["edge-xgb", "hog-xgb"])
    assert stdout.startswith("# Leaderboard: phantoms:fracture")  # stdout: the table only
    assert "[2/2] hog-xgb: fitting on" in stderr  # progress on stderr
    config = json.loads((out / "run.json").read_text())["config"]
    # Settings come from the file unless a flag overrides them.
    assert config["n_bootstrap"] == 200 and config["image_size"] == 32
    assert config["model_params"]["hog-xgb"] == {"n_estimators": 20, "max_depth": 3}
    assert config["dataset_options"] == {"n_images": 60, "image_size": 64}


def test_other_configuration_is_refused_and_fresh_starts_over(finished_run, tmp_path,
                                                               capsys):
    out = finished_run[0]
    stamp = (out / "results.csv").stat().st_mtime_ns
    argv = ["run", *PHANTOMS, "--models", "edge-xgb", *FAST, "--seed", "1", "--out", out]
    code, stdout, stderr = _main(argv)
    assert code == 2
    error = stderr.splitlines()[-1]
    assert error.startswith("xray-bench: error: output directory")
    assert "different configuration" in error and "seed" in error
    assert (out / "results.csv").stat().st_mtime_ns == stamp

    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert main(argv[:-1] + [str(copy), "--fresh", "--quiet"]) == 0
    assert capsys.readouterr() == ("", "")  # --quiet prints nothing
    assert json.loads((copy / "fingerprint.json").read_text())["seed"] == 1
    assert sorted(p.name for p in (copy / "parts").iterdir()) == [
        "edge-xgb__fold0.csv", "edge-xgb__fold0.json"]
    assert _read_results(copy)["model"].tolist() == ["edge-xgb"]


def test_killed_run_resumes_to_the_results_of_an_uninterrupted_run(tmp_path):
    # hog-xgb is made slow enough (thousands of trees) to be killed while it fits.
    argv = ["run", *PHANTOMS, "--models", "edge-xgb,hog-xgb", "--set",
            "edge-xgb.n_estimators=20", "--set", "hog-xgb.n_estimators=4000", "--set",
            "hog-xgb.early_stopping_rounds=null", "--set", "hog-xgb.max_depth=6"]
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "benchmarks", *argv, "--out", str(out)]
    process = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while not list((out / "parts").glob("*.json")):
            assert process.poll() is None, "the run ended before finishing a part"
            assert time.monotonic() < deadline, "no part finished in 120 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    assert [p.name for p in (out / "parts").glob("*.json")] == ["edge-xgb__fold0.json"]
    assert not (out / "results.csv").exists()
    stamp = (out / "parts" / "edge-xgb__fold0.json").stat().st_mtime_ns

    resumed = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "[1/2] edge-xgb: done earlier, skipped" in resumed.stderr
    assert "[2/2] hog-xgb: fitting on" in resumed.stderr
    assert (out / "parts" / "edge-xgb__fold0.json").stat().st_mtime_ns == stamp
    results, predictions = _check_outputs(out, ["edge-xgb", "hog-xgb"])

    reference = tmp_path / "reference"
    assert _main([*argv, "--out", reference, "--quiet"])[0] == 0
    expected = _read_results(reference)
    pd.testing.assert_frame_equal(results.drop(columns=TIMING_COLUMNS),
                                  expected.drop(columns=TIMING_COLUMNS), check_exact=True)
    pd.testing.assert_frame_equal(
        predictions, pd.read_csv(reference / "predictions.csv", dtype={"id": str}),
        check_exact=True)


def _write_png_dataset(root, n_per_class=15, size=48, groups=False):
    """Phantom PNGs in class folders; with ``groups``, also a labels.csv whose
    patients each own four images of one class."""
    from xray_features.io import save_image
    from xray_features.synthetic import make_phantom_dataset

    images, labels, names = make_phantom_dataset(n_images=2 * n_per_class, size=size, seed=3)
    rows = []
    for i, (image, label) in enumerate(zip(images, labels)):
        name = f"{names[label]}/film_{i:03d}.png"
        (root / names[label]).mkdir(parents=True, exist_ok=True)
        save_image(root / name, image)
        rows.append({"file": name, "label": names[label],
                     "case_ref": f"P{label}{(i // 2) // 4:02d}"})
    if groups:
        pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    return root


def test_predict_gives_the_probabilities_of_the_run(tmp_path):
    data = _write_png_dataset(tmp_path / "films")
    out = tmp_path / "out"
    code, _, stderr = _main(["run", "--data", data, "--models", "hog-xgb", *FAST,
                             "--image-size", "32", "--save-models", "--out", out, "--quiet"])
    assert code == 0, stderr
    model_dir = out / "models" / "hog-xgb"
    assert json.loads((model_dir / "input.json").read_text())["load_size"] == 32
    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    test = predictions[predictions["split"] == "test"]
    files = [data / image_id for image_id in test["id"]]
    table = tmp_path / "predicted.json"
    code, stdout, _ = _main(["predict", model_dir, *files, "--output", table])
    assert code == 0
    assert "fracture" in stdout and "film_" in stdout
    predicted = pd.DataFrame(json.loads(table.read_text()))
    assert predicted["file"].tolist() == [str(f) for f in files]
    for name in ("intact", "fracture"):
        assert np.allclose(predicted[f"proba_{name}"].to_numpy(),
                           test[f"proba_{name}"].to_numpy(), rtol=0, atol=1e-12)
    best = test[["proba_intact", "proba_fracture"]].to_numpy().argmax(axis=1)
    assert predicted["label"].tolist() == [("intact", "fracture")[b] for b in best]

    as_csv = tmp_path / "predicted.csv"
    missing = tmp_path / "missing.png"
    code, _, stderr = _main(["predict", model_dir, files[0], missing, "--output", as_csv])
    assert code == 1 and "could not be read" in stderr
    table = pd.read_csv(as_csv)
    assert table["error"].isna().tolist() == [True, False]
    assert "missing.png" in table["error"].iloc[1]


def test_cv_with_patient_groups_never_shares_a_patient(tmp_path):
    data = _write_png_dataset(tmp_path / "films", n_per_class=24, groups=True)
    out = tmp_path / "out"
    code, _, stderr = _main(["run", "--data", data / "labels.csv", "--label-col", "label",
                             "--group-col", "case_ref", "--models", "edge-xgb", *FAST,
                             "--image-size", "32", "--cv", "3", "--out", out, "--quiet"])
    assert code == 0, stderr
    assert json.loads((out / "run.json").read_text())["dataset"]["summary"]["n_groups"] == 12
    results = _read_results(out)
    assert results["fold"].tolist() == ["0", "1", "2", "mean", "pooled"]
    splits = pd.read_csv(out / "splits.csv")
    for fold, rows in splits.groupby("fold"):
        sets = [set(rows.loc[rows["set"] == name, "group"]) for name in ("train", "val", "test")]
        assert all(sets), fold
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), fold
    assert len(set(splits.loc[splits["set"] == "test", "group"])) == 12


def test_unknown_model_exits_2_naming_the_available_ones():
    code, stdout, stderr = _main(["run", "--models", "edge-xgb,resnet", "--quiet"])
    assert code == 2 and stdout == ""
    assert stderr.startswith("xray-bench: error: unknown model(s) resnet; available:")
    assert "resnet50" in stderr and stderr.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["run", "--data", "no/such/folder"], "does not exist"),
    (["run", "--cv", "1"], "cv must be an integer >= 2"),
    (["run", "--label-col", "x"], "do not apply"),
    (["run", "--set", "hog-xgb.n_trees=5", "--models", "hog-xgb"], "no parameter(s) n_trees"),
    (["run", "--config", "no/such.json"], "cannot read configuration file"),
    (["predict", "no/such/model", "a.png"], "cannot load model"),
    (["predict", "no/such/model", "a.png", "--output", "x.txt"], "--output must name"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = _main(argv)
    assert code == 2 and stdout == ""
    assert stderr.startswith("xray-bench: error:") and stderr.count("\n") == 1
    assert message in stderr
    assert not (tmp_path / "xray-bench-results").exists()


def test_config_file_with_unknown_keys_exits_2(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"modles": ["hog-xgb"]}))
    code, _, stderr = _main(["run", "--config", config])
    assert code == 2 and "unknown keys ['modles']" in stderr


@pytest.mark.parametrize("argv", [["run", "--set", "hog-xgb"], ["run", "--cv", "x"],
                                  ["run", "--split", "random"], ["predict"]])
def test_argparse_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as error:
        main(argv)
    assert error.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_models_lists_the_registry_with_defaults(capsys):
    from classifiers import available_models

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    for name in available_models():
        assert f"\n{name} " in f"\n{listing}"
    assert "n_estimators=300" in listing and "epochs=30" in listing


def test_help_describes_the_commands(capsys):
    with pytest.raises(SystemExit) as error:
        main(["--help"])
    assert error.value.code == 0
    text = capsys.readouterr().out
    for command in ("run", "predict", "models"):
        assert f"  {command} " in text
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for flag in ("--data", "--group-col", "--cv", "--set", "--fresh", "--save-models"):
        assert flag in text


def test_without_a_command_run_is_meant(monkeypatch):
    from benchmarks import runner
    from benchmarks.runner import DEFAULT_MODELS

    seen = []

    def fake_run_benchmark(config, *, command):
        seen.append((config, command))
        return pd.DataFrame({"model": list(config.models), "fold": 0, "error": ""})

    monkeypatch.setattr(runner, "run_benchmark", fake_run_benchmark)
    assert _main([])[0] == 0
    assert _main(["--models", "hog-xgb", "--cv", "3"])[0] == 0
    (default, command), (flagged, _) = seen
    assert default.data is None and default.models == DEFAULT_MODELS
    assert default.cv is None and command == ["xray-bench", "run"]
    assert flagged.models == ("hog-xgb",) and flagged.cv == 3
