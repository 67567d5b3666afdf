"""Ownership of the output folder: what a run may write, and what ``--fresh`` may delete.

A run writes only into a folder the toolkit created (or an empty one), and
marks it with a manifest, ``OUT/.xray-bench-manifest.json``, that lists every
file and folder a run wrote there (kept up to date as files are written).
``fresh`` deletes only what the manifest lists, never through a link, and
leaves anything else (a user's notes, a folder that still holds a user's
file) where it is.

A folder written by an earlier version (``fingerprint.json`` and ``parts/``,
every entry a name a run writes, no manifest) is adopted: the manifest then
lists the entries with those known names only.

Every file goes through :func:`write_output`: atomically (temporary file in
the same folder, then rename) and never through a link among the folders
below ``OUT`` (:mod:`xray_features._atomic`).
"""

import json
import re
import shutil
from pathlib import Path

from xray_features.utils import (TEMPORARY_SUFFIX, UnsafePathError, check_no_links,
                                 make_folders, write_bytes_atomic)

__all__ = ["MANIFEST_NAME", "OutputFolderError", "RunConfigMismatch", "claim_output_folder",
           "write_output", "record_outputs", "delete_recorded", "check_not_inside_data",
           "owning_folder", "check_output", "data_folders", "remove_staging"]

MANIFEST_NAME = ".xray-bench-manifest.json"
_FORMAT = "xray-bench-output"
#: A model's staging folder (``classifiers.base.save``: ``.NAME.*.saving``),
#: listed before it is made and removed whole by a re-run or ``fresh``.
_STAGING = re.compile(r"\.[^/]+\.saving")

#: Top-level names a run writes, the one list of them (how earlier versions'
#: folders are recognised; the user guide's table of outputs is checked
#: against it by ``tests/test_docs.py``).
RUN_OUTPUTS = ("parts", "models", "plots", "results.csv", "results.json", "results.md",
               "predictions.csv", "run.json", "splits.csv", "fingerprint.json",
               "pairwise.csv", "report.html", "ensemble.json", "learning_curve.csv",
               "learning_curve_predictions.csv", "learning_curve_subsets.csv")
#: File names a run writes inside its folders (adopting an earlier version's folder).
_KNOWN_FILES = {
    "parts": re.compile(r"[\w.-]+__fold\d+(__[\w.-]+)?\.(json|csv|traceback\.txt)"),
    "plots": re.compile(r"[\w.-]+\.png"),
    "models": re.compile(r"(model\.json|model\.ubj|model\.keras|input\.json)"),
}


class RunConfigMismatch(ValueError):
    """The output directory holds results of a different configuration
    (also importable from :mod:`benchmarks.results.store`, which raises it
    on a fingerprint that differs)."""


class OutputFolderError(ValueError):
    """The output folder is not one the toolkit may write into."""


def _manifest_path(root):
    return Path(root) / MANIFEST_NAME


def _read_manifest(root):
    path = _manifest_path(root)
    if path.is_symlink() or not path.is_file():
        raise OutputFolderError(f"'{path}' is not a regular file; refusing to use "
                                f"'{root}' as an output directory.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OutputFolderError(f"cannot read '{path}' ({error}); it lists what runs wrote "
                                f"in '{root}'. Choose another output directory.") from None
    if not (isinstance(data, dict) and data.get("format") == _FORMAT
            and isinstance(data.get("entries"), list)
            and all(isinstance(entry, str) for entry in data["entries"])):
        raise OutputFolderError(f"'{path}' is not an xray-bench manifest; choose another "
                                "output directory.")
    return data["entries"]


def _write_manifest(root, entries):
    text = json.dumps({"format": _FORMAT, "version": 1, "entries": sorted(set(entries))},
                      indent=1)
    write_bytes_atomic(_manifest_path(root), text.encode("utf-8"), root=root)


def _adoptable(root):
    """Entries of an earlier version's results folder, or None when it is not one."""
    names = [child.name for child in root.iterdir()
             if not child.name.endswith(TEMPORARY_SUFFIX)]
    if not ((root / "fingerprint.json").is_file() and (root / "parts").is_dir()
            and set(names) <= set(RUN_OUTPUTS)):
        return None
    entries = []
    for name in names:
        child = root / name
        if child.is_symlink():
            return None
        if child.is_file():
            entries.append(name)
            continue
        entries.append(f"{name}/")
        pattern = _KNOWN_FILES.get(name)
        for path in sorted(child.rglob("*")) if pattern else ():
            relative = path.relative_to(root)
            if path.is_symlink() or len(relative.parts) > 3:
                continue
            if path.is_file() and pattern.fullmatch(path.name):
                entries.append(relative.as_posix())
            elif path.is_dir() and name == "models" and len(relative.parts) == 2:
                entries.append(relative.as_posix() + "/")
    return entries


def claim_output_folder(directory, *, create=True):
    """Make ``directory`` a results folder the toolkit owns; return its entries.

    A missing or empty folder is created and marked; one with a manifest is
    ours already; an earlier version's results folder is adopted. With
    ``create=False`` only the checks are made (nothing is written).

    Raises
    ------
    OutputFolderError
        If ``directory`` is a file, or a non-empty folder the toolkit did not
        create (it is left untouched).

    Examples
    --------
    >>> import tempfile
    >>> claim_output_folder(Path(tempfile.mkdtemp()) / "results")
    []
    """
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise OutputFolderError(f"out must be a directory; '{root}' is a file. Choose "
                                "another output directory.")
    if _manifest_path(root).exists() or _manifest_path(root).is_symlink():
        return _read_manifest(root)
    if not create and not root.exists():
        return []
    if create:
        root.mkdir(parents=True, exist_ok=True)
    if any(root.iterdir()):
        entries = _adoptable(root)
        if entries is None:
            parts = root / "parts"
            if parts.is_dir() and not parts.is_symlink() and any(parts.iterdir()) \
                    and not (root / "fingerprint.json").exists():
                raise RunConfigMismatch(
                    f"output directory '{root}' holds results without a fingerprint.json; "
                    "refusing to mix them in. Choose another output directory.")
            raise OutputFolderError(
                f"output directory '{root}' is not empty and was not created by xray-bench "
                f"(it has no {MANIFEST_NAME}); refusing to write into it or delete anything "
                "there. Choose a new or empty output directory (--out).")
    else:
        entries = []
    if create:
        _write_manifest(root, entries)
    return entries


def record_outputs(root, paths):
    """Add ``paths`` (files or folders inside ``root``) and the folders
    leading to them to the manifest."""
    root = Path(root)
    entries = set(_read_manifest(root))
    before = len(entries)
    for path in paths:
        relative = Path(path).relative_to(root)
        for depth in range(1, len(relative.parts)):
            entries.add(Path(*relative.parts[:depth]).as_posix() + "/")
        is_folder = Path(path).is_dir() and not Path(path).is_symlink()
        entries.add(relative.as_posix() + ("/" if is_folder else ""))
    if len(entries) != before:
        _write_manifest(root, entries)


def owning_folder(path, *, depth=3):
    """The results folder (one holding a manifest) among the ``depth``
    nearest folders above ``path``, or None.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> owning_folder(root / "plots" / "roc.png") is None
    True
    """
    for folder in list(Path(path).parents)[:depth]:
        if _manifest_path(folder).is_file():
            return folder
    return None


def write_output(root, relative, data):
    """Write one output file of the run in ``root`` (str or bytes ``data``):
    atomically, never through a link, and recorded in the manifest.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> write_output(root, "parts/a.json", "{}").relative_to(root).as_posix()
    'parts/a.json'
    >>> _read_manifest(root)
    ['parts/', 'parts/a.json']
    """
    root = Path(root)
    if not _manifest_path(root).exists():
        claim_output_folder(root)
    path = root / relative
    check_no_links(path, root)
    created = make_folders(path.parent, root)
    record_outputs(root, created + [path])  # listed before it exists: a kill leaves no orphan
    write_bytes_atomic(path, data.encode("utf-8") if isinstance(data, str) else data,
                       root=root)
    return path


def delete_recorded(root):
    """Delete what the manifest of ``root`` lists (``fresh``); return what was kept.

    Files and links listed are unlinked (a link itself, never its target);
    listed folders are removed only when empty; nothing under a link is
    touched. Leftover temporary files of atomic writes in listed folders go
    too. The manifest stays, empty, so the folder remains ours.
    """
    root = Path(root)
    remove_staging(root)
    entries = _read_manifest(root)
    kept = []
    for entry in sorted(entries, key=lambda e: (-len(Path(e).parts), e)):
        path = root / entry.rstrip("/")
        try:
            check_no_links(path, root)
        except UnsafePathError:
            continue  # under a link: its own entry removes the link
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            for leftover in path.glob(f".*{TEMPORARY_SUFFIX}"):
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
            if any(path.iterdir()):
                kept.append(entry)
            else:
                path.rmdir()
    _write_manifest(root, [])
    return kept


def check_not_inside_data(out, data_paths, *, flag="--out"):
    """Refuse an output folder equal to or inside a data folder (a run would
    read its own outputs as data on the next run).

    Examples
    --------
    >>> check_not_inside_data("data/results", ["data"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    benchmarks.results.outdir.OutputFolderError: --out 'data/results' is inside the data folder ...
    """
    out_resolved = Path(out).resolve()
    for data in data_paths:
        if data is None:
            continue
        data_resolved = Path(data).resolve()
        if Path(data).exists() and not data_resolved.is_dir():
            continue
        if out_resolved == data_resolved or data_resolved in out_resolved.parents:
            raise OutputFolderError(
                f"{flag} '{out}' is inside the data folder '{data}' (or is it); a run would "
                "write its results among the images and read them back as data. Choose an "
                "output directory outside the data folder.")


def remove_staging(root):
    """Remove the staging folders of model saves that the manifest of
    ``root`` lists (left by a kill during a save), and their entries."""
    root = Path(root)
    entries = _read_manifest(root)
    staging = [entry for entry in entries if _STAGING.fullmatch(Path(entry).name)]
    for entry in staging:
        path = root / entry.rstrip("/")
        try:
            check_no_links(path, root)
        except UnsafePathError:
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # never follows a link inside it
    if staging:
        _write_manifest(root, [entry for entry in entries if entry not in staging])


def data_folders(data, image_dir=None):
    """The folders a command reads images from (``--data`` unless the
    phantoms, and ``--images``): an output must not be among them."""
    folders = []
    if data is not None and not str(data).startswith("phantoms"):
        folders.append(data)
    if isinstance(image_dir, (str, Path)):
        folders.append(image_dir)
    return folders


def check_output(out, *, flag="--out", data=(), files=(), overwrite=False, folder=False):
    """The one rule of every command that writes, checked before any work.

    Parameters
    ----------
    out : str or Path
        The output folder (or file) the command was given.
    flag : str
        How the command line names ``out`` (``--out``, ``--explain``, ``DIR``).
    data : sequence of str or Path
        The data folders the command reads: ``out`` must not be one of them
        or inside one (see :func:`data_folders`).
    files : sequence of str or Path
        Files the command will write: none may exist unless ``overwrite``.
    overwrite : bool
        ``--overwrite`` was given.
    folder : bool
        ``out`` is a results folder: it must be one the toolkit created (it
        holds a manifest), an earlier version's, new or empty
        (:func:`claim_output_folder`, nothing is written).

    Raises
    ------
    OutputFolderError
        Naming the path, the rule and the fix.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = (root / "a.csv").write_text("mine")
    >>> check_output(root / "a.csv", flag="--output", files=[root / "a.csv"])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    benchmarks.results.outdir.OutputFolderError: --output '...a.csv' exists; refusing ...
    """
    check_not_inside_data(out, data, flag=flag)
    if folder:
        try:
            claim_output_folder(out, create=False)
        except OutputFolderError:
            theirs = [str(f) for f in files if Path(f).exists() or Path(f).is_symlink()]
            if not theirs:
                raise
            raise OutputFolderError(
                f"'{theirs[0]}' was not written by xray-bench ({flag} '{out}' has no "
                f"{MANIFEST_NAME}); refusing to overwrite it. Give the output folder of a "
                "run, or move the file away.") from None
        return
    if overwrite:
        return
    for path in files:
        if Path(path).exists() or Path(path).is_symlink():
            what = "folder" if flag == "--explain" else "file"
            raise OutputFolderError(
                f"{flag} '{path}' exists; refusing to overwrite it. Pass --overwrite to "
                f"replace it, or choose another {what}.")
