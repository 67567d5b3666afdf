"""``predict`` on hostile files and a tampered ``input.json``."""

import contextlib
import io
import json
import os
import shutil
import signal

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.predict import predict_files
from xray_features.io import save_image


def _main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    code, _, stderr = _main(["run", "--data", "phantoms:fracture", "--data-option",
                             "n_images=24", "--image-size", "32", "--models", "edge-xgb",
                             "--set", "edge-xgb.n_estimators=5", "--save-models", "--out", out,
                             "--quiet"])
    assert code == 0, stderr
    return out / "models" / "edge-xgb"


@pytest.fixture
def film(tmp_path):
    return save_image(tmp_path / "film.png", np.full((32, 32), 90, np.uint8))


def test_fifo_and_device_link_do_not_hang_predict(model_dir, film, tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("blocked")))
    signal.alarm(20)
    try:
        table = predict_files(model_dir, [film, fifo, zero])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
    assert table["error"].tolist()[0] == ""
    assert "FIFO (named pipe), not a regular file" in table["error"].iloc[1]
    assert "character device" in table["error"].iloc[2]


def test_non_utf8_file_name_is_predicted_and_printable(model_dir, film, tmp_path):
    raw = os.fsencode(tmp_path) + b"/\xff.png"
    shutil.copyfile(film, raw)
    table = predict_files(model_dir, [os.fsdecode(raw)])
    assert table["error"].iloc[0] == "" and table["file"].iloc[0].endswith("\\xff.png")
    table.to_csv(tmp_path / "out.csv", index=False)   # writes as UTF-8 without error
    code, stdout, _ = _main(["predict", model_dir, os.fsdecode(raw)])
    assert code == 0 and "\\xff.png" in stdout


@pytest.mark.parametrize("load_size", [100000, 0, "big", [32, 99999]])
def test_tampered_load_size_is_refused_naming_input_json(model_dir, film, tmp_path, load_size):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    info = json.loads((copy / "input.json").read_text())
    info["load_size"] = load_size
    (copy / "input.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"input\.json'.*load_size must be null, an integer "
                                         r"from 8 to 4096"):
        predict_files(copy, [film])
    code, _, stderr = _main(["predict", copy, film])
    assert code == 2 and "load_size" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("class_names", ["abcd", ["a", 1], ["a", "a"], {"a": 0}])
def test_tampered_class_names_are_refused_naming_input_json(model_dir, film, tmp_path,
                                                            class_names):
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    info = json.loads((copy / "input.json").read_text())
    info["class_names"] = class_names
    (copy / "input.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"input\.json'.*class_names must be null or a list"):
        predict_files(copy, [film])
    code, _, stderr = _main(["predict", copy, film])
    assert code == 2 and "class_names" in stderr and "Traceback" not in stderr
