"""Input validation shared by every public function that takes images."""

import numbers

import numpy as np

__all__ = ["check_image", "check_images", "check_positive_int", "check_pair"]

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


def check_positive_int(value, *, name, minimum=1):
    """Return ``value`` as an int if it is an integer >= ``minimum``.

    Examples
    --------
    >>> check_positive_int(8, name="orientations")
    8
    """
    if type(value) is int and value >= minimum:   # the common case, without ABC checks
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


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
