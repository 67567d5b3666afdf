"""Image properties named in a dataset's CSV (view, modality), aligned to its ids."""

import os

__all__ = ["csv_properties", "VIEW_COLUMNS", "MODALITY_COLUMNS"]

#: CSV columns read as the view (ChestX-ray14 ``View Position``, CheXpert
#: ``AP/PA`` and ``Frontal/Lateral``) and the modality; case, spaces and
#: punctuation are ignored.
VIEW_COLUMNS = ("View Position", "ViewPosition", "view", "projection", "AP/PA",
                "Frontal/Lateral")
MODALITY_COLUMNS = ("Modality",)


def _csv_path(data, options):
    if data is None:
        return None
    path = os.fspath(data)
    if os.path.isfile(path) and path.lower().endswith((".csv", ".tsv")):
        return path
    labels = options.get("labels")
    if os.path.isdir(path) and labels is not None:
        labels = os.fspath(labels)
        inside = os.path.join(path, labels)
        return labels if os.path.isfile(labels) else inside if os.path.isfile(inside) else None
    return None


def csv_properties(data, options, ids):
    """View and modality per image from the dataset's CSV, where it has such columns.

    Parameters
    ----------
    data : str, os.PathLike or None
        The dataset source given to :func:`benchmarks.load_dataset`.
    options : dict
        Its options (``labels``, ``image_col``).
    ids : sequence of str
        Dataset ids; for CSV sources these are the CSV's file names.

    Returns
    -------
    dict
        ``{"view": [...], "modality": [...]}`` for the columns found, one value
        per id (``None`` where the CSV has none); empty for other sources.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = csv.write_text("file,label,View Position\\na.png,x,PA\\nb.png,y,AP\\n")
    >>> csv_properties(csv, {}, ["b.png", "a.png"])
    {'view': ['AP', 'PA']}
    """
    from benchmarks.datasets._csv import IMAGE_COLUMNS, _find_column, _norm, _read_table

    path = _csv_path(data, options)
    if path is None:
        return {}
    table = _read_table(path)
    columns = [str(c) for c in table.columns]
    image_col = _find_column(columns, options.get("image_col"), IMAGE_COLUMNS, "image_col",
                             path, True)
    names = [name.strip() for name in table[image_col].tolist()]
    found = {}
    for key, candidates in (("view", VIEW_COLUMNS), ("modality", MODALITY_COLUMNS)):
        wanted = {_norm(c) for c in candidates}
        column = next((c for c in columns if _norm(c) in wanted), None)
        if column is None:
            continue
        by_name = {}
        for name, value in zip(names, table[column].tolist()):
            by_name.setdefault(name, value.strip() or None)
        found[key] = [by_name.get(str(i)) for i in ids]
    return found
