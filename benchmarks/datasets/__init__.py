"""One dataset record for every source: phantoms, class folders, CSVs, MedMNIST.

:func:`load_dataset` reads a source into a :class:`Dataset`, whose images
are either held in memory (``images``) or decoded on demand from files
(``paths``, see :meth:`Dataset.load_images`). Whatever the source, the
record has the same aligned attributes (labels, ids, groups, split), so a
benchmark swaps one dataset for another in one line.

Bad inputs (missing files, unknown or empty classes, duplicate rows,
unreadable images) are never dropped silently: by default they are skipped,
listed in ``Dataset.skipped`` with their reason and summarised in one
:class:`DatasetWarning`; with ``strict=True`` they raise
:class:`DatasetError`.

Layers, bottom to top (a module imports only those below it, never this
package): ``_record`` (Dataset, DatasetError, DatasetWarning, TASKS,
SPLITS), ``_problems`` (collecting skipped items), then the readers of each
kind of source (``_arrays``: phantoms and ``.npz``; ``_folders``;
``_csv_tasks`` and ``_csv``) and the image decoding behind
:meth:`Dataset.load_images` (``_image_loading``); this module on top.
"""

import inspect
import os

from benchmarks.datasets._arrays import load_npz, load_phantoms
from benchmarks.datasets._csv import load_csv, load_folder_with_csv
from benchmarks.datasets._folders import load_class_folders
from benchmarks.datasets._record import Dataset, DatasetError, DatasetWarning

__all__ = ["Dataset", "DatasetError", "DatasetWarning", "load_dataset"]

#: Kind of source -> the function that reads it.
_LOADERS = {
    "phantoms": load_phantoms,
    "folder": load_class_folders,
    "folder+csv": load_folder_with_csv,
    "csv": load_csv,
    "npz": load_npz,
}
#: File suffix -> kind of source, for sources that are files.
_FILE_KINDS = {".csv": "csv", ".tsv": "csv", ".npz": "npz"}


def _source_kind(source, options):
    """The kind of ``source`` (a key of ``_LOADERS``), or a clear error."""
    if source is None or (isinstance(source, str) and source.split(":")[0] == "phantoms"):
        return "phantoms"
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"load_dataset: source must be None, 'phantoms', or a path to a "
                        f"folder, .csv or .npz file, got {type(source).__name__}.")
    path = os.fspath(source)
    suffix = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise DatasetError(f"load_dataset: source {path!r} does not exist; give an existing "
                           "folder, .csv or .npz file, or 'phantoms'.")
    if os.path.isdir(path):
        return "folder+csv" if "labels" in options else "folder"
    if suffix not in _FILE_KINDS:
        raise DatasetError(f"load_dataset: cannot read source {path!r} (suffix {suffix!r}); "
                           "give a class folder, a .csv of labels or a MedMNIST .npz.")
    return _FILE_KINDS[suffix]


def _option_names(kind):
    """The options (keyword arguments after ``source``) the loader of ``kind`` takes."""
    if kind == "folder+csv":
        # load_folder_with_csv passes its options on to load_csv, which reads
        # the images from the folder itself (so no image_dir).
        return ["labels"] + [name for name in _option_names("csv") if name != "image_dir"]
    return [name for name in inspect.signature(_LOADERS[kind]).parameters if name != "source"]


def _check_options(kind, options, source):
    allowed = _option_names(kind)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"load_dataset: option(s) {unknown} do not apply to source {source!r}; "
                        f"the options for this kind of source are {allowed}.")


def load_dataset(source=None, **options):
    """Read a dataset from phantoms, a class folder, a CSV or a MedMNIST ``.npz``.

    Parameters
    ----------
    source : None, str or path-like
        - ``None`` or ``"phantoms"``: synthetic phantoms, four classes (long
          bone intact / fractured, joint normal / with a double contour) at
          difficulty "easy"; ``"phantoms:<task>"`` picks another phantom task
          (``"phantoms:fracture"``, ``"phantoms:double-contour"``). Options
          ``n_images`` (default 400), ``image_size`` (default 128), ``seed``
          (default 0), ``difficulty``, ``balance``: 400 images of 128 px,
          made in a few seconds, keep a first run quick.
        - A folder with one sub-folder per class, optionally below
          ``train/``, ``val/``, ``test/`` folders, which become ``split``.
          Images: png, jpg, jpeg, bmp, tif, tiff, dcm. Class names sorted,
          ids are paths relative to the folder.
        - A folder of images with ``labels="labels.csv"``: labels from the
          CSV, images (e.g. DICOM) from the folder.
        - A ``.csv`` (or ``.tsv``) file of image names and labels; see
          Notes for options.
        - A ``.npz`` file in the MedMNIST layout (``train_images``,
          ``train_labels``, ``val_*``, ``test_*``) with its official split;
          option ``class_names``.
    **options
        Source options (above and in Notes), and for every source
        ``strict`` (default False: skip bad items, listed in ``skipped``,
        with one warning; True: raise) and ``name``.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Source missing or unreadable, fewer than two classes, or any bad item
        when ``strict=True``.
    TypeError
        An option that does not apply to the source.

    Notes
    -----
    CSV options: ``image_dir`` (default: the CSV's folder), ``image_col``
    and ``label_col`` (auto-detected), ``group_col`` (auto-detects
    ``"Patient ID"`` and the like; ``False`` for none), ``split_col``
    (auto-detects ``"split"``; ``False`` for none), ``label_sep="|"``.
    Task: ``positive=`` (and ``negative=``, e.g. ``"No Finding"``) gives a
    binary task, positive images (the finding alone or with others) against
    images whose only labels are negative ones (without ``negative``: all
    other images); ``classes=[...]`` a multi-class task over images with
    exactly one label among them; ``multilabel=True`` (or
    ``task="multilabel"``) an ``(N, L)`` indicator matrix over all labels
    or ``classes``, where ``negative=`` labels give all-zero rows. Class
    names keep the order of ``classes``, else they are sorted. By default
    a CSV of single labels gives a multi-class task (binary for two
    classes). Rows left out by the task are listed in ``skipped`` too.
    A file name is looked up under ``image_dir`` as written, then with an
    image extension added if it has none, then as a unique file of that
    name in any sub-folder (ChestX-ray14 ships ``images_001/`` ...).
    A name that leads outside ``image_dir`` (``../x.png``, an absolute
    path) is skipped unless ``allow_outside_images=True``, which a warning
    then reports. Labels such as ``NaN``, ``N/A`` or ``null`` mark a
    missing label: those rows are skipped and counted, never a class.

    References
    ----------
    .. [1] Wang X. et al., "ChestX-ray8: Hospital-scale chest X-ray database
       and benchmarks", CVPR 2017 (the ``Finding Labels`` convention).
    .. [2] Yang J. et al., "MedMNIST v2", Scientific Data 10:41, 2023 (the
       ``.npz`` layout).

    Examples
    --------
    >>> ds = load_dataset("phantoms:fracture", n_images=10, image_size=32, seed=1)
    >>> ds
    Dataset('phantoms:fracture', 10 images 32x32, binary: intact=5 fracture=5)
    """
    kind = _source_kind(source, options)
    _check_options(kind, options, source)
    return _LOADERS[kind](source, **options)
