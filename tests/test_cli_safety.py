"""Tests of the command's safety: folders it does not own, links, predict --output,
configuration types, parameter checks, closed pipes, SIGTERM, a full disk, quiet TensorFlow."""

import contextlib
import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import runner
from benchmarks.results import store
from benchmarks.cli import main

PHANTOMS = ["--data", "phantoms:fracture", "--data-option", "n_images=40", "--data-option",
            "image_size=32", "--image-size", "32", "--set", "edge-xgb.n_estimators=10",
            "--set", "hog-xgb.n_estimators=10", "--seed", "0"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _tree(root):
    return sorted((str(p.relative_to(root)), p.read_bytes() if p.is_file() else None)
                  for p in root.rglob("*"))


def test_run_refuses_a_folder_of_the_users_files_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "_load_dataset", lambda config: pytest.fail("data loaded"))
    out = tmp_path / "mine"
    (out / "models").mkdir(parents=True)
    (out / "results.md").write_text("my results")
    (out / "models" / "weights.h5").write_bytes(b"mine")
    before = _tree(out)
    for extra in ([], ["--fresh"]):
        code, _, stderr = _main(["run", *PHANTOMS, "--models", "edge-xgb", "--out", out,
                                 *extra])
        assert code == 2
        assert "not empty and was not created by xray-bench" in stderr
        assert "Choose a new or empty output directory (--out)" in stderr
    assert _tree(out) == before


@pytest.mark.parametrize("inside", ["", "results"])
def test_run_refuses_out_inside_the_data_folder_up_front(tmp_path, inside):
    data = tmp_path / "films"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
    out = data / inside if inside else data
    code, _, stderr = _main(["run", "--data", data, "--models", "edge-xgb", "--out", out])
    assert code == 2
    assert "is inside the data folder" in stderr
    assert sorted(p.name for p in data.iterdir()) == ["a", "b"]


def test_links_in_the_output_folder_never_lead_a_run_outside_it(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.png"
    victim.write_bytes(b"precious")
    out = tmp_path / "out"
    argv = ["run", *PHANTOMS, "--models", "edge-xgb", "--out", out, "--quiet"]
    assert _main(argv)[0] == 0
    (out / "plots" / "roc.png").unlink()
    (out / "plots" / "roc.png").symlink_to(victim)  # a planted link to a file
    assert _main(argv)[0] == 0
    assert victim.read_bytes() == b"precious"
    assert not (out / "plots" / "roc.png").is_symlink()

    for png in (out / "plots").iterdir():
        png.unlink()
    (out / "plots").rmdir()
    (out / "plots").symlink_to(outside)  # a planted link to a folder
    code, _, stderr = _main(argv)
    assert code == 2
    assert "'plots' is a symbolic link" in stderr
    assert sorted(p.name for p in outside.iterdir()) == ["victim.png"]
    assert victim.read_bytes() == b"precious"
    assert json.loads((out / "run.json").read_text())["status"].startswith("failed")
    assert (out / "parts" / "edge-xgb__fold0.json").exists()  # nothing finished lost


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    from classifiers.xgb import FeatureXGBClassifier
    from xray_features.io import save_image

    root = tmp_path_factory.mktemp("predict")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (20, 24, 24), dtype=np.uint8)
    y = np.arange(20) % 2
    images[y == 1, 6:18, 10:14] = 230
    model = FeatureXGBClassifier("edge", image_size=24, n_estimators=5).fit(images, y)
    model.save(root / "model")
    files = []
    for i, name in enumerate(["=HYPERLINK(1).png", "plain.png"]):
        save_image(root / name, images[i])
        files.append(root / name)
    return root / "model", files


def test_predict_refuses_to_overwrite_output_unless_asked(saved_model, tmp_path,
                                                          monkeypatch):
    model, files = saved_model
    monkeypatch.chdir(files[0].parent)
    files = [file.name for file in files]  # '=HYPERLINK(1).png' is the first cell
    output = tmp_path / "table.csv"
    output.write_text("my spreadsheet")
    code, _, stderr = _main(["predict", model, *files, "--output", output, "--quiet"])
    assert code == 2 and "exists; refusing to overwrite it. Pass --overwrite" in stderr
    assert output.read_text() == "my spreadsheet"
    code, _, stderr = _main(["predict", model, *files, "--output", output, "--overwrite",
                             "--quiet"])
    assert code == 0, stderr
    rows = output.read_text().splitlines()
    assert rows[1].startswith("'=HYPERLINK(1).png,")
    assert not any(row.startswith(("=", "+", "-", "@")) for row in rows)


def test_failed_predict_leaves_no_output_file(saved_model, tmp_path, monkeypatch):
    import benchmarks.predict as predict

    model, files = saved_model
    real_predict_files = predict.predict_files

    def undecodable_name(model_dir, files, **options):  # a row not writable as UTF-8
        frame = real_predict_files(model_dir, files, **options)
        frame.loc[len(frame) - 1, "file"] = "film\udcff.png"
        return frame

    monkeypatch.setattr(predict, "predict_files", undecodable_name)
    code, _, stderr = _main(["predict", model, *files, "--output", tmp_path / "table.csv"])
    assert code == 2 and "encode" in stderr
    assert list(tmp_path.iterdir()) == []  # no header-only file


def test_predict_names_a_damaged_input_json(saved_model, tmp_path):
    import shutil

    model, files = saved_model
    copy = tmp_path / "model"
    shutil.copytree(model, copy)
    (copy / "input.json").write_text("{not json")
    code, _, stderr = _main(["predict", copy, files[1]])
    assert code == 2
    assert "input.json': not valid JSON" in stderr


def test_keras_model_naming_a_native_file_outside_its_folder_is_refused(tmp_path):
    from classifiers import load_model
    from classifiers.persistence import ModelLoadError

    outside = tmp_path / "evil.keras"
    outside.write_bytes(b"not loaded")
    model = tmp_path / "model"
    model.mkdir()
    for name in ("../evil.keras", str(outside), ".hidden.keras"):
        (model / "model.json").write_text(json.dumps({
            "format": "xray-bench-model", "format_version": 1,
            "estimator": "classifiers.keras_models.CNNClassifier", "params": {},
            "classes": {"values": [0, 1], "dtype": "<i8"}, "task": "binary",
            "native": {"file": name}}))
        with pytest.raises(ModelLoadError, match="is not a plain name inside the model folder"):
            load_model(model)
    (model / "model.keras").symlink_to(outside)
    (model / "model.json").write_text((model / "model.json").read_text().replace(
        ".hidden.keras", "model.keras"))
    with pytest.raises(ModelLoadError, match="is a symbolic link"):
        load_model(model)


@pytest.mark.parametrize("settings, message", [
    ({"fresh": "no"}, '"fresh" must be true or false (a JSON boolean); got "no"'),
    ({"quiet": "yes"}, '"quiet" must be true or false'),
    ({"model_params": 3}, '"model_params" must be an object mapping model names'),
    ({"model_params": {"cnn": 3}}, '"model_params" must be an object mapping'),
    ({"cv": "5"}, '"cv" must be an integer number of folds or null; got "5"'),
    ({"models": "hog-xgb", "dataset_options": []}, '"dataset_options" must be an object'),
])
def test_config_file_values_of_the_wrong_type_name_the_file_and_key(tmp_path, settings,
                                                                   message):
    config = tmp_path / "settings.json"
    config.write_text(json.dumps(settings))
    code, _, stderr = _main(["run", "--config", config, "--out", tmp_path / "out"])
    assert code == 2
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    assert f"configuration file '{config}'" in stderr and message in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("setting, message", [
    ("hog-xgb.max_depth=abc", "'max_depth' parameter of FeatureXGBClassifier must be an int"),
    ("hog-xgb.n_estimators=-1", "'n_estimators' parameter"),
    ("hog-xgb.learning_rate=NaN", "Got nan instead"),
    ("cnn-small.epochs=0", "'epochs' parameter of CNNClassifier"),
])
def test_invalid_set_values_exit_2_before_any_work(tmp_path, monkeypatch, setting, message):
    monkeypatch.setattr(runner, "_load_dataset", lambda config: pytest.fail("data loaded"))
    code, _, stderr = _main(["run", "--models", "hog-xgb,cnn-small", "--set", setting,
                             "--out", tmp_path / "out"])
    assert code == 2
    assert f"--set {setting.split('.')[0]}.PARAM=VALUE" in stderr and message in stderr
    assert not (tmp_path / "out").exists()


def test_sigterm_marks_the_run_terminated_and_keeps_finished_parts(tmp_path, monkeypatch):
    real_run_part = runner._run_part
    calls = []

    def terminated_second_part(*args):
        calls.append(args[0])
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_run_part(*args)

    monkeypatch.setattr(runner, "_run_part", terminated_second_part)
    out = tmp_path / "out"
    code, _, stderr = _main(["run", *PHANTOMS, "--models", "edge-xgb,hog-xgb", "--out", out,
                             "--quiet"])
    assert code == 143
    assert "terminated (SIGTERM); finished results are kept" in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "terminated"
    assert [p.name for p in (out / "parts").glob("*.json")] == ["edge-xgb__fold0.json"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored


def test_full_disk_is_a_clear_error_and_run_json_says_so(tmp_path, monkeypatch):
    real_save_part = store.ResultStore.save_part
    calls = []

    def full_disk_on_second_part(self, *args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(self.parts / "x.csv"))
        return real_save_part(self, *args, **kwargs)

    monkeypatch.setattr(store.ResultStore, "save_part", full_disk_on_second_part)
    out = tmp_path / "out"
    code, _, stderr = _main(["run", *PHANTOMS, "--models", "edge-xgb,hog-xgb", "--out", out,
                             "--quiet"])
    assert code == 2
    assert "disk full while writing results to" in stderr
    assert "Finished parts are kept" in stderr and "Traceback" not in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "failed: disk full"
    assert [p.name for p in (out / "parts").glob("*.json")] == ["edge-xgb__fold0.json"]


def test_a_closed_pipe_ends_the_command_quietly():
    command = (f"{sys.executable} -m benchmarks models | head -1; "
               "echo \"status=${PIPESTATUS[0]}\"")
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("edge-xgb")
    assert lines[-1] in ("status=0", "status=141")
    assert result.stderr == ""


def test_tensorflow_native_notices_are_silenced_unless_verbose():
    pytest.importorskip("tensorflow")
    script = ("import sys; from benchmarks.cli.quiet import silence_tensorflow; "
              "silence_tensorflow(verbose=False, needs_tensorflow=True); "
              "import tensorflow as tf; tf.constant(1) + 1; print('ok', file=sys.stderr)")
    env = {key: value for key, value in os.environ.items()
           if key not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    env["PYTHONPATH"] = REPO
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "ok\n"


def test_verbose_and_a_users_log_level_are_respected():
    from benchmarks.cli.quiet import silence_tensorflow

    env = {}
    assert not silence_tensorflow(verbose=True, needs_tensorflow=True, environ=env)
    assert env == {}
    env = {"TF_CPP_MIN_LOG_LEVEL": "1"}
    assert not silence_tensorflow(verbose=False, needs_tensorflow=True, environ=env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "1"
    env = {}
    silence_tensorflow(verbose=False, needs_tensorflow=False, environ=env)
    assert env["TF_CPP_MIN_LOG_LEVEL"] == "3"


def test_config_file_with_a_byte_order_mark_is_read(tmp_path, monkeypatch):
    seen = {}

    def stop(config):
        seen["models"] = config.models
        raise ValueError("stop here")

    monkeypatch.setattr(runner, "_load_dataset", stop)
    config = tmp_path / "settings.json"
    config.write_bytes(b"\xef\xbb\xbf" + json.dumps({"models": ["edge-xgb"]}).encode())
    code, _, stderr = _main(["run", "--config", config, "--out", tmp_path / "out"])
    assert code == 2 and "stop here" in stderr and "not valid JSON" not in stderr
    assert seen["models"] == ("edge-xgb",)


_SIGNAL_IN_XGBOOST = """
import os, signal, sys
from pathlib import Path
import xgboost.data
from benchmarks.cli import main

out, signum = Path(sys.argv[1]), int(sys.argv[2])
real_next = xgboost.data.SingleBatchInternalIter.next
sent = []

def next_batch(self, input_data):
    # The signal lands inside XGBoost's ctypes data callback, once a part is saved.
    if not sent and list((out / "parts").glob("*.json")):
        sent.append(signum)
        os.kill(os.getpid(), signum)
    return real_next(self, input_data)

xgboost.data.SingleBatchInternalIter.next = next_batch
sys.exit(main(sys.argv[3:]))
"""


@pytest.mark.parametrize("signum, code, status", [(signal.SIGINT, 130, "interrupted"),
                                                  (signal.SIGTERM, 143, "terminated")])
def test_a_signal_inside_xgboosts_data_callback_ends_the_run(tmp_path, signum, code, status):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-c", _SIGNAL_IN_XGBOOST, str(out), str(int(signum)), "run",
         *PHANTOMS, "--models", "edge-xgb,hog-xgb", "--out", str(out), "--quiet"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == code, result.stderr
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr
    assert json.loads((out / "run.json").read_text())["status"] == status
    assert [p.name for p in (out / "parts").glob("*.json")] == ["edge-xgb__fold0.json"]


# --- every command that writes: one rule (benchmarks.results.outdir.check_output) ----------
def test_report_refuses_a_report_html_it_did_not_write(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "run.json").write_text('{"status": "finished"}')
    (folder / "report.html").write_text("<p>my report</p>")
    before = _tree(folder)
    code, _, stderr = _main(["report", folder])
    assert code == 2 and "Traceback" not in stderr
    assert f"'{folder / 'report.html'}' was not written by xray-bench" in stderr
    assert "refusing to overwrite it" in stderr
    assert _tree(folder) == before


def _run_edge(out, *extra, models="edge-xgb"):
    return _main(["run", *PHANTOMS, "--models", models, "--out", out, "--quiet", *extra])


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
def test_a_damaged_part_is_refitted_on_resume_and_refused_by_report(tmp_path, damage):
    out = tmp_path / "out"
    assert _run_edge(out)[0] == 0
    csv = out / "parts" / "edge-xgb__fold0.csv"
    data = csv.read_bytes()
    csv.write_bytes(data[:40] if damage == "truncated" else b"\x00garbled\xff" + data[10:])
    code, _, stderr = _main(["report", out])
    assert code == 2 and "Traceback" not in stderr and "KeyError" not in stderr
    assert f"'{csv}' is damaged" in stderr and "command again to refit that part" in stderr
    code, _, stderr = _run_edge(out, models="edge-xgb,hog-xgb")
    assert code == 0, stderr
    assert f"warning: '{csv}' is damaged" in stderr and "fitting edge-xgb (fold 0) again" in stderr
    predictions = (out / "predictions.csv").read_text()
    assert "edge-xgb" in predictions and "hog-xgb" in predictions
    assert (out / "pairwise.csv").is_file()
    assert _main(["report", out])[0] == 0


def test_full_disk_while_saving_models_keeps_the_predictions(tmp_path, monkeypatch):
    from classifiers.xgb import FeatureXGBClassifier

    def full_disk(self, directory):
        (directory / "model.ubj").write_bytes(b"half")
        raise OSError(28, "No space left on device", str(directory / "model.ubj"))

    monkeypatch.setattr(FeatureXGBClassifier, "_save_native", full_disk)
    out = tmp_path / "out"
    code, _, stderr = _run_edge(out, "--save-models", models="edge-xgb,hog-xgb")
    assert code == 2, stderr
    assert "disk full while writing results to" in stderr and "Traceback" not in stderr
    assert json.loads((out / "run.json").read_text())["status"] == "failed: disk full"
    record = json.loads((out / "parts" / "edge-xgb__fold0.json").read_text())
    assert record["row"]["error"] == ""
    assert "edge-xgb" in (out / "predictions.csv").read_text()
    assert not list((out / "models").glob(".*.saving"))
    monkeypatch.undo()
    code, _, stderr = _run_edge(out, "--save-models", models="edge-xgb,hog-xgb")
    assert code == 0, stderr
    assert (out / "models" / "edge-xgb" / "model.json").is_file()


_KILLED_IN_A_SAVE = """
import os, signal, sys
from classifiers.xgb import FeatureXGBClassifier
from benchmarks.cli import main
real = FeatureXGBClassifier._save_native
def killed(self, directory):
    real(self, directory)
    os.kill(os.getpid(), signal.SIGKILL)
FeatureXGBClassifier._save_native = killed
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("again", [[], ["--fresh"]])
def test_a_staging_folder_left_by_a_kill_is_listed_and_removed_by_the_next_run(tmp_path,
                                                                                again):
    out = tmp_path / "out"
    argv = ["run", *PHANTOMS, "--models", "edge-xgb", "--out", str(out), "--quiet",
            "--save-models"]
    killed = subprocess.run([sys.executable, "-c", _KILLED_IN_A_SAVE, *argv], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    staging = list((out / "models").glob(".edge-xgb.*.saving"))
    assert len(staging) == 1 and any(staging[0].iterdir())
    manifest = json.loads((out / ".xray-bench-manifest.json").read_text())
    assert f"models/{staging[0].name}" in manifest["entries"]
    code, _, stderr = _main([*argv, *again])
    assert code == 0, stderr
    assert not staging[0].exists()
    assert (out / "models" / "edge-xgb" / "model.json").is_file()


def test_predict_explain_refuses_to_overwrite_an_overlay_unless_asked(saved_model,
                                                                     tmp_path):
    model, files = saved_model
    folder = tmp_path / "overlays"
    folder.mkdir()
    mine = folder / "plain.explain.png"
    mine.write_bytes(b"my figure")
    code, _, stderr = _main(["predict", model, *files, "--explain", folder, "--quiet"])
    assert code == 2 and "Traceback" not in stderr
    assert (f"--explain '{mine}' exists; refusing to overwrite it. Pass --overwrite to "
            "replace it, or choose another folder.") in stderr
    assert mine.read_bytes() == b"my figure"
    assert sorted(p.name for p in folder.iterdir()) == ["plain.explain.png"]
    code, _, stderr = _main(["predict", model, *files, "--explain", folder, "--overwrite",
                             "--quiet"])
    assert code == 0, stderr
    assert mine.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("command", ["inspect", "pretrain"])
def test_out_inside_the_data_folder_is_refused_by_every_command(tmp_path, command):
    from xray_features.io import save_image

    data = tmp_path / "films"
    for k, name in enumerate(("a", "b")):
        (data / name).mkdir(parents=True)
        for i in range(8):
            save_image(data / name / f"{i}.png", np.full((24, 24), 40 + 9 * i + 90 * k,
                                                         np.uint8))
    before = _tree(data)
    out = data / "a" / "look"
    code, _, stderr = _main([command, "--data", data, "--out", out])
    assert code == 2 and "Traceback" not in stderr
    assert f"--out '{out}' is inside the data folder '{data}'" in stderr
    assert _tree(data) == before
