"""The leaderboard as one table record, built once from a run's results and
rendered two ways: to Markdown here (``results.md``, what a run prints) and
to HTML by :mod:`benchmarks.reports.html` (``report.html``)."""

import dataclasses

import numpy as np

from benchmarks.reports.ensemble import ensemble_notes

__all__ = ["LeaderboardRow", "LeaderboardTable", "leaderboard_table", "leaderboard_markdown"]


@dataclasses.dataclass(frozen=True)
class LeaderboardRow:
    """One model's row of the leaderboard.

    Parameters
    ----------
    cells : tuple of str
        One text per column; a failed row holds only the model and
        ``"failed: <error>"``.
    failed : bool
        Whether the model failed (its error spans the row).
    """

    cells: tuple
    failed: bool = False


@dataclasses.dataclass(frozen=True)
class LeaderboardTable:
    """The leaderboard: a title, the sentence that says how it was measured,
    the columns, one row per model (best ROC AUC first) and notes.

    Examples
    --------
    >>> table = LeaderboardTable("Leaderboard: demo", "binary task.", ("Model", "F1"),
    ...                          (LeaderboardRow(("a", "0.500")),), ("a note.",))
    >>> print(leaderboard_markdown(table), end="")
    # Leaderboard: demo
    <BLANKLINE>
    binary task.
    <BLANKLINE>
    | Model | F1 |
    |---|---|
    | a | 0.500 |
    <BLANKLINE>
    - a note.
    """

    title: str
    caption: str
    columns: tuple
    rows: tuple
    notes: tuple = ()


def _cell(value, digits=3):
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _failed_row(model, error):
    return LeaderboardRow((model, "failed: " + str(error)[:80].replace("|", "/")), failed=True)


def leaderboard_table(results, *, name, task, class_names, cv=None, not_below_best=()):
    """The leaderboard of a run's results table, best ROC AUC first.

    Models in ``not_below_best`` (see :func:`benchmarks.evaluation.pairwise.not_below_best`)
    get a mark: their ROC AUC is not significantly below the best one.

    With cross-validation the table shows mean ± std over folds; otherwise
    one row per model with 95% bootstrap intervals on the test set. Failed
    models are listed with their error.

    Parameters
    ----------
    results : pandas.DataFrame
        The rows of ``results.csv`` (``error`` ``""`` where a part succeeded).
    name : str
        The dataset's name.
    task : {'binary', 'multiclass', 'multilabel'}
    class_names : sequence of str
    cv : int, optional
        The number of cross-validation folds; None for one split.
    not_below_best : collection of str

    Returns
    -------
    LeaderboardTable
    """
    if cv:
        table = results[results["fold"].astype(str) == "mean"]
    else:
        table = results
    table = table.sort_values("roc_auc", ascending=False, na_position="last")
    average = {"binary": "", "multiclass": " (macro)", "multilabel": " (macro)"}[task]
    header = ["Model", "≈ best", f"ROC AUC{average}", f"F1{average}", "Accuracy", "Sensitivity",
              "Specificity", "AP", "ECE", "Brier", "Fit (s)", "Predict (ms/img)"]
    ordinal = "quadratic_kappa" in table and table["quadratic_kappa"].notna().any()
    if ordinal:
        header[-2:-2] = ["QW kappa", "Grade MAE", "Within 1 grade"]
    has_tuned = "tuned_accuracy" in table and table["tuned_accuracy"].notna().any()
    if has_tuned:
        header[5:5] = ["Threshold (val)", "Accuracy @ val thr"]
    caption = (f"{task} task, classes: {', '.join(class_names)}; "
               + (f"{cv}-fold cross-validation (mean ± std over folds)." if cv
                  else "test set; 95% bootstrap intervals in brackets; "
                       "metrics at threshold 0.5 unless labelled."))
    rows = []
    for _, row in table.iterrows():
        if row.get("error"):
            rows.append(_failed_row(row["model"], row["error"]))
            continue

        def metric(key):
            if cv:
                return f"{_cell(row.get(key))} ± {_cell(row.get(key + '_std'))}"
            low, high = row.get(key + "_ci_low"), row.get(key + "_ci_high")
            interval = (f" [{_cell(low)}, {_cell(high)}]"
                        if low is not None and np.isfinite(low) else "")
            return _cell(row.get(key)) + interval
        per_image_ms = 1000 / row.get("images_per_second", np.nan)
        mark = "‡" if row["model"] in not_below_best else ""
        cells = [row["model"], mark, metric("roc_auc"), metric("f1"),
                 _cell(row.get("accuracy")), _cell(row.get("recall")),
                 _cell(row.get("specificity")), _cell(row.get("average_precision")),
                 _cell(row.get("ece")), _cell(row.get("brier")),
                 _cell(row.get("fit_seconds"), 1), _cell(per_image_ms, 2)]
        if ordinal:
            cells[-2:-2] = [_cell(row.get(k)) for k in ("quadratic_kappa", "grade_mae",
                                                          "within_one_accuracy")]
        if has_tuned:
            cells[5:5] = [_cell(row.get("tuned_threshold")), _cell(row.get("tuned_accuracy"))]
        rows.append(LeaderboardRow(tuple(str(c) for c in cells)))
    notes = []
    if cv:
        folds = results[~results["fold"].astype(str).isin(["mean", "pooled"])]
        for model in dict.fromkeys(folds["model"]):
            failed = folds[(folds["model"] == model) & (folds["error"] != "")]
            if len(failed) == 0:
                continue
            if len(failed) == len(folds[folds["model"] == model]):
                rows.append(_failed_row(model, failed["error"].iloc[0]))
            else:
                notes.append(f"{model}: {len(failed)} fold(s) failed and are left out of "
                             f"its mean ({failed['error'].iloc[0][:80]}).")
    if len(not_below_best):
        notes.append("≈ best, ‡: ROC AUC not significantly below the best (DeLong's test "
                     "against the best model, Holm-corrected, alpha 0.05; pairwise.csv"
                     + (", pooled out-of-fold predictions" if cv else "") + ").")
    notes += [note.removeprefix("- ") for note in ensemble_notes(results)]
    if results["error"].astype(bool).any():
        notes.append("Failed parts: see the error column of results.csv and "
                     "parts/*.traceback.txt; running the same command again retries them.")
    return LeaderboardTable(f"Leaderboard: {name}", caption, tuple(header), tuple(rows),
                            tuple(notes))


def leaderboard_markdown(table):
    """``results.md``: the leaderboard as a Markdown pipe table under its
    title and caption, the notes as a list below it."""
    width = len(table.columns)
    lines = [f"# {table.title}", "", table.caption, "",
             "| " + " | ".join(table.columns) + " |", "|" + "---|" * width]
    for row in table.rows:
        if row.failed:
            lines.append(f"| {row.cells[0]} | {row.cells[1]} |" + " |" * (width - 2))
        else:
            lines.append("| " + " | ".join(row.cells) + " |")
    if table.notes:
        lines += [""] + [f"- {note}" for note in table.notes]
    return "\n".join(lines) + "\n"
