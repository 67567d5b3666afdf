"""``report.html``: one self-contained page per run, built from the files the
run saved (``run.json``, ``results.csv``, ``pairwise.csv``, ``predictions.csv``,
``plots/*.png``, ``learning_curve.csv`` where present); the leaderboard is the
table of ``results.md`` (:mod:`benchmarks.reports.table`), built again from
``results.csv`` and ``pairwise.csv`` and rendered here as HTML.

Every figure is embedded as a base64 ``data:`` URI and the style sheet is
inline, so the file opens offline and can be mailed as it is. Nothing here
needs the dataset or the fitted models: :func:`rebuild_outputs` remakes the
tables and plots of a run (finished or not) from its ``parts/`` folder, and
:func:`write_html_report` writes the page; ``xray-bench report DIR`` does both.
"""

import base64
import html
import json
import re
from pathlib import Path

import numpy as np

from benchmarks.parts.plan import planned_rows
from benchmarks.reports.leaderboard import run_leaderboard, write_outputs
from benchmarks.reports.saved import SavedParts, SavedRun

__all__ = ["write_html_report", "render_html_report", "rebuild_outputs"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
color:#1d232b;background:#f6f7f9}
main{max-width:1400px;margin:auto;padding:1rem 2rem 3rem}
h1{font-size:1.5rem}h2{border-bottom:2px solid #d0d5dc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem;background:#fff;
display:block;overflow-x:auto;max-width:100%;width:fit-content}
th,td{border:1px solid #d0d5dc;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#eef1f5}
.banner{padding:.6rem 1rem;border-radius:4px;margin:.8rem 0}
.warn{background:#fff3cd;border:1px solid #e0c060}.ok{background:#e3f4e6;border:1px solid #8fc79a}
.missing{color:#9a2a2a;font-style:italic}.sig{color:#0a6b2a;font-weight:bold}
figure{display:inline-block;margin:.4rem;vertical-align:top;background:#fff;padding:.3rem;
border:1px solid #d0d5dc}figure img{max-width:470px;height:auto;display:block}
figcaption{font-size:.8rem;text-align:center}
pre{background:#fff;border:1px solid #d0d5dc;padding:.6rem;overflow:auto;font-size:.75rem;
max-height:30rem}
nav a{margin-right:.8rem}
"""


def _read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_csv(path, **options):
    """A saved table (text cells unescaped), None when absent or unreadable;
    ``options`` go to ``pandas.read_csv``."""
    import pandas as pd

    from benchmarks.results.csv_cells import unescape_frame

    try:
        return (unescape_frame(pd.read_csv(path, **{"dtype": {"id": str}, **options}))
                if Path(path).is_file() else None)
    except (OSError, ValueError):
        return None


def _inside(out, path):
    """Whether ``path`` is a regular file inside ``out`` (no link leads out)."""
    try:
        return path.is_file() and path.resolve().is_relative_to(out.resolve())
    except OSError:
        return False


def _image(out, path, caption):
    path = Path(path)
    if not _inside(out, path):
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _table(header, rows, classes=None):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{classes[index]}"' if classes and classes[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _number(value, digits=3):
    try:
        value = float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    except (TypeError, ValueError):
        return html.escape(str(value))
    return "–" if not np.isfinite(value) else f"{value:.{digits}f}"


def _saved_table(path, text_columns):
    """A results table as it was written: text cells as text (only empty
    cells are missing, an error that reads "NA" is kept)."""
    return _read_csv(path, dtype=dict.fromkeys(text_columns, str), keep_default_na=False,
                     na_values=[""])


def _leaderboard_section(out, saved):
    """The leaderboard of results.md, built from results.csv and pairwise.csv."""
    results = _saved_table(out / "results.csv", ("model", "fold", "error"))
    if results is None or saved is None:
        return '<p class="missing">No results yet (results.csv missing).</p>'
    results["error"] = results["error"].astype(object).fillna("")  # all empty: read as NaN
    pairwise = _saved_table(out / "pairwise.csv", ("model_a", "model_b"))
    compared = (set() if pairwise is None
                else set(pairwise["model_a"]) | set(pairwise["model_b"]))
    if compared != set(results.loc[results["error"] == "", "model"]):
        pairwise = None  # left from an earlier write with other models: results.md had none
    table = run_leaderboard(results, pairwise, saved)
    rows = []
    for row in table.rows:  # a failed row: its error, then empty cells
        cells = [html.escape(cell).replace("‡", '<span class="sig">‡</span>')
                 for cell in row.cells]
        rows.append(cells + [""] * (len(table.columns) - len(cells)))
    return "\n".join([f"<p>{html.escape(table.caption)}</p>", _table(table.columns, rows)]
                     + [f"<p>{html.escape(note)}</p>" for note in table.notes])


def _planned_rows(run):
    """(model, fold) pairs the run's configuration asks for."""
    config = run.get("config") or {}
    n_splits = (run.get("leakage") or {}).get("n_splits") or config.get("cv") or 1
    return planned_rows(config.get("models") or [], int(n_splits), config.get("calibrate"))


def _status_section(out, run):
    from benchmarks.results.store import read_parts

    records, _ = read_parts(out / "parts")
    finished = {(r["model"], r["fold"]): r["row"].get("error", "") for r in records}
    expected = _planned_rows(run) if run else sorted(finished)
    missing = [part for part in expected if part not in finished]
    failed = [(part, error) for part, error in finished.items() if error]
    status = (run or {}).get("status", "unknown (no run.json)")
    done = len(expected) - len(missing)
    css = "ok" if status == "finished" and not missing and not failed else "warn"
    text = (f"Run status: <b>{html.escape(str(status))}</b>; {done} of {len(expected)} "
            f"part(s) finished")
    if failed:
        text += f", {len(failed)} failed"
    lines = [f'<div class="banner {css}">{text}.</div>']
    done_models = {m for (m, _), error in finished.items() if not error}
    rows = [[html.escape(m), str(f), '<span class="missing">missing (not finished)</span>']
            for m, f in missing]
    rows += [[html.escape(m), str(f), '<span class="missing">failed: '
              + html.escape(e[:200]) + "</span>"] for (m, f), e in failed]
    if rows:
        lines.append(_table(["Model", "Fold", "State"], rows))
    return "\n".join(lines), {m for m, _ in missing}, done_models


def _per_class_section(predictions, summary):
    """Precision, recall, F1 and support per class on the test images
    (threshold 0.5 / argmax; pooled over folds), from predictions.csv."""
    from sklearn.metrics import precision_recall_fscore_support

    from benchmarks.results.predictions_table import predictions_to_arrays

    task, names = summary.get("task"), summary.get("class_names")
    if predictions is None or not len(predictions) or not task or not names:
        return '<p class="missing">No predictions saved yet.</p>'
    test = predictions[predictions["split"] == "test"]
    rows = []
    for model in dict.fromkeys(test["model"]):
        y, proba = predictions_to_arrays(test[test["model"] == model], task=task,
                                         class_names=names)
        if task == "multilabel":
            pred = (proba >= 0.5).astype(int)
        else:
            proba = np.column_stack([1 - proba, proba]) if proba.ndim == 1 else proba
            pred = (proba[:, 1] >= 0.5).astype(int) if task == "binary" else proba.argmax(1)
        p, r, f, s = precision_recall_fscore_support(y, pred, labels=range(len(names)),
                                                     zero_division=0)
        rows += [[html.escape(model), html.escape(str(name)), _number(p[i]), _number(r[i]),
                  _number(f[i]), str(int(s[i]))] for i, name in enumerate(names)]
    return ("<p>Test images at threshold 0.5 (argmax for multi-class), all folds pooled "
            "with cross-validation (predictions.csv).</p>"
            + _table(["Model", "Class", "Precision", "Recall", "F1", "Support"], rows))


def _pairwise_section(pairwise):
    if pairwise is None or not len(pairwise):
        return "<p>Paired tests need at least two finished models (pairwise.csv).</p>"
    models = list(dict.fromkeys(list(pairwise["model_a"]) + list(pairwise["model_b"])))
    auc = {m: [""] * len(models) for m in models}
    accuracy = {m: [""] * len(models) for m in models}
    for _, row in pairwise.iterrows():
        i, j = models.index(row["model_a"]), models.index(row["model_b"])
        for a, b, k, sign in ((row["model_a"], row["model_b"], j, 1),
                              (row["model_b"], row["model_a"], i, -1)):
            low, high = sign * row["auc_difference_ci_low"], sign * row["auc_difference_ci_high"]
            auc[a][k] = (f"{_number(sign * row['auc_difference'])} "
                         f"[{_number(min(low, high))}, {_number(max(low, high))}]<br>"
                         f"p = {_number(row['delong_p'], 4)}")
            accuracy[a][k] = f"p = {_number(row['mcnemar_p'], 4)}"
    header = ["row − column"] + models
    return ("<p>ROC AUC difference (row minus column) with its paired-bootstrap 95% CI and "
            "DeLong's p-value:</p>"
            + _table(header, [[html.escape(m)] + auc[m] for m in models])
            + "<p>McNemar's exact test of accuracy (at each model's chosen threshold):</p>"
            + _table(header, [[html.escape(m)] + accuracy[m] for m in models])
            + "<p>Raw and Holm-adjusted p-values: pairwise.csv.</p>")


def _learning_section(out):
    curve = _read_csv(out / "learning_curve.csv")
    images = [p for folder in (out, out / "plots")
              for p in sorted(folder.glob("learning_curve*.png"))]
    if curve is None and not images:
        return None
    parts = [_image(out, p, p.stem) for p in images]
    if curve is not None and {"model", "n_train"} <= set(curve.columns):
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        metrics = [c for c in curve.columns if c not in ("model", "n_train", "seed", "fold")
                   and is_numeric_dtype(curve[c]) and not is_bool_dtype(curve[c])]
        summary = curve.groupby(["model", "n_train"], sort=False)[metrics].mean().reset_index()
        parts.append(_table(["Model", "Training images"] + metrics + ([""] if not metrics else []),
                            [[html.escape(str(r["model"])), str(r["n_train"])]
                             + [_number(r[m]) for m in metrics] for _, r in summary.iterrows()]))
        parts.append("<p>Mean over seeds (learning_curve.csv).</p>")
    elif curve is not None:
        parts.append('<p class="missing">learning_curve.csv has no model and n_train '
                     "columns; not shown.</p>")
    return "\n".join(parts)


def render_html_report(out):
    """The report page of the run in ``out``, as an HTML string.

    Parameters
    ----------
    out : str or Path
        A run's output directory.

    Returns
    -------
    str

    Examples
    --------
    >>> page = render_html_report(tmp_path)  # doctest: +SKIP
    """
    out = Path(out)
    run = _read_json(out / "run.json") or {}
    summary = (run.get("dataset") or {}).get("summary") or {}
    title = f"xray-bench: {summary.get('name') or out.name}"
    plots = out / "plots"
    status, missing_models, done_models = _status_section(out, run)
    results = _read_csv(out / "results.csv")
    order = list(dict.fromkeys(results["model"])) if results is not None else []

    def in_run_order(name):
        return (order.index(name) if name in order else len(order), name)
    sections = [("Status", status)]
    sections.append(("Leaderboard", _leaderboard_section(out, SavedRun.from_record(run,
                                                                              out.name))))
    predictions = _read_csv(out / "predictions.csv")
    sections.append(("Per-class metrics", _per_class_section(predictions, summary)))
    sections.append(("Paired comparisons", _pairwise_section(_read_csv(out / "pairwise.csv"))))

    def figures(pattern, caption):
        """Plots of finished models only: a rebuilt half-finished run may
        still hold plots of parts that are gone."""
        paths = sorted(plots.glob(pattern), key=lambda p: in_run_order(
            re.sub(r"_fold\d+$", "", caption(p))))
        found = [_image(out, p, caption(p)) for p in paths
                 if "_" not in pattern or re.sub(r"_fold\d+$", "", caption(p)) in done_models]
        return "".join(found) or '<p class="missing">No plot yet.</p>'
    sections.append(("Confusion matrices", figures("confusion_*.png",
                                                   lambda p: p.stem[len("confusion_"):])))
    sections.append(("ROC and precision-recall curves",
                     figures("roc.png", lambda p: "ROC") + figures("pr.png", lambda p: "PR")))
    calibration = figures("reliability_*.png", lambda p: p.stem[len("reliability_"):])
    if results is not None and "ece" in results:
        temperature = "temperature" in results
        calibration = _table(["Model", "Fold", "ECE", "Brier"] + ["Temperature"] * temperature, [
            [html.escape(str(r["model"])), html.escape(str(r["fold"])), _number(r["ece"]),
             _number(r["brier"])] + ([_number(r["temperature"])] if temperature else [])
            for _, r in results.iterrows() if str(r["fold"]) != "mean"]) + calibration
    sections.append(("Calibration", calibration))
    history = figures("history_*.png", lambda p: p.stem[len("history_"):])
    sections.append(("Training curves", history))
    learning = _learning_section(out)
    if learning is not None:
        sections.append(("Learning curves", learning))
    dataset = run.get("dataset") or {}
    skipped = dataset.get("skipped") or []
    sections.append(("Skipped files", f"<p>{int(dataset.get('n_skipped') or 0)} file(s) "
                     "skipped" + (" (first 100 listed)" if skipped else "") + ".</p>"
                     + (_table(["File", "Reason"], [[html.escape(str(a)), html.escape(str(b))]
                                                    for a, b in skipped]) if skipped else "")))
    manifest = (html.escape(json.dumps(run, indent=1)) if run else "run.json is missing.")
    sections.append(("Run manifest (run.json)", f"<pre>{manifest}</pre>"))
    if missing_models:
        note = ('<p class="missing">Not finished: ' + html.escape(", ".join(
            sorted(missing_models))) + ".</p>")
        sections[1] = (sections[1][0], sections[1][1] + note)

    anchors = [f"s{i}" for i in range(len(sections))]
    nav = "".join(f'<a href="#{a}">{html.escape(name)}</a>'
                  for a, (name, _) in zip(anchors, sections))
    body = "\n".join(f'<section id="{a}"><h2>{html.escape(name)}</h2>\n{content}</section>'
                     for a, (name, content) in zip(anchors, sections))
    task = summary.get("task", "")
    classes = ", ".join(map(str, summary.get("class_names") or []))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><main>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(str(task))} task; classes: "
            f"{html.escape(classes)}; updated {html.escape(str(run.get('updated', '?')))}."
            f"</p><nav>{nav}</nav>\n{body}\n</main></body></html>\n")


def write_html_report(out):
    """Write ``out/report.html`` from the run's saved files; return its path.

    Examples
    --------
    >>> write_html_report("xray-bench-results")  # doctest: +SKIP
    PosixPath('xray-bench-results/report.html')
    """
    from benchmarks.results.store import write_atomic

    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"'{out}' is not a directory; give the --out folder of a run.")
    path = out / "report.html"
    write_atomic(path, render_html_report(out))
    return path


def rebuild_outputs(out):
    """Remake results.csv/json/md, pairwise.csv, predictions.csv and plots
    from the finished parts in ``out/parts`` (also of a run still going or
    interrupted), using the task and class names recorded in ``run.json``.

    Returns
    -------
    results : pandas.DataFrame or None
        None when there is nothing to rebuild from (no run.json or no parts).
    """
    out = Path(out)
    saved = SavedRun.from_record(_read_json(out / "run.json"), out.name)
    if saved is None or not (out / "parts").is_dir():
        return None
    return write_outputs(out, SavedParts.read(out / "parts"), saved)
