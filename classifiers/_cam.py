"""Class activation maps of Keras models without gradients.

The toolkit's networks end in a convolutional block followed by a head of
global average pooling or flattening, dropout, dense ReLU layers and a dense
output. Such a head is piecewise linear in the block's feature maps ``A``
(h, w, C): for one image, with the ReLU units that are active fixed, the
output logit of class ``k`` is ``sum_ijc A[i, j, c] * G[i, j, c, k] + b_k``,
where ``G`` is the product of the head's weight matrices restricted to the
active units. The class activation map is ``CAM_k(i, j) = sum_c A[i, j, c]
* G[i, j, c, k]``: for a global-average-pooling head straight into the
output it is Zhou et al.'s CAM (up to the constant 1 / hw), and for deeper
heads the exact split of the logit over positions (gradient x activation at
the block, which is exact here because the head is linear between ReLU
switches).

Only ``Model.predict`` of a sub-model and the layers' weights (NumPy arrays
from ``get_weights``) are used, so the maps are the same under every Keras 3
backend.

References
----------
B. Zhou, A. Khosla, A. Lapedriza, A. Oliva, A. Torralba, "Learning Deep
Features for Discriminative Localization", CVPR 2016.
"""

import numpy as np

__all__ = ["cam_maps"]


def _split(model):
    """The last layer with a 4-D output and the head layers after it."""
    layers = model.layers
    last = None
    for index, layer in enumerate(layers):
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4:
            last = index
    if last is None:
        raise ValueError(f"model {model.name!r} has no convolutional feature maps (no layer "
                         "with a 4-D output) to explain")
    return layers[last], layers[last + 1:]


def _head_steps(head):
    """The head as NumPy steps: ("gap"|"flatten"|"dense", weights, activation)."""
    steps = []
    for layer in head:
        kind = type(layer).__name__
        if kind in ("Dropout", "SpatialDropout2D", "InputLayer"):
            continue
        if kind == "GlobalAveragePooling2D":
            steps.append(("gap", None, None))
        elif kind == "Flatten":
            steps.append(("flatten", None, None))
        elif kind == "Dense":
            kernel, *bias = layer.get_weights()
            activation = getattr(layer.activation, "__name__", str(layer.activation))
            steps.append(("dense", (np.asarray(kernel, np.float64),
                                    np.asarray(bias[0], np.float64) if bias else None),
                          activation))
        else:
            raise ValueError(f"explain supports heads of global average pooling or "
                             f"flatten, dropout and dense layers; found a {kind} layer "
                             f"({layer.name!r})")
    if not steps or steps[0][0] not in ("gap", "flatten") or any(
            kind != "dense" for kind, _, _ in steps[1:]):
        raise ValueError("explain needs a head of pooling/flatten then dense layers")
    for _, _, activation in steps[1:-1]:
        if activation not in ("relu", "linear"):
            raise ValueError(f"explain supports ReLU or linear hidden dense layers; found "
                             f"{activation!r}")
    return steps


def _logit_gradients(steps, vector):
    """Forward the pooled/flattened vectors through the dense layers; return
    d logit / d vector, (N, F, K), exact for the active ReLU pattern."""
    dense = [step for step in steps[1:]]
    x = vector
    jacobian = None  # (N, F, D) running product
    for position, (_, (kernel, bias), activation) in enumerate(dense):
        z = x @ kernel + (bias if bias is not None else 0.0)
        final = position == len(dense) - 1
        if not final and activation == "relu":
            active = (z > 0).astype(np.float64)
            x = z * active
            layer_jac = kernel[None, :, :] * active[:, None, :]
        else:
            x = z
            layer_jac = np.broadcast_to(kernel, (len(vector), *kernel.shape))
        jacobian = layer_jac if jacobian is None else np.einsum(
            "nfd,nde->nfe", jacobian, layer_jac)
    return jacobian


def cam_maps(model, images, *, batch_size=None):
    """Class activation maps of a fitted toolkit Keras model.

    Parameters
    ----------
    model : fitted KerasImageClassifier
    images : (N, H, W) ndarray or sequence of 2-D ndarray

    Returns
    -------
    maps : (N, n_classes, h, w) ndarray of float32
        At the model's input size; for a binary model (one sigmoid unit)
        class 1 gets the map of the logit and class 0 its negative.
    proba : (N, n_classes) ndarray
    """
    import cv2
    import keras

    x = model._model_input(images)
    network = model.model_
    feature_layer, head = _split(network)
    steps = _head_steps(head)
    extractor = keras.Model(network.inputs, [feature_layer.output, network.outputs[0]])
    features, scores = extractor.predict(x, batch_size=batch_size or model.batch_size,
                                         verbose=0)
    features = np.asarray(features, np.float64)
    scores = np.asarray(scores, np.float64)
    n, h, w, c = features.shape
    if steps[0][0] == "gap":
        vector = features.mean(axis=(1, 2))
        grad = _logit_gradients(steps, vector) / (h * w)            # (N, C, K)
        cams = np.einsum("nijc,nck->nkij", features, grad)
    else:
        vector = features.reshape(n, -1)
        grad = _logit_gradients(steps, vector).reshape(n, h, w, c, -1)
        cams = np.einsum("nijc,nijck->nkij", features, grad)
    if model.task_ == "binary":
        cams = np.concatenate([-cams, cams], axis=1)
        proba = np.column_stack([1.0 - scores[:, 0], scores[:, 0]])
    else:
        proba = scores
    size = x.shape[1:3]
    maps = np.empty((n, cams.shape[1], *size), np.float32)
    for i in range(n):
        for k in range(cams.shape[1]):
            maps[i, k] = cv2.resize(cams[i, k].astype(np.float32), (size[1], size[0]),
                                    interpolation=cv2.INTER_LINEAR)
    return maps, proba
