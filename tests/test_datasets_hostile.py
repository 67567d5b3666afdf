"""Dataset sources that would hang, drop data silently or read outside the data."""

import os

import cv2
import numpy as np
import pytest

from benchmarks.datasets import DatasetError, DatasetWarning, load_dataset
from test_safety import deadline


def write_png(path, value=0, shape=(24, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, np.uint8))
    return path




@pytest.fixture
def two_classes(tmp_path):
    root = tmp_path / "data"
    for i in range(2):
        write_png(root / "a" / f"a{i}.png", 10)
        write_png(root / "b" / f"b{i}.png", 200)
    return root


def deny_listing(monkeypatch, folder):
    """Make os.scandir fail on ``folder`` as for a chmod 000 folder (works as root too)."""
    real = os.scandir

    def scandir(path="."):
        if os.path.realpath(path) == os.path.realpath(folder):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)
    monkeypatch.setattr(os, "scandir", scandir)


# --- folders ----------------------------------------------------------------

def test_unreadable_subfolder_is_counted_and_refused_when_strict(two_classes, monkeypatch):
    write_png(two_classes / "a" / "patient7" / "x.png", 10)
    deny_listing(monkeypatch, two_classes / "a" / "patient7")
    with pytest.warns(DatasetWarning, match=r"unreadable folders: 1 \('a/patient7'\)"):
        ds = load_dataset(two_classes)
    assert dict(ds.skipped)["a/patient7"] == "cannot read folder (Permission denied)"
    assert len(ds) == 4
    with pytest.raises(DatasetError, match=r"'a/patient7': cannot read folder"):
        load_dataset(two_classes, strict=True)


def test_unreadable_class_folder_is_not_called_empty(two_classes, monkeypatch):
    write_png(two_classes / "c" / "c0.png", 90)
    deny_listing(monkeypatch, two_classes / "c")
    with pytest.warns(DatasetWarning) as caught:
        ds = load_dataset(two_classes)
    message = str(caught[0].message)
    assert "unreadable class folders: 1 ('c')" in message and "empty" not in message
    assert dict(ds.skipped)["c"] == "cannot read class folder (Permission denied)"
    assert ds.class_names == ("a", "b")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 folder anyway")
def test_chmod_000_subfolder_is_counted(two_classes):
    locked = two_classes / "b" / "locked"
    write_png(locked / "x.png", 200)
    locked.chmod(0)
    try:
        with pytest.warns(DatasetWarning, match="unreadable folders: 1"):
            load_dataset(two_classes)
    finally:
        locked.chmod(0o755)


def test_symlinked_subfolder_is_followed_and_loops_are_counted(two_classes, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write_png(elsewhere / "e0.png", 10)
    (two_classes / "a" / "linked").symlink_to(elsewhere, target_is_directory=True)
    (two_classes / "b" / "loop").symlink_to(two_classes / "b", target_is_directory=True)
    with pytest.warns(DatasetWarning, match=r"folder links not followed: 1 \('b/loop'\)"):
        ds = load_dataset(two_classes)
    assert "a/linked/e0.png" in ds.ids.tolist() and len(ds) == 5


def test_non_utf8_names_are_skipped_at_listing(two_classes):
    raw = os.fsencode(two_classes / "a") + b"/\xff.png"
    with open(raw, "wb") as handle:
        handle.write((two_classes / "a" / "a0.png").read_bytes())
    with pytest.warns(DatasetWarning, match=r"names that are not UTF-8: 1 \('a/\\\\xff.png'\)"):
        ds = load_dataset(two_classes)
    assert len(ds) == 4
    "\n".join(ds.ids.tolist()).encode("utf-8")   # every id can be written out


def test_fifo_and_device_links_in_a_class_folder_are_skipped(two_classes):
    os.mkfifo(two_classes / "a" / "x.png")
    (two_classes / "b" / "zero.png").symlink_to("/dev/zero")
    ds = load_dataset(two_classes)
    with deadline(), pytest.warns(DatasetWarning, match=r"unreadable images: 2 \(.*\) "
                                                        r"\[unreadable image: is a FIFO"):
        loaded = ds.load_images(size=16)
    reasons = dict(loaded.skipped)
    assert "FIFO" in reasons["a/x.png"] and "character device" in reasons["b/zero.png"]
    assert len(loaded) == 4


# --- CSV --------------------------------------------------------------------

@pytest.fixture
def csv_images(tmp_path):
    images = tmp_path / "images"
    for i in range(6):
        write_png(images / f"{i}.png", 40 * i)
    write_png(tmp_path / "secret.png", 255)   # beside, not inside, the image folder
    return images


def write_rows(path, rows):
    path.write_text("file,label\n" + "".join(f"{f},{label}\n" for f, label in rows))
    return path


@pytest.mark.parametrize("marker", ["NaN", "N/A", "nan", "null", ""])
def test_missing_label_markers_never_become_classes(csv_images, marker):
    rows = [("0.png", "a"), ("1.png", "a"), ("2.png", "b"), ("3.png", "b"),
            ("4.png", marker), ("5.png", marker)]
    table = write_rows(csv_images / "labels.csv", rows)
    with pytest.warns(DatasetWarning, match=r"(missing label|empty field)s?: 2"):
        ds = load_dataset(table)
    assert ds.class_names == ("a", "b") and len(ds) == 4
    with pytest.raises(DatasetError, match="'4.png'"):
        load_dataset(table, strict=True)


@pytest.mark.parametrize("name", ["../secret.png", "../images/../secret.png", "ABSOLUTE"])
def test_rows_outside_the_image_folder_need_an_explicit_option(csv_images, name):
    if name == "ABSOLUTE":
        name = str(csv_images.parent / "secret.png")
    rows = [("0.png", "a"), ("1.png", "a"), ("2.png", "b"), ("3.png", "b"), (name, "b")]
    table = write_rows(csv_images / "labels.csv", rows)
    with pytest.warns(DatasetWarning, match="files outside image_dir: 1"):
        ds = load_dataset(table)
    assert "path leads outside image_dir" in dict(ds.skipped)[name]
    assert name not in ds.ids.tolist() and len(ds) == 4
    with pytest.raises(DatasetError, match="allow_outside_images=True"):
        load_dataset(table, strict=True)
    with pytest.warns(DatasetWarning, match=r"1 row\(s\) name files outside image_dir.*"
                                            r"allow_outside_images=True"):
        allowed = load_dataset(table, allow_outside_images=True)
    assert name in allowed.ids.tolist()
    with pytest.raises(ValueError, match="allow_outside_images must be true or false"):
        load_dataset(table, allow_outside_images="yes")


def test_csv_row_naming_a_fifo_does_not_hang(csv_images):
    os.mkfifo(csv_images / "x.png")
    rows = [("0.png", "a"), ("1.png", "a"), ("2.png", "b"), ("3.png", "b"), ("x.png", "b")]
    ds = load_dataset(write_rows(csv_images / "labels.csv", rows))
    with deadline(), pytest.warns(DatasetWarning, match="unreadable images: 1"):
        loaded = ds.load_images(size=16)
    assert "FIFO" in dict(loaded.skipped)["x.png"]


# --- sizes ------------------------------------------------------------------

def write_npz_header_only(path, shapes):
    """An .npz whose .npy headers declare ``shapes`` (uint8) over no data."""
    import io
    import zipfile

    from numpy.lib import format as npy_format

    with zipfile.ZipFile(path, "w") as archive:
        for name, shape in shapes.items():
            buffer = io.BytesIO()
            npy_format.write_array_header_1_0(buffer, {"descr": "|u1", "fortran_order": False,
                                                       "shape": shape})
            archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


def test_npz_declaring_977_gib_is_refused_from_its_header(tmp_path):
    path = write_npz_header_only(tmp_path / "huge.npz", {"images": (1_000_000, 1024, 1024),
                                                         "labels": (1_000_000,)})
    with pytest.raises(DatasetError, match=r"huge\.npz'.*976\.6 GiB.*max_bytes"):
        load_dataset(path)


def test_npz_zip_bomb_is_refused_from_declared_sizes(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, images=np.zeros((40, 1024, 1024), np.uint8),
                        labels=np.zeros(40, np.uint8))
    assert path.stat().st_size < 200_000   # 40 MiB of pixels in a small file
    with pytest.raises(DatasetError, match=r"bomb\.npz'.*'images.npy' declares 40\.0 MiB "
                                           r"compressed \d+ times.*zip bomb"):
        load_dataset(path)
    from xray_features._safety import check_npz

    with pytest.raises(ValueError, match=r"40\.0 MiB.*max_bytes=16777216"):
        check_npz(path, max_bytes=16 * 2 ** 20, max_ratio=10 ** 6)


def test_npz_that_is_not_a_zip_or_holds_objects_is_named(tmp_path):
    plain = tmp_path / "plain.npz"
    np.save(tmp_path / "plain.npy", np.zeros(3))
    (tmp_path / "plain.npy").rename(plain)
    with pytest.raises(DatasetError, match=r"plain\.npz'.*not a zip archive"):
        load_dataset(plain)
    objects = tmp_path / "objects.npz"
    np.savez(objects, images=np.array([None] * 4, dtype=object), labels=np.arange(4))
    with pytest.raises(DatasetError, match=r"objects\.npz'.*'images' holds Python objects"):
        load_dataset(objects)


def test_phantom_count_is_bounded_before_any_work(tmp_path):
    with deadline(5), pytest.raises(DatasetError, match=r"n_images=100000000.*1\.5 TiB.*"
                                                        r"max_bytes"):
        load_dataset("phantoms", n_images=100_000_000)
    assert len(load_dataset("phantoms:fracture", n_images=8, image_size=32,
                            max_bytes=8 * 32 * 32)) == 8


def test_decoding_a_stack_too_large_is_refused_before_decoding(two_classes):
    ds = load_dataset(two_classes)
    with pytest.raises(DatasetError, match=r"4 images of 30000 x 30000 need 3\.4 GiB"):
        ds.load_images(size=30000, max_bytes=2 * 2 ** 30)
    assert ds.load_images(size=16, max_bytes=4 * 16 * 16).images.shape == (4, 16, 16)


@pytest.mark.parametrize("size", [30000, 4097, 7])
def test_image_size_bound_in_the_configuration(size):
    from benchmarks.runner import BenchmarkConfig

    with pytest.raises(ValueError, match="image_size must be an integer from 8 to 4096"):
        BenchmarkConfig(image_size=size).validate()
    BenchmarkConfig(image_size=4096).validate()
