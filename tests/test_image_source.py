"""The lazy image path: decoded once per (image, size), read in chunks, skips counted."""

import numpy as np
import pytest

from xray_features.image_source import ImageSource
from xray_features.io import save_image
from xray_features.preprocess import resize_with_padding


def _films(tmp_path, n=6, shape=(40, 30)):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, *shape), dtype=np.uint8)
    paths = []
    for i, image in enumerate(images):
        path = tmp_path / f"film{i}.png"
        save_image(path, image)
        paths.append(str(path))
    return images, paths


def test_files_are_decoded_once_per_size(tmp_path, monkeypatch):
    images, paths = _films(tmp_path)
    calls = []
    import xray_features.io as io

    real = io.load_image
    monkeypatch.setattr(io, "load_image", lambda path: calls.append(path) or real(path))
    source = ImageSource(paths, 16)
    first = source[[4, 1]]
    assert len(calls) == 6                      # one pass over the view, then the cache
    np.testing.assert_array_equal(first[0], resize_with_padding(images[4], 16))
    np.testing.assert_array_equal(source[:], np.stack([resize_with_padding(i, 16)
                                                       for i in images]))
    assert len(calls) == 6
    big = source.at(24)                          # another size: decoded from the files
    np.testing.assert_array_equal(big[3], resize_with_padding(images[3], 24))
    assert len(calls) == 12 and source.n_decoded == 12
    assert source.subset([5, 0])[0].shape == (16, 16) and len(calls) == 12


def test_unreadable_file_is_skipped_and_counted(tmp_path):
    _, paths = _films(tmp_path, n=3)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    source = ImageSource(paths[:1] + [str(bad)] + paths[1:], 8, ids=["a", "b", "c", "d"])
    skipped = source.validate()
    assert [(k, name) for k, name, _ in skipped] == [(1, "b")]
    assert source.subset([0, 2, 3])[:].shape == (3, 8, 8)
    with pytest.raises(ValueError, match="could not be decoded"):
        source[1]
    with pytest.raises(ValueError, match="strict mode"):
        ImageSource([str(bad)], 8, strict=True).validate()


def test_array_source_matches_resizing_in_memory():
    images = np.random.default_rng(1).integers(0, 255, (5, 12, 20), dtype=np.uint8)
    source = ImageSource(images, 10)
    expected = np.stack([resize_with_padding(image, 10) for image in images])
    np.testing.assert_array_equal(np.asarray(source), expected)
    np.testing.assert_array_equal(np.concatenate([c for _, c in source.iter_chunks(2)]),
                                  expected)
    assert ImageSource(images, (12, 20))[2] is not None and source.at((12, 20)).n_decoded == 5
    with pytest.raises(ValueError, match="uint8 stack"):
        ImageSource(images.astype(np.float32), 10)


def test_xgb_gives_the_same_model_from_a_source_as_from_the_array():
    from classifiers.xgb import FeatureXGBClassifier
    from xray_features.synthetic import make_phantom_dataset

    images, y, _ = make_phantom_dataset(n_images=40, size=48, seed=0)
    images = images if images.dtype == np.uint8 else (images * 255).astype(np.uint8)
    lazy = FeatureXGBClassifier("edge", image_size=32, n_estimators=20).fit(
        ImageSource(images, 48), y)
    eager = FeatureXGBClassifier("edge", image_size=32, n_estimators=20).fit(images, y)
    np.testing.assert_array_equal(lazy.predict_proba(ImageSource(images, 48)),
                                  eager.predict_proba(images))
    assert lazy.ood_guard_.to_dict() == eager.ood_guard_.to_dict()


def test_keras_model_trains_from_a_source(monkeypatch):
    pytest.importorskip("keras")
    from classifiers import _lazy_input
    from classifiers.keras_models import CNNClassifier

    images = np.zeros((24, 16, 16), np.uint8)
    y = np.arange(24) % 2
    images[y == 1, 4:12, 6:10] = 220
    read = []
    real = _lazy_input.LazyModelInput.__getitem__
    monkeypatch.setattr(_lazy_input.LazyModelInput, "__getitem__",
                        lambda self, key: read.append(len(real(self, key))) or real(self, key))
    model = CNNClassifier("small", image_size=16, epochs=2, batch_size=8, augment=False,
                          verbose=0, validation_split=0.25)
    model.fit(ImageSource(images, 16), y)
    assert max(read) <= 8 and len(read) > 2     # batches, never the whole set
    proba = model.predict_proba(ImageSource(images, 16))
    assert proba.shape == (24, 2) and np.allclose(proba.sum(axis=1), 1)
