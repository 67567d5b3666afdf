"""The calibrated version of one fitted model's part: a post-hoc
calibration fitted on its validation predictions, scored like any model."""

import time

from benchmarks.evaluation.calibration import fit_calibrator
from benchmarks.evaluation.scoring import ScoringSettings, score_part
from benchmarks.results.predictions_table import prediction_frame

__all__ = ["calibrated_part"]


def calibrated_part(row, dataset, split, proba_test, proba_val, config):
    """The row and predictions of the model after post-hoc calibration,
    fitted on its validation predictions only.

    Parameters
    ----------
    row : dict
        The uncalibrated part's metrics row (its sizes and timings are kept).
    dataset : benchmarks.Dataset
    split : benchmarks.Split
    proba_test, proba_val : ndarray or None
        The model's probabilities, one column per class.
    config : benchmarks.BenchmarkConfig
        ``config.calibrate`` names the method.

    Returns
    -------
    (row, predictions)
        The row of ``<model>+<method>`` (with ``temperature`` for temperature
        scaling, or an ``error`` when no validation set exists or the fit
        fails, predictions then None).

    Examples
    --------
    >>> calibrated_part(row, dataset, split, proba_test, proba_val,
    ...                 config)  # doctest: +SKIP
    """
    name = f"{row['model']}+{config.calibrate}"
    keep = ("fold", "n_train", "n_val", "n_test", "fit_seconds", "predict_seconds",
            "images_per_second")
    variant = {"model": name, **{key: row[key] for key in keep}, "error": "",
               "calibration": config.calibrate}
    if proba_val is None:
        variant["error"] = "ValueError: no validation set to fit the calibration on"
        return variant, None
    try:
        start = time.perf_counter()
        calibrator = fit_calibrator(dataset.labels[split.val], proba_val,
                                    method=config.calibrate, task=dataset.task)
        variant["fit_seconds"] += time.perf_counter() - start
        if calibrator.temperature_ is not None:
            variant["temperature"] = calibrator.temperature_
        test, val = calibrator.transform(proba_test), calibrator.transform(proba_val)
        variant.update(score_part(dataset, split, test, val,
                                  ScoringSettings.from_config(config)))
        return variant, prediction_frame(name, dataset, split, test, val)
    except Exception as error:  # a failed calibration must not end the run
        variant["error"] = f"{type(error).__name__}: {error}".replace("\n", " ")
        return variant, None

