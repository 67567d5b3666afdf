"""Explanations for every model: where in the image the evidence lies.

:func:`explain` returns, per image, one heatmap per class at the image's own
size, whatever the model:

* Keras models (:class:`~classifiers.keras_models.CNNClassifier`,
  :class:`~classifiers.transfer.TransferClassifier`): class activation maps
  from the last convolutional block (:mod:`classifiers._cam`), computed
  from the block's feature maps and the head's weights with NumPy -- no
  gradients, so the same code runs under every Keras 3 backend
  (TensorFlow, PyTorch, JAX);
* XGBoost on handcrafted features
  (:class:`~classifiers.xgb.FeatureXGBClassifier`): XGBoost's exact
  per-feature contributions (``pred_contribs``, SHAP values of the trees),
  mapped back to the image where the features are spatial (edge-grid cells,
  HOG cells), plus the top features by name (:mod:`classifiers._contributions`).

A heatmap is in the model's own units (logit contribution per pixel):
positive values are evidence for the class, negative against it. The map is
computed at the model's working size and mapped back to the image through
the inverse of :func:`xray_features.preprocess.resize_with_padding`.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["ExplanationResult", "explain", "overlay", "heatmap_peak"]


@dataclass(frozen=True)
class ExplanationResult:
    """Heatmaps of one image.

    Attributes
    ----------
    heatmaps : (n_classes, H, W) ndarray of float32
        One map per entry of ``classes``, at the image's size; positive
        values support the class.
    classes : tuple
        The model's ``classes_``.
    predicted : int
        Index (into ``classes``) of the most probable class.
    method : str
        "cam" (Keras), "tree-contributions" (XGBoost) or "linear-cam"
        (the linear probe: exact class activation maps on backbone
        embeddings).
    top_features : tuple of (str, float)
        For XGBoost models and the linear probe, the features that moved the
        predicted class's score most, with their signed contributions
        (largest magnitude first); empty for CAM.
    feature_shares : tuple of (str, float)
        For the hybrid model, the shares of the prediction that come from
        the handcrafted and from the deep features
        (:meth:`classifiers.hybrid.HybridXGBClassifier.feature_shares`);
        empty otherwise.
    """

    heatmaps: np.ndarray
    classes: tuple
    predicted: int
    method: str
    top_features: tuple = ()
    feature_shares: tuple = ()

    def heatmap(self, label=None):
        """The map of class ``label`` (default: the predicted class)."""
        if label is None:
            return self.heatmaps[self.predicted]
        if label not in self.classes:
            raise ValueError(f"label {label!r} is not one of the classes {list(self.classes)}")
        return self.heatmaps[list(self.classes).index(label)]


def explain(model, images, *, top=10):
    """Heatmaps per image and class for any fitted toolkit model.

    Parameters
    ----------
    model : fitted classifier
        A :class:`~classifiers.xgb.FeatureXGBClassifier`,
        :class:`~classifiers.keras_models.CNNClassifier` or
        :class:`~classifiers.transfer.TransferClassifier`.
    images : (N, H, W) ndarray or sequence of 2-D ndarray
    top : int, default=10
        Number of named features in ``top_features`` (XGBoost models).

    Returns
    -------
    explanations : list of ExplanationResult
        One per image, maps at that image's size.

    Raises
    ------
    TypeError
        For a model of another kind.
    ValueError
        For a multi-label model (no single predicted class), or invalid images.

    Examples
    --------
    >>> from classifiers import FeatureXGBClassifier
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 60, (40, 64, 64), dtype=np.uint8)
    >>> y = np.arange(40) % 2
    >>> images[y == 1, 40:56, 44:60] = 230        # a bright square, lower right
    >>> model = FeatureXGBClassifier("edge", image_size=64, n_estimators=20).fit(images, y)
    >>> result = explain(model, images[1:2])[0]
    >>> result.heatmaps.shape, result.classes[result.predicted]
    ((2, 64, 64), 1)
    >>> row, col = heatmap_peak(result.heatmap())
    >>> bool(row >= 32 and col >= 32)             # the evidence lies lower right
    True
    """
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    if getattr(model, "task_", None) == "multilabel":
        raise ValueError("explain supports binary and multi-class models; a multi-label "
                         "model has no single predicted class")
    images = model._validate_images(images)
    shapes = [np.asarray(image).shape for image in images]
    shares = [()] * len(images)
    if hasattr(model, "_explanation_maps"):  # the linear probe
        maps, proba, tops = model._explanation_maps(images, top=top)
        method = "linear-cam"
    elif hasattr(model, "model_") and hasattr(model, "extractor_"):
        from classifiers._contributions import contribution_maps

        maps, proba, tops = contribution_maps(model, images, top=top)
        method = "tree-contributions"
        if hasattr(model, "feature_shares"):  # handcrafted against deep features
            shares = [(("handcrafted", float(a)), ("deep", float(b)))
                      for a, b in model.feature_shares(images)]
    elif hasattr(model, "model_") and hasattr(model, "_model_input"):
        from classifiers._cam import cam_maps

        maps, proba = cam_maps(model, images)
        tops, method = [()] * len(images), "cam"
    else:
        raise TypeError(f"explain does not know how to explain a {type(model).__name__}; "
                        "expected a toolkit XGBoost or Keras classifier")
    size = maps.shape[-2:]
    results = []
    for heat, scores, shape, names, share in zip(maps, proba, shapes, tops, shares):
        restored = np.stack([unpad(channel, shape, size) for channel in heat])
        results.append(ExplanationResult(restored.astype(np.float32),
                                         tuple(np.asarray(model.classes_).tolist()),
                                         int(np.argmax(scores)), method, tuple(names),
                                         share))
    return results


def unpad(heat, shape, size):
    """Map a map made on ``resize_with_padding(image, size)`` back to ``shape``.

    Examples
    --------
    >>> heat = np.zeros((8, 8), np.float32); heat[2:6, :] = 1   # the image part of 8x8
    >>> float(unpad(heat, (4, 8), (8, 8)).min())
    1.0
    """
    import cv2

    out_h, out_w = size
    height, width = shape
    scale = min(out_h / height, out_w / width)
    new_h = min(out_h, max(1, round(height * scale)))
    new_w = min(out_w, max(1, round(width * scale)))
    top, left = (out_h - new_h) // 2, (out_w - new_w) // 2
    crop = np.ascontiguousarray(heat[top:top + new_h, left:left + new_w], dtype=np.float32)
    if crop.shape == (height, width):
        return crop
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)


def heatmap_peak(heat):
    """``(row, col)`` of the largest value of a map (the first one on ties)."""
    heat = np.asarray(heat)
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(heat)), heat.shape))


def overlay(image, heat, *, alpha=0.45):
    """Colour overlay of the positive part of a heatmap on a gray image.

    Parameters
    ----------
    image : (H, W) ndarray
        The image (any toolkit dtype).
    heat : (H, W) ndarray
        A heatmap of the same shape; its positive part, scaled to its own
        maximum, is drawn with OpenCV's JET colour map.
    alpha : float
        Weight of the colour map.

    Returns
    -------
    rgb : (H, W, 3) ndarray of uint8

    Examples
    --------
    >>> overlay(np.zeros((4, 4), np.uint8), np.eye(4)).shape
    (4, 4, 3)
    """
    import cv2

    from xray_features.preprocess import to_uint8

    gray = to_uint8(np.asarray(image))
    heat = np.asarray(heat, dtype=np.float32)
    if heat.shape != gray.shape:
        raise ValueError(f"heat has shape {heat.shape}; expected the image's {gray.shape}")
    positive = np.clip(heat, 0, None)
    peak = float(positive.max())
    level = np.zeros(gray.shape, np.uint8) if peak <= 0 else \
        np.rint(255 * positive / peak).astype(np.uint8)
    colour = cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    base = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
    weight = alpha * (level[..., None].astype(np.float32) / 255.0)
    return np.rint(base * (1 - weight) + colour * weight).astype(np.uint8)
