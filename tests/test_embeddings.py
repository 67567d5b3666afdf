"""Frozen-backbone embeddings as features: the extractor, the batched engine, the cache.

Random weights (``weights=None``) keep these fast; the ImageNet weights are
exercised in ``test_efficientnet_lite.py`` and ``test_pretrained_models.py``.
"""

import numpy as np
import pytest

from classifiers.embeddings import BackboneEmbeddings, feature_cache_dir, make_deep_features
from xray_features import extract_features


def _images(n=6, size=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (n, size, size), dtype=np.uint8)


def test_embeddings_are_the_spatial_mean_of_the_last_feature_map():
    extractor = BackboneEmbeddings(image_size=64, weights=None)
    images = _images(size=64).astype(np.float32)
    maps = extractor.feature_maps(images)
    assert maps.shape == (6, 2, 2, 1280)
    np.testing.assert_allclose(extractor.embed(images), maps.mean(axis=(1, 2)), atol=1e-5)


def test_a_batch_gives_what_each_image_gives_alone():
    extractor = BackboneEmbeddings(image_size=32, weights=None, batch_size=4)
    images = _images(5)
    together = extractor.extract_many(list(images))
    alone = np.stack([extractor.extract_one(image) for image in images])
    assert together.shape == (5, 1280) and together.dtype == np.float32
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(extractor.transform(images), together, atol=1e-5)
    # The same film in another dtype is the same picture: the same features.
    np.testing.assert_allclose(extractor.extract_one(images[0].astype(np.float32) / 255),
                               together[0], atol=1e-4)


def test_the_engine_batches_a_chunk_skips_bad_items_and_caches_by_content(tmp_path):
    extractor = BackboneEmbeddings(image_size=32, weights=None)
    images = list(_images(4))
    items = images[:2] + [np.full((3, 3, 3), 1.0)] + images[2:]   # a 3-D item in the middle
    with pytest.warns(UserWarning, match="skipped 1 of 5"):
        X, report = extract_features(items, extractor, cache_dir=tmp_path, progress=False)
    assert X.shape == (4, 1280) and report.kept.tolist() == [0, 1, 3, 4]
    assert report.skipped[0][0] == "2"
    np.testing.assert_allclose(X, extractor.transform(np.stack(images)), atol=1e-5)
    again, report = extract_features(np.stack(images), extractor, cache_dir=tmp_path,
                                     progress=False)
    assert report.n_cached == 4
    np.testing.assert_array_equal(again, X)
    # Other weights are another cache entry, never the same vectors.
    other = BackboneEmbeddings(image_size=32, weights=None, batch_size=8)
    assert extractor._cache_token() == other._cache_token() == "random-weights"
    folders = {path.name for path in tmp_path.iterdir()}
    extract_features(np.stack(images), BackboneEmbeddings(image_size=40, weights=None),
                     cache_dir=tmp_path, progress=False)
    assert len({path.name for path in tmp_path.iterdir()} - folders) == 1


def test_parameters_are_checked_before_any_work():
    with pytest.raises(ValueError, match="backbone must be one of"):
        BackboneEmbeddings("resnet50").transform(_images(1))
    with pytest.raises(ValueError, match="image_size must be at least 32"):
        BackboneEmbeddings(image_size=16, weights=None).transform(_images(1))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        BackboneEmbeddings(batch_size=0, weights=None).transform(_images(1))
    with pytest.raises(ValueError, match="preset must be one of"):
        make_deep_features("lite9")


def test_auto_cache_is_the_toolkits_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XRAY_BENCH_CACHE", str(tmp_path))
    assert feature_cache_dir("auto") == tmp_path / "features"
    assert feature_cache_dir("mine") == "mine" and feature_cache_dir(None) is None
