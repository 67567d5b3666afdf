"""Tests of the out-of-distribution guard: checks, AUROC, persistence, old models."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks.bench.ood_sets import make_ood_set
from classifiers import FeatureXGBClassifier, load_model
from classifiers.ood import NO_GUARD_REASON, OODGuard, colour_chroma
from classifiers.persistence import ModelLoadError
from xray_features.synthetic import make_phantom_dataset


@pytest.fixture(scope="module")
def films():
    images, labels, _ = make_phantom_dataset("fracture", n_images=140, size=64, seed=3,
                                             difficulty="easy")
    return images, labels


@pytest.fixture(scope="module")
def guard(films):
    images, _ = films
    return OODGuard().fit(images[:80], validation_images=images[80:110])


@pytest.fixture(scope="module")
def saved(films, tmp_path_factory):
    images, labels = films
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=15)
    model.fit(images[:80], labels[:80], validation_data=(images[80:110], labels[80:110]))
    return model, model.save(tmp_path_factory.mktemp("m") / "edge")


def test_threshold_passes_the_validation_quantile(films, guard):
    images, _ = films
    scores = guard.score(images[80:110])
    assert guard.threshold_source_ == "validation images"
    assert np.mean(scores <= 1.0 + 1e-9) >= 0.96          # 99% quantile of 30 images
    assert np.isclose(scores.max(), 1.0, atol=0.2)        # the quantile sits near the top


def test_threshold_source_without_validation(films):
    images, _ = films
    assert OODGuard().fit(images[:40]).threshold_source_.startswith("a held-out 20%")
    assert OODGuard().fit(images[:10]).threshold_source_ == "the training images"


@pytest.mark.parametrize("kind", ["document", "noise", "checkerboard", "inverted"])
def test_auroc_in_versus_out_of_distribution(films, guard, kind):
    images, _ = films
    held_out = images[110:]
    outside = make_ood_set(kind, 20, size=64, seed=1, films=held_out)
    results = guard.check(list(held_out) + outside)
    flagged = np.array([r.flagged for r in results])
    score = np.array([1e9 if r.check not in ("", "distance") else r.score for r in results])
    y = np.r_[np.zeros(len(held_out)), np.ones(len(outside))]
    assert roc_auc_score(y, score) >= 0.99
    assert flagged[len(held_out):].mean() >= 0.95
    assert flagged[:len(held_out)].mean() <= 0.1


def test_each_sanity_check_fires_on_its_case(films, guard):
    images, _ = films
    film = images[120]
    photo = make_ood_set("photo", 1, size=64, seed=0)[0]
    gray_of_photo = photo.mean(axis=2).astype(np.uint8)
    blank = np.full((64, 64), 128, np.uint8)
    wide = np.tile(film, (1, 5))                      # 64 x 320
    inverted = 255 - film
    checks = [r.check for r in guard.check([gray_of_photo, blank, wide, inverted, film],
                                           [photo, None, None, None, None])]
    assert checks == ["colour", "blank", "aspect", "polarity", ""]


def test_gray_source_saved_as_colour_is_not_flagged(films, guard):
    film = films[0][120]
    rgb = np.repeat(film[..., None], 3, axis=2)
    assert colour_chroma(rgb) == 0.0
    assert not guard.check([film], [rgb])[0].flagged


def test_polarity_check_is_off_for_mixed_polarity_training(films):
    images, _ = films
    mixed = np.concatenate([images[:40], 255 - images[40:80]])
    assert OODGuard().fit(mixed).polarity_ is None


def test_guard_round_trips_as_json(films, guard):
    again = OODGuard.from_dict(json.loads(json.dumps(guard.to_dict())))
    images = films[0][100:120]
    assert np.allclose(again.score(images), guard.score(images))
    with pytest.raises(ValueError, match="unknown format"):
        OODGuard.from_dict({**guard.to_dict(), "format": 99})
    with pytest.raises(ValueError, match="inconsistent shapes"):
        OODGuard.from_dict({**guard.to_dict(), "mean": [0.0, 1.0]})


def test_guard_is_saved_and_loaded_with_the_model(films, saved):
    model, directory = saved
    loaded = load_model(directory)
    images = films[0][110:]
    assert np.allclose(loaded.ood_guard_.score(images), model.ood_guard_.score(images))
    assert [r.flagged for r in loaded.ood_check(images)] == \
        [r.flagged for r in model.ood_check(images)]


def test_model_saved_before_guards_loads_and_says_so(films, saved, tmp_path):
    import shutil

    _, directory = saved
    old = shutil.copytree(directory, tmp_path / "old")
    sidecar = json.loads((old / "model.json").read_text())
    for key in ("ood_guard", "checksums"):
        sidecar.pop(key)
    (old / "model.json").write_text(json.dumps(sidecar))
    model = load_model(old)
    assert model.ood_guard_ is None
    results = model.ood_check(films[0][:2])
    assert [r.reason for r in results] == [NO_GUARD_REASON] * 2
    assert not any(r.flagged for r in results)
    assert model.predict_proba(films[0][:2]).shape == (2, 2)


def test_tampered_guard_or_model_file_fails_to_load(saved, tmp_path):
    import shutil

    _, directory = saved
    bad = shutil.copytree(directory, tmp_path / "bad")
    sidecar = json.loads((bad / "model.json").read_text())
    sidecar["ood_guard"]["precision"] = [[1.0]]
    (bad / "model.json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match="OOD guard"):
        load_model(bad)
    changed = shutil.copytree(directory, tmp_path / "changed")
    with open(changed / "model.ubj", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelLoadError, match="checksum"):
        load_model(changed)
