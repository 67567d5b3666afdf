"""Tests of output-folder ownership, the manifest, --fresh, links and atomic writes."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from benchmarks.results.csv_cells import escape_cell, frame_to_csv, unescape_cell
from benchmarks.results.outdir import (MANIFEST_NAME, OutputFolderError, check_not_inside_data,
                                       claim_output_folder, write_output)
from benchmarks.results.store import ResultStore, read_json
from xray_features._atomic import (UnsafePathError, check_no_links, write_bytes_atomic,
                                   write_text_atomic)

ROW = {"model": "edge-xgb", "fold": 0, "f1": 0.5, "error": ""}


def _entries(root):
    return json.loads((root / MANIFEST_NAME).read_text())["entries"]


def test_a_folder_of_the_users_files_is_refused_and_left_untouched(tmp_path):
    (tmp_path / "results.md").write_text("my notes")
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "figure.png").write_bytes(b"mine")
    for fresh in (False, True):
        with pytest.raises(OutputFolderError, match="not empty and was not created by "
                                                     "xray-bench.*--out"):
            ResultStore(tmp_path, {"seed": 0}, fresh=fresh)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots", "results.md"]
    assert (tmp_path / "results.md").read_text() == "my notes"
    assert (tmp_path / "plots" / "figure.png").read_bytes() == b"mine"


def test_missing_or_empty_folders_are_claimed_and_the_manifest_lists_every_write(tmp_path):
    store = ResultStore(tmp_path / "new", {"seed": 0})
    store.save_part("edge-xgb", 0, ROW, pd.DataFrame({"id": ["a"], "proba_x": [0.5]}),
                    traceback="Traceback ...")
    assert _entries(tmp_path / "new") == [
        "fingerprint.json", "parts/", "parts/edge-xgb__fold0.csv",
        "parts/edge-xgb__fold0.json", "parts/edge-xgb__fold0.traceback.txt"]
    (tmp_path / "empty").mkdir()
    assert claim_output_folder(tmp_path / "empty") == []
    assert (tmp_path / "empty" / MANIFEST_NAME).is_file()


def test_fresh_deletes_only_listed_entries_and_keeps_user_files_inside_our_folders(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW)
    write_output(tmp_path, "plots/roc.png", b"png")
    (tmp_path / "plots" / "my-figure.png").write_bytes(b"mine")  # the user's, in our folder
    (tmp_path / "notes.txt").write_text("mine")
    ResultStore(tmp_path, {"seed": 1}, fresh=True)
    assert (tmp_path / "plots" / "my-figure.png").read_bytes() == b"mine"
    assert not (tmp_path / "plots" / "roc.png").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert list((tmp_path / "parts").iterdir()) == []
    assert json.loads((tmp_path / "fingerprint.json").read_text()) == {"seed": 1}


def test_fresh_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "roc.png").write_bytes(b"keep")
    (outside / "results.csv").write_text("keep")
    out = tmp_path / "out"
    ResultStore(out, {"seed": 0})
    write_output(out, "plots/roc.png", b"png")
    write_output(out, "results.csv", "model\n")
    # Someone replaces our folder and file by links to theirs.
    (out / "plots" / "roc.png").unlink()
    (out / "plots").rmdir()
    (out / "plots").symlink_to(outside)
    (out / "results.csv").unlink()
    (out / "results.csv").symlink_to(outside / "results.csv")
    ResultStore(out, {"seed": 0}, fresh=True)
    assert not (out / "plots").is_symlink() and not (out / "plots").exists()
    assert not (out / "results.csv").is_symlink()
    assert (outside / "roc.png").read_bytes() == b"keep"
    assert (outside / "results.csv").read_text() == "keep"


def test_earlier_versions_results_folder_is_adopted_with_known_names_only(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "edge-xgb__fold0.json").write_text(json.dumps(
        {"model": "edge-xgb", "fold": 0, "params": {}, "row": ROW, "history": None}))
    (tmp_path / "parts" / "readme.txt").write_text("mine")
    (tmp_path / "fingerprint.json").write_text(json.dumps({"seed": 0}))
    (tmp_path / "run.json").write_text("{}")
    store = ResultStore(tmp_path, {"seed": 0})  # resumes
    assert store.is_done("edge-xgb", 0)
    assert "parts/readme.txt" not in _entries(tmp_path)
    ResultStore(tmp_path, {"seed": 0}, fresh=True)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["readme.txt"]
    assert not (tmp_path / "run.json").exists()


def test_a_folder_with_an_unknown_entry_is_not_adopted(tmp_path):
    (tmp_path / "parts").mkdir()
    (tmp_path / "fingerprint.json").write_text("{}")
    (tmp_path / "thesis.docx").write_text("mine")
    with pytest.raises(OutputFolderError, match="not created by xray-bench"):
        claim_output_folder(tmp_path)
    assert not (tmp_path / MANIFEST_NAME).exists()


@pytest.mark.parametrize("out", ["data", "data/results", "data/a/../results"])
def test_out_inside_the_data_folder_is_refused(tmp_path, out):
    (tmp_path / "data" / "a").mkdir(parents=True)
    with pytest.raises(OutputFolderError, match="inside the data folder"):
        check_not_inside_data(tmp_path / out, [tmp_path / "data"])
    check_not_inside_data(tmp_path / "results", [tmp_path / "data"])
    check_not_inside_data(tmp_path / "data" / "x", [tmp_path / "labels.csv", None])


def test_a_link_planted_at_an_output_file_is_replaced_not_its_target(tmp_path):
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    out = tmp_path / "out"
    ResultStore(out, {"seed": 0})
    (out / "plots").mkdir()
    (out / "plots" / "roc.png").symlink_to(target)
    write_output(out, "plots/roc.png", b"png")
    assert target.read_text() == "precious"
    assert not (out / "plots" / "roc.png").is_symlink()
    assert (out / "plots" / "roc.png").read_bytes() == b"png"


def test_a_linked_folder_inside_out_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    ResultStore(out, {"seed": 0})
    (out / "plots").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="'plots' is a symbolic link"):
        write_output(out, "plots/roc.png", b"png")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        check_no_links(out / "plots" / "a" / "b.png", out)
    with pytest.raises(UnsafePathError, match="not inside"):
        check_no_links(tmp_path / "x", out)
    assert list(outside.iterdir()) == []


def test_atomic_writes_leave_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "a.npy"
    write_bytes_atomic(path, lambda handle: np.save(handle, np.arange(3)))
    assert np.load(path).tolist() == [0, 1, 2]

    def failing(handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        write_bytes_atomic(path, failing)
    assert np.load(path).tolist() == [0, 1, 2]
    assert os.listdir(tmp_path) == ["a.npy"]
    with pytest.raises(TypeError, match="must be a str"):
        write_text_atomic(path, b"bytes")


@pytest.mark.parametrize("name", ["parts/edge-xgb__fold0.json", "fingerprint.json"])
def test_damaged_result_files_are_named(tmp_path, name):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW)
    (tmp_path / name).write_text('{"row": ')
    with pytest.raises(ValueError, match=f"cannot read '.*{name}': not valid JSON.*--fresh"):
        ResultStore(tmp_path, {"seed": 0}).load_parts()
    with pytest.raises(ValueError, match="cannot read"):
        read_json(tmp_path / name)


@pytest.mark.parametrize("text", ["=HYPERLINK(\"x\")", "+1", "-2.png", "@SUM(A1)",
                                  "\tx", "\rx", "'quoted", "''", "plain.png", "", "a=b"])
def test_csv_cells_are_escaped_and_read_back_exactly(tmp_path, text):
    assert unescape_cell(escape_cell(text)) == text
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert escape_cell(text) == "'" + text
    store = ResultStore(tmp_path, {"seed": 0})
    frame = pd.DataFrame({"id": [text, "b"], "split": "test", "fold": 0,
                          "model": "edge-xgb", "y_true": [0, 1], "proba_a": [-0.5, 1.0]})
    store.save_part("edge-xgb", 0, ROW, frame)
    written = (tmp_path / "parts" / "edge-xgb__fold0.csv").read_text()
    first_cell = written.splitlines()[1].split(",")[0]
    assert not first_cell.lstrip('"').startswith(("=", "+", "-", "@", "\t", "\r"))
    _, predictions = store.load_parts()
    assert predictions["id"].fillna("").tolist() == [text, "b"]
    assert predictions["proba_a"].tolist() == [-0.5, 1.0]  # numbers untouched
    assert "-0.5" in frame_to_csv(frame)


def test_write_atomic_inside_a_results_folder_is_listed_and_refuses_links(tmp_path):
    from benchmarks.results.store import write_atomic

    out = tmp_path / "out"
    ResultStore(out, {"seed": 0})
    write_atomic(out / "pairwise.csv", "a,b\n")
    write_atomic(out / "models" / "m" / "input.json", "{}")
    assert {"pairwise.csv", "models/", "models/m/", "models/m/input.json"} <= set(
        _entries(out))
    (tmp_path / "elsewhere").mkdir()
    (out / "plots").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        write_atomic(out / "plots" / "report.png", "x")
    write_atomic(tmp_path / "loose.txt", "not in a results folder")
    assert (tmp_path / "loose.txt").read_text() == "not in a results folder"


def test_atomic_writes_get_the_mode_of_a_plain_open(tmp_path):
    """Outputs are shared: an atomic write must not leave mkstemp's 0600."""
    import os

    from xray_features._atomic import write_text_atomic

    plain, atomic = tmp_path / "plain.txt", tmp_path / "atomic.txt"
    plain.write_text("x")
    write_text_atomic(atomic, "x")
    assert os.stat(atomic).st_mode & 0o777 == os.stat(plain).st_mode & 0o777


@pytest.mark.parametrize("fresh", [False, True])
def test_a_listed_staging_folder_is_removed_whole_by_the_next_store(tmp_path, fresh):
    from benchmarks.results.outdir import record_outputs

    ResultStore(tmp_path, {"seed": 0})
    staging = tmp_path / "models" / ".edge-xgb.1a2b3c4d.saving"
    record_outputs(tmp_path, [staging])  # listed before it is made, as save() does
    (staging / "sub").mkdir(parents=True)
    (staging / "sub" / "model.ubj").write_bytes(b"half")
    unlisted = tmp_path / "models" / ".other.9f9f9f9f.saving"
    unlisted.mkdir()
    ResultStore(tmp_path, {"seed": 0}, fresh=fresh)
    assert not staging.exists() and unlisted.is_dir()
    assert not any(entry.endswith(".saving") for entry in _entries(tmp_path))


def test_a_part_whose_predictions_changed_is_not_done_and_is_named(tmp_path):
    store = ResultStore(tmp_path, {"seed": 0})
    store.save_part("edge-xgb", 0, ROW, pd.DataFrame({"id": ["a"], "model": ["edge-xgb"]}))
    assert store.is_done("edge-xgb", 0) and store.damaged("edge-xgb", 0) is None
    csv = tmp_path / "parts" / "edge-xgb__fold0.csv"
    csv.write_text(csv.read_text().replace("a", "b"))
    assert not store.is_done("edge-xgb", 0)
    assert "SHA-256 differs" in store.damaged("edge-xgb", 0)
    with pytest.raises(ValueError, match="edge-xgb__fold0.csv' is damaged"):
        store.load_parts()
