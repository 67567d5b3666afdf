"""Datasets described by a CSV of image file names and labels.

One code path reads every such source: a ``labels.csv`` beside its PNGs, the
NIH ChestX-ray14 ``Data_Entry_2017.csv`` (several labels per image, patient
ids) and a folder of DICOM files whose labels come from a CSV.
"""

import os
import warnings

from benchmarks.datasets._csv_tasks import drop_empty_classes, parse_labels, select_task
from benchmarks.datasets._folders import IMAGE_EXTENSIONS, SPLIT_FOLDERS, list_files
from benchmarks.datasets._problems import Problems
from benchmarks.datasets._record import Dataset, DatasetError, DatasetWarning

__all__ = ["load_csv", "load_folder_with_csv"]

#: Column names tried in order (case, spaces and underscores ignored).
IMAGE_COLUMNS = ("Image Index", "filename", "file_name", "file", "path", "image_path",
                 "image", "image_id", "img")
LABEL_COLUMNS = ("Finding Labels", "label", "labels", "class", "target", "diagnosis")
GROUP_COLUMNS = ("Patient ID", "patient_id", "patient", "subject_id", "subject")
SPLIT_COLUMNS = ("split", "subset", "partition")
#: Label values that mark a missing label (compared without case), as pandas'
#: default NA strings do; such rows are skipped and counted, never a class.
MISSING_LABELS = frozenset({"nan", "-nan", "na", "n/a", "#n/a", "#na", "<na>", "null",
                            "none", "missing"})


def _norm(name):
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _find_column(columns, given, candidates, option, path, required):
    """The column named by ``given``, else the first candidate present."""
    if given is False and not required:
        return None
    if given is not None:
        if given in columns:
            return given
        raise DatasetError(f"load_dataset: {option}={given!r} is not a column of {path!r}; "
                           f"its columns are {columns}.")
    present = {_norm(c): c for c in columns}
    for candidate in candidates:
        if _norm(candidate) in present:
            return present[_norm(candidate)]
    if required:
        raise DatasetError(f"load_dataset: no {option.replace('_col', '')} column found in "
                           f"{path!r} (looked for {list(candidates)}); its columns are "
                           f"{columns}. Pass {option}='<column name>'.")
    return None


def _read_table(path):
    import pandas as pd

    try:
        return pd.read_csv(path, sep="\t" if path.lower().endswith(".tsv") else ",", dtype=str,
                           keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DatasetError(f"load_dataset: cannot read {path!r} as a CSV table: {exc}") from exc


class _FileFinder:
    """Resolve a CSV file name under ``image_dir``.

    Tries the name as given, then with each image extension when it has none
    (e.g. DICOM files named by id), then a unique file of that name anywhere
    below ``image_dir`` (ChestX-ray14 ships its images in several
    ``images_0xx/`` folders). The folder is walked once, only if needed.
    """

    def __init__(self, image_dir, allow_outside=False):
        self.image_dir = image_dir
        self.allow_outside = allow_outside
        self.outside = []   # names read from outside image_dir (when allowed)
        self._by_name = None

    def _index(self):
        self._by_name = {}
        for rel in list_files(self.image_dir):
            base = rel.rsplit("/", 1)[-1]
            keys = {base}
            stem, ext = os.path.splitext(base)
            if ext.lower() in IMAGE_EXTENSIONS:
                keys.add(stem)
            for key in keys:
                self._by_name.setdefault(key, []).append(rel)

    def find(self, name):
        """Return ``(path, None)`` or ``(None, reason)``."""
        relative = os.path.normpath(name)
        if os.path.isabs(name) or relative == os.pardir or relative.startswith(os.pardir + os.sep):
            if not self.allow_outside:
                return None, (f"path leads outside image_dir {self.image_dir!r}; pass "
                              "allow_outside_images=True to read it anyway")
            self.outside.append(name)
        path = os.path.join(self.image_dir, name)
        if os.path.isfile(path):
            return path, None
        if not os.path.splitext(name)[1]:
            for ext in IMAGE_EXTENSIONS:
                if os.path.isfile(path + ext):
                    return path + ext, None
        if self._by_name is None:
            self._index()
        hits = self._by_name.get(os.path.basename(name), [])
        if len(hits) == 1:
            return os.path.join(self.image_dir, *hits[0].split("/")), None
        if hits:
            return None, f"{len(hits)} files of that name below {self.image_dir!r} ({hits[:2]})"
        return None, f"file not found in {self.image_dir!r}"


def load_csv(source, *, image_dir=None, image_col=None, label_col=None, group_col=None,
             split_col=None, label_sep="|", positive=None, negative=None, classes=None,
             multilabel=False, task=None, allow_outside_images=False, strict=False, name=None):
    """A CSV of image names and labels; see :func:`benchmarks.datasets.load_dataset`."""
    path = os.fspath(source)
    image_dir = os.path.dirname(os.path.abspath(path)) if image_dir is None \
        else os.fspath(image_dir)
    if not os.path.isdir(image_dir):
        raise DatasetError(f"load_dataset: image_dir {image_dir!r} is not a folder; give the "
                           f"folder holding the images named in {path!r}.")
    if label_sep is not None and not (isinstance(label_sep, str) and label_sep):
        raise ValueError(f"load_dataset: label_sep must be a non-empty string or None (one "
                         f"label per row), got {label_sep!r}.")
    if not isinstance(allow_outside_images, bool):
        raise ValueError(f"load_dataset: allow_outside_images must be true or false, got "
                         f"{allow_outside_images!r}.")
    table = _read_table(path)
    columns = [str(c) for c in table.columns]
    image_col = _find_column(columns, image_col, IMAGE_COLUMNS, "image_col", path, True)
    label_col = _find_column(columns, label_col, LABEL_COLUMNS, "label_col", path, True)
    group_col = _find_column(columns, group_col, GROUP_COLUMNS, "group_col", path, False)
    split_col = _find_column(columns, split_col, SPLIT_COLUMNS, "split_col", path, False)
    if table.empty:
        raise DatasetError(f"load_dataset: {path!r} has no rows; list one image per row.")
    problems = Problems(f"load_dataset({os.path.basename(path)!r})")

    def column(col):
        return None if col is None else [v.strip() for v in table[col].tolist()]

    names, raw_labels = column(image_col), table[label_col].tolist()
    groups, splits = column(group_col), column(split_col)
    rows, label_sets, first_line = [], [], {}
    for i, file_name in enumerate(names):
        line = i + 2  # the header is line 1
        labels = parse_labels(raw_labels[i], label_sep)
        if not file_name:
            problems.add(f"line {line}", f"empty {image_col!r}", "rows with an empty field")
            continue
        missing = [label for label in labels if label.lower() in MISSING_LABELS]
        if missing:
            problems.add(file_name, f"{label_col!r} is {raw_labels[i]!r} on line {line}, a "
                         "missing-value marker, not a class", "rows with a missing label")
            continue
        if not labels:
            problems.add(file_name, f"empty {label_col!r} on line {line}",
                         "rows with an empty field")
            continue
        key = os.path.normpath(file_name)
        if key in first_line:
            j = first_line[key]
            differ = parse_labels(raw_labels[j - 2], label_sep) != labels
            problems.add(file_name, f"duplicate row: line {line} repeats line {j}, which is kept"
                         + (" (labels differ)" if differ else ""), "duplicate rows")
            continue
        if groups is not None and not groups[i]:
            problems.add(file_name, f"empty {group_col!r} on line {line}",
                         "rows with an empty field")
            continue
        if splits is not None and splits[i].lower() not in SPLIT_FOLDERS:
            problems.add(file_name, f"{split_col!r} is {splits[i]!r} on line {line}; expected "
                         "train, val or test", "rows with a bad split value")
            continue
        first_line[key] = line
        rows.append(i)
        label_sets.append(labels)

    keep, targets, class_names, task_name = select_task(
        label_sets, positive=positive, negative=negative, classes=classes,
        multilabel=multilabel, task=task, problems=problems,
        row_ids=[names[i] for i in rows])
    kept, kept_targets, paths = [], [], []
    finder = _FileFinder(image_dir, allow_outside=allow_outside_images)
    for k, target in zip(keep, targets):
        file_path, reason = finder.find(names[rows[k]])
        if file_path is None:
            outside = reason.startswith("path leads outside")
            problems.add(names[rows[k]], reason,
                         "files outside image_dir" if outside else "missing files")
        else:
            kept.append(rows[k]), kept_targets.append(target), paths.append(file_path)
    y, class_names, task_name = drop_empty_classes(
        kept_targets, class_names, task_name, problems, repr(path))
    if task == "binary" and task_name != "binary":
        raise DatasetError(f"load_dataset: task='binary' but {path!r} gives {len(class_names)} "
                           f"classes {list(class_names)}; choose positive= (and negative=) or "
                           "two classes=.")
    problems.resolve(strict)
    if finder.outside:
        warnings.warn(f"load_dataset({os.path.basename(path)!r}): {len(finder.outside)} row(s) "
                      f"name files outside image_dir {image_dir!r}, read because "
                      f"allow_outside_images=True (e.g. {finder.outside[:3]}).",
                      DatasetWarning, stacklevel=3)
    return Dataset(
        labels=y, class_names=class_names, task=task_name, ids=[names[i] for i in kept],
        paths=paths, groups=None if groups is None else [groups[i] for i in kept],
        split=None if splits is None else [SPLIT_FOLDERS[splits[i].lower()] for i in kept],
        name=name or os.path.splitext(os.path.basename(path))[0], skipped=problems.skipped())


def load_folder_with_csv(source, *, labels, **options):
    """Images (e.g. DICOM files) in the folder ``source``, labels from the CSV ``labels``.

    A relative ``labels`` path that does not exist is looked up inside the
    folder. Takes the options of :func:`load_csv` except ``image_dir``.
    """
    folder = os.fspath(source)
    csv_path = os.fspath(labels)
    if not os.path.exists(csv_path) and os.path.exists(os.path.join(folder, csv_path)):
        csv_path = os.path.join(folder, csv_path)
    if os.path.isdir(csv_path):
        raise DatasetError(f"load_dataset: labels={labels!r} is a directory, not a CSV file; "
                           f"give the CSV of image names and labels for the folder "
                           f"{folder!r}.")
    if not os.path.isfile(csv_path):
        raise DatasetError(f"load_dataset: labels={labels!r} is not a file; give the CSV of "
                           f"image names and labels for the folder {folder!r}.")
    options["name"] = options.get("name") or os.path.basename(os.path.normpath(folder))
    return load_csv(csv_path, image_dir=folder, **options)

