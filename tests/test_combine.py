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


# ------------------------------------------------------------ resize once
def _stack_parts(size_a=48, size_b=48):
    from xray_features.edges import BrightEdgeFeatures

    return [("edge", BrightEdgeFeatures(image_size=size_a)),
            ("hog", HOGFeatures(image_size=size_a)),
            ("texture", TextureFeatures(image_size=size_b))]


def _pictures():
    phantom = make_phantom_dataset("fracture", n_images=1, size=96, seed=2)[0][0]
    return {"uint8 larger": phantom, "uint8 smaller": phantom[::3, ::3],
            "uint16": phantom.astype(np.uint16) * 257, "float": phantom / 255.0,
            "bool": phantom > 100, "working size": phantom[:48, :48]}


@pytest.mark.parametrize("sizes", [(48, 48), (48, 40)])
def test_combined_features_equal_the_parts_called_separately(sizes):
    pairs = _stack_parts(*sizes)
    union = CombinedFeatures(pairs)
    for name, image in _pictures().items():
        separate = np.concatenate([extractor.extract_one(image) for _, extractor in pairs])
        np.testing.assert_array_equal(union.extract_one(image), separate, err_msg=name)


def test_combined_features_resize_once_per_working_size(monkeypatch):
    import cv2

    calls = []
    original = cv2.resize

    def counting_resize(*args, **kwargs):
        calls.append(args[0].shape)
        return original(*args, **kwargs)

    monkeypatch.setattr(cv2, "resize", counting_resize)
    image = _pictures()["uint8 larger"]
    CombinedFeatures(_stack_parts(48, 48)).extract_one(image)
    assert calls == [(96, 96)]   # one resize shared by the three parts
    calls.clear()
    CombinedFeatures(_stack_parts(48, 40)).extract_one(image)
    assert calls == [(96, 96), (96, 96)]   # one per distinct working size
    calls.clear()
    CombinedFeatures(_stack_parts(48, 48)).extract_one(image[:48, :48])
    assert calls == []   # already at the working size


def test_combined_working_size_is_the_shared_size():
    assert CombinedFeatures(_stack_parts(48, 48))._working_size() == (48, 48)
    assert CombinedFeatures(_stack_parts(48, 40))._working_size() is None
    nested = CombinedFeatures([("inner", CombinedFeatures(_stack_parts(48, 48))),
                               ("more", HOGFeatures(image_size=48))])
    assert nested._working_size() == (48, 48)
    image = _pictures()["uint8 larger"]
    parts = nested.extractors[0][1].extract_one(image), nested.extractors[1][1].extract_one(image)
    np.testing.assert_array_equal(nested.extract_one(image), np.concatenate(parts))


def test_to_frame_of_combined_features():
    union = _union()
    images = np.stack([_image(seed) for seed in range(3)])
    frame = union.to_frame(images, ids=["a.png", "b.png", "c.png"])
    assert list(frame.columns) == list(union.get_feature_names_out())
    assert frame.columns[0] == "hog__hog_b0_c0_o0"
    assert frame.index.name == "id" and list(frame.index) == ["a.png", "b.png", "c.png"]
    np.testing.assert_array_equal(frame.to_numpy(), union.transform(images))
    assert list(union.to_frame(list(images)).index) == [0, 1, 2]
    with pytest.raises(ValueError, match="one entry per image; got 2 ids for 3 images"):
        union.to_frame(images, ids=["a", "b"])
    with pytest.raises(ValueError, match=r"ids must be unique; got duplicates \['a'\]"):
        union.to_frame(images, ids=["a", "b", "a"])


def test_resized_picture_gives_the_same_features_in_every_dtype():
    # The shared working image is float32 on [0, 1] before resampling, so the
    # dtype of the picture does not matter, even where it is resized.
    union = CombinedFeatures(_stack_parts(48, 40))
    picture = _pictures()["uint8 larger"]
    expected = union.extract_one(picture)
    for other in (picture.astype(np.uint16) * 257, picture / 255.0):
        np.testing.assert_array_equal(union.extract_one(other), expected)
