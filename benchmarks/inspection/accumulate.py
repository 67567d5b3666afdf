"""Running summaries of a stream of images: constant memory, one pass.

A :class:`ClassAccumulator` takes the images of one class chunk by chunk and
keeps only what the summaries need: pixel sums and sums of squares in
float64 (mean and standard-deviation images), the mean intensity histogram,
the per-image contrast values, a reservoir sample of example images and an
``IncrementalPCA`` fitted batch by batch (eigen-images). Memory is that of
one PCA batch, however many images the class has.
"""

import numpy as np

from xray_features.utils import check_scalar

__all__ = ["ClassAccumulator"]


class ClassAccumulator:
    """Streaming summary of the images of one class.

    Parameters
    ----------
    size : int
        Side of the square working images.
    n_components : int
        Eigen-images to keep (0: no PCA).
    n_examples : int
        Size of the reservoir of example images.
    seed : int
        Seed of the reservoir sample.
    pca_batch : int
        Images per ``IncrementalPCA.partial_fit`` call.
    pca_size : int
        Side of the images the PCA sees (shrunk by area averaging when
        smaller than ``size``). Eigen-images are smooth, and the cost of each
        batch's SVD grows with the pixel count: 64 px is 16 times fewer
        pixels than 256 px.

    Examples
    --------
    >>> acc = ClassAccumulator(4, n_components=1, n_examples=2, seed=0)
    >>> images = np.stack([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)])
    >>> acc.add(images, np.zeros((3, 256)), np.zeros(3), np.zeros(3), ["a", "b", "c"])
    >>> summary = acc.finish()
    >>> summary["n"], float(summary["mean"][0, 0]), round(float(summary["std"][0, 0]), 3)
    (3, 20.0, 8.165)
    """

    def __init__(self, size, *, n_components=4, n_examples=16, seed=0, pca_batch=128,
                 pca_size=64):
        self.size = check_scalar(size, "size", low=1)
        self.pca_size = min(self.size, check_scalar(pca_size, "pca_size", low=1))
        self.n_components = check_scalar(n_components, "n_components", low=0)
        self.n_examples = check_scalar(n_examples, "n_examples", low=0)
        self.pca_batch = check_scalar(pca_batch, "pca_batch", low=1)
        self.n = 0
        self._sum = np.zeros((size, size), dtype=np.float64)
        self._sum_squares = np.zeros((size, size), dtype=np.float64)
        self._histogram = np.zeros(256, dtype=np.float64)
        self._rms, self._michelson = [], []
        self._rng = np.random.default_rng(seed)
        self._examples = []   # (id, image) reservoir
        self._buffer, self._buffered = [], 0
        self._pca = None

    def add(self, images, histograms, rms, michelson, ids):
        """Fold a chunk of this class's images into the running summaries."""
        images = np.asarray(images)
        if images.shape[1:] != (self.size, self.size):
            raise ValueError(f"images must be (n, {self.size}, {self.size}); got "
                             f"{images.shape}.")
        if not len(images):
            return
        # Squares of uint8 fit uint16; the float64 sums are taken without a
        # float64 copy of the chunk (numpy casts in small buffers).
        self._sum += images.sum(axis=0, dtype=np.float64)
        wide = images.astype(np.uint16)
        self._sum_squares += np.multiply(wide, wide, out=wide).sum(axis=0, dtype=np.float64)
        self._histogram += np.asarray(histograms, dtype=np.float64).sum(axis=0)
        self._rms.extend(float(v) for v in rms)
        self._michelson.extend(float(v) for v in michelson)
        for identifier, image in zip(ids, images):
            self._sample(str(identifier), image)
            self.n += 1
        if self.n_components:
            self._buffer.append(self._shrink(images).reshape(len(images), -1) / 255)
            self._buffered += len(images)
            # Keep at least n_components images back, so the last batch is
            # never too small for partial_fit.
            while self._buffered >= self.pca_batch + self.n_components:
                self._fit_pca(self.pca_batch)

    def _shrink(self, images):
        import cv2

        if self.pca_size == self.size:
            return images.astype(np.float32)
        side = (self.pca_size, self.pca_size)
        return np.stack([cv2.resize(image, side, interpolation=cv2.INTER_AREA)
                         for image in images]).astype(np.float32)

    def _sample(self, identifier, image):
        """Reservoir sampling (Vitter's algorithm R): every image seen so far
        has the same chance of being among the examples."""
        if len(self._examples) < self.n_examples:
            self._examples.append((identifier, image.copy()))
        elif self.n_examples:
            slot = int(self._rng.integers(0, self.n + 1))
            if slot < self.n_examples:
                self._examples[slot] = (identifier, image.copy())

    def _fit_pca(self, count):
        from sklearn.decomposition import IncrementalPCA
        from threadpoolctl import threadpool_limits

        stacked = np.concatenate(self._buffer)
        batch, rest = stacked[:count], stacked[count:]
        self._buffer, self._buffered = ([rest] if len(rest) else []), len(rest)
        if self._pca is None:
            self._pca = IncrementalPCA(n_components=min(self.n_components, len(batch)))
        # One BLAS thread: a batch this small gains little from more, and on a
        # busy machine OpenBLAS threads spinning against each other made each
        # call 20 times slower (10 s against 0.4 s for 128 images).
        with threadpool_limits(limits=1, user_api="blas"):
            self._pca.partial_fit(batch)

    def finish(self):
        """The summaries as a dict of arrays and lists (see the module notes).

        ``mean`` and ``std`` are on the 0-255 scale; ``histogram`` is the
        mean over images of each image's fractions of pixels per gray level;
        ``components`` (k, pca_size, pca_size) and ``explained_variance_ratio`` are
        ``None`` with a ``pca_reason`` when there were too few images.
        """
        n = self.n
        mean = self._sum / n if n else None
        std = (np.sqrt(np.maximum(self._sum_squares / n - mean ** 2, 0)) if n else None)
        summary = {"n": n, "mean": mean, "std": std,
                   "histogram": self._histogram / n if n else None,
                   "rms": np.asarray(self._rms), "michelson": np.asarray(self._michelson),
                   "examples": list(self._examples), "components": None,
                   "explained_variance_ratio": None, "pca_reason": None}
        if not self.n_components:
            summary["pca_reason"] = "eigen-images not asked for (n_components=0)"
            return summary
        if self._buffered:
            if self._pca is None and self._buffered < 2:
                summary["pca_reason"] = f"{n} image(s): eigen-images need at least 2"
                return summary
            self._fit_pca(self._buffered)
        if self._pca is None:
            summary["pca_reason"] = "no images"
            return summary
        summary["components"] = self._pca.components_.reshape(-1, self.pca_size,
                                                               self.pca_size)
        summary["explained_variance_ratio"] = self._pca.explained_variance_ratio_
        return summary
