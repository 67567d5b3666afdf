"""CSV sources of benchmarks.datasets: column detection, task selection, bad rows."""

import warnings

import cv2
import numpy as np
import pytest

from benchmarks.datasets import DatasetError, DatasetWarning, load_dataset

# NIH ChestX-ray14 style rows: image, findings, patient.
ROWS = [
    ("a.png", "Pneumonia", "P1"),
    ("b.png", "Pneumonia|Effusion", "P1"),
    ("c.png", "No Finding", "P2"),
    ("d.png", "Effusion", "P3"),
    ("e.png", "Effusion|Atelectasis", "P3"),
    ("f.png", "No Finding", "P4"),
    ("g.png", "Atelectasis", "P5"),
]


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(f'"{v}"' for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_images(folder, names, size=(20, 16)):
    for k, name in enumerate(names):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), np.full(size, 10 * k, np.uint8))


@pytest.fixture
def nih(tmp_path):
    write_images(tmp_path, [r[0] for r in ROWS])
    return write_csv(tmp_path / "Data_Entry.csv", ["Image Index", "Finding Labels", "Patient ID"],
                     ROWS)


def by_id(ds):
    return dict(zip(ds.ids.tolist(), ds.labels.tolist()))


def test_binary_positive_against_negative_only(nih):
    with pytest.warns(DatasetWarning, match="rows outside the task: 3"):
        ds = load_dataset(nih, positive="Pneumonia", negative="No Finding")
    assert ds.task == "binary"
    assert ds.class_names == ("No Finding", "Pneumonia")
    # a alone, b with Effusion -> positive; c and f only 'No Finding' -> negative.
    assert by_id(ds) == {"a.png": 1, "b.png": 1, "c.png": 0, "f.png": 0}
    assert sorted(i for i, _ in ds.skipped) == ["d.png", "e.png", "g.png"]
    assert dict(zip(ds.ids, ds.groups)) == {"a.png": "P1", "b.png": "P1", "c.png": "P2",
                                            "f.png": "P4"}
    assert ds.images is None and all(p.endswith(i) for p, i in zip(ds.paths, ds.ids))


def test_binary_strict_accepts_deliberate_exclusions(nih):
    with pytest.warns(DatasetWarning):
        ds = load_dataset(nih, positive="Pneumonia", negative="No Finding", strict=True)
    assert len(ds) == 4 and len(ds.skipped) == 3


def test_binary_without_negative_is_one_against_rest(nih):
    ds = load_dataset(nih, positive=["Pneumonia", "Atelectasis"])
    assert ds.class_names == ("not Pneumonia|Atelectasis", "Pneumonia|Atelectasis")
    assert by_id(ds) == {"a.png": 1, "b.png": 1, "c.png": 0, "d.png": 0, "e.png": 1,
                         "f.png": 0, "g.png": 1}
    assert ds.skipped == []


def test_multiclass_keeps_exactly_one_chosen_label(nih):
    with pytest.warns(DatasetWarning, match="rows outside the task: 4"):
        ds = load_dataset(nih, classes=["Effusion", "Atelectasis", "Pneumonia"])
    assert ds.task == "multiclass"
    assert ds.class_names == ("Effusion", "Atelectasis", "Pneumonia")  # order as given
    assert by_id(ds) == {"a.png": 2, "d.png": 0, "g.png": 1}
    reasons = dict(ds.skipped)
    assert "several labels" in reasons["b.png"] and "several labels" in reasons["e.png"]
    assert "not among classes" in reasons["c.png"]


def test_two_classes_give_binary(nih):
    with pytest.warns(DatasetWarning):
        ds = load_dataset(nih, classes=["No Finding", "Effusion"])
    assert ds.task == "binary" and by_id(ds) == {"c.png": 0, "d.png": 1, "f.png": 0}


def test_multilabel_indicator_matrix(nih):
    ds = load_dataset(nih, multilabel=True)
    assert ds.task == "multilabel"
    assert ds.class_names == ("Atelectasis", "Effusion", "No Finding", "Pneumonia")
    expected = {"a.png": [0, 0, 0, 1], "b.png": [0, 1, 0, 1], "c.png": [0, 0, 1, 0],
                "d.png": [0, 1, 0, 0], "e.png": [1, 1, 0, 0], "f.png": [0, 0, 1, 0],
                "g.png": [1, 0, 0, 0]}
    assert by_id(ds) == expected
    assert ds.labels.shape == (7, 4)


def test_multilabel_negative_rows_are_all_zero(nih):
    with pytest.warns(DatasetWarning, match="rows outside the task: 1"):
        ds = load_dataset(nih, task="multilabel", classes=["Effusion", "Pneumonia"],
                          negative="No Finding")
    assert ds.class_names == ("Effusion", "Pneumonia")
    assert by_id(ds) == {"a.png": [0, 1], "b.png": [1, 1], "c.png": [0, 0], "d.png": [1, 0],
                         "e.png": [1, 0], "f.png": [0, 0]}
    assert [i for i, _ in ds.skipped] == ["g.png"]


def test_several_labels_without_task_is_refused(nih):
    with pytest.raises(DatasetError, match="2 row.*several labels.*positive="):
        load_dataset(nih)


def test_single_label_csv_default_task(tmp_path):
    write_images(tmp_path / "img", ["1.png", "2.png", "3.png", "4.png"])
    rows = [("1.png", "dog"), ("2.png", "cat"), ("3.png", "dog"), ("4.png", "bird")]
    csv = write_csv(tmp_path / "labels.csv", ["filename", "class"], rows)
    ds = load_dataset(csv, image_dir=tmp_path / "img")
    assert ds.task == "multiclass" and ds.class_names == ("bird", "cat", "dog")
    assert ds.labels.tolist() == [2, 1, 2, 0]
    assert ds.groups is None and ds.split is None and ds.name == "labels"
    binary = write_csv(tmp_path / "two.csv", ["file", "label"], rows[:3])
    ds = load_dataset(binary, image_dir=tmp_path / "img")
    assert ds.task == "binary" and ds.class_names == ("cat", "dog")


def test_numeric_labels_sort_as_numbers(tmp_path):
    names = [f"{k}.png" for k in range(3)]
    write_images(tmp_path, names)
    csv = write_csv(tmp_path / "l.csv", ["image", "label"], zip(names, ["10", "2", "2"]))
    assert load_dataset(csv).class_names == ("2", "10")


def test_explicit_columns_split_and_separator(tmp_path):
    write_images(tmp_path, ["x1.png", "x2.png", "x3.png", "x4.png"])
    rows = [("x1.png", "A;B", "Train", "s1"), ("x2.png", "B", "val", "s2"),
            ("x3.png", "A", "TEST", "s3"), ("x4.png", "B", "train", "s1")]
    csv = write_csv(tmp_path / "t.csv", ["img_file", "findings", "part", "who"], rows)
    ds = load_dataset(csv, image_col="img_file", label_col="findings", split_col="part",
                      group_col="who", label_sep=";", multilabel=True)
    assert ds.labels.tolist() == [[1, 1], [0, 1], [1, 0], [0, 1]]
    assert ds.split.tolist() == ["train", "val", "test", "train"]
    assert ds.groups.tolist() == ["s1", "s2", "s3", "s1"]
    assert "split train=2 val=1 test=1" in repr(ds) and "3 groups" in repr(ds)


def test_group_and_split_columns_auto_detected_or_disabled(tmp_path):
    write_images(tmp_path, ["1.png", "2.png"])
    csv = write_csv(tmp_path / "l.csv", ["file", "label", "patient_id", "split"],
                    [("1.png", "a", "p", "train"), ("2.png", "b", "q", "test")])
    ds = load_dataset(csv)
    assert ds.groups.tolist() == ["p", "q"] and ds.split.tolist() == ["train", "test"]
    ds = load_dataset(csv, group_col=False, split_col=False)
    assert ds.groups is None and ds.split is None


def test_files_found_in_subfolders_and_without_extension(tmp_path):
    write_images(tmp_path / "images_001" / "images", ["a.png"])
    write_images(tmp_path / "images_002" / "images", ["b.png"])
    write_images(tmp_path, ["c.png"])
    csv = write_csv(tmp_path / "l.csv", ["file", "label"],
                    [("a.png", "x"), ("b.png", "y"), ("c", "y")])
    ds = load_dataset(csv)
    assert ds.ids.tolist() == ["a.png", "b.png", "c"]
    assert ds.paths[0].endswith("a.png") and "images_002" in ds.paths[1]
    assert ds.paths[2].endswith("c.png")


def test_missing_columns_are_named(nih):
    with pytest.raises(DatasetError, match="image_col='nope' is not a column.*Image Index"):
        load_dataset(nih, image_col="nope")
    csv = write_csv(nih.parent / "odd.csv", ["a", "b"], [("a.png", "x")])
    with pytest.raises(DatasetError, match="no image column.*image_col="):
        load_dataset(csv)


# ---------------------------------------------------------------- bad inputs

def test_missing_file_lenient_and_strict(nih):
    (nih.parent / "c.png").unlink()
    with pytest.warns(DatasetWarning, match=r"missing files: 1 \('c.png'\)"):
        ds = load_dataset(nih, positive="Pneumonia")
    assert "c.png" not in ds.ids and len(ds) == 6
    assert ("c.png", f"file not found in {str(nih.parent)!r}") in ds.skipped
    with pytest.raises(DatasetError, match="'c.png': file not found"):
        load_dataset(nih, positive="Pneumonia", strict=True)


def test_unknown_class_lenient_and_strict(nih):
    with pytest.warns(DatasetWarning, match="unknown classes: 1 \\('Nodule'\\)"):
        ds = load_dataset(nih, classes=["Effusion", "Nodule", "Atelectasis"])
    assert ds.class_names == ("Effusion", "Atelectasis")
    assert by_id(ds) == {"d.png": 0, "g.png": 1}
    with pytest.raises(DatasetError, match="'Nodule'.*not a label of any row"):
        load_dataset(nih, classes=["Effusion", "Nodule", "Atelectasis"], strict=True)


def test_misspelt_positive_leaves_one_class_and_is_refused(nih):
    with pytest.raises(DatasetError, match="fewer than two classes.*unknown class.*Pnuemonia"):
        load_dataset(nih, positive="Pnuemonia", negative="No Finding")


def test_empty_class_lenient_and_strict(nih):
    (nih.parent / "g.png").unlink()  # the only image of Atelectasis alone
    with pytest.warns(DatasetWarning, match="empty classes: 1 \\('Atelectasis'\\)"):
        ds = load_dataset(nih, classes=["Effusion", "Atelectasis", "Pneumonia"])
    assert ds.class_names == ("Effusion", "Pneumonia")
    assert by_id(ds) == {"a.png": 1, "d.png": 0}
    with pytest.raises(DatasetError, match="'g.png': file not found"):
        load_dataset(nih, classes=["Effusion", "Atelectasis", "Pneumonia"], strict=True)


def test_single_class_is_refused(tmp_path):
    write_images(tmp_path, ["1.png", "2.png"])
    csv = write_csv(tmp_path / "l.csv", ["file", "label"], [("1.png", "a"), ("2.png", "a")])
    with pytest.raises(DatasetError, match="fewer than two classes.*'a': 2"):
        load_dataset(csv)


def test_duplicate_rows_keep_first_or_refuse(tmp_path):
    write_images(tmp_path, ["1.png", "2.png", "3.png"])
    rows = [("1.png", "a"), ("2.png", "b"), ("1.png", "b"), ("3.png", "b"), ("./3.png", "b")]
    csv = write_csv(tmp_path / "l.csv", ["file", "label"], rows)
    with pytest.warns(DatasetWarning, match="duplicate rows: 2"):
        ds = load_dataset(csv)
    assert ds.ids.tolist() == ["1.png", "2.png", "3.png"] and ds.labels.tolist() == [0, 1, 1]
    reasons = dict(ds.skipped)
    assert reasons["1.png"] == ("duplicate row: line 4 repeats line 2, which is kept "
                                "(labels differ)")
    assert reasons["./3.png"] == "duplicate row: line 6 repeats line 5, which is kept"
    with pytest.raises(DatasetError, match="'1.png': duplicate row: line 4"):
        load_dataset(csv, strict=True)


def test_empty_fields_and_bad_split_values(tmp_path):
    write_images(tmp_path, ["1.png", "2.png", "3.png", "4.png", "5.png"])
    rows = [("1.png", "a", "train"), ("", "b", "train"), ("2.png", "", "test"),
            ("3.png", "b", "holdout"), ("4.png", "b", "test"), ("5.png", "a", "val")]
    csv = write_csv(tmp_path / "l.csv", ["file", "label", "split"], rows)
    with pytest.warns(DatasetWarning) as record:
        ds = load_dataset(csv)
    assert len(record) == 1  # one warning for all problems
    message = str(record[0].message)
    assert "3 item(s)" in message and "rows with an empty field: 2" in message
    assert "rows with a bad split value: 1 ('3.png')" in message
    assert ds.ids.tolist() == ["1.png", "4.png", "5.png"]
    with pytest.raises(DatasetError, match="'line 3': empty 'file'"):
        load_dataset(csv, strict=True)


def test_option_conflicts_and_types(nih):
    with pytest.raises(ValueError, match="positive= defines a binary task"):
        load_dataset(nih, positive="Pneumonia", classes=["Effusion", "Pneumonia"])
    with pytest.raises(ValueError, match="negative=.*needs positive="):
        load_dataset(nih, negative="No Finding")
    with pytest.raises(TypeError, match="positive must be a label name"):
        load_dataset(nih, positive=3)
    with pytest.raises(ValueError, match="task must be one of"):
        load_dataset(nih, task="regression")
    with pytest.raises(DatasetError, match="task='binary' but .* 3 classes"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DatasetWarning)
            load_dataset(nih, classes=["Effusion", "Atelectasis", "Pneumonia"], task="binary")
    with pytest.raises(DatasetError, match="image_dir .* is not a folder"):
        load_dataset(nih, image_dir=nih.parent / "nowhere")
    with pytest.raises(TypeError, match=r"option\(s\) \['size'\] do not apply"):
        load_dataset(nih, size=3)
