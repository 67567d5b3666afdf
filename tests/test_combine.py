import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import (check_get_params_invariance,
                                            check_no_attributes_set_in_init,
                                            check_set_params)

from xray_features.combine import FEATURE_PRESETS, CombinedFeatures, make_features
from xray_features.hog import HOGFeatures
from xray_features.synthetic import make_phantom_dataset
from xray_features.texture import TextureFeatures


def _union():
    return CombinedFeatures([
        ("hog", HOGFeatures(image_size=32)),
        ("texture", TextureFeatures(image_size=32, parts=("stats", "glcm"), distances=(1,))),
    ])


def _image(seed=0, shape=(40, 36)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_combined_features_concatenate_the_parts_in_order():
    union = _union()
    image = _image()
    hog, texture = union.extractors[0][1], union.extractors[1][1]
    expected = np.concatenate([hog.extract_one(image), texture.extract_one(image)])
    np.testing.assert_array_equal(union.extract_one(image), expected)
    X = union.transform(np.stack([image, _image(1)]))
    np.testing.assert_array_equal(X[0], expected)


def test_combined_names_prefixed_unique_and_match_length():
    union = _union()
    names = list(union.get_feature_names_out())
    n_hog = len(HOGFeatures(image_size=32).get_feature_names_out())
    assert len(names) == len(set(names)) == len(union.extract_one(_image()))
    assert names[0] == "hog__hog_b0_c0_o0"
    assert names[n_hog] == "texture__glcm_contrast_d1_a0"   # parts in fixed order
    assert names[-1] == "texture__stat_michelson"
    assert all(name.startswith(("hog__", "texture__")) for name in names)


def test_nested_params_get_and_set():
    union = _union()
    params = union.get_params(deep=True)
    assert params["hog__orientations"] == 9
    assert params["texture__levels"] == 32
    assert params["hog"] is union.extractors[0][1]
    union.set_params(hog__orientations=6, texture__levels=16)
    assert union.extractors[0][1].orientations == 6
    assert union.get_params()["texture__levels"] == 16
    n_before = len(union.get_feature_names_out())
    union.set_params(texture=TextureFeatures(image_size=32, parts=("stats",)))
    assert len(union.get_feature_names_out()) < n_before
    with pytest.raises(ValueError, match="invalid parameter 'sift__size'"):
        union.set_params(sift__size=3)


def test_clone_gives_independent_equal_parts():
    union = _union()
    copy = clone(union)
    assert copy.extractors[0][1] is not union.extractors[0][1]
    assert copy.get_params(deep=False).keys() == union.get_params(deep=False).keys()
    copy.set_params(hog__orientations=4)
    assert union.get_params()["hog__orientations"] == 9
    np.testing.assert_array_equal(clone(union).extract_one(_image()),
                                  union.extract_one(_image()))


def test_combined_sklearn_conventions_and_pickle():
    union = _union()
    check_get_params_invariance("CombinedFeatures", union)
    check_set_params("CombinedFeatures", union)
    check_no_attributes_set_in_init("CombinedFeatures", union)
    restored = pickle.loads(pickle.dumps(union))
    np.testing.assert_array_equal(restored.extract_one(_image()), union.extract_one(_image()))


@pytest.mark.parametrize("extractors, error, match", [
    ([], ValueError, "at least one"),
    ("hog", TypeError, "list of \\(name, extractor\\) pairs"),
    ([("a", TextureFeatures()), ("a", HOGFeatures())], ValueError, "unique"),
    ([("a__b", TextureFeatures())], ValueError, "without '__'"),
    ([("pca", object())], TypeError, "must be an ImageFeatures"),
    ([TextureFeatures()], TypeError, "must be a \\(name, extractor\\) pair"),
])
def test_combined_rejects_bad_extractors(extractors, error, match):
    with pytest.raises(error, match=match):
        CombinedFeatures(extractors).fit(np.zeros((1, 32, 32), dtype=np.uint8))


def test_make_features_presets():
    pytest.importorskip("xray_features.edges")
    from xray_features.edges import BrightEdgeFeatures

    assert sorted(FEATURE_PRESETS) == ["all", "edge", "hog", "texture"]
    assert type(make_features("edge")) is BrightEdgeFeatures
    assert type(make_features("hog")) is HOGFeatures
    assert type(make_features("texture")) is TextureFeatures
    combined = make_features("all")
    assert [name for name, _ in combined.extractors] == ["edge", "hog", "texture"]
    assert make_features("hog") is not make_features("hog")   # a new object each call
    names = list(combined.get_feature_names_out())
    assert len(names) == len(set(names))
    assert len(names) == sum(len(make_features(p).get_feature_names_out())
                             for p in ("edge", "hog", "texture"))


def test_make_features_clones_an_extractor_and_rejects_unknown():
    extractor = TextureFeatures(levels=8)
    made = make_features(extractor)
    assert made is not extractor and made.get_params() == extractor.get_params()
    with pytest.raises(ValueError, match=r"unknown feature preset 'sift'.*'all', 'edge'"):
        make_features("sift")
    with pytest.raises(TypeError, match="preset must be a preset name"):
        make_features(3)


def test_all_features_separate_phantom_classes():
    pytest.importorskip("xray_features.edges")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    images, labels, _ = make_phantom_dataset("fracture", n_images=80, size=96, seed=0,
                                             difficulty="easy")
    X = make_features("all").set_params(texture__image_size=96, hog__image_size=96,
                                        edge__image_size=96).transform(images)
    assert np.isfinite(X).all()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    accuracy = cross_val_score(model, X, labels, cv=4).mean()
    assert accuracy > 0.75   # chance is 0.5 (balanced classes)
