"""The results directory of one benchmark run: resumable, atomic, never mixed.

Layout::

    OUT/run.json                    configuration, dataset fingerprint, versions, timings
    OUT/parts/<model>__fold<k>.json one finished (model, fold): its metrics row and history
    OUT/parts/<model>__fold<k>.csv  that part's per-image predictions
    OUT/models/<model>/             fitted models (with --save-models)

A part's JSON file is written last, atomically, and is the mark that the part
is done: a run killed midway leaves no half-written part behind, and the next
run with the same configuration skips every finished part.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["ResultStore", "RunConfigMismatch", "write_atomic", "json_default"]


class RunConfigMismatch(ValueError):
    """The output directory holds results of a different configuration."""


def json_default(value):
    """Make numpy scalars and arrays, paths and sets JSON serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, set, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def write_atomic(path, text):
    """Write ``text`` to ``path`` so readers see the old file or the new one,
    never a partial one (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists, ...)."""
    return json.loads(json.dumps(value, default=json_default, sort_keys=True))


def _part_stem(model, fold):
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
    return f"{safe}__fold{fold}"


class ResultStore:
    """Finished results of one run configuration in one directory.

    Parameters
    ----------
    directory : str or Path
        The output directory (created if missing).
    fingerprint : dict
        What defines the run's results: configuration that changes numbers
        (dataset fingerprint, split, seed, image size, model parameters).
        A directory written with another fingerprint is refused.
    fresh : bool, optional
        Delete earlier results in ``directory`` and start over.

    Examples
    --------
    >>> store = ResultStore(tmp_path, {"seed": 0})  # doctest: +SKIP
    >>> store.is_done("hog-xgb", 0)  # doctest: +SKIP
    False
    """

    def __init__(self, directory, fingerprint, *, fresh=False):
        self.directory = Path(directory)
        self.fingerprint = _as_json(fingerprint)
        self.parts = self.directory / "parts"
        marker = self.directory / "fingerprint.json"
        if fresh and self.directory.exists():
            for name in ("parts", "models"):
                shutil.rmtree(self.directory / name, ignore_errors=True)
            marker.unlink(missing_ok=True)
        if marker.exists():
            previous = json.loads(marker.read_text(encoding="utf-8"))
            if previous != self.fingerprint:
                changed = sorted(key for key in set(previous) | set(self.fingerprint)
                                 if previous.get(key) != self.fingerprint.get(key))
                raise RunConfigMismatch(
                    f"output directory '{self.directory}' holds results of a different "
                    f"configuration (differs in: {', '.join(changed)}). Choose another "
                    "output directory, or start over with --fresh (fresh=True).")
        elif self.parts.exists() and any(self.parts.iterdir()):
            raise RunConfigMismatch(
                f"output directory '{self.directory}' holds results without a "
                "fingerprint.json; refusing to mix them in. Choose another output "
                "directory, or start over with --fresh (fresh=True).")
        self.parts.mkdir(parents=True, exist_ok=True)
        write_atomic(marker, json.dumps(self.fingerprint, indent=2, sort_keys=True))

    def is_done(self, model, fold, params=None):
        """Whether the part (model, fold) finished without error (a part
        that failed is tried again by the next run).

        Raises
        ------
        RunConfigMismatch
            If the part was saved with other model parameters than
            ``params``.
        """
        path = self.parts / f"{_part_stem(model, fold)}.json"
        if not path.exists():
            return False
        record = json.loads(path.read_text(encoding="utf-8"))
        params = _as_json(params or {})
        if record.get("params", {}) != params:
            raise RunConfigMismatch(
                f"output directory '{self.directory}' holds results of '{model}' fitted "
                f"with parameters {record.get('params')}, not {params}. Choose another "
                "output directory, or start over with --fresh (fresh=True).")
        return not record["row"].get("error")

    def save_part(self, model, fold, row, predictions=None, history=None, params=None):
        """Save one finished part; the JSON record is written last.

        Parameters
        ----------
        model : str
        fold : int
        row : dict
            The flat metrics row.
        predictions : pandas.DataFrame, optional
            Per-image predictions of this part.
        history : dict of lists, optional
            Training history of a neural model.
        params : dict, optional
            The model parameters given for this run (checked on resume).
        """
        stem = _part_stem(model, fold)
        if predictions is not None:
            write_atomic(self.parts / f"{stem}.csv", predictions.to_csv(index=False))
        record = {"model": model, "fold": fold, "params": _as_json(params or {}),
                  "row": row, "history": history}
        write_atomic(self.parts / f"{stem}.json",
                     json.dumps(record, default=json_default, indent=1))

    def load_parts(self):
        """Return the saved records (dicts) and the concatenated predictions."""
        import pandas as pd

        records, frames = [], []
        for path in sorted(self.parts.glob("*.json")):
            record = json.loads(path.read_text(encoding="utf-8"))
            records.append(record)
            csv = path.with_suffix(".csv")
            if csv.exists():
                frames.append(pd.read_csv(csv, dtype={"id": str}))
        predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return records, predictions

    def model_dir(self, model, fold=0):
        """Where the fitted model of (model, fold) is saved."""
        name = model if fold == 0 else f"{model}-fold{fold}"
        return self.directory / "models" / name
