"""Apply a saved model to images, as ``xray-bench predict`` and the app do.

:class:`Predictor` holds a loaded model with its input pipeline; its
:meth:`~Predictor.predict` gives one flat row per image (label,
probabilities, out-of-distribution verdict) and, when asked, the heatmaps.
:func:`predict_files` applies it to image files and can write the heatmap
overlays as PNGs.
"""

import os
from pathlib import Path

import numpy as np

from benchmarks.results.outdir import check_output

_CHUNK = 256   # files decoded and predicted together

__all__ = ["Predictor", "predict_files", "OOD_MODES"]

#: What to do with an image outside the training distribution: answer and
#: flag it, refuse to answer (no label, no probabilities), or not check.
OOD_MODES = ("flag", "refuse", "off")
_OVERLAY_SUFFIX = ".explain.png"


class Predictor:
    """A saved model ready to predict on decoded images.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by a model's ``save`` or ``xray-bench run
        --save-models``.

    Attributes
    ----------
    model : fitted classifier
    class_names : list of str
    task : str
    load_size : list of int or None
        The size the run decoded its files at (``input.json``), if any.
    has_guard : bool
        False for a model saved before the OOD guard existed.

    Raises
    ------
    classifiers.persistence.ModelLoadError
        If ``model_dir`` is missing, altered or from another version.
    """

    def __init__(self, model_dir):
        from benchmarks.results.store import read_json
        from classifiers import ModelLoadError, load_model

        self.model_dir = Path(model_dir)
        self.model = load_model(model_dir)
        info_path = self.model_dir / "input.json"
        try:
            info = read_json(info_path, "input description of the saved model") \
                if info_path.exists() else {}
        except ValueError as error:
            raise ModelLoadError(model_dir, str(error)) from error
        if not isinstance(info, dict):
            raise ModelLoadError(model_dir, f"'{info_path}' must hold a JSON object "
                                 f"(class_names, task, load_size); got a "
                                 f"{type(info).__name__}")
        self.task = info.get("task") or getattr(self.model, "task_", "multiclass")
        self.load_size = _check_load_size(info.get("load_size"), info_path)
        self.class_names, self.columns = _class_columns(
            self.model, _check_class_names(info.get("class_names"), info_path), self.task)
        self.has_guard = getattr(self.model, "ood_guard_", None) is not None

    def prepare(self, image):
        """The run's input pipeline on one decoded image (resize when it had one)."""
        from xray_features.preprocess import resize_with_padding

        return resize_with_padding(image, self.load_size) if self.load_size else image

    def predict(self, images, *, colours=None, ood="flag", explain=False):
        """Rows of predictions (and explanations) for decoded images.

        Parameters
        ----------
        images : sequence of 2-D ndarray
            Already through :meth:`prepare`.
        colours : sequence of ((M, N, 3) ndarray or None), optional
            Colour pixels of colour sources, for the OOD colour check.
        ood : {"flag", "refuse", "off"}
            "refuse" leaves label and probabilities empty for flagged images.
        explain : bool
            Also return one :class:`classifiers.explanations.ExplanationResult`
            per image (None for refused images).

        Returns
        -------
        rows : list of dict
            ``label``, ``probability``, ``proba_<class>``, ``ood_score``,
            ``ood_flag``, ``ood_reason`` per image.
        explanations : list or None
        """
        if ood not in OOD_MODES:
            raise ValueError(f"ood must be one of {OOD_MODES}; got {ood!r}")
        images = list(images)
        if ood == "off":
            verdicts = [None] * len(images)
        else:
            verdicts = self.model.ood_check(images, colours)
        rows = [{"label": "", "probability": np.nan, "ood_score": np.nan, "ood_flag": False,
                 "ood_reason": ""} for _ in images]
        for row, verdict in zip(rows, verdicts):
            if verdict is not None:
                row.update(ood_score=float(verdict.score), ood_flag=bool(verdict.flagged),
                           ood_reason=verdict.reason)
        answer = [i for i, row in enumerate(rows) if not (ood == "refuse" and row["ood_flag"])]
        explanations = [None] * len(images) if explain else None
        if answer:
            chosen = [images[i] for i in answer]
            proba = np.zeros((len(chosen), len(self.class_names)))
            proba[:, self.columns] = np.asarray(self.model.predict_proba(chosen),
                                                dtype=np.float64)
            for i, scores in zip(answer, proba):
                rows[i].update(self._label(scores))
            if explain and self.task != "multilabel":
                for i, result in zip(answer, self.model.explain(chosen)):
                    explanations[i] = result
        for row in rows:
            for name in self.class_names:
                row.setdefault(f"proba_{name}", np.nan)
        return rows, explanations

    def _label(self, scores):
        row = {f"proba_{name}": float(p) for name, p in zip(self.class_names, scores)}
        if self.task == "multilabel":
            row["label"] = "|".join(n for n, p in zip(self.class_names, scores) if p >= 0.5)
            row["probability"] = float(scores.max())
        else:
            best = int(np.argmax(scores))
            row["label"] = self.class_names[best]
            row["probability"] = float(scores[best])
        return row

    def columns_order(self):
        """Column order of the output table."""
        return (["file", "label", "probability"]
                + [f"proba_{name}" for name in self.class_names]
                + ["ood_score", "ood_flag", "ood_reason", "error"])


def predict_files(model_dir, files, *, ood="flag", explain_dir=None, overwrite=False):
    """Predict the label of each image file with a saved model.

    The files go through the same input pipeline as in the run that saved
    the model: decoding with :func:`xray_features.load_image`, then, when the
    run decoded its files at a fixed size (``input.json``), the same resize
    with padding. Unreadable files get a row with the reason in ``error``.
    Each image is first checked by the model's out-of-distribution guard.

    Parameters
    ----------
    model_dir : str or Path
        A directory written by a model's ``save`` or ``xray-bench run
        --save-models``.
    files : sequence of str or Path, or one path
        Image files (PNG, JPEG, BMP, TIFF, DICOM).
    ood : {"flag", "refuse", "off"}, default="flag"
        Flag images outside the training distribution, refuse to label them,
        or skip the check. A model saved before the guard existed predicts
        as before and says so in ``ood_reason``.
    explain_dir : str or Path, optional
        Write a heatmap overlay of the predicted class per image to this
        folder as ``<file stem>.explain.png`` (created if missing).
    overwrite : bool, default=False
        Replace overlays that exist already in ``explain_dir`` (without it
        they are refused before any work, ``--overwrite``).

    Returns
    -------
    predictions : pandas.DataFrame
        Columns ``file``, ``label``, ``probability`` (of that label),
        ``proba_<class>`` for each class, ``ood_score`` (distance over the
        threshold; > 1 is outside), ``ood_flag``, ``ood_reason`` and ``error``.

    Raises
    ------
    classifiers.persistence.ModelLoadError
        If ``model_dir`` holds no loadable model.
    ValueError
        For an unknown ``ood`` mode, an ``explain_dir`` that is a file, or
        an overlay there that exists (without ``overwrite``).

    Examples
    --------
    >>> predict_files("results/models/hog-xgb", ["film.png"])  # doctest: +SKIP
    """
    import pandas as pd

    from xray_features import ImageLoadError, load_image
    from xray_features.utils import printable_name

    if ood not in OOD_MODES:
        raise ValueError(f"--ood must be one of {', '.join(OOD_MODES)}; got {ood!r}")
    files = [files] if isinstance(files, (str, os.PathLike)) else list(files)
    names = _overlay_names(files)
    out_dir = (_explain_folder(explain_dir, names, overwrite) if explain_dir is not None
               else None)
    predictor = Predictor(model_dir)
    rows = []
    # A chunk of files at a time, so memory holds one chunk however many files
    # there are. Files are decoded here, not through the run's pixel cache:
    # the OOD guard needs each file's colour pixels too.
    for start in range(0, len(files), _CHUNK):
        images, colours, chunk_rows, chunk_names = [], [], [], []
        for file, name in zip(files[start:start + _CHUNK], names[start:start + _CHUNK]):
            try:
                image, colour = load_image(file, return_colour=True)
            except ImageLoadError as error:
                chunk_rows.append({"file": printable_name(file), "error": str(error)})
                continue
            images.append(predictor.prepare(image))
            colours.append(colour)
            chunk_names.append(name)
            chunk_rows.append({"file": printable_name(file), "error": ""})
        readable = [row for row in chunk_rows if not row["error"]]
        if images:
            predicted, explanations = predictor.predict(images, colours=colours, ood=ood,
                                                        explain=out_dir is not None)
            for row, values in zip(readable, predicted):
                row.update(values)
            if out_dir is not None:
                _write_overlays(out_dir, readable, images, explanations, chunk_names)
        rows.extend(chunk_rows)
    frame = pd.DataFrame(rows)
    ordered = predictor.columns_order() + (["explanation"] if out_dir is not None else [])
    for column in ordered:
        if column not in frame:
            frame[column] = np.nan
    return frame[ordered]


def _check_load_size(load_size, info_path):
    """The size the run resized to: None, a side, or (height, width), each 8..MAX_IMAGE_SIZE."""
    from xray_features.utils import MAX_IMAGE_SIZE

    sides = load_size if isinstance(load_size, list) and len(load_size) == 2 else [load_size]
    if load_size is None or all(isinstance(s, int) and not isinstance(s, bool)
                                and 8 <= s <= MAX_IMAGE_SIZE for s in sides):
        return tuple(load_size) if isinstance(load_size, list) else load_size
    raise ValueError(f"'{info_path}': load_size must be null, an integer from 8 to "
                     f"{MAX_IMAGE_SIZE} or a pair of them; got {load_size!r}. The model "
                     "folder is damaged or was not written by this toolkit.")


def _check_class_names(class_names, info_path):
    """None, or a list of distinct strings (a string would be read letter by letter)."""
    if class_names is None or (isinstance(class_names, list)
                               and all(isinstance(c, str) for c in class_names)
                               and len(set(class_names)) == len(class_names)):
        return class_names
    raise ValueError(f"'{info_path}': class_names must be null or a list of distinct class "
                     f"names; got {class_names!r}. The model folder is damaged or was not "
                     "written by this toolkit.")


def _explain_folder(explain_dir, names, overwrite):
    folder = Path(explain_dir)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise ValueError(f"--explain must name a folder; '{explain_dir}' is a file or a link")
    check_output(folder, flag="--explain", files=[folder / name for name in names],
                 overwrite=overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _overlay_names(files):
    """The overlay name of each file, ``<stem>.explain.png``, made unique."""
    used, names = set(), []
    for file in files:
        stem = Path(file).stem or "image"
        name, k = stem + _OVERLAY_SUFFIX, 2
        while name in used:
            name, k = f"{stem}-{k}{_OVERLAY_SUFFIX}", k + 1
        used.add(name)
        names.append(name)
    return names


def _write_overlays(folder, rows, images, explanations, names):
    """One overlay per explained image, under the name given for its file."""
    import cv2

    from classifiers.explanations import overlay

    for row, image, result, name in zip(rows, images, explanations, names):
        if result is None:
            continue
        target = folder / name
        if target.is_symlink() or (target.exists() and not target.is_file()):
            row["error"] = f"not writing overlay '{target}': it is a link or a folder"
            continue
        picture = overlay(image, result.heatmap())
        ok, encoded = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
        if ok:
            target.write_bytes(encoded.tobytes())
            row["explanation"] = str(target)


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
