"""One self-contained HTML page of an inspection: figures embedded, no external file.

The page uses no script and no stylesheet or image from elsewhere: figures
are PNG data URIs, so the file opens offline and can be mailed as it is.
"""

import base64
from html import escape

__all__ = ["render_page"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:.6em 1em;border-radius:4px}
.note{background:#eef3fa;border:1px solid #b5c8e3;padding:.6em 1em;border-radius:4px}
figure{margin:1em 0}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}code{background:#f4f4f4;padding:0 .2em}
"""


def _table(header, rows):
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(made, key):
    if key not in made:
        return ""
    path, caption = made[key]
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _list(items, css):
    if not items:
        return ""
    return f'<div class="{css}"><ul>' + "".join(f"<li>{escape(i)}</li>" for i in items) + \
        "</ul></div>"


def _counts(record):
    counts = record["counts"]
    parts = list(counts)
    rows = [[name] + [counts[p].get(name, 0) for p in parts] for name in record["class_names"]]
    return _table(["class"] + parts, rows)


def _properties(record):
    out = []
    confounding = record["confounding"]["properties"]
    for name, values in record["properties"].items():
        if set(values) == {"unknown"}:
            continue
        v = confounding.get(name, {}).get("cramers_v")
        shown = ", ".join(f"{k} ({n})" for k, n in values.items())
        out.append([name, shown, "—" if v is None else f"{v:.2f}"])
    return _table(["property", "values (images)", "Cramér's V with the label"], out)


def _duplicates(record):
    duplicates = record["duplicates"]
    rows = []
    for kind, label in (("exact", "exact (identical pixels)"),
                        ("near", f"near (pHash ≤ {duplicates['max_distance']} of 256 bits)")):
        entry = duplicates[kind]
        by = ", ".join(f"{k}: {v}" for k, v in entry["by_splits"].items()) or "—"
        rows.append([label, entry["n_pairs"], entry["n_across_splits"], by,
                     entry["n_labels_differ"]])
    table = _table(["kind", "pairs", "across splits", "by split", "labels differ"], rows)
    if duplicates.get("closest_distance") is not None:
        table += (f"<p>The nearest two images with different hashes are "
                  f"{duplicates['closest_distance']} bits of 256 apart.</p>")
    listed = sorted((p for kind in ("exact", "near") for p in duplicates[kind]["pairs"]),
                    key=lambda p: "/" not in p["splits"])[:30]   # across splits first
    if listed:
        table += _table(["image", "label", "image", "label", "splits", "pHash distance"],
                        [[p["a"], p["label_a"], p["b"], p["label_b"], p["splits"],
                          p.get("distance", 0)] for p in listed])
    return table


def _patients(record):
    patients = record["patients"]
    if not patients:
        return "<p>No patient ids in this dataset.</p>"
    text = (f"<p>{patients['n_patients']} patients, {patients['mean_images_per_patient']:.2f} "
            f"images per patient on average (at most {patients['max_images_per_patient']}).</p>")
    rows = [[k, v["n"], ", ".join(map(str, v["first"]))]
            for k, v in patients["across_splits"].items()]
    if rows:
        text += "<p><b>Patients in more than one split:</b></p>" + _table(
            ["splits", "patients", "first ids"], rows)
    else:
        text += "<p>No patient appears in more than one split.</p>"
    return text


def _classes(record):
    rows = []
    for c in record["classes"]:
        if c["n"]:
            ratio = c["explained_variance_ratio"]
            rows.append([c["name"], c["n"], f"{c['mean_intensity']:.1f}",
                         f"{c['rms_contrast']['median']:.3f}",
                         f"{c['michelson_contrast']['median']:.3f}",
                         "—" if ratio is None else ", ".join(f"{r:.1%}" for r in ratio)])
        else:
            rows.append([c["name"], 0, "—", "—", "—", "—"])
    return _table(["class", "images", "mean gray level", "median RMS contrast",
                   "median Michelson contrast", "variance of the eigen-images"], rows)


def render_page(record, made):
    """The HTML text of ``inspect.html``.

    Parameters
    ----------
    record : dict
        The JSON record of the inspection.
    made : dict
        ``{key: (PNG path, caption)}`` of the figures drawn.

    Examples
    --------
    >>> record = {"name": "x", "task": "binary", "class_names": ["a"], "n_read": 0,
    ...           "n_listed": 0, "n_unreadable": 0, "unreadable": [], "skipped_listing": [],
    ...           "counts": {"all": {"a": 0}}, "patients": None, "properties": {},
    ...           "confounding": {"properties": {}, "warnings": []}, "classes": [],
    ...           "duplicates": {"max_distance": 4, **{k: {"n_pairs": 0, "n_across_splits": 0,
    ...                          "by_splits": {}, "n_labels_differ": 0, "pairs": []}
    ...                          for k in ("exact", "near")}},
    ...           "notes": ["no image could be read"], "settings": {}, "command": None}
    >>> "no image could be read" in render_page(record, {})
    True
    """
    warnings = list(record["confounding"]["warnings"])
    duplicates = record["duplicates"]
    for kind, label in (("exact", "identical images"), ("near", "near-duplicate pairs")):
        if duplicates[kind]["n_across_splits"]:
            warnings.append(f"{duplicates[kind]['n_across_splits']} {label} lie across splits "
                            "(the test set then holds training images)")
    patients = record["patients"] or {}
    for key, value in patients.get("across_splits", {}).items():
        warnings.append(f"{value['n']} patient(s) have images in both {key.replace('/', ' and ')}")
    skipped = [(s["id"], s["reason"]) for s in record["unreadable"]] + \
              [(s["id"], s["reason"]) for s in record["skipped_listing"]]
    command = record.get("command")
    sections = [
        f"<h1>Dataset inspection: {escape(record['name'])}</h1>",
        f"<p>{record['n_read']} of {record['n_listed']} images read, "
        f"{record['n_unreadable']} unreadable; task {escape(record['task'])}; classes "
        f"{escape(', '.join(record['class_names']))}.</p>",
        f"<p><code>{escape(' '.join(command))}</code></p>" if command else "",
        _list(warnings, "warn"), _list(record["notes"], "note"),
        "<h2>Classes and splits</h2>", _counts(record), _figure(made, "counts"),
        "<h2>Patients</h2>", _patients(record), _figure(made, "patients"),
        _figure(made, "cooccurrence"),
        "<h2>Image properties</h2>", _properties(record), _figure(made, "sizes"),
        "<h2>What each class looks like</h2>", _classes(record), _figure(made, "mean"),
        _figure(made, "std"), _figure(made, "difference"), _figure(made, "eigen"),
        _figure(made, "histograms"), _figure(made, "contrast"),
        "<h2>Random examples</h2>",
        "".join(_figure(made, key) for key in made if key.startswith("examples-")),
        "<h2>Duplicates</h2>", _duplicates(record), _figure(made, "pairs"),
        "<h2>Skipped items</h2>",
        _table(["item", "reason"], skipped[:200]) if skipped else "<p>None.</p>",
        "<h2>Settings</h2>",
        _table(["setting", "value"], [[k, v] for k, v in record["settings"].items()]),
    ]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Inspection of {escape(record['name'])}</title><style>{_STYLE}</style>"
            "</head><body>" + "\n".join(s for s in sections if s) + "</body></html>\n")
