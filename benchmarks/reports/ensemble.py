"""What a run's outputs say about its ensemble: ``ensemble.json`` and the
leaderboard's notes on members and weights, both read from the saved rows
of the ensemble part (:mod:`benchmarks.parts.ensemble` computes them)."""

import json

from benchmarks.evaluation.ensemble import ENSEMBLE
from benchmarks.results.outdir import write_output

__all__ = ["ensemble_notes", "write_ensemble_record"]


def ensemble_notes(results):
    """Leaderboard notes: the members and weights of each ensemble row.

    Examples
    --------
    >>> import pandas as pd
    >>> ensemble_notes(pd.DataFrame({"model": ["ensemble"], "fold": [0],
    ...     "ensemble_weights": ['{"a": 0.75, "b": 0.25}'], "ensemble_metric": ["roc_auc"],
    ...     "ensemble_val_score": [0.9]}))
    ['- ensemble: a × 0.75 + b × 0.25, chosen on the validation set (ROC AUC 0.900 there).']
    """
    if "ensemble_weights" not in results:
        return []
    notes = []
    rows = results[(results["model"] == ENSEMBLE) & results["ensemble_weights"].notna()]
    for _, row in rows.iterrows():
        weights = json.loads(row["ensemble_weights"])
        fold = f" (fold {row['fold']})" if len(rows) > 1 else ""
        metric = "ROC AUC" if row["ensemble_metric"] == "roc_auc" else "log-loss"
        notes.append(f"- {ENSEMBLE}{fold}: "
                     + " + ".join(f"{name} × {weight:.2f}" for name, weight in weights.items())
                     + f", chosen on the validation set ({metric} "
                     f"{row['ensemble_val_score']:.3f} there).")
    return notes


def write_ensemble_record(out, records):
    """Write ``ensemble.json`` (members, weights and scores per fold) when
    the run has a finished ensemble part."""
    chosen = [{"fold": r["fold"], "weights": json.loads(r["row"]["ensemble_weights"]),
               "metric": r["row"]["ensemble_metric"],
               "val_score": r["row"]["ensemble_val_score"],
               "candidates": json.loads(r["row"]["ensemble_candidates"]),
               "selection_seconds": r["row"]["fit_seconds"],
               "members_fit_seconds": r["row"]["members_fit_seconds"],
               "model_saved": r["row"].get("model_saved")}
              for r in records if r["model"] == ENSEMBLE and not r["row"].get("error")]
    if chosen:
        write_output(out, "ensemble.json", json.dumps(chosen, indent=1))
