"""Inspect a dataset in one streamed pass: what ``xray-bench inspect`` computes.

:func:`inspect_dataset` lists the dataset (any source of
:func:`benchmarks.load_dataset`), maps
:func:`~benchmarks.inspection.describe.describe_image` over its files or
arrays with :func:`xray_features.stream.map_images`, folds each chunk into
per-class running summaries and drops it, then derives counts, properties,
confounding warnings and duplicates from the small per-image records kept
(sizes, hashes, contrast: a few dozen bytes per image). Pixels are never all
in memory: a 100,000-image folder needs one chunk of working images and one
PCA batch per class.
"""

import functools
import os
import time
from collections import Counter

import numpy as np

from benchmarks.inspection.accumulate import ClassAccumulator
from benchmarks.inspection.confounding import confounding_report
from benchmarks.inspection.describe import describe_image
from benchmarks.inspection.hashing import duplicate_report
from benchmarks.inspection.metadata import csv_properties
from xray_features.utils import check_scalar

__all__ = ["inspect_dataset", "SPLIT_CHOICES", "PROPERTIES"]

SPLIT_CHOICES = ("auto", "official", "holdout")
#: Image properties checked for confounding, in report order.
PROPERTIES = ("size", "aspect ratio", "format", "bit depth", "photometric", "modality", "view")
_SCALARS = ("height", "width", "rms", "michelson", "digest", "phash", "format", "bit_depth",
            "photometric", "modality", "view")


def _load(data, options, strict, seed):
    from benchmarks.datasets import load_dataset

    options = dict(options or {})
    options.setdefault("strict", strict)
    if data is None or str(data).startswith("phantoms"):
        options.setdefault("seed", seed)
    elif os.path.isdir(os.fspath(data)) and "labels" not in options:
        options.setdefault("min_classes", 0)   # one class, or none, is still worth a look
    try:
        return load_dataset(data, **options)
    except TypeError as error:   # an option that does not apply to this source
        raise ValueError(str(error)) from None


def _split_of(dataset, split, seed, notes):
    """The split shown: the dataset's own, or a stratified hold-out."""
    from benchmarks.evaluation.splits import make_splits

    if split == "official" and dataset.split is None:
        raise ValueError(f"split='official' but dataset {dataset.name!r} has no split of its "
                         "own; use split='auto' or 'holdout'.")
    if split != "holdout":
        if dataset.split is None:
            notes.append("no split: the dataset has none of its own (give --split holdout "
                         "to see the hold-out split that `xray-bench run` would make)")
        return dataset.split
    try:
        made = make_splits(dataset, strategy="holdout", seed=seed)[0]
    except ValueError as error:
        notes.append(f"no hold-out split: {error}")
        return None
    values = np.full(len(dataset), "train", dtype=object)
    values[made.val], values[made.test] = "val", "test"
    return values.astype(str)


def _class_columns(dataset):
    if dataset.task == "multilabel":
        return dataset.labels.astype(bool)
    columns = np.zeros((len(dataset), len(dataset.class_names)), dtype=bool)
    columns[np.arange(len(dataset)), dataset.labels] = True
    return columns


def _stream(dataset, *, image_size, n_components, n_examples, seed, n_jobs, chunk_size,
            strict, quiet):
    """One pass over the images: per-class accumulators and per-image records."""
    from xray_features.stream import map_images

    columns = _class_columns(dataset)
    classes = [ClassAccumulator(image_size, n_components=n_components, n_examples=n_examples,
                                seed=seed + k) for k in range(columns.shape[1])]
    overall = ClassAccumulator(image_size, n_components=0, n_examples=0)
    records = {key: [] for key in ("index",) + _SCALARS}
    unreadable = []
    items = dataset.paths if dataset.images is None else dataset.images
    describe = functools.partial(describe_image, size=image_size)
    for start, results, skipped in map_images(describe, items, n_jobs=n_jobs,
                                              chunk_size=chunk_size, strict=strict,
                                              progress=not quiet, ids=dataset.ids.tolist(),
                                              desc=f"inspecting {dataset.name}"):
        unreadable.extend((identifier, reason) for _, identifier, reason in skipped)
        kept = [(start + k, r) for k, r in enumerate(results) if r is not None]
        if not kept:
            continue
        index = np.array([i for i, _ in kept])
        images = np.stack([r["image"] for _, r in kept])
        histograms = np.stack([r["histogram"] for _, r in kept])
        rms = np.array([r["rms"] for _, r in kept])
        michelson = np.array([r["michelson"] for _, r in kept])
        ids = dataset.ids[index]
        overall.add(images, histograms, rms, michelson, ids)
        for k, accumulator in enumerate(classes):
            member = columns[index, k]
            if member.any():
                accumulator.add(images[member], histograms[member], rms[member],
                                michelson[member], ids[member])
        records["index"].extend(index.tolist())
        for key in _SCALARS:
            records[key].extend(r[key] for _, r in kept)
    return classes, overall, records, unreadable


def _differences(dataset, summaries, overall, notes):
    """(title, image) pairs: B - A for two classes, each class - the rest for more."""
    names = dataset.class_names
    present = [k for k, s in enumerate(summaries) if s["n"]]
    if len(present) < 2:
        notes.append(f"no mean-difference image: images of {len(present)} class(es) "
                     f"{[names[k] for k in present]}; a difference needs two")
        return []
    if len(names) == 2 and dataset.task != "multilabel":
        a, b = summaries
        return [(f"{names[1]} − {names[0]}", b["mean"] - a["mean"])]
    total = overall["mean"] * overall["n"]
    out = []
    for k in present:
        summary = summaries[k]
        rest = overall["n"] - summary["n"]
        if rest == 0:
            notes.append(f"no difference image for {names[k]!r}: every image has it")
            continue
        rest_mean = (total - summary["mean"] * summary["n"]) / rest
        out.append((f"{names[k]} − rest", summary["mean"] - rest_mean))
    return out


def _counts(labels_columns, split, class_names):
    def count(mask):
        return {name: int(labels_columns[mask, k].sum()) for k, name in enumerate(class_names)}

    everything = np.ones(len(labels_columns), dtype=bool)
    counts = {"all": count(everything)}
    if split is not None:
        for part in ("train", "val", "test"):
            if (split == part).any():
                counts[part] = count(split == part)
    return counts


def _patients(groups, split, notes):
    from benchmarks.evaluation.splits import shared_groups

    if groups is None:
        notes.append("no images-per-patient counts: the dataset has no patient (group) ids "
                     "(give --group-col for a CSV)")
        return None
    per_patient = Counter(groups.tolist())
    distribution = Counter(per_patient.values())
    out = {"n_patients": len(per_patient),
           "images_per_patient": {int(k): int(distribution[k]) for k in sorted(distribution)},
           "mean_images_per_patient": float(np.mean(list(per_patient.values()))),
           "max_images_per_patient": int(max(per_patient.values())), "across_splits": {}}
    if split is not None:
        parts = [p for p in ("train", "val", "test") if (split == p).any()]
        shared = shared_groups(groups, *[np.flatnonzero(split == p) for p in parts],
                               names=parts)
        out["across_splits"] = {f"{a}/{b}": {"n": len(common), "first": common[:20]}
                                for (a, b), common in shared.items()}
    return out


def _label_text(dataset):
    if dataset.task == "multilabel":
        return ["|".join(n for n, v in zip(dataset.class_names, row) if v) or "none"
                for row in dataset.labels]
    return [dataset.class_names[k] for k in dataset.labels]


def inspect_dataset(data=None, *, dataset_options=None, split="auto", image_size=128,
                    n_components=4, n_examples=16, max_distance=24, seed=0, n_jobs=1,
                    chunk_size=256, strict=False, quiet=False):
    """Look at a dataset before training on it; return the summaries.

    Parameters
    ----------
    data : str, os.PathLike or None
        Any source of :func:`benchmarks.load_dataset`; ``None`` for the phantoms.
    dataset_options : dict, optional
        Its options (``labels``, ``label_col``, ``group_col``, ``classes`` ...).
    split : {'auto', 'official', 'holdout'}
        Show the dataset's own split, or the stratified hold-out that
        ``xray-bench run`` would make.
    image_size : int
        Side of the square working images (resized with padding) for the
        mean, standard-deviation, difference and eigen-images.
    n_components, n_examples : int
        Eigen-images and example images per class.
    max_distance : int
        Largest perceptual-hash distance (of 256 bits) of a near-duplicate.
    seed : int
        Seed of the example sample and of a hold-out split.
    n_jobs, chunk_size : int
        Decoding processes and images per chunk.
    strict, quiet : bool
        Refuse unreadable files instead of counting them; no progress bar.

    Returns
    -------
    dict
        The results; :func:`benchmarks.inspection.outputs.write_inspection`
        writes them as PNGs, ``inspect.json`` and ``inspect.html``.

    Examples
    --------
    >>> result = inspect_dataset(dataset_options={"n_images": 8, "image_size": 32},
    ...                          image_size=16, quiet=True)
    >>> result["n_read"], result["counts"]["all"]
    (8, {'bone-intact': 2, 'bone-fracture': 2, 'joint-normal': 2, 'joint-double-contour': 2})
    """
    started = time.perf_counter()
    if split not in SPLIT_CHOICES:
        raise ValueError(f"split must be one of {SPLIT_CHOICES}; got {split!r}.")
    image_size = check_scalar(image_size, "image_size", low=8)
    n_components = check_scalar(n_components, "n_components", low=0)
    n_examples = check_scalar(n_examples, "n_examples", low=0)
    max_distance = check_scalar(max_distance, "max_distance", low=0)
    seed = check_scalar(seed, "seed", low=0)
    notes = []
    dataset = _load(data, dataset_options, strict, seed)
    split_values = _split_of(dataset, split, seed, notes)
    classes, overall, records, unreadable = _stream(
        dataset, image_size=image_size, n_components=n_components, n_examples=n_examples,
        seed=seed, n_jobs=n_jobs, chunk_size=chunk_size, strict=strict, quiet=quiet)
    kept = np.asarray(records["index"], dtype=np.int64)
    sub = dataset.subset(kept)
    split_kept = None if split_values is None else np.asarray(split_values)[kept]
    if not len(kept):
        notes.append(f"no image could be read ({len(dataset)} listed, {len(unreadable)} "
                     "unreadable): nothing to average, compare or hash")
    summaries = [c.finish() for c in classes]
    overall = overall.finish()
    for name, summary in zip(dataset.class_names, summaries):
        if summary["n"] and summary["components"] is None:
            notes.append(f"no eigen-images for {name!r}: {summary['pca_reason']}")
    columns = _class_columns(sub)
    properties = {
        "size": [f"{h}x{w}" for h, w in zip(records["height"], records["width"])],
        "aspect ratio": [f"{w / h:.2f}" for h, w in zip(records["height"], records["width"])],
        "format": records["format"], "bit depth": records["bit_depth"],
        "photometric": records["photometric"], "modality": records["modality"],
        "view": records["view"]}
    for key, values in csv_properties(data, dataset_options or {}, sub.ids.tolist()).items():
        properties[key] = [own if own is not None else other
                           for own, other in zip(properties[key], values)]
    if len(dataset.class_names) < 2:
        notes.append(f"no confounding check: {len(dataset.class_names)} class(es); a property "
                     "can only be confounded with a label that varies")
        confounding = {"properties": {}, "warnings": []}
    else:
        confounding = confounding_report(properties, sub.labels, sub.task, sub.class_names)
    cooccurrence = (columns.T.astype(np.int64) @ columns.astype(np.int64)
                    if sub.task == "multilabel" else None)
    return {
        "name": dataset.name, "task": dataset.task, "class_names": list(dataset.class_names),
        "source": None if data is None else os.fspath(data), "n_listed": len(dataset),
        "n_read": int(len(kept)), "unreadable": unreadable,
        "skipped_listing": list(dataset.skipped), "split_shown": split,
        "counts": _counts(columns, split_kept, dataset.class_names),
        "patients": _patients(sub.groups, split_kept, notes), "cooccurrence": cooccurrence,
        "properties": properties, "confounding": confounding,
        "duplicates": duplicate_report(sub.ids.tolist(), records["digest"], records["phash"],
                                       split_kept, _label_text(sub), max_distance=max_distance),
        "classes": summaries, "overall": overall,
        "differences": _differences(dataset, summaries, overall, notes),
        "widths": np.asarray(records["width"]), "heights": np.asarray(records["height"]),
        "labels": sub.labels, "ids": sub.ids, "dataset": sub, "notes": notes,
        "settings": {"image_size": image_size, "n_components": n_components,
                     "n_examples": n_examples, "max_distance": max_distance, "seed": seed,
                     "split": split, "strict": strict},
        "seconds": time.perf_counter() - started}
