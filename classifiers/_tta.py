"""Test-time augmentation (TTA) for the Keras image classifiers.

With ``tta`` on, a model's probabilities for an image are the mean of its
probabilities over a small fixed set of views of the resized image:

1. the image itself;
2. shifts by ``shifts`` of the side (rounded to whole pixels) down, up,
   right and left;
3. zooms about the centre by each factor of ``scales`` (bilinear);
4. with ``flip``, the image mirrored left-right.

Pixels moved into view are 0, like the padding of
:func:`xray_features.preprocess.resize_with_padding`. The views are
deterministic (no random draw), so the same image always gets the same
answer. Probabilities are averaged, not logits: the mean of softmax rows
still sums to 1 and the mean of sigmoids stays a probability.

Views are made with NumPy and OpenCV on the batch being predicted, so they
work under every Keras backend and the model sees ``n_views * batch_size``
rows per step, never every view of every image at once.
"""

import numbers
import types
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_TTA", "View", "resolve_tta", "tta_views", "apply_view",
           "predict_views"]

#: Default views: shifts of 4% of the side, zooms of 0.95 and 1.05, no
#: mirror (chest films are not left-right symmetric).
DEFAULT_TTA = types.MappingProxyType({"shifts": 0.04, "scales": (0.95, 1.05),
                                      "flip": False})

_MAX_SHIFT = 0.25
_SCALE_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class View:
    """One deterministic view: zoom about the centre, then shift, then mirror.

    Attributes
    ----------
    dy, dx : int
        Pixels the content moves down (``dy > 0``) and right (``dx > 0``).
    zoom : float
        Magnification about the image centre (> 1 enlarges).
    flip : bool
        Mirror left-right.
    """

    dy: int = 0
    dx: int = 0
    zoom: float = 1.0
    flip: bool = False


def resolve_tta(tta):
    """Turn the ``tta`` parameter into a dict of settings, or None.

    Parameters
    ----------
    tta : bool, None or dict
        True for :data:`DEFAULT_TTA`, False or None for no TTA, a dict to
        override some defaults (keys ``"shifts"``, ``"scales"``, ``"flip"``).

    Returns
    -------
    settings : dict or None

    Raises
    ------
    ValueError
        If ``tta`` is of another type, has unknown keys or a setting out of
        range.

    Examples
    --------
    >>> resolve_tta(True)
    {'shifts': 0.04, 'scales': (0.95, 1.05), 'flip': False}
    >>> resolve_tta({"scales": []})["scales"], resolve_tta(False)
    ((), None)
    """
    if tta is None or isinstance(tta, (bool, np.bool_)):
        return dict(DEFAULT_TTA) if tta else None
    if not isinstance(tta, dict):
        raise ValueError(
            f"tta must be True, False or a dict of settings; got "
            f"{type(tta).__name__} {tta!r}. Pass e.g. tta=True or "
            "tta={'shifts': 0.04, 'scales': (0.95, 1.05), 'flip': False}.")
    unknown = sorted(set(tta) - set(DEFAULT_TTA), key=str)
    if unknown:
        raise ValueError(f"tta has unknown keys {unknown}; the allowed keys are "
                         f"{sorted(DEFAULT_TTA)}.")
    settings = {**DEFAULT_TTA, **tta}
    shifts = 0 if settings["shifts"] is None else settings["shifts"]
    if not (_is_real(shifts) and 0 <= shifts <= _MAX_SHIFT):
        raise ValueError(
            f"tta['shifts'] must be a fraction of the image side in [0, "
            f"{_MAX_SHIFT}] (0 or None for no shifts); got {settings['shifts']!r}. "
            "Use a small fraction such as 0.04.")
    scales = () if settings["scales"] is None else settings["scales"]
    low, high = _SCALE_RANGE
    if not (isinstance(scales, (tuple, list)) and all(
            _is_real(s) and low <= s <= high and s != 1 for s in scales)):
        raise ValueError(
            f"tta['scales'] must be a tuple of zoom factors in [{low}, {high}], "
            f"none equal to 1 (the original is always a view); got "
            f"{settings['scales']!r}. Use e.g. (0.95, 1.05), or () for none.")
    if not isinstance(settings["flip"], (bool, np.bool_)):
        raise ValueError(f"tta['flip'] must be True or False; got "
                         f"{settings['flip']!r}.")
    return {"shifts": float(shifts), "scales": tuple(float(s) for s in scales),
            "flip": bool(settings["flip"])}


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def tta_views(settings, size):
    """The views of an image of ``size`` under ``settings``, original first.

    Parameters
    ----------
    settings : dict
        Output of :func:`resolve_tta`.
    size : (int, int)
        ``(H, W)`` of the model input.

    Returns
    -------
    views : tuple of View
        The original, the shifts (those that round to at least one pixel),
        the zooms, then the mirror.

    Examples
    --------
    >>> [(v.dy, v.dx, v.zoom) for v in tta_views(resolve_tta(True), (64, 32))]
    [(0, 0, 1.0), (3, 0, 1.0), (-3, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0), (0, 0, 0.95), (0, 0, 1.05)]
    """
    height, width = size
    step_y = round(settings["shifts"] * height)
    step_x = round(settings["shifts"] * width)
    views = [View()]
    if step_y:
        views += [View(dy=step_y), View(dy=-step_y)]
    if step_x:
        views += [View(dx=step_x), View(dx=-step_x)]
    views += [View(zoom=scale) for scale in settings["scales"]]
    if settings["flip"]:
        views.append(View(flip=True))
    return tuple(views)


def apply_view(images, view):
    """One view of every image of a batch.

    Parameters
    ----------
    images : (N, H, W, C) ndarray
        Model inputs (float32).
    view : View

    Returns
    -------
    out : (N, H, W, C) ndarray, same dtype
        A new array; pixels moved into view are 0.

    Examples
    --------
    >>> image = np.zeros((1, 5, 5, 1), np.float32)
    >>> image[0, 2, 2] = 1
    >>> np.argwhere(apply_view(image, View(dy=1, dx=-2))[0, ..., 0]).tolist()
    [[3, 0]]
    """
    images = np.asarray(images)
    out = _zoom(images, view.zoom) if view.zoom != 1 else images.copy()
    if view.dy or view.dx:
        out = _shift(out, view.dy, view.dx)
    return out[:, :, ::-1].copy() if view.flip else out


def _shift(images, dy, dx):
    """Move the content by (dy, dx) whole pixels, filling with 0."""
    height, width = images.shape[1:3]
    out = np.zeros_like(images)
    if abs(dy) < height and abs(dx) < width:
        out[:, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            images[:, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def _zoom(images, zoom):
    """Magnify each image by ``zoom`` about its centre (bilinear, 0 outside)."""
    import cv2

    height, width = images.shape[1:3]
    cy, cx = (height - 1) / 2, (width - 1) / 2
    matrix = np.array([[zoom, 0, (1 - zoom) * cx], [0, zoom, (1 - zoom) * cy]])
    out = np.empty_like(images)
    for index, image in enumerate(images):
        warped = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        out[index] = warped.reshape(image.shape)
    return out


def predict_views(model, x, views, *, batch_size):
    """Mean model output over ``views``, batch by batch.

    Parameters
    ----------
    model : keras.Model
    x : (N, H, W, C) ndarray or LazyModelInput
        Model inputs; a lazy input is read one batch at a time.
    views : sequence of View
    batch_size : int
        Images per step; the model sees ``len(views) * batch_size`` rows.

    Returns
    -------
    scores : (N, n_outputs) float64 ndarray
        Mean over the views of the model's outputs (probabilities).
    """
    from classifiers._lazy_input import batches

    views = tuple(views)
    n_views = len(views)

    def all_views(batch):  # view-major: every image under view 0, then view 1, ...
        return np.concatenate([apply_view(batch, view) for view in views])

    scores = np.asarray(model.predict(batches(x, batch_size=batch_size, transform=all_views),
                                      verbose=0), dtype=np.float64)
    means = []
    for start in range(0, len(x), batch_size):
        n = min(batch_size, len(x) - start)
        block = scores[n_views * start:n_views * (start + n)]
        means.append(block.reshape(n_views, n, -1).mean(axis=0))
    return np.concatenate(means) if means else scores.reshape(0, scores.shape[-1])
