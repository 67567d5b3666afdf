"""Synthetic out-of-distribution images for testing a radiograph model's guard.

Six kinds, none of which any model trains on: natural-photo-like colour
images (smooth colour gradients, shapes, noise), document renders (text with
``cv2.putText``), noise, checkerboards, phantoms of another anatomy
(:mod:`xray_features.synthetic`) and inverted films (given films, negated).
Every generator is seeded and returns uint8 images.
"""

import numpy as np

__all__ = ["OOD_KINDS", "make_ood_set", "photo_like", "document", "noise_image",
           "checkerboard"]

OOD_KINDS = ("photo", "document", "noise", "checkerboard", "other-anatomy", "inverted")


def photo_like(rng, size=224):
    """An RGB picture: a smooth colour gradient, a few filled shapes, noise.

    Examples
    --------
    >>> photo_like(np.random.default_rng(0), 32).shape
    (32, 32, 3)
    """
    import cv2

    y, x = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size, 3), np.float32)
    for channel in range(3):
        a, b, c = rng.uniform(-1, 1, 3)
        image[..., channel] = 0.5 + 0.35 * np.sin(3 * (a * x + b * y) + c * 3)
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(2, 6)):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            cv2.circle(image, centre, int(rng.integers(size // 16, size // 4)), colour, -1)
        else:
            corner = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.rectangle(image, centre, corner, colour, -1)
    noisy = image.astype(np.float32) + rng.normal(0, 6, image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def document(rng, size=224):
    """A gray page of black text lines (a scanned letter)."""
    import cv2

    page = np.full((size, size), int(rng.integers(220, 256)), np.uint8)
    words = ["patient", "report", "findings", "normal", "x-ray", "clinic", "date",
             "signed", "chest", "result", "the", "and", "no", "acute"]
    scale = size / 224 * rng.uniform(0.35, 0.6)
    line = int(18 * size / 224 * scale / 0.45)
    for row in range(line, size - 4, max(line, 6)):
        text = " ".join(rng.choice(words, 6))
        cv2.putText(page, text, (int(rng.integers(2, 12)), row), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, int(rng.integers(0, 60)), 1, cv2.LINE_AA)
    return page


def noise_image(rng, size=224):
    """Uniform or Gaussian noise."""
    if rng.random() < 0.5:
        return rng.integers(0, 256, (size, size), dtype=np.uint8)
    values = rng.normal(rng.uniform(60, 190), rng.uniform(10, 60), (size, size))
    return np.clip(values, 0, 255).astype(np.uint8)


def checkerboard(rng, size=224):
    """A black-and-white (or gray-level) checkerboard of random square size."""
    square = int(rng.integers(4, size // 4))
    y, x = np.mgrid[0:size, 0:size] // square
    low, high = sorted(rng.integers(0, 256, 2))
    return np.where((x + y) % 2 == 0, low, max(high, low + 40)).clip(0, 255).astype(np.uint8)


def make_ood_set(kind, n, *, size=224, seed=0, films=None):
    """``n`` images of one OOD kind.

    Parameters
    ----------
    kind : one of OOD_KINDS
    n : int
    size : int
    seed : int
    films : sequence of 2-D uint8 arrays, optional
        In-distribution films to invert (needed for "inverted").

    Returns
    -------
    images : list of ndarray
        2-D uint8 images, or (size, size, 3) RGB for "photo".

    Examples
    --------
    >>> [image.shape for image in make_ood_set("checkerboard", 2, size=32)]
    [(32, 32), (32, 32)]
    """
    from xray_features.synthetic import make_joint, make_long_bone

    if kind not in OOD_KINDS:
        raise ValueError(f"kind must be one of {OOD_KINDS}; got {kind!r}")
    rng = np.random.default_rng(seed)
    if kind == "inverted":
        if films is None or len(films) == 0:
            raise ValueError("kind 'inverted' needs films to invert")
        return [255 - np.asarray(films[i % len(films)], np.uint8) for i in range(n)]
    makers = {"photo": photo_like, "document": document, "noise": noise_image,
              "checkerboard": checkerboard}
    if kind in makers:
        return [makers[kind](rng, size) for _ in range(n)]
    out = []
    for i in range(n):
        maker = make_long_bone if i % 2 == 0 else make_joint
        out.append(maker(size=size, seed=seed * 100003 + i, difficulty="medium"))
    return out
