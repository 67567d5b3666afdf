"""Keras model inputs read from a lazy image source, one batch at a time.

:class:`LazyModelInput` looks like the ``(N, h, w, 1)`` float32 array a
Keras classifier would build from an in-memory stack, but reads the rows
asked for from an :class:`xray_features.image_source.ImageSource` (its pixel
cache) when indexed, so training and prediction hold a batch, not the
dataset. :func:`batches` turns one into a ``keras.utils.PyDataset`` for
``model.fit(validation_data=...)`` and ``model.predict``.
"""

import numpy as np

__all__ = ["LazyModelInput", "is_lazy", "batches"]


class LazyModelInput:
    """``(N, h, w, 1)`` float32 inputs on ``[0, scale]``, read per index.

    Examples
    --------
    >>> from xray_features.image_source import ImageSource
    >>> x = LazyModelInput(ImageSource(np.full((3, 4, 4), 255, np.uint8), 4), scale=1.0)
    >>> x.shape, x[[2, 0]].shape, float(x[0].max())
    ((3, 4, 4, 1), (2, 4, 4, 1), 1.0)
    >>> len(x.subset([1, 2]))
    2
    """

    ndim = 4
    dtype = np.dtype(np.float32)

    def __init__(self, source, *, scale):
        self.source, self.scale = source, scale

    def __len__(self):
        return len(self.source)

    @property
    def shape(self):
        return (*self.source.shape, 1)

    def subset(self, rows):
        """The inputs at ``rows``, still lazy."""
        return LazyModelInput(self.source.subset(rows), scale=self.scale)

    def __getitem__(self, key):
        # Same recipe as an in-memory stack: uint8 / 255 (to_float32), times the scale.
        x = self.source[key][..., None].astype(np.float32) / np.float32(255)
        return x * np.float32(self.scale) if self.scale != 1 else x


def is_lazy(x):
    """Whether ``x`` is a :class:`LazyModelInput`."""
    return isinstance(x, LazyModelInput)


def rows(x, index):
    """``x[index]``, kept lazy for a lazy input."""
    return x.subset(index) if is_lazy(x) else x[index]


def batches(x, y=None, *, batch_size, transform=None):
    """A ``keras.utils.PyDataset`` of consecutive batches of ``x`` (and ``y``),
    each passed through ``transform`` (a function of one batch) when given."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()

        def __len__(self):
            return -(-len(x) // batch_size)

        def __getitem__(self, index):
            chosen = slice(index * batch_size, (index + 1) * batch_size)
            inputs = x[chosen] if transform is None else transform(x[chosen])
            return inputs if y is None else (inputs, y[chosen])

    return Batches()
