"""Apply a saved model to image files, as ``xray-bench predict`` does."""

import os
from pathlib import Path

import numpy as np

__all__ = ["predict_files"]


def predict_files(model_dir, files):
    """Predict the label of each image file with a saved model.

    The files go through the same input pipeline as in the run that saved
    the model: decoding with :func:`xray_features.load_image`, then, when the
    run decoded its files at a fixed size (``input.json``), the same resize
    with padding. Unreadable files get a row with the reason in ``error``.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by a model's ``save`` or ``xray-bench run
        --save-models``.
    files : sequence of str or Path, or one path
        Image files (PNG, JPEG, BMP, TIFF, DICOM).

    Returns
    -------
    predictions : pandas.DataFrame
        Columns ``file``, ``label``, ``probability`` (of that label),
        ``proba_<class>`` for each class, and ``error``.

    Raises
    ------
    classifiers.persistence.ModelLoadError
        If ``model_dir`` holds no loadable model.

    Examples
    --------
    >>> predict_files("results/models/hog-xgb", ["film.png"])  # doctest: +SKIP
    """
    import pandas as pd

    from benchmarks.store import read_json
    from classifiers import load_model
    from xray_features import ImageLoadError, load_image
    from xray_features._safety import printable_name
    from xray_features.preprocess import resize_with_padding

    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    model = load_model(model_dir)
    info_path = Path(model_dir) / "input.json"
    info = read_json(info_path, "input description of the saved model") \
        if info_path.exists() else {}
    if not isinstance(info, dict):
        raise ValueError(f"'{info_path}' must hold a JSON object (class_names, task, "
                         f"load_size); got a {type(info).__name__}")
    task = info.get("task") or getattr(model, "task_", "multiclass")
    load_size = _check_load_size(info.get("load_size"), info_path)
    class_names, columns = _class_columns(model, info.get("class_names"), task)

    images, rows = [], []
    for file in files:
        try:
            image = load_image(file)
        except ImageLoadError as error:
            rows.append({"file": printable_name(file), "error": str(error)})
            continue
        if load_size:
            image = resize_with_padding(image, load_size)
        images.append(image)
        rows.append({"file": printable_name(file), "error": ""})
    readable = [row for row in rows if not row["error"]]
    if images:
        proba = np.zeros((len(images), len(class_names)))
        proba[:, columns] = np.asarray(model.predict_proba(images), dtype=np.float64)
        for row, scores in zip(readable, proba):
            if task == "multilabel":
                chosen = [name for name, p in zip(class_names, scores) if p >= 0.5]
                row["label"] = "|".join(chosen)
                row["probability"] = float(scores.max())
            else:
                best = int(np.argmax(scores))
                row["label"] = class_names[best]
                row["probability"] = float(scores[best])
            for name, p in zip(class_names, scores):
                row[f"proba_{name}"] = float(p)
    frame = pd.DataFrame(rows)
    leading = ["file", "label", "probability"]
    for column in leading:
        if column not in frame:
            frame[column] = np.nan
    ordered = leading + [c for c in frame.columns if c.startswith("proba_")] + ["error"]
    return frame[ordered]


def _check_load_size(load_size, info_path):
    """The size the run resized to: None, a side, or (height, width), each 8..MAX_IMAGE_SIZE."""
    from xray_features._safety import MAX_IMAGE_SIZE

    sides = load_size if isinstance(load_size, list) and len(load_size) == 2 else [load_size]
    if load_size is None or all(isinstance(s, int) and not isinstance(s, bool)
                                and 8 <= s <= MAX_IMAGE_SIZE for s in sides):
        return tuple(load_size) if isinstance(load_size, list) else load_size
    raise ValueError(f"'{info_path}': load_size must be null, an integer from 8 to "
                     f"{MAX_IMAGE_SIZE} or a pair of them; got {load_size!r}. The model "
                     "folder is damaged or was not written by this toolkit.")


def _class_columns(model, class_names, task):
    """The class names of the output table, and the column of each of the
    model's outputs in it (a run saves models whose ``classes_`` index the
    dataset's class names; a class absent from training gets probability 0)."""
    classes = np.asarray(model.classes_)
    if not class_names:
        return [str(c) for c in classes], np.arange(len(classes))
    if task == "multilabel" or classes.dtype.kind not in "iu":
        if len(class_names) != len(classes):
            raise ValueError(f"input.json names {len(class_names)} classes but the model has "
                             f"{len(classes)} outputs; the model directory is inconsistent")
        return list(class_names), np.arange(len(classes))
    if classes.min() < 0 or classes.max() >= len(class_names):
        raise ValueError(f"the model's classes {classes.tolist()} do not index the "
                         f"{len(class_names)} class names of input.json")
    return list(class_names), classes.astype(np.int64)
