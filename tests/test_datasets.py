"""The Dataset record, phantom and MedMNIST sources, and source dispatch."""

import os

import numpy as np
import pytest

from benchmarks.datasets import Dataset, DatasetError, DatasetWarning, load_dataset

PNEUMONIAMNIST = "/work/shared/data/pneumoniamnist.npz"


def small_dataset(**changes):
    fields = dict(labels=[0, 1, 1, 0], class_names=("neg", "pos"), task="binary",
                  ids=["a", "b", "c", "d"], paths=["a.png", "b.png", "c.png", "d.png"],
                  groups=["p1", "p1", "p2", "p3"], split=["train", "train", "val", "test"],
                  name="toy")
    fields.update(changes)
    return Dataset(**fields)


# ---------------------------------------------------------------- Dataset record

def test_repr_has_counts():
    text = repr(small_dataset())
    assert text == ("Dataset('toy', 4 images, lazy, binary: neg=2 pos=2, "
                    "split train=2 val=1 test=1, 3 groups)")
    assert "\n" not in text
    in_memory = small_dataset(paths=None, images=np.zeros((4, 5, 6), np.uint8),
                              skipped=[("e", "missing")])
    assert repr(in_memory).startswith("Dataset('toy', 4 images 5x6, binary")
    assert repr(in_memory).endswith("1 skipped)")


@pytest.mark.parametrize("index, order", [([3, 1], [3, 1]),
                                          (np.array([False, True, False, True]), [1, 3])])
def test_subset_keeps_everything_aligned(index, order):
    images = np.arange(4, dtype=np.uint8)[:, None, None] * np.ones((1, 2, 2), np.uint8)
    ds = small_dataset(images=images)
    sub = ds.subset(index)
    assert sub.ids.tolist() == [["a", "b", "c", "d"][i] for i in order]
    assert sub.labels.tolist() == [[0, 1, 1, 0][i] for i in order]
    assert sub.groups.tolist() == [["p1", "p1", "p2", "p3"][i] for i in order]
    assert sub.split.tolist() == [["train", "train", "val", "test"][i] for i in order]
    assert sub.paths == [f"{'abcd'[i]}.png" for i in order]
    assert sub.images[:, 0, 0].tolist() == order
    assert sub.class_names == ds.class_names and sub.name == "toy" and len(ds) == 4


def test_subset_of_multilabel_and_bad_indices():
    ds = Dataset(labels=[[1, 0], [0, 1], [1, 1]], class_names=("x", "y"), task="multilabel",
                 ids=["1", "2", "3"], images=np.zeros((3, 2, 2), np.uint8))
    assert ds.subset([2]).labels.tolist() == [[1, 1]]
    assert len(ds.subset([])) == 0
    with pytest.raises(IndexError, match=r"indices must lie in \[0, 3\)"):
        ds.subset([3])
    with pytest.raises(ValueError, match="ids must be unique"):
        ds.subset([0, 0])
    with pytest.raises(ValueError, match="boolean mask needs shape"):
        ds.subset([True, False])
    with pytest.raises(TypeError, match="indices must be a 1-D array of ints"):
        ds.subset([0.5])


def test_summary_counts_per_class_and_split():
    summary = small_dataset().summary()
    assert summary["class_counts"] == {"neg": 2, "pos": 2}
    assert summary["split_counts"] == {"train": 2, "val": 1, "test": 1}
    assert summary["class_counts_by_split"]["train"] == {"neg": 1, "pos": 1}
    assert summary["n_groups"] == 3 and summary["n_skipped"] == 0 and summary["n_images"] == 4
    multi = Dataset(labels=[[1, 0], [1, 1], [0, 0]], class_names=("x", "y"), task="multilabel",
                    ids=["1", "2", "3"], paths=["1", "2", "3"])
    assert multi.summary()["class_counts"] == {"x": 2, "y": 1}
    assert "split_counts" not in multi.summary()


def test_fingerprint_is_stable_and_sensitive():
    base = small_dataset().fingerprint()
    assert len(base) == 16 and int(base, 16) >= 0
    assert small_dataset().fingerprint() == base
    assert small_dataset(labels=[0, 1, 0, 0]).fingerprint() != base
    assert small_dataset(split=["train", "val", "val", "test"]).fingerprint() != base
    assert small_dataset(ids=["a", "b", "c", "e"]).fingerprint() != base
    assert small_dataset(groups=None).fingerprint() == base  # groups are not hashed
    pixels = np.zeros((4, 2, 2), np.uint8)
    in_memory = small_dataset(paths=None, images=pixels)
    assert small_dataset(paths=None, images=pixels + 1).fingerprint() != in_memory.fingerprint()


@pytest.mark.parametrize("changes, error, match", [
    ({"task": "regression"}, ValueError, "task must be one of"),
    ({"labels": [0, 1, 2, 0]}, ValueError, r"labels must index class_names \(0..1\)"),
    ({"labels": [0.0, 1.0, 1.0, 0.0]}, TypeError, "labels must be integers"),
    ({"labels": [0, 1, 1]}, ValueError, "ids must be a 1-D sequence of 3"),
    ({"ids": ["a", "a", "c", "d"]}, ValueError, r"ids must be unique.*\['a'\]"),
    ({"paths": None}, ValueError, "give images .* or paths"),
    ({"images": np.zeros((4, 3, 3))}, ValueError, "uint8 stack"),
    ({"split": ["train", "dev", "val", "test"]}, ValueError, r"split values.*\['dev'\]"),
    ({"class_names": ("a", "b", "c")}, ValueError, "binary task has 2 class names"),
])
def test_dataset_validates_its_fields(changes, error, match):
    with pytest.raises(error, match=match):
        small_dataset(**changes)


# ---------------------------------------------------------------- phantoms

def test_phantoms_default_source_and_tasks():
    ds = load_dataset(None, n_images=8, image_size=32, seed=3)
    assert ds.name == "phantoms:four-class" and ds.task == "multiclass"
    assert ds.images.shape == (8, 32, 32) and ds.images.dtype == np.uint8
    assert ds.paths is None and ds.split is None and ds.groups is None
    assert np.bincount(ds.labels).tolist() == [2, 2, 2, 2]
    same = load_dataset("phantoms", n_images=8, image_size=32, seed=3)
    assert same.fingerprint() == ds.fingerprint()
    other = load_dataset("phantoms", n_images=8, image_size=32, seed=4)
    assert other.fingerprint() != ds.fingerprint()
    four = load_dataset("phantoms:four-class", n_images=8, image_size=32, difficulty="easy")
    assert four.task == "multiclass" and len(four.class_names) == 4
    assert np.bincount(four.labels).tolist() == [2, 2, 2, 2]
    assert load_dataset("phantoms:double-contour", n_images=4, image_size=32).task == "binary"


def test_phantom_errors():
    with pytest.raises(DatasetError, match="cannot make phantoms 'phantoms:ribs'"):
        load_dataset("phantoms:ribs", n_images=4, image_size=32)
    with pytest.raises(DatasetError, match="without images; raise n_images"):
        load_dataset("phantoms", n_images=1, image_size=32)
    with pytest.raises(TypeError, match=r"option\(s\) \['image_col'\] do not apply"):
        load_dataset("phantoms", image_col="x")


def test_in_memory_load_images_resizes_with_padding():
    ds = load_dataset("phantoms", n_images=4, image_size=40)
    assert ds.load_images() is ds
    small = ds.load_images(size=20)
    assert small.images.shape == (4, 20, 20) and small.ids.tolist() == ds.ids.tolist()
    assert ds.load_images(size=(10, 20)).images.shape == (4, 10, 20)


# ---------------------------------------------------------------- MedMNIST .npz

def write_npz(path, labels_shape=1, rgb=False, **extra):
    rng = np.random.default_rng(0)
    arrays = {}
    for part, n in (("train", 6), ("val", 2), ("test", 3)):
        shape = (n, 8, 8, 3) if rgb else (n, 8, 8)
        arrays[f"{part}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        labels = np.arange(n) % 2
        if labels_shape == 3:
            labels = np.stack([labels, 1 - labels, np.ones(n, int)], axis=1)
        elif labels_shape == 1:
            labels = labels[:, None]
        arrays[f"{part}_labels"] = labels.astype(np.uint8)
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def test_npz_official_split_and_counts(tmp_path):
    ds = load_dataset(write_npz(tmp_path / "toymnist.npz"), class_names=["normal", "sick"])
    assert ds.name == "toymnist" and ds.task == "binary"
    assert ds.class_names == ("normal", "sick")
    assert ds.images.shape == (11, 8, 8) and ds.paths is None
    assert ds.summary()["split_counts"] == {"train": 6, "val": 2, "test": 3}
    assert ds.summary()["class_counts_by_split"]["test"] == {"normal": 2, "sick": 1}
    assert ds.ids[:2].tolist() == ["train/00000", "train/00001"]
    assert ds.ids[-1] == "test/00002"
    default_names = load_dataset(write_npz(tmp_path / "b.npz", labels_shape=0))
    assert default_names.class_names == ("0", "1")


def test_npz_rgb_is_converted_to_gray(tmp_path):
    path = write_npz(tmp_path / "rgb.npz", rgb=True)
    ds = load_dataset(path)
    with np.load(path) as arrays:
        rgb = arrays["train_images"][0].astype(float)
    expected = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert ds.images.shape == (11, 8, 8)
    assert np.abs(ds.images[0] - expected).max() <= 1


def test_npz_multilabel(tmp_path):
    ds = load_dataset(write_npz(tmp_path / "chest.npz", labels_shape=3),
                      class_names=("a", "b", "c"))
    assert ds.task == "multilabel" and ds.labels.shape == (11, 3)
    assert ds.summary()["class_counts"] == {"a": 5, "b": 6, "c": 11}


def test_npz_problems(tmp_path):
    path = write_npz(tmp_path / "m.npz")
    with pytest.raises(DatasetError, match="class_names gives 1 names but .* 2 classes"):
        load_dataset(path, class_names=["only"])
    with pytest.warns(DatasetWarning, match="empty classes: 1 \\('extra'\\)"):
        ds = load_dataset(path, class_names=["x", "y", "extra"])
    assert ds.class_names == ("x", "y") and [i for i, _ in ds.skipped] == ["extra"]
    with pytest.raises(DatasetError, match="'extra': class has no images"):
        load_dataset(path, class_names=["x", "y", "extra"], strict=True)
    np.savez(tmp_path / "odd.npz", pixels=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DatasetError, match=r"arrays \['pixels'\]; expected the MedMNIST"):
        load_dataset(tmp_path / "odd.npz")
    np.savez(tmp_path / "one.npz", images=np.zeros((3, 4, 4), np.uint8), labels=np.zeros(3))
    with pytest.raises(DatasetError, match="fewer than two classes"):
        load_dataset(tmp_path / "one.npz")


@pytest.mark.skipif(not os.path.exists(PNEUMONIAMNIST), reason="PneumoniaMNIST not available")
def test_real_pneumoniamnist_counts():
    ds = load_dataset(PNEUMONIAMNIST, class_names=("normal", "pneumonia"))
    assert ds.summary()["class_counts_by_split"] == {
        "train": {"normal": 1214, "pneumonia": 3494}, "val": {"normal": 135, "pneumonia": 389},
        "test": {"normal": 234, "pneumonia": 390}}


# ---------------------------------------------------------------- dispatch

def test_bad_sources(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DatasetError, match="suffix '.json'"):
        load_dataset(tmp_path / "x.json")
    with pytest.raises(TypeError, match="source must be None, 'phantoms', or a path"):
        load_dataset(3)
