"""Is an image property confounded with the label?

A property such as the image size, the file format or the view (AP/PA)
that goes with one class lets a model learn the property instead of the
finding. Two documented criteria raise a warning:

1. **Association**: Cramér's V of the property-by-class contingency table
   is at least ``v_threshold`` (default 0.3, a "medium" association in
   Cohen's conventions; 0 is independence, 1 means the property gives the
   class away). Rare values are lumped into ``"other"`` (at most
   ``max_levels`` values), since many thin categories inflate V.
2. **Near-pure class**: at least ``purity`` (default 95%) of one class's
   images share one value that at most half of the other images have, e.g.
   "every PNEUMONIA film is 1024x1024, against 10% of the others".

Multi-label data are read one label at a time (images with the label
against images without it).
"""

from collections import Counter

import numpy as np

__all__ = ["lump_levels", "confounding_report"]


def lump_levels(values, max_levels=10):
    """Values as strings, all but the ``max_levels - 1`` commonest as ``"other"``.

    ``None`` becomes ``"unknown"``.

    Examples
    --------
    >>> lump_levels(["a", "a", "b", "c", None], max_levels=3)
    ['a', 'a', 'b', 'other', 'other']
    """
    text = ["unknown" if value is None else str(value) for value in values]
    counts = Counter(text)
    if len(counts) <= max_levels:
        return text
    keep = {value for value, _ in counts.most_common(max_levels - 1)}
    return [value if value in keep else "other" for value in text]


def _cramers_v(table):
    from scipy.stats.contingency import association

    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return 0.0
    return round(float(association(table, method="cramer", correction=False)), 4)


def _columns(labels, task, class_names):
    """(name, boolean column per class) pairs and whether they are one-vs-rest."""
    labels = np.asarray(labels)
    if task == "multilabel":
        return [(name, labels[:, k].astype(bool)) for k, name in enumerate(class_names)]
    return [(name, labels == k) for k, name in enumerate(class_names)]


def confounding_report(properties, labels, task, class_names, *, v_threshold=0.3,
                       purity=0.95, max_levels=10, min_images=5):
    """Check every property against the labels; return tables and warnings.

    Parameters
    ----------
    properties : dict of str to sequence
        Property name -> one value per image (``None`` for unknown).
    labels : (N,) int ndarray or (N, L) 0/1 ndarray
        Class indices, or a multi-label indicator matrix.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str
    v_threshold, purity : float, optional
        The two criteria of the module notes.
    max_levels : int, optional
        Values kept per property before lumping the rest as ``"other"``.
    min_images : int, optional
        A class needs this many images for the near-pure criterion.

    Returns
    -------
    dict
        ``{"properties": {name: {"values": {value: {class: count}},
        "cramers_v": float or None}}, "warnings": [str]}``; V is ``None``
        where it is undefined (one value, or fewer than two classes).

    Examples
    --------
    >>> sizes = ["64x64"] * 5 + ["96x96", "80x80"] * 3
    >>> report = confounding_report({"size": sizes}, np.array([0] * 5 + [1] * 6), "binary",
    ...                             ["normal", "fracture"])
    >>> report["properties"]["size"]["cramers_v"]
    1.0
    >>> print(report["warnings"][1])
    size: 100% of 'normal' images are 64x64, against 0% of the other images
    """
    columns = _columns(labels, task, class_names)
    n = len(labels)
    out = {"properties": {}, "warnings": []}
    for name, values in properties.items():
        text = lump_levels(values, max_levels)
        levels = sorted(set(text))
        index = {value: k for k, value in enumerate(levels)}
        codes = np.array([index[value] for value in text], dtype=np.int64)
        table = {value: {} for value in levels}
        for class_name, member in columns:
            counts = np.bincount(codes[member], minlength=len(levels))
            for value, count in zip(levels, counts):
                table[value][class_name] = int(count)
        entry = {"values": table, "cramers_v": None}
        out["properties"][name] = entry
        if len(levels) < 2 or len(columns) < 2 or n < 2:
            continue
        if task == "multilabel":
            scores = [_cramers_v(np.stack([np.bincount(codes[m], minlength=len(levels)),
                                           np.bincount(codes[~m], minlength=len(levels))], 1))
                      for _, m in columns]
            entry["cramers_v"] = max(scores)
        else:
            matrix = np.array([[table[v][c] for c, _ in columns] for v in levels])
            entry["cramers_v"] = _cramers_v(matrix)
        if entry["cramers_v"] >= v_threshold:
            out["warnings"].append(
                f"{name} is associated with the label (Cramér's V = {entry['cramers_v']:.2f}"
                f" >= {v_threshold}); a model may learn the {name} instead of the finding")
        for class_name, member in columns:
            inside, outside = codes[member], codes[~member]
            if len(inside) < min_images or not len(outside):
                continue
            top = np.bincount(inside, minlength=len(levels)).argmax()
            share_in = float(np.mean(inside == top))
            share_out = float(np.mean(outside == top))
            if share_in >= purity and share_out <= 0.5:
                out["warnings"].append(
                    f"{name}: {share_in:.0%} of {class_name!r} images are {levels[top]}, "
                    f"against {share_out:.0%} of the other images")
    return out
