"""Folder sources of benchmarks.datasets: class folders, split folders, DICOM + CSV."""

import cv2
import numpy as np
import pytest

from benchmarks.datasets import DatasetError, DatasetWarning, load_dataset


def write_png(path, value=0, shape=(24, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))


def write_dicom(path, pixels):
    from pydicom.dataset import Dataset as DicomDataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

    ds = DicomDataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.set_pixel_data(pixels.astype(np.uint16), "MONOCHROME2", 12)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


@pytest.fixture
def class_folder(tmp_path):
    for name in ("n1.png", "n2.jpg", "sub/n3.png"):
        write_png(tmp_path / "normal" / name, 20)
    for name in ("p1.PNG", "p2.bmp"):
        write_png(tmp_path / "pneumonia" / name, 200)
    write_png(tmp_path / "effusion" / "e1.tif", 120)
    return tmp_path


def test_class_folder_without_split(class_folder):
    ds = load_dataset(class_folder)
    assert ds.class_names == ("effusion", "normal", "pneumonia")
    assert ds.task == "multiclass" and ds.split is None and ds.images is None
    assert dict(zip(ds.ids, ds.labels.tolist())) == {
        "effusion/e1.tif": 0, "normal/n1.png": 1, "normal/n2.jpg": 1, "normal/sub/n3.png": 1,
        "pneumonia/p1.PNG": 2, "pneumonia/p2.bmp": 2}
    assert ds.name == class_folder.name and ds.skipped == []
    assert "6 images, lazy, multiclass: effusion=1 normal=3 pneumonia=2" in repr(ds)


def test_class_folder_with_split_folders(tmp_path):
    layout = {"train": {"NORMAL": 3, "PNEUMONIA": 2}, "val": {"NORMAL": 1, "PNEUMONIA": 1},
              "test": {"NORMAL": 1}}
    for part, classes in layout.items():
        for cls, n in classes.items():
            for k in range(n):
                write_png(tmp_path / part / cls / f"{k}.png")
    ds = load_dataset(tmp_path)
    assert ds.class_names == ("NORMAL", "PNEUMONIA") and ds.task == "binary"
    assert ds.summary()["class_counts_by_split"] == {
        "train": {"NORMAL": 3, "PNEUMONIA": 2}, "val": {"NORMAL": 1, "PNEUMONIA": 1},
        "test": {"NORMAL": 1, "PNEUMONIA": 0}}
    assert dict(zip(ds.ids, ds.split)) ["val/PNEUMONIA/0.png"] == "val"
    assert all(i.startswith(s + "/") for i, s in zip(ds.ids, ds.split))


def test_mixed_split_and_class_folders_are_refused(tmp_path):
    write_png(tmp_path / "train" / "a" / "1.png")
    write_png(tmp_path / "b" / "1.png")
    with pytest.raises(DatasetError, match=r"mixes split folders \['train'\].*\['b'\]"):
        load_dataset(tmp_path)


def test_stray_files_lenient_and_strict(class_folder):
    (class_folder / "normal" / "notes.txt").write_text("x")
    (class_folder / "README.md").write_text("x")
    (class_folder / "normal" / ".hidden.png").write_text("x")  # hidden files are ignored
    with pytest.warns(DatasetWarning, match="non-image files: 1 \\('normal/notes.txt'\\)"):
        ds = load_dataset(class_folder)
    assert len(ds) == 6
    assert dict(ds.skipped)["README.md"] == "file lies outside any class folder"
    with pytest.raises(DatasetError, match="'README.md': file lies outside any class folder"):
        load_dataset(class_folder, strict=True)


def test_empty_class_folder_lenient_and_strict(class_folder):
    (class_folder / "fracture").mkdir()
    with pytest.warns(DatasetWarning, match="empty classes: 1 \\('fracture'\\)"):
        ds = load_dataset(class_folder)
    assert ds.class_names == ("effusion", "normal", "pneumonia")
    with pytest.raises(DatasetError, match="'fracture': class folder holds no image file"):
        load_dataset(class_folder, strict=True)


def test_single_class_folder_is_refused(tmp_path):
    write_png(tmp_path / "only" / "1.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"1 class\(es\) \['only'\] \(empty: \['empty'\]\)"):
        load_dataset(tmp_path)


def test_load_images_resizes_and_skips_unreadable(class_folder):
    (class_folder / "normal" / "broken.png").write_bytes(b"not a png at all")
    ds = load_dataset(class_folder)
    assert len(ds) == 7
    with pytest.warns(DatasetWarning, match="unreadable images: 1 \\('normal/broken.png'\\)"):
        loaded = ds.load_images(size=32)
    assert loaded.images.shape == (6, 32, 32) and loaded.images.dtype == np.uint8
    assert "normal/broken.png" not in loaded.ids
    assert [i for i, _ in loaded.skipped] == ["normal/broken.png"]
    assert loaded.paths == [p for p in ds.paths if not p.endswith("broken.png")]
    # 24x16 images padded to a square: the centre keeps the pixel value, the sides are black.
    row = loaded.images[list(loaded.ids).index("pneumonia/p2.bmp"), 16]
    assert row[16] == 200 and row[0] == 0 and row[31] == 0
    assert loaded.labels.tolist() == [0, 1, 1, 1, 2, 2]
    assert loaded.fingerprint() != ds.fingerprint()  # one image fewer
    with pytest.raises(DatasetError, match="'normal/broken.png': unreadable image"):
        ds.load_images(size=32, strict=True)


def test_load_images_native_size_must_agree(tmp_path):
    write_png(tmp_path / "a" / "1.png", shape=(10, 10))
    write_png(tmp_path / "b" / "1.png", shape=(12, 10))
    ds = load_dataset(tmp_path)
    with pytest.raises(DatasetError, match="different sizes.*pass size="):
        ds.load_images()
    write_png(tmp_path / "b" / "1.png", shape=(10, 10))
    assert load_dataset(tmp_path).load_images().images.shape == (2, 10, 10)


def test_load_images_parallel_with_progress_matches_serial(class_folder, capsys):
    ds = load_dataset(class_folder)
    serial = ds.load_images(size=20)
    parallel = ds.load_images(size=20, n_jobs=2, progress=True)
    np.testing.assert_array_equal(serial.images, parallel.images)
    assert "6/6" in capsys.readouterr().err
    with pytest.raises(ValueError, match="size must be a positive int"):
        ds.load_images(size=0)
    with pytest.raises(ValueError, match="n_jobs must be"):
        ds.load_images(n_jobs=0)


def test_dicom_folder_with_labels_csv(tmp_path):
    folder = tmp_path / "dicom"
    shapes = {"IM001": (30, 20), "IM002": (20, 30), "IM003": (30, 20), "IM004": (20, 30)}
    for k, (name, shape) in enumerate(shapes.items()):
        pixels = np.full(shape, 1000 * (k + 1))
        pixels[0, 0] = 0  # a dark pixel, so any intensity scaling keeps the rest bright
        write_dicom(folder / f"{name}.dcm", pixels)
    rows = ["PatientID,file,label", "A,IM001,normal", "A,IM002.dcm,opacity",
            "B,IM003,opacity", "C,IM004,normal", "C,IM009,normal"]
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(DatasetWarning, match="missing files: 1 \\('IM009'\\)"):
        ds = load_dataset(folder, labels=tmp_path / "labels.csv", group_col="PatientID")
    assert ds.name == "dicom" and ds.class_names == ("normal", "opacity")
    assert ds.ids.tolist() == ["IM001", "IM002.dcm", "IM003", "IM004"]
    assert ds.labels.tolist() == [0, 1, 1, 0] and ds.groups.tolist() == ["A", "A", "B", "C"]
    with pytest.warns(DatasetWarning, match="IM009"):
        same = load_dataset(tmp_path / "labels.csv", image_dir=folder, group_col="PatientID",
                            name="dicom")
    assert same.fingerprint() == ds.fingerprint()
    loaded = ds.load_images(size=16)
    assert loaded.images.shape == (4, 16, 16) and loaded.images.dtype == np.uint8
    # Tall images are padded left and right, wide ones above and below.
    tall = loaded.images[:, 8, 0] == 0
    wide = loaded.images[:, 0, 8] == 0
    assert tall.tolist() == [True, False, True, False] and wide.tolist() == [False, True] * 2
    assert (loaded.images[:, 8, 8] > 0).all()
    with pytest.raises(DatasetError, match="'IM009': file not found"):
        load_dataset(folder, labels=tmp_path / "labels.csv", strict=True)


def test_labels_csv_found_inside_the_folder(tmp_path):
    for k, label in enumerate("aabb"):
        write_png(tmp_path / f"{k}.png")
    (tmp_path / "labels.csv").write_text("file,label\n" + "".join(
        f"{k}.png,{label}\n" for k, label in enumerate("aabb")))
    ds = load_dataset(tmp_path, labels="labels.csv")
    assert ds.labels.tolist() == [0, 0, 1, 1]
    with pytest.raises(DatasetError, match="labels='nope.csv' is not a file"):
        load_dataset(tmp_path, labels="nope.csv")
    (tmp_path / "sub").mkdir()
    with pytest.raises(DatasetError, match="labels='sub' is a directory, not a CSV file"):
        load_dataset(tmp_path, labels="sub")
    with pytest.raises(TypeError, match="do not apply"):
        load_dataset(tmp_path, labels="labels.csv", image_dir=tmp_path)
