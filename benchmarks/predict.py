"""Apply a saved model to image files, as ``xray-bench predict`` does."""

import json
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
    files : sequence of str or Path
        Image files (PNG, JPEG, BMP, TIFF, DICOM).

    Returns
    -------
    predictions : pandas.DataFrame
        Columns ``file``, ``label``, ``probability`` (of that label),
        ``proba_<class>`` for each class, and ``error``.

    Examples
    --------
    >>> predict_files("results/models/hog-xgb", ["film.png"])  # doctest: +SKIP
    """
    import pandas as pd

    from classifiers import load_model
    from xray_features import ImageLoadError, load_image
    from xray_features.preprocess import resize_with_padding

    model = load_model(model_dir)
    info_path = Path(model_dir) / "input.json"
    info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.exists() else {}
    class_names = info.get("class_names") or [str(c) for c in model.classes_]
    task = info.get("task") or getattr(model, "task_", "multiclass")
    load_size = info.get("load_size")

    images, rows = [], []
    for file in files:
        try:
            image = load_image(file)
        except ImageLoadError as error:
            rows.append({"file": str(file), "error": str(error)})
            continue
        if load_size:
            image = resize_with_padding(image, load_size)
        images.append(image)
        rows.append({"file": str(file), "error": ""})
    readable = [row for row in rows if not row["error"]]
    if images:
        proba = np.asarray(model.predict_proba(images))
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
