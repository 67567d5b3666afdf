"""Out-of-distribution guard: is this image like the ones the model learned from?

Every model records, when it is fitted, what its training images look like,
whatever the model: :class:`OODGuard`. A prediction made on something else
(a photograph, a scanned letter, a film of another body part, a negative)
can then be flagged or refused with a reason, instead of answered with
confidence.

Recipe of :meth:`OODGuard.check`, per image:

1. cheap radiograph sanity checks, in order -- a colour source (mean chroma
   above ``colour_limit``), a blank or near-constant image (intensity spread
   far below the training images'), an extreme aspect ratio (beyond 1.5x the
   training images', at least 2:1), inverted polarity (a linear classifier
   of original versus inverted training images says "inverted"; only when
   the training set has one polarity, i.e. the classifier separates them);
2. the Mahalanobis distance of a fixed, small handcrafted description of
   the image (:func:`guard_features`: an 8 x 8 thumbnail, a 16-bin
   histogram, intensity statistics, gradient energy, uniform LBP and GLCM
   texture, all at 64 x 64) to the training images, with a Ledoit-Wolf
   shrunk covariance (``sklearn.covariance.LedoitWolf``), divided by the
   threshold: the ``quantile`` (99%) of the distances of in-distribution
   validation images. A score above 1 is out of distribution.

The guard is plain data (:meth:`OODGuard.to_dict` / :meth:`OODGuard.from_dict`),
saved in the model's ``model.json``; nothing is pickled.
"""

import math
import numbers
from dataclasses import dataclass

import numpy as np

from classifiers._guard_features import (_aspect, _feature_matrix, _inverted, _spread,
                                         colour_chroma, guard_features)

__all__ = ["OODGuard", "OODResult", "guard_features", "colour_chroma", "NO_GUARD_REASON"]

GUARD_FORMAT = 1
_MAX_FIT_IMAGES = 3000
NO_GUARD_REASON = "no OOD guard (model saved by an earlier version)"


@dataclass(frozen=True)
class OODResult:
    """The guard's verdict on one image.

    Attributes
    ----------
    score : float
        Mahalanobis distance divided by the threshold (> 1: outside); NaN
        without a guard.
    flagged : bool
        True when the image is out of distribution.
    reason : str
        Why it is flagged ("" when it passes).
    check : str
        The check that fired: "colour", "blank", "aspect", "polarity",
        "distance", "" (passed) or "none" (no guard).
    """

    score: float
    flagged: bool
    reason: str
    check: str


class OODGuard:
    """Records what training images look like; scores how far new ones lie.

    Parameters
    ----------
    quantile : float, default=0.99
        Share of in-distribution validation images that must pass: the
        threshold is this quantile of their distances.
    colour_limit : float, default=0.04
        Mean chroma (:func:`colour_chroma`) above which a colour source is
        not a radiograph; JPEG artefacts of gray pictures stay below 0.01.
    random_state : int, default=0
        Seed of the held-out slice and of the subsample of large sets.

    Attributes
    ----------
    mean_, scale_ : (F,) ndarray
        Standardisation of :func:`guard_features`.
    location_ : (F,) ndarray
    precision_ : (F, F) ndarray
        Ledoit-Wolf estimate on the standardised training features.
    threshold_ : float
        Distance at the ``quantile`` of the threshold images.
    threshold_source_ : str
        Which images set the threshold: "validation images", "a held-out
        20% of the training images" or "the training images".
    min_spread_, max_aspect_ : float
        Smallest intensity spread (p99 - p1) and largest aspect ratio of the
        training images.
    polarity_ : dict or None
        Linear classifier original/inverted (``coef``, ``intercept``) when
        the training images have one polarity, else None.
    n_train_ : int

    Examples
    --------
    >>> from xray_features.synthetic import make_phantom_dataset
    >>> images, _, _ = make_phantom_dataset(n_images=60, size=64, seed=0,
    ...                                     difficulty="easy")
    >>> guard = OODGuard().fit(images[:40], validation_images=images[40:])
    >>> guard.check(images[:1])[0].flagged
    False
    >>> noise = np.random.default_rng(0).integers(0, 256, (1, 64, 64), dtype=np.uint8)
    >>> result = guard.check(noise)[0]
    >>> result.flagged, result.check
    (True, 'distance')
    """

    def __init__(self, *, quantile=0.99, colour_limit=0.04, random_state=0):
        self.quantile = quantile
        self.colour_limit = colour_limit
        self.random_state = random_state

    # ------------------------------------------------------------ fitting
    def fit(self, images, *, validation_images=None):
        """Learn the training images' description and the threshold.

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray
            The training images (N >= 2).
        validation_images : same, optional
            In-distribution images the model did not train on; they set the
            threshold. Without them a held-out 20% of ``images`` does (when
            there are at least 20), else the training images themselves.

        Returns
        -------
        self : OODGuard
        """
        from sklearn.covariance import LedoitWolf

        if not (isinstance(self.quantile, numbers.Real) and 0.5 <= self.quantile < 1):
            raise ValueError(f"quantile must be a number in [0.5, 1); got {self.quantile!r}")
        if not (isinstance(self.colour_limit, numbers.Real) and 0 < self.colour_limit < 1):
            raise ValueError(f"colour_limit must be a number in (0, 1); got "
                             f"{self.colour_limit!r}")
        images = _indexable(images)
        if len(images) < 2:
            raise ValueError(f"the OOD guard needs at least 2 training images; got "
                             f"{len(images)}")
        rng = np.random.default_rng(self.random_state)
        # Images are named by position and read a chunk at a time, so a lazy
        # source (xray_features.ImageSource) is never held whole in memory.
        fit_rows = np.arange(len(images))
        if validation_images is not None and len(validation_images):
            threshold = (_indexable(validation_images), None)
            source = "validation images"
        elif len(images) >= 20:
            order = rng.permutation(len(images))
            cut = len(images) // 5
            threshold, fit_rows = (images, order[:cut]), order[cut:]
            source = "a held-out 20% of the training images"
        else:
            threshold, source = (images, None), "the training images"
        if len(fit_rows) > _MAX_FIT_IMAGES:
            fit_rows = fit_rows[np.sort(rng.choice(len(fit_rows), _MAX_FIT_IMAGES,
                                                   replace=False))]
        features = _chunked(_features_and_shape, images, fit_rows)
        features, spreads, aspects = features[:, :-2], features[:, -2], features[:, -1]
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        self.scale_ = np.where(scale > 1e-9, scale, 1.0)
        standard = (features - self.mean_) / self.scale_
        estimator = LedoitWolf().fit(standard)
        self.location_ = estimator.location_
        self.precision_ = estimator.precision_
        distances = self._distances(_chunked(_feature_matrix, *threshold))
        self.threshold_ = float(max(np.quantile(distances, self.quantile), 1e-9))
        self.threshold_source_ = source
        self.min_spread_ = float(spreads.min())
        self.max_aspect_ = float(aspects.max())
        self.polarity_ = self._fit_polarity(images, fit_rows, features)
        self.n_train_ = len(fit_rows)
        return self

    def _fit_polarity(self, images, rows, features):
        """A logistic regression of original (0) against inverted (1) images,
        kept only when it tells them apart (cross-validated accuracy >= 0.95):
        a training set of mixed polarity gets no polarity check."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score

        inverted = _chunked(_inverted_features, images, rows)
        X = (np.concatenate([features, inverted]) - self.mean_) / self.scale_
        y = np.repeat([0, 1], len(rows))
        model = LogisticRegression(C=0.1, max_iter=2000)
        folds = min(5, len(rows))
        if folds >= 2:
            accuracy = cross_val_score(model, X, y, cv=folds).mean()
            if accuracy < 0.95:
                return None
        model.fit(X, y)
        return {"coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}

    # ------------------------------------------------------------ scoring
    def _check_fitted(self):
        if not hasattr(self, "threshold_"):
            raise ValueError("this OODGuard is not fitted; call fit(images) first")

    def _standard(self, features):
        return np.clip((features - self.mean_) / self.scale_, -1e6, 1e6)

    def _distances(self, features):
        centred = self._standard(features) - self.location_
        squared = np.einsum("ij,jk,ik->i", centred, self.precision_, centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def score(self, images):
        """Distance to the training images over the threshold, per image (> 1: outside).

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray

        Returns
        -------
        scores : (N,) ndarray of float64
        """
        self._check_fitted()
        return self._distances(_feature_matrix(list(images))) / self.threshold_

    def check(self, images, colours=None):
        """Sanity checks, then the distance test, for each image.

        Parameters
        ----------
        images : (N, H, W) ndarray or sequence of 2-D ndarray
        colours : sequence of ((M, N, 3) ndarray, float or None), optional
            The RGB pixels of each image's source when it was a colour file
            (``load_image(..., return_colour=True)``), for the colour check,
            or their mean chroma (:func:`colour_chroma`) already measured, so
            that a caller need not keep the pixels.

        Returns
        -------
        results : list of OODResult
        """
        self._check_fitted()
        images = list(images)
        colours = [None] * len(images) if colours is None else list(colours)
        if len(colours) != len(images):
            raise ValueError(f"colours has {len(colours)} entries for {len(images)} images")
        features = _feature_matrix(images)
        scores = self._distances(features) / self.threshold_
        return [self._verdict(image, colour, vector, float(score))
                for image, colour, vector, score in zip(images, colours, features, scores)]

    def _verdict(self, image, colour, vector, score):
        if colour is not None:
            chroma = float(colour) if isinstance(colour, numbers.Real) else colour_chroma(colour)
            if chroma > self.colour_limit:
                return OODResult(score, True, f"colour image (mean chroma {chroma:.2f} > "
                                 f"{self.colour_limit:.2f}); radiographs are grayscale",
                                 "colour")
        spread = _spread(image)
        if spread < min(0.02, 0.5 * self.min_spread_):
            return OODResult(score, True, f"blank or near-constant image (intensity spread "
                             f"{spread:.3f}; training images >= {self.min_spread_:.3f})",
                             "blank")
        aspect = _aspect(image)
        limit = max(2.0, 1.5 * self.max_aspect_)
        if aspect > limit:
            return OODResult(score, True, f"extreme aspect ratio {aspect:.1f}:1 (training "
                             f"images up to {self.max_aspect_:.1f}:1)", "aspect")
        if self.polarity_ is not None:
            logit = float(np.dot(self._standard(vector), self.polarity_["coef"])
                          + self.polarity_["intercept"])
            # Named "inverted" only when the negative looks like a training image
            # (a scanned page is not an inverted film, just unlike the films).
            if logit > 0 and (score <= 1.0 or self.score([_inverted(image)])[0] <= 1.0):
                probability = 1.0 / (1.0 + math.exp(-min(logit, 50.0)))
                return OODResult(score, True, f"inverted polarity (bright and dark swapped "
                                 f"against the training images; p = {probability:.2f})",
                                 "polarity")
        if score > 1.0:
            return OODResult(score, True, f"unlike the training images (distance "
                             f"{score:.2f} x the threshold passed by "
                             f"{self.quantile:.0%} of {self.threshold_source_})", "distance")
        return OODResult(score, False, "", "")

    # -------------------------------------------------------- persistence
    def to_dict(self):
        """The fitted guard as plain JSON-serialisable data."""
        self._check_fitted()
        return {"format": GUARD_FORMAT, "features": "guard_features-v1",
                "quantile": float(self.quantile), "colour_limit": float(self.colour_limit),
                "random_state": self.random_state,
                "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
                "location": self.location_.tolist(), "precision": self.precision_.tolist(),
                "threshold": self.threshold_, "threshold_source": self.threshold_source_,
                "min_spread": self.min_spread_, "max_aspect": self.max_aspect_,
                "polarity": self.polarity_, "n_train": self.n_train_}

    @classmethod
    def from_dict(cls, data):
        """Rebuild a fitted guard from :meth:`to_dict`'s output.

        Raises
        ------
        ValueError
            If ``data`` is not a guard of a known format or its arrays do not fit.
        """
        if not isinstance(data, dict) or data.get("format") != GUARD_FORMAT \
                or data.get("features") != "guard_features-v1":
            raise ValueError("the OOD guard entry has an unknown format; it was written by "
                             "another version of xray-bench")
        try:
            guard = cls(quantile=float(data["quantile"]),
                        colour_limit=float(data["colour_limit"]),
                        random_state=data.get("random_state"))
            guard.mean_ = np.asarray(data["mean"], dtype=np.float64)
            guard.scale_ = np.asarray(data["scale"], dtype=np.float64)
            guard.location_ = np.asarray(data["location"], dtype=np.float64)
            guard.precision_ = np.asarray(data["precision"], dtype=np.float64)
            guard.threshold_ = float(data["threshold"])
            guard.threshold_source_ = str(data["threshold_source"])
            guard.min_spread_ = float(data["min_spread"])
            guard.max_aspect_ = float(data["max_aspect"])
            polarity = data.get("polarity")
            guard.polarity_ = None if polarity is None else {
                "coef": np.asarray(polarity["coef"], dtype=np.float64).tolist(),
                "intercept": float(polarity["intercept"])}
            guard.n_train_ = int(data["n_train"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the OOD guard entry is incomplete or invalid: {exc}") from exc
        n = guard.mean_.shape
        shapes_ok = (guard.mean_.ndim == 1 and guard.scale_.shape == n
                     and guard.location_.shape == n and guard.precision_.shape == n * 2
                     and (guard.polarity_ is None or len(guard.polarity_["coef"]) == n[0]))
        finite = all(np.isfinite(a).all() for a in (guard.mean_, guard.scale_,
                                                    guard.location_, guard.precision_))
        if not (shapes_ok and finite and guard.threshold_ > 0):
            raise ValueError("the OOD guard entry has arrays of inconsistent shapes or "
                             "non-finite values; the model directory was altered")
        return guard

    def __repr__(self):
        if not hasattr(self, "threshold_"):
            return "OODGuard(unfitted)"
        return (f"OODGuard(n_train={self.n_train_}, threshold={self.threshold_:.3g} from "
                f"{self.threshold_source_}, polarity check "
                f"{'on' if self.polarity_ else 'off'})")


def _indexable(images):
    """Images that can be read by position: arrays and lazy sources as they
    are, anything else (a generator, a list) as a list."""
    if isinstance(images, np.ndarray) or (hasattr(images, "iter_chunks")
                                          and hasattr(images, "__getitem__")):
        return images
    return list(images)


def _features_and_shape(images):
    """Guard features with each image's spread and aspect ratio as two last columns."""
    return np.column_stack([_feature_matrix(images), [_spread(image) for image in images],
                            [_aspect(image) for image in images]])


def _inverted_features(images):
    return _feature_matrix([_inverted(image) for image in images])


def _chunked(function, images, rows=None, chunk_size=256):
    """``function`` (a stack -> matrix) over ``images[rows]``, a chunk at a time, in order."""
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    parts = []
    for start in range(0, len(rows), chunk_size):
        chosen = rows[start:start + chunk_size]
        chunk = (images[chosen] if not isinstance(images, list)
                 else [images[i] for i in chosen])
        parts.append(function(chunk))
    return np.concatenate(parts)
