"""First-order intensity statistics: the maths behind
:func:`xray_features.texture.intensity_statistics`.

8-bit images are summarised from their 256-bin histogram, which is exact for
8-bit data and an order of magnitude faster than sorting the pixels; other
images from the pixels themselves.
"""

import cv2
import numpy as np

__all__ = ["PERCENTILES", "STATISTIC_NAMES", "intensity_summary"]

PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
STATISTIC_NAMES = (("mean", "std", "skewness", "kurtosis", "entropy")
                   + tuple(f"p{q:02d}" for q in PERCENTILES) + ("contrast", "michelson"))


_QUANTILES = np.asarray(PERCENTILES) / 100.0
_QUANTILES.flags.writeable = False


def _percentiles_from_counts(counts, values):
    """np.percentile (linear) of the data summarised by a histogram of
    ``counts`` at sorted ``values``, without expanding the data."""
    cumulative = np.cumsum(counts)
    last = cumulative[-1] - 1
    position = last * _QUANTILES
    lower = np.floor(position)
    index = np.searchsorted(cumulative, np.concatenate([lower, np.minimum(lower + 1, last)]),
                            side="right")
    low, high = values[index[:len(lower)]], values[index[len(lower):]]
    return low + (high - low) * (position - lower)


def _summary_from_histogram(image):
    """(mean, var, skewness, kurtosis, percentiles, bin probabilities, min, max)
    of a uint8 or bool image from its 256-bin histogram; the moments are
    scipy.stats' (biased) skew and kurtosis formulas."""
    pixels = image.view(np.uint8)
    if pixels.size < 2 ** 24:   # cv2.calcHist's float32 counts are exact
        counts = cv2.calcHist([pixels], [0], None, [256], [0, 256]).ravel()
    else:
        counts = np.bincount(pixels.ravel(), minlength=256)
    occupied = np.flatnonzero(counts)
    counts = counts[occupied].astype(np.int64)
    values = occupied / (1.0 if image.dtype == bool else 255.0)
    n = int(counts.sum())
    mean = float(counts @ values) / n
    centred = values - mean
    squared = centred * centred
    m2, m3, m4 = (float(counts @ power) / n
                  for power in (squared, squared * centred, squared * squared))
    if len(values) == 1:   # constant image: no spread, no shape
        skewness = kurtosis = 0.0
    else:
        skewness, kurtosis = m3 / m2 ** 1.5, m4 / m2 ** 2 - 3.0
    percentiles = _percentiles_from_counts(counts, values)
    return mean, m2, skewness, kurtosis, percentiles, counts / n, values[0], values[-1]


def _summary_from_pixels(image):
    """The same summary for uint16 or float images, from the pixels."""
    from scipy import stats

    data = image.astype(np.float64).ravel()
    if image.dtype == np.uint16:
        data /= 65535.0
    low, high = float(data.min()), float(data.max())
    if low == high:   # scipy would return NaN (0/0) for a constant image
        skewness = kurtosis = 0.0
    else:
        skewness, kurtosis = float(stats.skew(data)), float(stats.kurtosis(data))
    counts = np.histogram(np.clip(data, 0, 1), bins=256, range=(0, 1))[0]
    probabilities = counts[counts > 0] / data.size
    return (float(data.mean()), float(data.var()), skewness, kurtosis,
            np.percentile(data, PERCENTILES), probabilities, low, high)


def intensity_summary(image):
    """The (14,) statistics of a validated image, in the order of
    :data:`STATISTIC_NAMES` (see
    :func:`xray_features.texture.intensity_statistics`)."""
    summarise = _summary_from_histogram if image.dtype in (np.uint8, bool) \
        else _summary_from_pixels
    mean, var, skewness, kurtosis, percentiles, probabilities, low, high = summarise(image)
    entropy = float(-np.sum(probabilities * np.log2(probabilities))) + 0.0   # no -0.0
    michelson = (high - low) / (high + low) if high + low > 0 else 0.0
    return np.array([mean, np.sqrt(var), skewness, kurtosis, entropy, *percentiles,
                     percentiles[-1] - percentiles[0], michelson], dtype=np.float64)
