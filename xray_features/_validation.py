"""Input validation shared by every public function: images and scalar parameters.

Scalars are checked by :func:`check_scalar` against a scikit-learn
:class:`~sklearn.utils._param_validation.Interval` (the rule estimators
declare in ``_parameter_constraints``), with one message format for the
whole toolkit: ``"<name> must be <rule>; got <value>."``, then a hint.
"""

import math
import numbers

import numpy as np

__all__ = ["check_image", "check_images", "check_scalar", "check_positive_int", "check_n_jobs",
           "check_pair", "check_image_size"]

_SUPPORTED_KINDS = "bool, uint8, uint16 or float (values in [0, 1])"


def check_image(image, *, name="image"):
    """Return ``image`` as a 2-D ndarray, or raise a helpful error.

    Parameters
    ----------
    image : array_like
        One grayscale image.
    name : str, optional
        How the argument is called in error messages.

    Returns
    -------
    image : (M, N) ndarray

    Raises
    ------
    TypeError
        If the dtype is not bool, uint8, uint16 or floating point.
    ValueError
        If the array is not 2-D or is empty.

    Examples
    --------
    >>> check_image(np.zeros((4, 5), dtype=np.uint8)).shape
    (4, 5)
    """
    array = np.asarray(image)
    if array.ndim != 2:
        hint = ""
        if array.ndim == 3 and array.shape[-1] in (3, 4):
            hint = (" It looks like a colour image: convert it to grayscale first "
                    "(xray_features.load_image does this for files).")
        raise ValueError(
            f"{name} must be a 2-D grayscale array; got an array of shape "
            f"{array.shape}.{hint}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape}); expected at "
                         "least one pixel.")
    if not (array.dtype == bool or array.dtype in (np.uint8, np.uint16)
            or np.issubdtype(array.dtype, np.floating)):
        raise TypeError(f"{name} has dtype {array.dtype}; expected {_SUPPORTED_KINDS}.")
    return array


def check_images(images, *, name="images"):
    """Return ``images`` as a sequence of validated 2-D arrays.

    Parameters
    ----------
    images : (N, M, K) ndarray or sequence of (M, K) array_like
        A stack, or a sequence of images that may differ in shape.
    name : str, optional
        How the argument is called in error messages.

    Returns
    -------
    images : (N, M, K) ndarray or list of (M, K) ndarray
        A 3-D array is returned as it is (after checks); anything else becomes
        a list of 2-D arrays.

    Raises
    ------
    TypeError, ValueError
        If the collection or one of its images is not valid; the message
        gives the position of the offending image.

    Examples
    --------
    >>> len(check_images([np.zeros((4, 4)), np.ones((3, 5))]))
    2
    """
    if isinstance(images, (str, bytes)):
        raise TypeError(f"{name} must be a stack or sequence of 2-D arrays; got a "
                        "string. To read files, use xray_features.load_image or "
                        "xray_features.extract_features, which accepts paths.")
    if isinstance(images, np.ndarray):
        if images.ndim == 2:
            raise ValueError(f"{name} must hold several images, as an (N, H, W) "
                             f"stack or a list; got one 2-D array of shape "
                             f"{images.shape}. Wrap a single image as [image].")
        if images.ndim != 3:
            raise ValueError(f"{name} must be an (N, H, W) stack or a sequence of "
                             f"2-D arrays; got an array of shape {images.shape}.")
        if len(images) == 0:
            raise ValueError(f"{name} is empty; expected at least one image.")
        check_image(images[0], name=f"{name}[0]")
        return images
    try:
        items = list(images)
    except TypeError:
        raise TypeError(f"{name} must be a stack or sequence of 2-D arrays; got "
                        f"{type(images).__name__}.") from None
    if not items:
        raise ValueError(f"{name} is empty; expected at least one image.")
    return [check_image(item, name=f"{name}[{index}]") for index, item in enumerate(items)]


def _bound(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _rule(integer, low, high, low_open, high_open, noun):
    """``"an integer >= 1"``, ``"a number in [0, 255]"``, ``"a fraction in (0, 1)"``..."""
    noun = noun or ("integer" if integer else "number")
    article = "an" if noun[0] in "aeiou" else "a"
    if low is not None and high is not None:
        if integer and not (low_open or high_open):
            return f"{article} {noun} from {low} to {high}"
        return (f"{article} {noun} in {'(' if low_open else '['}{_bound(low)}, "
                f"{_bound(high)}{')' if high_open else ']'}")
    finite = "" if integer or noun != "number" else "finite "
    if low is not None:
        return f"{article} {finite}{noun} {'>' if low_open else '>='} {_bound(low)}"
    if high is not None:
        return f"{article} {finite}{noun} {'<' if high_open else '<='} {_bound(high)}"
    return f"{article} {finite}{noun}"


def check_scalar(value, name, *, integer=True, low=None, high=None, low_open=False,
                 high_open=False, allow_none=False, noun=None, hint=None):
    """Return ``value`` (an int or a float) if it is a number within the bounds, else raise.

    Parameters
    ----------
    value : object
        What the caller was given.
    name : str
        The parameter's name, for the message.
    integer : bool, optional
        Accept integers only (``True``) or any real number. ``bool`` is
        never a number here, and NaN or an infinite bound never passes.
    low, high : int or float, optional
        Bounds; ``None`` for no bound.
    low_open, high_open : bool, optional
        Exclude the bound itself.
    allow_none : bool, optional
        Accept ``None`` too (returned as is).
    noun : str, optional
        What the number is called in the message (default "integer" or
        "number"), e.g. ``"fraction"``.
    hint : str, optional
        A sentence appended to the message, e.g. how to fix the value.

    Returns
    -------
    int, float or None

    Raises
    ------
    ValueError
        ``"<name> must be <rule>; got <value>."`` and the hint.

    Examples
    --------
    >>> check_scalar(3, "n_folds", low=2)
    3
    >>> check_scalar(0.2, "val_size", integer=False, low=0, high=1, high_open=True)
    0.2
    >>> check_scalar(1, "cv", low=2)
    Traceback (most recent call last):
    ...
    ValueError: cv must be an integer >= 2; got 1.
    """
    if allow_none and value is None:
        return None
    if type(value) in ((int,) if integer else (int, float)) and (  # the common case,
            (low is None or (value > low if low_open else value >= low))  # without ABC checks
            and (high is None or (value < high if high_open else value <= high))
            and (integer or math.isfinite(value))):
        return int(value) if integer else float(value)
    # The rule itself is scikit-learn's (imported here: this module is imported
    # by light modules that should not pay for scikit-learn until a check fails
    # the fast path above).
    from sklearn.utils._param_validation import Interval

    closed = {(False, False): "both", (False, True): "left", (True, False): "right",
              (True, True): "neither"}[(low_open or low is None, high_open or high is None)]
    interval = Interval(numbers.Integral if integer else numbers.Real, low, high, closed=closed)
    if not isinstance(value, (bool, np.bool_)) and interval.is_satisfied_by(value):
        return int(value) if integer else float(value)
    rule = _rule(integer, low, high, low_open, high_open, noun)
    if allow_none:
        rule += " or None"
    raise ValueError(f"{name} must be {rule}; got {value!r}." + (f" {hint}" if hint else ""))


def check_positive_int(value, *, name, minimum=1):
    """Return ``value`` as an int if it is an integer >= ``minimum``.

    Examples
    --------
    >>> check_positive_int(8, name="orientations")
    8
    """
    return check_scalar(value, name, low=minimum)


def check_n_jobs(value, *, low=None):
    """Return joblib's ``n_jobs``, a non-zero integer (>= ``low`` if given), or raise.

    Examples
    --------
    >>> check_n_jobs(-1)
    -1
    >>> check_n_jobs(0)
    Traceback (most recent call last):
    ...
    ValueError: n_jobs must be a non-zero integer (-1: all cores); got 0.
    """
    try:
        checked = check_scalar(value, "n_jobs", low=low)
    except ValueError:
        checked = 0
    if checked == 0:   # the rule is two intervals, around 0: one message for both
        raise ValueError(f"n_jobs must be a non-zero integer (-1: all cores); got {value!r}.")
    return checked


def check_pair(value, *, name, minimum=1, parts=("rows", "columns")):
    """Return ``(int, int)`` from an int or a pair of integers >= ``minimum``.

    Parameters
    ----------
    value : int or (int, int)
        One int stands for both sides.
    name : str
        How the argument is called in error messages.
    minimum : int, optional
        Smallest accepted value of each side.
    parts : (str, str), optional
        What the two sides are called in error messages, e.g.
        ``("height", "width")``.

    Returns
    -------
    pair : (int, int)

    Raises
    ------
    ValueError
        If ``value`` is neither an int nor a pair, or a side is below
        ``minimum``; the message names the side.

    Examples
    --------
    >>> check_pair(16, name="pixels_per_cell")
    (16, 16)
    >>> check_pair((32, 24), name="shape", parts=("height", "width"))
    (32, 24)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        if isinstance(value, (str, bytes)):   # would unpack into characters
            raise TypeError
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive int or a ({parts[0]}, {parts[1]}) "
                         f"pair of positive ints; got {value!r}.") from None
    return (check_positive_int(first, name=f"{name}[0] ({parts[0]})", minimum=minimum),
            check_positive_int(second, name=f"{name}[1] ({parts[1]})", minimum=minimum))


def check_image_size(value, *, name="image_size", minimum=8):
    """Validate a working size (int or ``(h, w)``) and return ``(h, w)``.

    Examples
    --------
    >>> check_image_size(64), check_image_size((96, 128))
    ((64, 64), (96, 128))
    """
    pair = (value, value) if isinstance(value, (int, np.integer)) else value
    try:
        h, w = pair
        ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
                 for v in (h, w))
    except (TypeError, ValueError):
        ok = False
    if not ok or isinstance(value, bool):
        raise ValueError(f"{name} must be an int or an (height, width) pair of ints >= "
                         f"{minimum}; got {value!r}")
    return int(h), int(w)
