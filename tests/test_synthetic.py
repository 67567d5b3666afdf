"""Tests for xray_features.synthetic: phantoms with known ground truth."""

import cv2
import numpy as np
import pytest
from scipy import ndimage

from xray_features.synthetic import (DIFFICULTY_PRESETS, REGION_LABELS, TASKS, make_joint,
                                     make_long_bone, make_phantom, make_phantom_dataset,
                                     phantom_seed, write_phantom_folder)

BRIGHT = 150   # the toolkit's bright-pixel threshold on 0-255
CORTEX, MARROW = REGION_LABELS["cortex"], REGION_LABELS["marrow"]
SOFT = REGION_LABELS["soft_tissue"]
PHANTOMS = [(make_long_bone, "fractured"), (make_joint, "double_contour")]


def _dilate(mask, radius):
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


# --------------------------------------------------------------------------- basics
@pytest.mark.parametrize("make, flag", PHANTOMS)
@pytest.mark.parametrize("lesion", [False, True])
def test_same_seed_gives_identical_images(make, flag, lesion):
    first = make(seed=7, **{flag: lesion})
    assert np.array_equal(first, make(seed=7, **{flag: lesion}))
    assert not np.array_equal(first, make(seed=8, **{flag: lesion}))


@pytest.mark.parametrize("make, flag", PHANTOMS)
def test_seed_sequence_is_not_consumed(make, flag):
    sequence = np.random.SeedSequence(11)
    assert np.array_equal(make(seed=sequence), make(seed=sequence))
    assert np.array_equal(make(seed=sequence), make(seed=11))


@pytest.mark.parametrize("make, flag", PHANTOMS)
@pytest.mark.parametrize("size", [32, 64, 128, 200])
def test_dtype_shape_and_range(make, flag, size):
    image, mask, regions = make(size=size, seed=1, return_mask=True, return_regions=True,
                                **{flag: True})
    assert image.shape == mask.shape == regions.shape == (size, size)
    assert image.dtype == np.uint8 and mask.dtype == bool and regions.dtype == np.uint8
    assert image.min() < 40 and image.max() > BRIGHT   # dark air and bright bone
    assert set(np.unique(regions)) <= set(REGION_LABELS.values())
    assert mask.any()


@pytest.mark.parametrize("make, flag", PHANTOMS)
def test_explicit_keyword_equals_difficulty_dict(make, flag):
    by_keyword = make(seed=3, noise=0.02, contrast=0.3, blur=1.5, **{flag: True})
    by_dict = make(seed=3, difficulty={"noise": 0.02, "contrast": 0.3, "blur": 1.5},
                   **{flag: True})
    assert np.array_equal(by_keyword, by_dict)
    assert not np.array_equal(by_keyword, make(seed=3, **{flag: True}))


# --------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("make, flag", PHANTOMS)
def test_lesion_is_the_only_difference_between_twins(make, flag):
    # Same seed: same anatomy and noise. Without fragment displacement, the
    # lesion changes nothing beyond its mask plus the blur's reach.
    difficulty = {"displacement": 0.0}
    normal = make(seed=5, difficulty=difficulty, **{flag: False})
    lesion, mask = make(seed=5, difficulty=difficulty, return_mask=True, **{flag: True})
    changed = normal != lesion
    assert changed[mask].mean() > 0.5
    assert not changed[~_dilate(mask, 6)].any()


@pytest.mark.parametrize("make, flag", PHANTOMS)
def test_normal_phantom_has_empty_mask(make, flag):
    _, mask = make(seed=2, return_mask=True, **{flag: False})
    assert mask.shape == (128, 128) and not mask.any()


@pytest.mark.parametrize("difficulty", ["easy", "medium"])
@pytest.mark.parametrize("seed", range(8))
def test_fracture_line_is_darker_than_surrounding_cortex(difficulty, seed):
    image, mask, regions = make_long_bone(fractured=True, seed=seed, difficulty=difficulty,
                                          return_mask=True, return_regions=True)
    cortex = regions == CORTEX
    near = _dilate(mask, 6) & ~_dilate(mask, 3) & cortex
    assert (mask & cortex).sum() >= 4 and near.sum() >= 10
    assert image[mask & cortex].mean() < image[near].mean() - 10
    intact = make_long_bone(fractured=False, seed=seed, difficulty=difficulty)
    assert image[mask & cortex].mean() < intact[mask & cortex].mean()


@pytest.mark.parametrize("difficulty", ["easy", "medium"])
@pytest.mark.parametrize("seed", range(6))
def test_double_contour_adds_bright_thin_band_above_surface(difficulty, seed):
    normal = make_joint(seed=seed, difficulty=difficulty)
    image, mask, regions = make_joint(double_contour=True, seed=seed, difficulty=difficulty,
                                      return_mask=True, return_regions=True)
    gain = image.astype(int) - normal
    assert gain[mask].mean() > 20
    # The band lies outside bone, within the joint space: at most the largest
    # cartilage offset (0.55 of a joint space up to 0.11 * size) plus half the
    # contour's width from bone.
    assert not np.isin(regions[mask], [CORTEX, MARROW]).any()
    distance = ndimage.distance_transform_edt(~np.isin(regions, [CORTEX, MARROW]))
    assert 1 <= distance[mask].min() and distance[mask].max() <= 0.55 * 0.11 * 128 + 2.5
    if difficulty == "easy":   # on 'easy' the contour also crosses the bright threshold
        assert (image > BRIGHT).sum() - (normal > BRIGHT).sum() > 0.5 * mask.sum()


@pytest.mark.parametrize("make, flag", PHANTOMS)
@pytest.mark.parametrize("difficulty", ["easy", "medium"])
def test_bright_threshold_picks_cortex_not_soft_tissue(make, flag, difficulty):
    cortex_bright, soft_bright = [], []
    for seed in range(12):
        image, mask, regions = make(seed=seed, difficulty=difficulty, return_mask=True,
                                    return_regions=True, **{flag: seed % 2 == 1})
        soft = (regions == SOFT) & ~_dilate(mask, 2)   # a double contour is bright by design
        cortex_bright.append((image[regions == CORTEX] > BRIGHT).mean())
        soft_bright.append((image[soft] > BRIGHT).mean())
    assert min(cortex_bright) > 0.6 and np.mean(cortex_bright) > 0.85
    assert max(soft_bright) < 0.05


def test_medullary_canal_is_darker_than_cortex():
    for seed in range(5):
        image, regions = make_long_bone(seed=seed, return_regions=True)
        assert image[regions == MARROW].mean() < image[regions == CORTEX].mean() - 30


# --------------------------------------------------------------------------- difficulty knobs
def test_noise_parameter_sets_the_noise_level():
    quiet = {"noise": 0.0, "photon_noise": 0.0}
    clean = make_long_bone(seed=4, difficulty=quiet).astype(float)
    noisy = make_long_bone(seed=4, difficulty={**quiet, "noise": 0.05}).astype(float)
    unclipped = (clean > 60) & (clean < 195)   # 0.05 * 255 is about 13 grey levels
    assert 0.045 * 255 < np.std((noisy - clean)[unclipped]) < 0.055 * 255


def test_blur_and_contrast_parameters():
    def gradient(image):
        return np.abs(np.diff(image.astype(float), axis=1)).mean()

    quiet = {"noise": 0.0, "photon_noise": 0.0, "texture": 0.0}
    assert gradient(make_joint(seed=6, difficulty=quiet, blur=2.5)) < \
        gradient(make_joint(seed=6, difficulty=quiet, blur=0.5))
    low, regions = make_joint(seed=6, contrast=0.3, return_regions=True)
    high = make_joint(seed=6, contrast=0.5)
    cortex = regions == CORTEX
    assert high[cortex].mean() - low[cortex].mean() > 0.15 * 255 * 0.8


def test_visibility_keyword_controls_the_lesion():
    faint, mask = make_long_bone(fractured=True, seed=9, visibility=0.2, return_mask=True)
    clear = make_long_bone(fractured=True, seed=9, visibility=1.0)
    assert clear[mask].mean() < faint[mask].mean()
    dim, mask = make_joint(double_contour=True, seed=9, visibility=0.2, return_mask=True)
    bright = make_joint(double_contour=True, seed=9, visibility=1.0)
    assert bright[mask].mean() > dim[mask].mean()


def test_presets_are_read_only():
    with pytest.raises(TypeError):
        DIFFICULTY_PRESETS["medium"]["noise"] = 0.0
    assert set(DIFFICULTY_PRESETS) == {"easy", "medium", "hard"}


@pytest.mark.parametrize("difficulty, error, match", [
    ("extreme", ValueError, r"difficulty must be one of 'easy', 'medium', 'hard'; got 'extreme'"),
    ({"preset": "extreme"}, ValueError, r"difficulty must be one of"),
    ({"noize": 0.1}, ValueError, r"unknown parameter\(s\) \['noize'\]"),
    ({"noise": -0.1}, ValueError, r"'noise' must be a number in \[0, 0.5\]; got -0.1"),
    ({"contrast": 0}, ValueError, r"'contrast' must be a number in \(0, 1\]"),
    ({"blur": "big"}, ValueError, r"'blur' must be a number"),
    (3, TypeError, r"difficulty must be a preset name .* got int"),
])
def test_invalid_difficulty_raises(difficulty, error, match):
    with pytest.raises(error, match=match):
        make_long_bone(difficulty=difficulty)
    with pytest.raises(error, match=match):
        make_phantom_dataset(n_images=2, difficulty=difficulty)


def test_invalid_keyword_value_raises():
    with pytest.raises(ValueError, match=r"'fracture_visibility' must be a number in \[0, 1\]"):
        make_long_bone(visibility=1.5)
    with pytest.raises(ValueError, match=r"'contour_intensity'"):
        make_joint(visibility=-1)


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 16}, r"size must be an integer >= 32; got 16"),
    ({"size": 64.0}, r"size must be an integer"),
    ({"seed": -1}, r"seed must be None, a non-negative integer .* got -1"),
    ({"seed": "abc"}, r"seed must be"),
])
def test_invalid_size_or_seed_raises(kwargs, match):
    for make, _ in PHANTOMS:
        with pytest.raises(ValueError, match=match):
            make(**kwargs)


# --------------------------------------------------------------------------- datasets
@pytest.mark.parametrize("task", list(TASKS))
def test_dataset_shape_labels_and_class_names(task):
    images, labels, class_names = make_phantom_dataset(task, n_images=12, size=64, seed=3)
    assert images.shape == (12, 64, 64) and images.dtype == np.uint8
    assert labels.shape == (12,) and labels.dtype.kind == "i"
    assert class_names == TASKS[task]
    assert np.array_equal(np.bincount(labels, minlength=len(class_names)),
                          [6, 6] if len(class_names) == 2 else [3, 3, 3, 3])


def test_class_names_order():
    assert TASKS["fracture"] == ("intact", "fracture")
    assert TASKS["double-contour"] == ("normal", "double-contour")
    assert TASKS["four-class"] == ("bone-intact", "bone-fracture", "joint-normal",
                                   "joint-double-contour")


@pytest.mark.parametrize("balance, expected", [(0.25, [15, 5]), (0.0, [20, 0]), (1.0, [0, 20])])
def test_balance_sets_the_fraction_of_positives(balance, expected):
    _, labels, _ = make_phantom_dataset(n_images=20, size=32, balance=balance)
    assert np.array_equal(np.bincount(labels, minlength=2), expected)


def test_four_class_balance_applies_within_each_anatomy():
    _, labels, _ = make_phantom_dataset("four-class", n_images=20, size=32, balance=0.2)
    assert np.array_equal(np.bincount(labels, minlength=4), [8, 2, 8, 2])


def test_labels_match_the_drawn_lesions():
    images, labels, _ = make_phantom_dataset("four-class", n_images=8, size=64, seed=5)
    for index, label in enumerate(labels):
        make, flag = PHANTOMS[label // 2]
        image, mask = make(size=64, seed=phantom_seed(5, index), return_mask=True,
                           **{flag: bool(label % 2)})
        assert np.array_equal(image, images[index]) and mask.any() == bool(label % 2)


def test_dataset_is_reproducible_and_any_image_can_be_regenerated():
    images, labels, _ = make_phantom_dataset("double-contour", n_images=10, size=48, seed=4,
                                             difficulty="hard")
    again, labels_again, _ = make_phantom_dataset("double-contour", n_images=10, size=48,
                                                  seed=4, difficulty="hard")
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    image = make_phantom("double-contour", int(labels[7]), size=48, seed=phantom_seed(4, 7),
                         difficulty="hard")
    assert np.array_equal(image, images[7])
    other, _, _ = make_phantom_dataset("double-contour", n_images=10, size=48, seed=5)
    assert not np.array_equal(images, other)


@pytest.mark.parametrize("call, match", [
    (lambda: make_phantom_dataset("fractures"), r"task must be one of 'fracture'"),
    (lambda: make_phantom_dataset(n_images=0), r"n_images must be an integer >= 1; got 0"),
    (lambda: make_phantom_dataset(balance=1.5), r"balance must be .* \[0, 1\]; got 1.5"),
    (lambda: make_phantom("fracture", 2), r"label must be a class index from 0 to 1; got 2"),
    (lambda: phantom_seed(-1, 0), r"seed must be an integer >= 0; got -1"),
])
def test_invalid_dataset_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- folders
def _pngs(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*.png"))


def test_write_phantom_folder_tree_and_round_trip(tmp_path):
    root = write_phantom_folder(tmp_path / "phantoms", n_images=10, size=32, seed=2)
    images, labels, names = make_phantom_dataset(n_images=10, size=32, seed=2)
    assert root == tmp_path / "phantoms"
    assert sorted(p.name for p in root.iterdir()) == sorted(names)
    files = _pngs(root)
    assert len(files) == 10
    for index in (0, 9):
        path = root / names[labels[index]] / f"phantom_{index:05d}.png"
        assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), images[index])


def test_write_phantom_folder_with_split(tmp_path):
    root = write_phantom_folder(tmp_path, "four-class", n_images=32, size=32,
                                split=(0.5, 0.25, 0.25))
    assert sorted(p.name for p in root.iterdir()) == ["test", "train", "val"]
    counts = {part: {name: len(list((root / part / name).glob("*.png")))
                     for name in TASKS["four-class"]} for part in ("train", "val", "test")}
    assert all(count == 4 for count in counts["train"].values())   # 8 per class
    assert all(count == 2 for count in counts["val"].values())
    assert all(count == 2 for count in counts["test"].values())
    names = [path.split("/")[-1] for path in _pngs(root)]
    assert len(names) == len(set(names)) == 32   # each image in exactly one split


def test_write_phantom_folder_leaves_out_empty_split(tmp_path):
    root = write_phantom_folder(tmp_path, n_images=8, size=32, split=(0.75, 0.0, 0.25))
    assert sorted(p.name for p in root.iterdir()) == ["test", "train"]
    assert len(_pngs(root / "train")) == 6 and len(_pngs(root / "test")) == 2


def test_write_phantom_folder_refuses_non_empty_directory_and_bad_split(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"directory must be a new or empty directory"):
        write_phantom_folder(tmp_path, n_images=2, size=32)
    with pytest.raises(ValueError, match=r"split must be None or three fractions"):
        write_phantom_folder(tmp_path / "new", n_images=2, size=32, split=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"summing to 1"):
        write_phantom_folder(tmp_path / "new", n_images=2, size=32, split=(0.5, 0.3, 0.3))
    assert not (tmp_path / "new").exists()


# --------------------------------------------------------------------------- signal
def _orientation_features(images):
    """Cheap rotation-invariant features: gradient orientations relative to the
    dominant (bone) direction inside bright regions, plus the number of
    bright connected components. A fracture adds edges across the bone and
    splits the cortex."""
    rows = []
    for image in images:
        smooth = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.8)
        gx, gy = cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1)
        bright = image > BRIGHT
        region = _dilate(bright, 2)
        dominant = 0.5 * np.arctan2(2 * (gx * gy)[region].sum(),
                                    (gx * gx - gy * gy)[region].sum())
        relative = np.mod(np.arctan2(gy, gx) - dominant, np.pi)[region]
        hist, _ = np.histogram(relative, bins=12, range=(0, np.pi),
                               weights=np.hypot(gx, gy)[region])
        rows.append(np.r_[hist / (hist.sum() + 1e-6), cv2.connectedComponents(
            bright.astype(np.uint8))[0]])
    return np.array(rows)


def test_fracture_task_is_learnable_but_not_trivial_on_medium():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = {}
    for difficulty in ("easy", "medium", "hard"):
        images, labels, _ = make_phantom_dataset(n_images=120, seed=1, difficulty=difficulty)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        scores[difficulty] = cross_val_score(model, _orientation_features(images), labels,
                                             cv=4).mean()
    assert scores["easy"] > 0.9
    assert 0.62 < scores["medium"] < 0.95
    assert scores["hard"] < scores["medium"] < scores["easy"]
