"""Learning-curve outputs, built from the saved parts of a run.

- ``learning_curve.csv``: one row per (model, fold, train size, curve seed)
  with every column of the run's ``results.csv`` rows (the same scoring path,
  :func:`benchmarks.evaluation.scoring.score_part`) plus ``train_size`` (the size asked
  for, or ``all``), ``n_train`` (images the model was fitted on) and
  ``seed`` (which seeded subset: 0, 1, ...; its subset and model are seeded
  with the run's seed plus this). The ``all`` rows are the run's own
  (model, fold) parts.
- ``learning_curve_predictions.csv``: the validation and test predictions of
  every row, in the ``predictions.csv`` layout plus ``train_size``,
  ``n_train`` and ``seed``, so every number can be recomputed. It is a
  file of its own so that ``predictions.csv`` keeps one fit per (model, fold)
  for every reader of it.
- ``learning_curve_subsets.csv``: the training images of every point.
- ``plots/learning_curve.png``: ROC AUC and F1 against training-set size,
  drawn from the saved ``learning_curve.csv``.
"""

from pathlib import Path


from benchmarks.results.csv_cells import frame_to_csv
from benchmarks.results.outdir import record_outputs, write_output
from benchmarks.results.predictions_table import predictions_csv
from xray_features.utils import make_folders

__all__ = ["write_learning_curve", "plot_learning_curve", "CURVE_COLUMNS"]

#: Leading columns of learning_curve.csv; every metric column follows.
CURVE_COLUMNS = ("model", "fold", "train_size", "n_train", "seed")


_LABELS = {"roc_auc": "ROC AUC", "f1": "F1", "accuracy": "Accuracy",
           "average_precision": "Average precision", "tuned_accuracy": "Accuracy @ val thr"}


def _size_rank(size):
    return float("inf") if str(size) == "all" else int(size)


def write_learning_curve(out, store, dataset, config, points):
    """Write the learning-curve CSVs and plot of a finished run.

    Parameters
    ----------
    out : Path
        The run's output directory.
    store : benchmarks.results.store.ResultStore
    dataset : benchmarks.Dataset
    config : benchmarks.BenchmarkConfig
    points : list of benchmarks.evaluation.learning_curves.CurvePoint

    Returns
    -------
    curve : pandas.DataFrame
        The table written to ``learning_curve.csv``.

    Examples
    --------
    >>> write_learning_curve(out, store, dataset, config, points)  # doctest: +SKIP
    """
    import pandas as pd

    from benchmarks.reports.leaderboard import RESULT_COLUMNS

    out = Path(out)
    base_records, base_predictions = store.load_parts()
    keyed_records, keyed_predictions = store.load_parts(keyed=True)
    records = {(r["model"], r["fold"], r.get("key", "")): r
               for r in base_records + keyed_records}
    rows, frames = [], []
    for point in points:
        for name in config.models:
            record = records.get((name, point.fold, point.key))
            if record is None:
                continue
            rows.append({**record["row"], "train_size": point.train_size,
                         "seed": point.curve_seed})
    if len(base_predictions):
        base = base_predictions[base_predictions["model"].isin(config.models)]
        n_train = {(r["model"], r["fold"]): r["row"]["n_train"] for r in base_records}
        frames.append(base.assign(
            train_size="all", seed=0,
            n_train=[n_train[key] for key in zip(base["model"], base["fold"])]))
    if len(keyed_predictions):
        frames.append(keyed_predictions[keyed_predictions["model"].isin(config.models)])

    curve = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(config.models)}
    columns = [c for c in dict.fromkeys(CURVE_COLUMNS + RESULT_COLUMNS) if c in curve]
    if len(curve):
        curve = curve[columns + [c for c in curve.columns if c not in columns]]
        curve["error"] = curve["error"].fillna("")
        curve = _sorted(curve, order)
    write_output(out, "learning_curve.csv", frame_to_csv(curve))
    predictions = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(predictions):
        planned = {(p.fold, p.train_size, p.curve_seed) for p in points}
        keep = [key in planned for key in zip(predictions["fold"],
                                              predictions["train_size"].astype(str),
                                              predictions["seed"])]
        predictions = _sorted(predictions[keep], order)
    write_output(out, "learning_curve_predictions.csv", predictions_csv(predictions))
    subsets = pd.concat([pd.DataFrame({"id": dataset.ids[p.train], "fold": p.fold,
                                       "train_size": p.train_size,
                                       "seed": p.curve_seed}) for p in points])
    write_output(out, "learning_curve_subsets.csv", frame_to_csv(subsets))
    saved = pd.read_csv(out / "learning_curve.csv", dtype={"train_size": str})
    if len(saved) and saved["roc_auc"].notna().any():
        plots = out / "plots"  # a real folder in the run's folder, listed before writing
        record_outputs(out, make_folders(plots, out) + [plots, plots / "learning_curve.png"])
        plot_learning_curve(saved, plots / "learning_curve.png",
                            title=f"Learning curve: {dataset.name}")
    return curve


def _sorted(frame, order):
    """Rows by model (run order), fold, size (ascending, ``all`` last), seed."""
    return frame.sort_values(
        ["model", "fold", "train_size", "seed"], kind="stable",
        key=lambda column: (column.map(order) if column.name == "model" else
                            column.astype(str).map(_size_rank) if column.name == "train_size"
                            else column)).reset_index(drop=True)


def plot_learning_curve(curve, path, *, metrics=("roc_auc", "f1"), title="Learning curve",
                        dpi=120):
    """Plot metrics against training-set size: one line per model (median
    over curve seeds and folds) with a min–max band, on a log x axis.

    Parameters
    ----------
    curve : pandas.DataFrame
        Rows of ``learning_curve.csv`` (``model``, ``train_size``,
        ``n_train`` and the metric columns); rows with an error are left out.
    path : str or Path
        Where to write the PNG (parent folders are created).
    metrics : sequence of str
        Metric columns, one panel each.
    title : str
    dpi : int

    Returns
    -------
    path : Path

    Raises
    ------
    ValueError
        If a column is missing or no row has a value to plot.

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"model": ["a"] * 3, "train_size": ["10", "10", "all"],
    ...                       "n_train": [10, 10, 40], "roc_auc": [0.6, 0.7, 0.9],
    ...                       "f1": [0.5, 0.6, 0.8]})
    >>> plot_learning_curve(curve, tmp_path / "curve.png")  # doctest: +SKIP
    PosixPath('.../curve.png')
    """
    from matplotlib.figure import Figure

    missing = [c for c in ("model", "train_size", "n_train", *metrics) if c not in curve]
    if missing:
        raise ValueError(f"curve needs the columns of learning_curve.csv; missing {missing}.")
    if "error" in curve:
        curve = curve[curve["error"].isna() | (curve["error"].astype(str) == "")]
    curve = curve.assign(train_size=curve["train_size"].astype(str))
    if not len(curve) or curve[list(metrics)].isna().all().all():
        raise ValueError("curve holds no finished rows to plot.")
    figure = Figure(figsize=(5.2 * len(metrics), 4.2), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    names = list(dict.fromkeys(curve["model"]))
    for ax, metric in zip(axes, metrics):
        for index, name in enumerate(names):
            rows = curve[curve["model"] == name]
            stats = rows.groupby("train_size").agg(
                x=("n_train", "median"), median=(metric, "median"),
                low=(metric, "min"), high=(metric, "max")).dropna()
            stats = stats.sort_values("x")
            colour = f"C{index % 10}"
            ax.plot(stats["x"], stats["median"], marker="o", color=colour, label=name)
            ax.fill_between(stats["x"], stats["low"], stats["high"], color=colour,
                            alpha=0.2, linewidth=0)
        ax.set_xscale("log")
        ticks = sorted(set(curve.groupby(["model", "train_size"])["n_train"].median()))
        ax.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training images")
        ax.set_ylabel(_LABELS.get(metric, metric))
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    figure.suptitle(f"{title} (median over seeds, band: min–max)", fontsize=10)
    from benchmarks.reports.plots import _save

    return _save(figure, path, dpi)
