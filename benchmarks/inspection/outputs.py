"""Write an inspection: PNG figures, ``inspect.json``, ``inspect.html``, a printed summary.

Layout of the output folder::

    OUT/inspect.json      every number, the warnings and the figure list
    OUT/inspect.html      one self-contained page (figures embedded)
    OUT/figures/*.png     the figures

The folder may hold other files; the toolkit writes only these names and
overwrites them only where an earlier ``inspect.json`` of its own is present,
and never writes through a symbolic link.
"""

import json
import re
from pathlib import Path

import numpy as np

from benchmarks.inspection import figures as draw

__all__ = ["prepare_output", "write_inspection", "format_summary"]

_TOOL = "xray-bench inspect"


def _ours(out):
    try:
        record = json.loads((out / "inspect.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("tool") == _TOOL else None


def prepare_output(out):
    """Check (before any work) that ``out`` can take an inspection; return it as a Path.

    Raises ``ValueError`` for a symbolic link, or for an ``inspect.html`` or
    ``figures/`` the toolkit did not write there.

    Examples
    --------
    >>> import tempfile
    >>> prepare_output(Path(tempfile.mkdtemp()) / "new").name
    'new'
    """
    out = Path(out)
    for path in (out, out / "inspect.json", out / "inspect.html", out / "figures"):
        if path.is_symlink():
            raise ValueError(f"'{path}' is a symbolic link; give an output folder of real "
                             "files (the inspection never writes through a link).")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out '{out}' is a file; give a folder.")
    if _ours(out) is None:
        taken = [p.name for p in (out / "inspect.json", out / "inspect.html", out / "figures")
                 if p.exists()]
        if taken:
            raise ValueError(f"'{out}' already holds {taken}, not written by {_TOOL}; give "
                             "another --out so that nothing of yours is overwritten.")
    return out


def _safe_name(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-")[:40] or "class"


def _figures(result, folder):
    """Draw every figure the results allow; return {key: (path, caption)}."""
    names, summaries = result["class_names"], result["classes"]
    present = [(name, s) for name, s in zip(names, summaries) if s["n"]]
    made = {}

    def add(key, path, caption):
        made[key] = (path, caption)

    if result["n_read"]:
        add("counts", draw.plot_counts(result["counts"], folder / "counts.png"),
            "Images per class and split")
    if len(set(result["properties"]["size"])) > 1:
        add("sizes", draw.plot_sizes(result["widths"], result["heights"], result["labels"],
                                     names, folder / "sizes.png"), "Native image sizes")
    patients = result["patients"]
    if patients:
        add("patients", draw.plot_bars(patients["images_per_patient"],
                                       folder / "images_per_patient.png",
                                       title="Images per patient", xlabel="images",
                                       ylabel="patients"), "Images per patient")
    if result["cooccurrence"] is not None and result["n_read"]:
        add("cooccurrence", draw.plot_cooccurrence(result["cooccurrence"], names,
                                                   folder / "cooccurrence.png"),
            "Label co-occurrence")
    if present:
        add("mean", draw.plot_image_row([s["mean"] for _, s in present],
                                        [f"{n} (n={s['n']})" for n, s in present],
                                        folder / "mean_images.png", title="Mean image"),
            "Mean image per class")
        vmax = max(float(s["std"].max()) for _, s in present) or 1.0
        add("std", draw.plot_image_row([s["std"] for _, s in present], [n for n, _ in present],
                                       folder / "std_images.png",
                                       title="Standard-deviation image", vmax=vmax,
                                       cmap="magma"), "Standard-deviation image per class")
        add("histograms", draw.plot_histograms([s["histogram"] for _, s in present],
                                               [n for n, _ in present],
                                               folder / "histograms.png"),
            "Intensity histograms")
        add("contrast", draw.plot_contrast([s["rms"] for _, s in present],
                                           [s["michelson"] for _, s in present],
                                           [n for n, _ in present], folder / "contrast.png"),
            "Contrast distributions")
    if result["differences"]:
        add("difference", draw.plot_difference([d for _, d in result["differences"]],
                                               [t for t, _ in result["differences"]],
                                               folder / "difference.png"),
            "Mean-difference images")
    eigen = [(n, s["components"], s["explained_variance_ratio"]) for n, s in present
             if s["components"] is not None]
    if eigen:
        add("eigen", draw.plot_eigen_images(eigen, folder / "eigen_images.png"),
            "Eigen-images per class")
    for k, (name, summary) in enumerate(present):
        if summary["examples"]:
            add(f"examples-{name}", draw.plot_examples(
                summary["examples"], folder / f"examples_{k}_{_safe_name(name)}.png",
                title=f"{name}: random examples"), f"Random examples of {name}")
    pairs = _pair_images(result)
    if pairs:
        add("pairs", draw.plot_pairs(pairs, folder / "duplicate_pairs.png",
                                     title="Duplicates across splits first"),
            "Duplicate and near-duplicate pairs")
    return made


def _pair_images(result, limit=6):
    """A few duplicate pairs (across splits first), decoded again at the working size."""
    from benchmarks.inspection.describe import describe_image

    ranked = {kind: [(kind, p) for p in sorted(result["duplicates"][kind]["pairs"],
                                              key=lambda p: "/" not in p["splits"])]
              for kind in ("exact", "near")}
    # Half of each kind where both have pairs; the other kind fills the rest.
    chosen = ranked["exact"][:limit // 2] + ranked["near"][:limit // 2]
    chosen += [p for p in ranked["exact"] + ranked["near"] if p not in chosen][
        :limit - len(chosen)]
    if not chosen:
        return []
    dataset, size = result["dataset"], result["settings"]["image_size"]
    position = {identifier: k for k, identifier in enumerate(dataset.ids.tolist())}

    def image(identifier):
        k = position[identifier]
        item = dataset.images[k] if dataset.images is not None else dataset.paths[k]
        return describe_image(item, size)["image"]

    out = []
    for kind, pair in chosen:
        tag = f"{kind}" + (f", d={pair['distance']}" if "distance" in pair else "")
        try:
            first, second = image(pair["a"]), image(pair["b"])
        except (OSError, ValueError):   # changed on disk since the pass: leave the pair out
            continue
        out.append((f"{draw._short(pair['a'])} ({pair['label_a']})", first,
                    f"{draw._short(pair['b'])} ({pair['label_b']}; {tag})", second))
    return out


def _class_record(name, summary):
    record = {"name": name, "n": summary["n"]}
    if summary["n"]:
        histogram = summary["histogram"]
        record.update(
            mean_intensity=float(histogram @ np.arange(256)),
            mean_image_mean=float(summary["mean"].mean()),
            histogram=[round(float(v), 6) for v in histogram],
            rms_contrast={q: float(np.quantile(summary["rms"], p)) for q, p in
                          (("p10", 0.1), ("median", 0.5), ("p90", 0.9))},
            michelson_contrast={q: float(np.quantile(summary["michelson"], p)) for q, p in
                                (("p10", 0.1), ("median", 0.5), ("p90", 0.9))},
            examples=[identifier for identifier, _ in summary["examples"]],
            explained_variance_ratio=None if summary["explained_variance_ratio"] is None
            else [float(v) for v in summary["explained_variance_ratio"]],
            pca_reason=summary["pca_reason"])
    return record


def _value_counts(values, top=10):
    from collections import Counter

    counts = Counter("unknown" if v is None else str(v) for v in values)
    return dict(counts.most_common(top))


def json_record(result, figure_names, command=None):
    """The JSON-ready part of an inspection (no pixel arrays)."""
    differences = [{"title": title, "mean": float(image.mean()), "min": float(image.min()),
                    "max": float(image.max())} for title, image in result["differences"]]
    return {
        "tool": _TOOL, "command": command, "name": result["name"], "source": result["source"],
        "task": result["task"], "class_names": result["class_names"],
        "n_listed": result["n_listed"], "n_read": result["n_read"],
        "n_unreadable": len(result["unreadable"]),
        "unreadable": [{"id": i, "reason": r} for i, r in result["unreadable"]],
        "skipped_listing": [{"id": i, "reason": r} for i, r in result["skipped_listing"]],
        "counts": result["counts"], "patients": result["patients"],
        "cooccurrence": None if result["cooccurrence"] is None
        else np.asarray(result["cooccurrence"]).tolist(),
        "properties": {name: _value_counts(values) for name, values in
                       result["properties"].items()},
        "confounding": result["confounding"], "duplicates": result["duplicates"],
        "classes": [_class_record(n, s) for n, s in zip(result["class_names"],
                                                         result["classes"])],
        "differences": differences, "notes": result["notes"],
        "settings": result["settings"], "seconds": round(result["seconds"], 2),
        "figures": figure_names}


def write_inspection(result, out, *, command=None):
    """Write the figures, ``inspect.json`` and ``inspect.html``; return the JSON record."""
    from benchmarks.inspection.page import render_page
    from benchmarks.results.store import json_default, write_atomic

    out = prepare_output(out)
    folder = out / "figures"
    earlier = _ours(out)
    if earlier:   # figures of an earlier inspection here that this one may not redraw
        for name in earlier.get("figures", []):
            stale = folder / Path(name).name
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    links = sorted(p.name for p in folder.iterdir() if p.is_symlink())
    if links:
        raise ValueError(f"'{folder}' holds symbolic links {links[:3]}; the inspection never "
                         "writes through a link: give another --out.")
    made = _figures(result, folder)
    record = json_record(result, [f"figures/{p.name}" for p, _ in made.values()], command)
    write_atomic(out / "inspect.json", json.dumps(record, indent=1, default=json_default))
    write_atomic(out / "inspect.html", render_page(record, made))
    return record


def format_summary(record, out=None, seconds=None):
    """A few lines for the terminal; ``seconds`` is the whole command's time
    (default: the pass over the images)."""
    lines = [f"{record['name']}: {record['n_read']} of {record['n_listed']} images read "
             f"({record['n_unreadable']} unreadable"
             + (f", {len(record['skipped_listing'])} other item(s) skipped while listing"
                if record["skipped_listing"] else "") + f"), {record['task']}"]
    for part, counts in record["counts"].items():
        lines.append(f"  {part:<5} " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    for name in ("size", "format", "bit depth", "photometric", "view"):
        values = record["properties"].get(name, {})
        if values and set(values) != {"unknown"}:
            lines.append(f"  {name}: " + ", ".join(f"{k} ({v})" for k, v in
                                                   list(values.items())[:4]))
    for c in record["classes"]:
        if c["n"]:
            lines.append(f"  {c['name']}: mean gray level {c['mean_intensity']:.1f}, median "
                         f"RMS contrast {c['rms_contrast']['median']:.3f}, Michelson "
                         f"{c['michelson_contrast']['median']:.3f}")
    for d in record["differences"]:
        lines.append(f"  mean difference {d['title']}: {d['mean']:+.1f} gray levels "
                     f"(range {d['min']:+.0f} to {d['max']:+.0f})")
    duplicates = record["duplicates"]
    for kind, label in (("exact", "exact duplicates"),
                        ("near", f"near-duplicates (pHash distance <= "
                                 f"{duplicates['max_distance']})")):
        entry = duplicates[kind]
        where = ", ".join(f"{k} {v}" for k, v in sorted(entry["by_splits"].items()))
        lines.append(f"  {label}: {entry['n_pairs']} pair(s), {entry['n_across_splits']} "
                     f"across splits" + (f" ({where})" if where else ""))
    if duplicates.get("closest_distance") is not None:
        lines.append(f"  nearest two images with different hashes: "
                     f"{duplicates['closest_distance']} of 256 bits apart")
    patients = record["patients"]
    if patients:
        across = sum(v["n"] for v in patients["across_splits"].values())
        lines.append(f"  patients: {patients['n_patients']}, {across} in more than one split")
    for warning in record["confounding"]["warnings"]:
        lines.append(f"  warning: {warning}")
    for note in record["notes"]:
        lines.append(f"  note: {note}")
    if out is not None:
        seconds = record["seconds"] if seconds is None else seconds
        lines.append(f"Report in {Path(out) / 'inspect.html'} ({seconds:.0f} s)")
    return "\n".join(lines)
