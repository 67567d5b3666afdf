"""Model variants at another working size: ``NAME@SIZE``.

``cnn-small@64`` is the registry preset ``cnn-small`` with ``image_size=64``:
a model of its own wherever a model name appears (results rows, saved model
folders, resume keys, plots). Its parameters are those given for ``NAME``,
then those given for ``NAME@SIZE``, then ``image_size=SIZE``.
"""

__all__ = ["VARIANT_SEPARATOR", "split_variant", "base_name", "variant_params"]

#: Separates a preset's name from the working size of a variant.
VARIANT_SEPARATOR = "@"
#: The smallest working size of a variant (as ``--image-size``).
MIN_VARIANT_SIZE = 8


def base_name(name):
    """The preset a model name refers to (``"cnn@224"`` -> ``"cnn"``); no checks.

    Examples
    --------
    >>> base_name("cnn-small@64"), base_name("hog-xgb")
    ('cnn-small', 'hog-xgb')
    """
    return str(name).partition(VARIANT_SEPARATOR)[0]


def split_variant(name):
    """Split ``NAME@SIZE`` into the preset name and the size.

    Parameters
    ----------
    name : str
        A model name, with or without ``@SIZE``.

    Returns
    -------
    base : str
    size : int or None
        None for a plain preset name.

    Raises
    ------
    ValueError
        If ``SIZE`` is not an integer of at least 8, or a part is empty.

    Examples
    --------
    >>> split_variant("cnn-small@64"), split_variant("cnn")
    (('cnn-small', 64), ('cnn', None))
    >>> split_variant("cnn@big")
    Traceback (most recent call last):
    ...
    ValueError: model 'cnn@big': the size after '@' must be an integer >= 8 (a working \
size in pixels, e.g. cnn@128); got 'big'.
    """
    from xray_features.utils import MAX_IMAGE_SIZE

    base, separator, size = str(name).partition(VARIANT_SEPARATOR)
    if not separator:
        return base, None
    if not base:
        raise ValueError(f"model {name!r}: name a preset before '@' (e.g. cnn-small@64).")
    # str.isdigit accepts superscripts and other digits int() refuses.
    if not (size.isascii() and size.isdigit()) or int(size) < MIN_VARIANT_SIZE:
        raise ValueError(f"model {name!r}: the size after '@' must be an integer >= "
                         f"{MIN_VARIANT_SIZE} (a working size in pixels, e.g. {base}@128); "
                         f"got {size!r}.")
    if size != str(int(size)):  # cnn@064 would be a second name for cnn@64
        raise ValueError(f"model {name!r}: write the size without leading zeros "
                         f"({base}@{int(size)}).")
    if int(size) > MAX_IMAGE_SIZE:
        raise ValueError(f"model {name!r}: the size after '@' must be at most "
                         f"{MAX_IMAGE_SIZE}; got {size}.")
    return base, int(size)


def variant_params(name, model_params):
    """The parameters of model ``name`` given a run's ``model_params``.

    Parameters
    ----------
    name : str
        A preset name or ``NAME@SIZE``.
    model_params : dict of dict
        Parameters per model name (``{"cnn": {"epochs": 3}}``).

    Returns
    -------
    params : dict
        ``model_params[NAME]``, updated with ``model_params["NAME@SIZE"]``,
        then ``image_size=SIZE``; for a plain name ``model_params[name]``.

    Examples
    --------
    >>> variant_params("cnn@64", {"cnn": {"epochs": 3}, "cnn@64": {"epochs": 5}})
    {'epochs': 5, 'image_size': 64}
    >>> variant_params("cnn", {"cnn": {"epochs": 3}})
    {'epochs': 3}
    """
    base, size = split_variant(name)
    params = dict(model_params.get(base, {}))
    if size is None:
        return params
    params.update(model_params.get(name, {}))
    params["image_size"] = size
    return params
