"""Synthetic radiograph-like phantoms with known ground truth.

The toolkit's built-in dataset, so it runs and is tested with no download:
long bones (intact or fractured) and joints (normal or with a "double contour"
sign), drawn with vectorised numpy and OpenCV in a few milliseconds per
128 x 128 image. Images are uint8 on 0-255 with bone bright (X-ray
convention): cortical bone lies above the bright-pixel threshold of 150 on
the 'easy' and 'medium' presets, soft tissue mostly below it.

Each phantom draws its anatomy, its lesion and its noise from three
independent streams of its ``seed``, so the intact and the fractured phantom
of one seed share anatomy and noise and differ only by the lesion.
"""

import math
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from xray_features._validation import check_scalar

__all__ = ["DIFFICULTY_PRESETS", "REGION_LABELS", "TASKS", "make_long_bone", "make_joint",
           "make_phantom", "make_phantom_dataset", "phantom_seed", "write_phantom_folder"]

#: Difficulty presets. Intensities on the [0, 1] scale, lengths in pixels of a
#: 128-pixel phantom (scaled with ``size``). ``noise``: std of Gaussian noise;
#: ``photon_noise``: Poisson-like noise of std ``photon_noise * sqrt(intensity)``;
#: ``contrast``: cortex brightness above soft tissue; ``fracture_visibility``:
#: share of bone signal missing in a fracture gap; ``contour_intensity``:
#: double-contour brightness relative to the cortex; ``blur``: Gaussian
#: point-spread sigma; ``lesion_width``: fracture gap or contour thickness;
#: ``displacement``: largest sideways shift of a fracture fragment;
#: ``texture``: trabecular and soft-tissue texture (in every class).
DIFFICULTY_PRESETS = MappingProxyType({
    "easy": MappingProxyType({
        "noise": 0.015, "photon_noise": 0.01, "contrast": 0.5, "fracture_visibility": 1.0,
        "contour_intensity": 1.0, "blur": 0.6, "lesion_width": 3.0, "displacement": 4.0,
        "texture": 0.03}),
    "medium": MappingProxyType({
        "noise": 0.035, "photon_noise": 0.02, "contrast": 0.45, "fracture_visibility": 0.6,
        "contour_intensity": 0.9, "blur": 1.0, "lesion_width": 1.7, "displacement": 1.5,
        "texture": 0.06}),
    "hard": MappingProxyType({
        "noise": 0.06, "photon_noise": 0.03, "contrast": 0.38, "fracture_visibility": 0.6,
        "contour_intensity": 0.7, "blur": 1.3, "lesion_width": 1.6, "displacement": 1.0,
        "texture": 0.09}),
})
# Allowed range of each difficulty parameter: (low, high, low allowed).
_RULES = {"noise": (0, 0.5, True), "photon_noise": (0, 0.5, True), "contrast": (0, 1, False),
          "fracture_visibility": (0, 1, True), "contour_intensity": (0, 1, True),
          "blur": (0, 10, True), "lesion_width": (0, 20, False), "displacement": (0, 20, True),
          "texture": (0, 0.5, True)}

#: Class names of each task in label order: label ``i`` is ``TASKS[task][i]``.
TASKS = MappingProxyType({
    "fracture": ("intact", "fracture"),
    "double-contour": ("normal", "double-contour"),
    "four-class": ("bone-intact", "bone-fracture", "joint-normal", "joint-double-contour"),
})

#: Values of the anatomy map returned with ``return_regions=True``.
REGION_LABELS = MappingProxyType({"air": 0, "soft_tissue": 1, "cortex": 2, "marrow": 3})

_MIN_SIZE = 32


def _check_size(size):
    return check_scalar(size, "size", low=_MIN_SIZE,
                        hint="It is the side of the square image in pixels; use e.g. size=128.")


def _seed_sequence(seed):
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    try:
        return np.random.SeedSequence(check_scalar(seed, "seed", low=0))
    except ValueError:
        raise ValueError(f"seed must be None, a non-negative integer or a "
                         f"numpy.random.SeedSequence; got {seed!r}. Use e.g. seed=0.") from None


def _streams(seed):
    """Independent generators (anatomy, lesion, noise) of one phantom's seed."""
    root = _seed_sequence(seed)
    # Children built from entropy and spawn_key rather than root.spawn(), which
    # would advance a caller's SeedSequence and make the next call differ.
    return [np.random.default_rng(np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, k), pool_size=root.pool_size))
        for k in range(3)]


def _resolve_difficulty(difficulty, **overrides):
    """Preset name or dict (optional ``"preset"`` base, default 'medium') -> params."""
    names = ", ".join(map(repr, DIFFICULTY_PRESETS))
    if isinstance(difficulty, str):
        base, changes = difficulty, {}
    elif isinstance(difficulty, Mapping):
        changes = dict(difficulty)
        base = changes.pop("preset", "medium")
    else:
        raise TypeError(f"difficulty must be a preset name ({names}) or a dict of "
                        f"parameters; got {type(difficulty).__name__}.")
    if not isinstance(base, str) or base not in DIFFICULTY_PRESETS:
        raise ValueError(f"difficulty must be one of {names}; got {base!r}. To adjust a "
                         "preset pass a dict, e.g. {'preset': 'hard', 'noise': 0.05}.")
    unknown = sorted(set(changes) - set(_RULES))
    if unknown:
        raise ValueError(f"difficulty has unknown parameter(s) {unknown}; valid keys are "
                         f"'preset' and {sorted(_RULES)}.")
    params = {**DIFFICULTY_PRESETS[base], **changes,
              **{key: value for key, value in overrides.items() if value is not None}}
    for key, value in params.items():
        low, high, closed = _RULES[key]
        params[key] = check_scalar(value, f"difficulty parameter {key!r}", integer=False,
                                   low=low, high=high, low_open=not closed)
    return params


def _band(distance, half_width):
    """Anti-aliased indicator of ``|distance| <= half_width`` (one-pixel ramp)."""
    return np.clip(half_width - np.abs(distance) + 0.5, 0.0, 1.0)


def _inside(depth):
    """Anti-aliased indicator of ``depth >= 0``."""
    return np.clip(depth + 0.5, 0.0, 1.0)


def _setup(size, seed, difficulty, overrides):
    size = _check_size(size)
    return size, _resolve_difficulty(difficulty, **overrides), *_streams(seed), size / 128.0


def _frame(size, cx, cy, angle):
    """Pixel coordinates about (cx, cy) rotated by ``angle``: (along, across)."""
    yy, xx = np.indices((size, size), dtype=np.float32)
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return (xx - cx) * s + (yy - cy) * c, (xx - cx) * c - (yy - cy) * s


def _body(rng, size, scale):
    """Exposure and background draws shared by both phantoms, plus a texture field."""
    air, soft = rng.uniform(0.03, 0.07), rng.uniform(0.28, 0.36)
    gain, heel = rng.uniform(0.95, 1.05), rng.uniform(-0.06, 0.06)
    field = cv2.GaussianBlur(rng.standard_normal((size, size), dtype=np.float32), (0, 0),
                             1.2 * scale)
    return air, soft, gain, heel, field / (field.std() + 1e-6)


def _render(bone, limb_across, limb, axis, body, params, scale, rng):
    """Soft tissue + bone, exposure, blur (point spread), detector noise -> uint8."""
    air, soft, gain, heel, texture = body
    tissue = np.clip(1.0 - (limb_across / limb) ** 2, 0.0, 1.0) ** 0.25   # flat, rounded edges
    tissue = tissue * (1.0 + 0.3 * params["texture"] * texture)
    signal = (air + soft * tissue + params["contrast"] * bone) * (gain * (1 + heel * axis))
    signal = signal.astype(np.float32)
    if params["blur"] > 0:
        signal = cv2.GaussianBlur(signal, (0, 0), params["blur"] * scale,
                                  borderType=cv2.BORDER_REFLECT)
    noise = rng.standard_normal((2,) + signal.shape, dtype=np.float32)
    signal = (signal + params["noise"] * noise[0]
              + params["photon_noise"] * np.sqrt(np.clip(signal, 0.0, None)) * noise[1])
    return np.clip(signal * 255.0 + 0.5, 0.0, 255.0).astype(np.uint8)


def _outputs(image, mask, regions, return_mask, return_regions):
    out = (image,) + ((mask,) if return_mask else ()) + ((regions,) if return_regions else ())
    return out if len(out) > 1 else image


def make_long_bone(*, size=128, fractured=False, seed=None, difficulty="medium", noise=None,
                   contrast=None, visibility=None, blur=None, return_mask=False,
                   return_regions=False):
    """Radiograph-like phantom of a long bone, intact or fractured.

    Recipe: (1) dark background (air); (2) a smooth mid-grey soft-tissue
    envelope; (3) a slightly tapered bone with bright cortical walls and a
    darker textured marrow canal, at a random position, width and tilt (within
    30 degrees of vertical); (4) if ``fractured``, a thin, slightly wavy,
    possibly oblique dark line across the bone, one fragment shifted sideways
    by up to ``displacement`` pixels; (5) exposure gain and heel-effect
    gradient; (6) Gaussian blur; (7) Gaussian plus Poisson-like noise.

    Parameters
    ----------
    size : int, optional
        Side of the square image in pixels (>= 32).
    fractured : bool, optional
        Draw a fracture line across the bone.
    seed : None, int or numpy.random.SeedSequence, optional
        Same seed, same image; the intact and fractured phantoms of one seed
        share anatomy and noise.
    difficulty : {'easy', 'medium', 'hard'} or dict, optional
        A preset, or a dict of parameters overriding one (key ``"preset"``,
        default 'medium'); keys in :data:`DIFFICULTY_PRESETS`.
    noise, contrast, blur : float, optional
        Override these difficulty parameters.
    visibility : float, optional
        Overrides ``fracture_visibility`` (here) or ``contour_intensity``
        (:func:`make_joint`).
    return_mask : bool, optional
        Also return the lesion mask (all False without a lesion).
    return_regions : bool, optional
        Also return the anatomy as a uint8 map with :data:`REGION_LABELS`.

    Returns
    -------
    image : (size, size) ndarray of uint8
    mask : (size, size) ndarray of bool, if ``return_mask``
        The fracture line inside the bone.
    regions : (size, size) ndarray of uint8, if ``return_regions``

    Raises
    ------
    ValueError, TypeError
        For an invalid size, seed or difficulty.

    Examples
    --------
    >>> image, mask = make_long_bone(fractured=True, seed=3, return_mask=True)
    >>> image.shape, image.dtype, bool(mask.any())
    ((128, 128), dtype('uint8'), True)
    """
    size, params, anatomy, lesion, noise_rng, scale = _setup(size, seed, difficulty, dict(
        noise=noise, contrast=contrast, fracture_visibility=visibility, blur=blur))
    cx, cy = (size * (0.5 + anatomy.uniform(-0.12, 0.12, 2))).tolist()
    along, across = _frame(size, cx, cy, np.deg2rad(anatomy.uniform(-30, 30)))
    radius = size * anatomy.uniform(0.06, 0.09)
    inner = radius * (1.0 - anatomy.uniform(0.35, 0.5))
    taper = 1.0 + anatomy.uniform(-0.15, 0.15) * along / size
    limb = radius * anatomy.uniform(2.6, 4.0)
    limb_across = across - anatomy.uniform(-0.3, 0.3) * (limb - radius)
    canal = anatomy.uniform(0.18, 0.3)
    body = _body(anatomy, size, scale)

    mask, gap = np.zeros((size, size), dtype=bool), 0.0
    if fractured:
        offset, tilt = size * lesion.uniform(-0.22, 0.22), math.radians(lesion.uniform(-35, 35))
        half_width = 0.5 * params["lesion_width"] * scale * lesion.uniform(0.8, 1.2)
        shift = params["displacement"] * scale * lesion.uniform(-1, 1)
        wave = lesion.uniform(0.2, 0.6) * scale * np.sin(
            lesion.uniform(0.2, 0.5) / scale * across + lesion.uniform(0, 2 * np.pi))
        line = (along - offset) * math.cos(tilt) - across * math.sin(tilt) + wave
        across = np.where(line > 0, across - shift, across)   # soft tissue stays in place
        gap = params["fracture_visibility"] * _band(line, half_width)
        mask = (np.abs(line) <= max(half_width, 0.5)) & (np.abs(across) <= radius * taper)
    marrow = _inside(inner * taper - np.abs(across))
    cortex = _inside(radius * taper - np.abs(across)) - marrow
    bone = (cortex + marrow * (canal + params["texture"] * body[-1])) * (1.0 - gap)
    image = _render(bone, limb_across, limb, along / size, body, params, scale, noise_rng)

    regions = (np.abs(limb_across) < limb).astype(np.uint8)
    regions[np.abs(across) <= radius * taper] = REGION_LABELS["cortex"]
    regions[np.abs(across) < inner * taper] = REGION_LABELS["marrow"]
    return _outputs(image, mask, regions, return_mask, return_regions)


def make_joint(*, size=128, double_contour=False, seed=None, difficulty="medium", noise=None,
               contrast=None, visibility=None, blur=None, return_mask=False,
               return_regions=False):
    """Radiograph-like phantom of a joint, with or without a double contour.

    Recipe: (1) soft tissue over a dark background; (2) a convex condyle (a
    disc on a shaft) with a bright subchondral plate over textured cancellous
    bone; (3) a joint space of soft-tissue density (cartilage); (4) the
    opposing, gently concave articular surface with its own plate; all at a
    random position, size and tilt (within 25 degrees); (5) if
    ``double_contour``, a thin bright contour parallel to the condyle surface
    at a small offset above it (over the cartilage, inside the joint space),
    along part of the surface, slightly uneven in brightness; (6) exposure,
    blur and noise as in :func:`make_long_bone`.

    Parameters
    ----------
    size, seed, difficulty, noise, contrast, visibility, blur, return_regions
        As in :func:`make_long_bone`; ``visibility`` overrides
        ``contour_intensity``, ``lesion_width`` sets the contour's thickness.
    double_contour : bool, optional
        Draw the double-contour sign.
    return_mask : bool, optional
        Also return the contour mask (all False without a double contour).

    Returns
    -------
    image : (size, size) ndarray of uint8
    mask : (size, size) ndarray of bool, if ``return_mask``
    regions : (size, size) ndarray of uint8, if ``return_regions``

    Raises
    ------
    ValueError, TypeError
        For an invalid size, seed or difficulty.

    Examples
    --------
    >>> image, mask = make_joint(double_contour=True, seed=3, return_mask=True)
    >>> image.shape, bool(mask.any())
    ((128, 128), True)
    """
    size, params, anatomy, lesion, noise_rng, scale = _setup(size, seed, difficulty, dict(
        noise=noise, contrast=contrast, contour_intensity=visibility, blur=blur))
    cx, cy = (size * (0.5 + anatomy.uniform(-0.1, 0.1, 2))).tolist()
    along, across = _frame(size, cx, cy, np.deg2rad(anatomy.uniform(-25, 25)))
    up = -along   # away from the condyle, towards the joint space
    condyle = size * anatomy.uniform(0.28, 0.45)
    joint_gap = size * anatomy.uniform(0.07, 0.11)
    plateau = condyle * anatomy.uniform(1.6, 3.0)   # radius of the opposing surface
    plates = (size * anatomy.uniform(0.025, 0.04, 2)).tolist()
    spongy = anatomy.uniform(0.22, 0.36, 2).tolist()
    limb = size * anatomy.uniform(0.42, 0.6)
    limb_across = across - size * anatomy.uniform(-0.08, 0.08)
    body = _body(anatomy, size, scale)

    # Depth below each articular surface (> 0 inside bone), in pixels.
    depths = (condyle - np.hypot(across, np.maximum(up + condyle, 0.0)),
              (up - joint_gap + across ** 2 / (2 * plateau)) / np.hypot(1.0, across / plateau))
    bone = np.zeros((size, size), dtype=np.float32)
    for depth, plate, level in zip(depths, plates, spongy):
        cancellous = _inside(depth - plate)
        bone += _inside(depth) - cancellous + cancellous * (level + params["texture"] * body[-1])

    mask = np.zeros((size, size), dtype=bool)
    if double_contour:
        height = -depths[0] - joint_gap * lesion.uniform(0.3, 0.55)   # 0 on the contour
        half_width = 0.5 * params["lesion_width"] * scale * lesion.uniform(0.8, 1.2)
        extent = (_band(across - condyle * lesion.uniform(-0.3, 0.3),
                        condyle * lesion.uniform(0.5, 0.9)) * (up > -0.5 * condyle))
        ripple = 1.0 + lesion.uniform(0.1, 0.3) * np.sin(
            lesion.uniform(0.1, 0.3) / scale * across + lesion.uniform(0, 2 * np.pi))
        bone += params["contour_intensity"] * _band(height, half_width) * extent * ripple
        mask = (np.abs(height) <= max(half_width, 0.5)) & (extent > 0.5)
    image = _render(bone, limb_across, limb, up / size, body, params, scale, noise_rng)

    regions = (np.abs(limb_across) < limb).astype(np.uint8)
    for depth, plate in zip(depths, plates):
        regions[depth >= 0] = REGION_LABELS["cortex"]
        regions[depth > plate] = REGION_LABELS["marrow"]
    return _outputs(image, mask, regions, return_mask, return_regions)


def _check_task(task):
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(map(repr, TASKS))}; got {task!r}.")
    return task


def phantom_seed(seed, index):
    """Seed of image ``index`` of a phantom dataset made with ``seed``.

    Spawned with :class:`numpy.random.SeedSequence` (spawn key ``(0, index)``
    under ``seed``), so it does not depend on the dataset's size.

    Parameters
    ----------
    seed : int
        The dataset's seed (>= 0).
    index : int
        The image's position in the dataset (>= 0).

    Returns
    -------
    int
        Pass it as ``seed`` to :func:`make_phantom` to regenerate the image.

    Examples
    --------
    >>> phantom_seed(0, 5) == phantom_seed(0, 5) != phantom_seed(0, 6)
    True
    """
    for name, value in (("seed", seed), ("index", index)):
        check_scalar(value, name, low=0)
    sequence = np.random.SeedSequence(int(seed), spawn_key=(0, int(index)))
    return int(sequence.generate_state(1, np.uint64)[0])


def make_phantom(task, label, *, size=128, seed=None, difficulty="medium"):
    """One phantom of class ``label`` (an index into ``TASKS[task]``) of ``task``.

    ``size``, ``seed`` and ``difficulty`` are as in :func:`make_long_bone`.

    Examples
    --------
    >>> make_phantom("four-class", 3, size=64, seed=1).shape
    (64, 64)
    """
    n_classes = len(TASKS[_check_task(task)])
    check_scalar(label, "label", low=0, high=n_classes - 1, noun="class index",
                 hint=f"Task {task!r} has classes {TASKS[task]}.")
    options = {"size": size, "seed": seed, "difficulty": difficulty}
    if task == "fracture" or (task == "four-class" and label < 2):
        return make_long_bone(fractured=bool(label % 2), **options)
    return make_joint(double_contour=bool(label % 2), **options)


def make_phantom_dataset(task="fracture", *, n_images=200, size=128, seed=0,
                         difficulty="medium", balance=0.5):
    """A reproducible labelled stack of phantoms: the toolkit's default dataset.

    Image ``i`` is ``make_phantom(task, labels[i], size=size,
    seed=phantom_seed(seed, i), difficulty=difficulty)``, so any one image
    can be regenerated; the order of the labels is drawn from ``seed`` too.

    Parameters
    ----------
    task : {'fracture', 'double-contour', 'four-class'}, optional
        Class names in :data:`TASKS`: ('intact', 'fracture'), ('normal',
        'double-contour') or ('bone-intact', 'bone-fracture', 'joint-normal',
        'joint-double-contour').
    n_images : int, optional
        Number of images (>= 1).
    size : int, optional
        Side of each square image (>= 32).
    seed : int or None, optional
        Dataset seed; None gives a new dataset on each call.
    difficulty : {'easy', 'medium', 'hard'} or dict, optional
        See :data:`DIFFICULTY_PRESETS`.
    balance : float, optional
        Fraction of abnormal images, in [0, 1]. For 'four-class', half the
        images are bones and half joints, each with this fraction abnormal.

    Returns
    -------
    images : (n_images, size, size) ndarray of uint8
    labels : (n_images,) ndarray of int64
    class_names : tuple of str

    Raises
    ------
    ValueError, TypeError
        For an unknown task or invalid parameters.

    Examples
    --------
    >>> images, labels, names = make_phantom_dataset(n_images=4, size=64, seed=0)
    >>> images.shape, sorted(labels.tolist()), names
    ((4, 64, 64), [0, 0, 1, 1], ('intact', 'fracture'))
    """
    _check_task(task)
    check_scalar(n_images, "n_images", low=1)
    check_scalar(balance, "balance", integer=False, low=0, high=1,
                 hint="It is the fraction of abnormal images.")
    size, params = _check_size(size), _resolve_difficulty(difficulty)
    root = _seed_sequence(seed)   # seed=None: draw the entropy once for every image
    groups = [int(n_images)] if task != "four-class" else [(n_images + 1) // 2, n_images // 2]
    counts = [count for group in groups
              for count in (group - round(balance * group), round(balance * group))]
    label_rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(1,)))
    labels = label_rng.permutation(np.repeat(np.arange(len(counts)), counts)).astype(np.int64)
    images = np.empty((len(labels), size, size), dtype=np.uint8)
    for index, label in enumerate(labels):
        images[index] = make_phantom(task, int(label), size=size, difficulty=params,
                                     seed=phantom_seed(root.entropy, index))
    return images, labels, TASKS[task]


def _check_split(split):
    try:
        fractions = [float(value) for value in split]
    except (TypeError, ValueError):
        fractions = []
    if len(fractions) != 3 or min(fractions) < 0 or fractions[0] == 0 \
            or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split must be None or three fractions (train, val, test), each >= 0, "
                         f"train > 0, summing to 1; got {split!r}. Use e.g. (0.7, 0.15, 0.15).")
    return fractions


def write_phantom_folder(directory, task="fracture", *, n_images=200, size=128, seed=0,
                         difficulty="medium", balance=0.5, split=None):
    """Write a phantom dataset as PNG files, one sub-folder per class.

    Layout: ``directory/<class>/phantom_<i>.png`` or, with ``split``,
    ``directory/<train|val|test>/<class>/phantom_<i>.png`` (a split of
    fraction 0 is left out), where ``i`` is the image's index in
    :func:`make_phantom_dataset` called with the same arguments. Splits are
    stratified by class and drawn from ``seed``.

    Parameters
    ----------
    directory : str or path-like
        A new or empty directory.
    task, n_images, size, seed, difficulty, balance
        As in :func:`make_phantom_dataset`.
    split : None or (float, float, float), optional
        Train, validation and test fractions, summing to 1.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    ValueError
        If ``directory`` is a file or a non-empty directory, or for invalid
        parameters.
    OSError
        If a file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> root = write_phantom_folder(tempfile.mkdtemp(), n_images=4, size=32)
    >>> sorted(path.name for path in root.iterdir())
    ['fracture', 'intact']
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ValueError(f"directory must be a new or empty directory; {str(directory)!r} "
                         "exists and is not empty. Choose another path.")
    fractions = None if split is None else _check_split(split)
    root = _seed_sequence(seed)
    images, labels, class_names = make_phantom_dataset(
        task, n_images=n_images, size=size, seed=root.entropy, difficulty=difficulty,
        balance=balance)
    parts, names = np.full(len(labels), "", dtype=object), [""]
    if fractions is not None:
        rng = np.random.default_rng(np.random.SeedSequence(root.entropy, spawn_key=(2,)))
        for label in range(len(class_names)):
            members = rng.permutation(np.flatnonzero(labels == label))
            bounds = np.round(np.cumsum(fractions[:2]) * len(members)).astype(int)
            for name, chunk in zip(("train", "val", "test"), np.split(members, bounds)):
                parts[chunk] = name
        names = [name for name, part in zip(("train", "val", "test"), fractions) if part > 0]
    for name in names:
        for class_name in class_names:
            (directory / name / class_name).mkdir(parents=True, exist_ok=True)
    digits = max(5, len(str(len(labels) - 1)))
    for index, (image, label) in enumerate(zip(images, labels)):
        path = directory / parts[index] / class_names[label] / f"phantom_{index:0{digits}d}.png"
        if not cv2.imwrite(str(path), image):
            raise OSError(f"could not write the PNG file {str(path)!r}.")
    return directory
