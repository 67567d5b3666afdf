"""The results directory of one benchmark run: resumable, atomic, never mixed.

Layout::

    OUT/fingerprint.json                    what makes the numbers comparable
    OUT/run.json                            configuration, versions, machine, timings
    OUT/splits.csv                          every image's set (train/val/test) per fold
    OUT/parts/<model>__fold<k>.json         one finished (model, fold): metrics row, history
    OUT/parts/<model>__fold<k>.csv          that part's per-image predictions
    OUT/parts/<model>__fold<k>.traceback.txt  why that part failed (failed parts only)
    OUT/parts/<model>__fold<k>__<key>.*     a further part of that (model, fold), such as
                                            a learning-curve point (key ``n50-seed1``)
    OUT/models/<model>[-fold<k>]/           fitted models (with --save-models)
    OUT/.xray-bench-manifest.json           every file and folder runs wrote here

A part's JSON file is written last, atomically, and is the mark that the part
is done: a run killed midway leaves no half-written part behind, and the next
run with the same configuration skips every finished part and retries the
failed ones. The JSON file records the size and SHA-256 of the part's
predictions file, so one damaged afterwards is refitted by the next run
(with a warning) and refused by ``report``, never silently dropped.
"""

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from benchmarks.results.outdir import (  # noqa: F401 - RUN_OUTPUTS, RunConfigMismatch re-exported
    RUN_OUTPUTS, RunConfigMismatch, claim_output_folder, delete_recorded, owning_folder,
    remove_staging, write_output)
from benchmarks.results.predictions_table import predictions_csv, read_predictions
from xray_features.utils import TEMPORARY_SUFFIX, make_folders, write_text_atomic

__all__ = ["ResultStore", "RunConfigMismatch", "write_atomic", "read_json", "json_default",
           "read_parts", "part_damage"]


def json_default(value):
    """Make numpy scalars and arrays, paths and sets JSON serialisable.

    Examples
    --------
    >>> json.dumps({"auc": np.float32(0.5), "ids": np.arange(2)}, default=json_default)
    '{"auc": 0.5, "ids": [0, 1]}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def write_atomic(path, text):
    """Write ``text`` to ``path`` so readers see the old file or the new one,
    never a partial one (temporary file in the same folder, then rename; a
    link at ``path`` is replaced, never its target).

    Inside a results folder (one holding a manifest, see
    :mod:`benchmarks.results.outdir`) the file is written with
    :func:`benchmarks.results.outdir.write_output`: no link among the folders on the
    way, and listed in the manifest.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_atomic(path, "done"); path.read_text()
    'done'
    """
    root = owning_folder(path)
    if root is None:
        write_text_atomic(path, text)
    else:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}")
        write_output(root, Path(path).relative_to(root), text)


def read_json(path, what="results file"):
    """Read a JSON file the toolkit wrote; an unreadable one is a
    ``ValueError`` naming the file and what to do.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "fingerprint.json"
    >>> _ = path.write_text("{")
    >>> read_json(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cannot read '...fingerprint.json': not valid JSON ...
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read '{path}': not valid JSON ({error}); the {what} is "
                         "damaged. Delete it (or start over with --fresh) and run again."
                         ) from None


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(value, default=json_default, sort_keys=True))


def _part_stem(model, fold, key=""):
    # "@" of a variant (cnn@64) is a plain character in POSIX and Windows names.
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in model)
    return f"{safe}__fold{fold}" + (f"__{key}" if key else "")


class ResultStore:
    """Finished results of one run configuration in one directory.

    Parameters
    ----------
    directory : str or Path
        The output directory (created if missing).
    fingerprint : dict
        What defines the run's results: configuration that changes numbers
        (dataset fingerprint, split, seed, image size, ...). A directory
        written with another fingerprint is refused; model parameters are
        checked per part (:meth:`is_done`).
    fresh : bool, optional
        Delete the earlier results of a run in ``directory`` (only what its
        manifest lists, see :mod:`benchmarks.results.outdir`) and start over.

    Raises
    ------
    RunConfigMismatch
        If ``directory`` holds results of another configuration.
    ValueError
        If ``directory`` is a file, or a non-empty folder the toolkit did not
        create (:class:`benchmarks.results.outdir.OutputFolderError`).

    Examples
    --------
    >>> import tempfile
    >>> store = ResultStore(tempfile.mkdtemp(), {"seed": 0})
    >>> store.is_done("hog-xgb", 0)
    False
    """

    def __init__(self, directory, fingerprint, *, fresh=False):
        self.directory = Path(directory)
        claim_output_folder(self.directory)  # refuses a folder the toolkit did not create
        self.fingerprint = _as_json(fingerprint)
        self.parts = self.directory / "parts"
        marker = self.directory / "fingerprint.json"
        if fresh:
            delete_recorded(self.directory)
        else:  # a kill during a model save leaves its staging folder
            remove_staging(self.directory)
        if marker.exists():
            previous = read_json(marker, "run fingerprint")
            if previous != self.fingerprint:
                changed = sorted(key for key in set(previous) | set(self.fingerprint)
                                 if previous.get(key) != self.fingerprint.get(key))
                raise RunConfigMismatch(
                    f"output directory '{self.directory}' holds results of a different "
                    f"configuration (differs in: {', '.join(changed)}). Choose another "
                    "output directory, or start over with --fresh (fresh=True).")
        make_folders(self.parts, self.directory)
        # A run killed while writing leaves its temporary file behind.
        for leftover in self.parts.glob(f".*{TEMPORARY_SUFFIX}"):
            leftover.unlink(missing_ok=True)
        self._write("fingerprint.json", json.dumps(self.fingerprint, indent=2,
                                                   sort_keys=True))

    def _write(self, relative, data):
        return write_output(self.directory, relative, data)

    def _record(self, model, fold, key=""):
        path = self.parts / f"{_part_stem(model, fold, key)}.json"
        if not path.exists():
            return None
        return read_json(path, "record of a finished part")

    def is_done(self, model, fold, params=None, *, key=""):
        """Whether the part (model, fold[, key]) finished without error (a
        part that failed is tried again by the next run, with any parameters).

        Raises
        ------
        RunConfigMismatch
            If the part finished with other model parameters than ``params``.
        """
        record = self._record(model, fold, key)
        if record is None or record["row"].get("error") or self.damaged(model, fold, key=key):
            return False
        params = _as_json(params or {})
        if record.get("params", {}) != params:
            raise RunConfigMismatch(
                f"output directory '{self.directory}' holds results of '{model}' fitted "
                f"with parameters {record.get('params')}, not {params}. Choose another "
                "output directory, or start over with --fresh (fresh=True).")
        return True

    def save_part(self, model, fold, row, predictions=None, history=None, params=None,
                  traceback=None, *, key=""):
        """Save one finished part; the JSON record is written last.

        Parameters
        ----------
        model : str
        fold : int
        row : dict
            The flat metrics row (with a non-empty ``error`` if it failed).
        predictions : pandas.DataFrame, optional
            Per-image predictions of this part.
        history : dict of lists, optional
            Training history of the model.
        params : dict, optional
            The model parameters given for this run (checked on resume).
        traceback : str, optional
            The traceback of a failed part, kept beside its record.
        key : str, optional
            Names a further part of (model, fold), e.g. a learning-curve
            point ``"n50-seed1"`` (letters, digits, ``-``, ``_``, ``.``).
        """
        if key and not all(c.isalnum() or c in "-_." for c in key):
            raise ValueError(f"key may hold letters, digits, '-', '_' and '.'; got {key!r}.")
        stem = _part_stem(model, fold, key)
        csv, trace = self.parts / f"{stem}.csv", self.parts / f"{stem}.traceback.txt"
        files = {}
        if predictions is not None:
            data = predictions_csv(predictions).encode("utf-8")
            self._write(f"parts/{stem}.csv", data)
            files["csv"] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        else:
            csv.unlink(missing_ok=True)
        if traceback:
            self._write(f"parts/{stem}.traceback.txt", traceback)
        else:
            trace.unlink(missing_ok=True)
        record = {"model": model, "fold": fold, "params": _as_json(params or {}),
                  "row": row, "history": history, "files": files}
        if key:
            record["key"] = key
        self._write(f"parts/{stem}.json", json.dumps(record, default=json_default, indent=1))

    def damaged(self, model, fold, *, key=""):
        """Why the saved predictions of a finished part do not match its
        record (see :func:`part_damage`), or None."""
        record = self._record(model, fold, key)
        if record is None:
            return None
        return part_damage(record, self.parts / f"{_part_stem(model, fold, key)}.json")

    def load_parts(self, *, keyed=False):
        """Return the saved records (dicts) and the concatenated predictions
        of the (model, fold) parts, or with ``keyed=True`` of the further
        parts saved with a ``key``."""
        return read_parts(self.parts, keyed=keyed)

    def load_part(self, model, fold, *, key=""):
        """The saved record (dict) and predictions (DataFrame, None when
        absent) of one part, or None when the part was never saved."""
        record = self._record(model, fold, key)
        if record is None:
            return None
        csv = self.parts / f"{_part_stem(model, fold, key)}.csv"
        predictions = read_predictions(csv) if csv.is_file() else None
        return record, predictions

    def model_dir(self, model, fold=None):
        """Where the fitted model of (model, fold) is saved: ``models/<model>``
        for a single split (``fold=None``), ``models/<model>-fold<k>`` per fold."""
        stem = _part_stem(model, 0).rsplit("__", 1)[0]
        return self.directory / "models" / (stem if fold is None else f"{stem}-fold{fold}")


def read_parts(parts, *, keyed=False):
    """The saved records (dicts) and concatenated predictions in a ``parts``
    folder, read without opening a store (nothing is written), so a report
    can be rebuilt while a run is still going. ``keyed=True`` reads the
    further parts saved with a ``key`` (learning-curve points) instead.

    Examples
    --------
    >>> import tempfile
    >>> records, predictions = read_parts(Path(tempfile.mkdtemp()))
    >>> records, len(predictions)
    ([], 0)
    """
    import pandas as pd

    records, frames = [], []
    for path in sorted(Path(parts).glob("*.json")):
        record = read_json(path, "record of a finished part")
        if not (isinstance(record, dict) and isinstance(record.get("row"), dict)):
            raise ValueError(f"'{path}' is not the record of a part (a JSON object with a "
                             "'row'); the results folder is damaged. Delete it (or start "
                             "over with --fresh) and run again.")
        if bool(record.get("key")) != keyed:
            continue
        damage = part_damage(record, path)
        if damage:
            raise ValueError(f"{damage}. Run the same `xray-bench run` command again to "
                             "refit that part, or start over with --fresh.")
        records.append(record)
        csv = path.with_suffix(".csv")
        if csv.exists() and not record["row"].get("error"):
            frames.append(read_predictions(csv))
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return records, predictions


def part_damage(record, path):
    """Why the predictions file beside a finished part's record ``path``
    (``parts/<stem>.json``) does not hold what the store saved, or None.

    The size and SHA-256 recorded when the part was saved are checked; a
    record of an earlier version (without them) is checked by reading the
    file back.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a__fold0.json"
    >>> _ = path.with_suffix(".csv").write_text("id,mod")
    >>> part_damage({"row": {"error": ""}, "files": {"csv": {"bytes": 3, "sha256": ""}}}, path)
    ... # doctest: +ELLIPSIS
    "'...a__fold0.csv' is damaged: 6 bytes, not the 3 saved ..."
    """
    if record["row"].get("error"):
        return None
    csv = Path(path).with_suffix(".csv")
    expected = (record.get("files") or {}).get("csv")
    if not csv.is_file() or csv.is_symlink():
        return (f"'{csv}', the predictions of a finished part, is missing"
                if expected else None)
    data = csv.read_bytes()
    if isinstance(expected, dict):
        if len(data) != expected.get("bytes"):
            return (f"'{csv}' is damaged: {len(data)} bytes, not the {expected.get('bytes')} "
                    f"saved (recorded in '{Path(path).name}')")
        if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
            return (f"'{csv}' is damaged: its SHA-256 differs from the one recorded in "
                    f"'{Path(path).name}' when it was saved")
        return None
    try:
        columns = read_predictions(csv).columns
    except Exception as error:  # noqa: BLE001 - any parse failure is damage
        return f"'{csv}' is damaged: cannot be read ({type(error).__name__}: {error})"
    if "model" not in columns:
        return f"'{csv}' is damaged: it has no 'model' column"
    return None
