"""Tests of report.html, pairwise.csv, calibration and ordinal columns of a real run."""

import json
import shutil

import pandas as pd
import pytest

from benchmarks.evaluation.calibration import calibration_metrics
from benchmarks.cli import main
from benchmarks.results.predictions_table import predictions_to_arrays
from benchmarks.evaluation.ordinal import ordinal_metrics
from benchmarks.evaluation.pairwise import delong_test
from benchmarks.runner import run_benchmark

FAST = {"edge-xgb": {"n_estimators": 20}, "texture-xgb": {"n_estimators": 20}}
CLASSES = ("intact", "fracture")


@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    """Two models and their temperature-scaled versions, grades intact < fracture."""
    out = tmp_path_factory.mktemp("run")
    results = run_benchmark(data="phantoms:fracture", models=["edge-xgb", "texture-xgb"],
                            dataset_options={"n_images": 60, "image_size": 64},
                            image_size=32, model_params=FAST, n_bootstrap=100, out=out,
                            quiet=True, calibrate="temperature", ordinal=CLASSES)
    return out, results


def test_calibrated_rows_ece_brier_and_ordinal_columns(calibrated_run):
    out, results = calibrated_run
    assert results["model"].tolist() == ["edge-xgb", "edge-xgb+temperature", "texture-xgb",
                                         "texture-xgb+temperature"]
    assert (results["temperature"].notna() == results["model"].str.endswith(
        "+temperature")).all()
    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    for _, row in results.iterrows():
        test = predictions[(predictions["model"] == row["model"])
                           & (predictions["split"] == "test")]
        y, proba = predictions_to_arrays(test, task="binary", class_names=CLASSES)
        expected = {**calibration_metrics(y, proba, task="binary"),
                    **ordinal_metrics(y, proba)}
        for key, value in expected.items():
            assert row[key] == pytest.approx(value, abs=1e-9), key
    leaderboard = (out / "results.md").read_text()
    assert "ECE" in leaderboard and "QW kappa" in leaderboard and "‡" in leaderboard


def test_pairwise_csv_pairs_every_model_on_the_same_images(calibrated_run):
    out, _ = calibrated_run
    table = pd.read_csv(out / "pairwise.csv")
    assert len(table) == 6  # 4 models, every pair
    # Temperature scaling keeps the ranking: the same AUC, DeLong p = 1.
    same = table[(table["model_a"] == "edge-xgb") & (table["model_b"] == "edge-xgb+temperature")]
    assert same["delong_p"].iloc[0] == 1.0 and same["auc_difference"].iloc[0] == 0
    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    test = predictions[predictions["split"] == "test"].sort_values("id")
    pick = {m: predictions_to_arrays(test[test["model"] == m], task="binary",
                                     class_names=CLASSES) for m in ("edge-xgb", "texture-xgb")}
    expected = delong_test(pick["edge-xgb"][0], pick["edge-xgb"][1][:, 1],
                           pick["texture-xgb"][1][:, 1])
    row = table[(table["model_a"] == "edge-xgb") & (table["model_b"] == "texture-xgb")].iloc[0]
    assert row["delong_p"] == pytest.approx(expected["p_value"])


def test_report_rebuilt_from_a_half_finished_run_marks_missing_models(calibrated_run,
                                                                      tmp_path, capsys):
    out, _ = calibrated_run
    half = tmp_path / "half"
    shutil.copytree(out, half)
    for path in (half / "parts").glob("texture-xgb*"):
        path.unlink()
    (half / "report.html").unlink()
    run = json.loads((half / "run.json").read_text())
    (half / "run.json").write_text(json.dumps({**run, "status": "interrupted"}))
    assert main(["report", str(half)]) == 0
    assert capsys.readouterr().out.strip() == str(half / "report.html")
    page = (half / "report.html").read_text()
    assert "interrupted" in page and "2 of 4 part(s) finished" in page
    assert page.count("missing (not finished)") == 2
    assert "Not finished: texture-xgb, texture-xgb+temperature" in page
    rebuilt = pd.read_csv(half / "results.csv")
    assert rebuilt["model"].tolist() == ["edge-xgb", "edge-xgb+temperature"]
    # Plots left from the removed parts are not shown as if finished.
    assert "<figcaption>edge-xgb</figcaption>" in page
    assert "<figcaption>texture-xgb</figcaption>" not in page


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "not the output folder of an xray-bench run" in capsys.readouterr().err


def test_report_opens_in_a_real_browser(calibrated_run, browser_page, tmp_path):
    out, _ = calibrated_run
    page = browser_page
    errors = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((out / "report.html").resolve().as_uri())
    widths = page.evaluate("Array.from(document.images).map(image => image.naturalWidth)")
    # confusion and reliability per model (4 each), ROC, PR, 2 training histories
    assert len(widths) == 12 and all(width > 0 for width in widths)
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests)  # nothing external
    headings = page.locator("h2").all_inner_texts()
    for section in ("Leaderboard", "Per-class metrics", "Paired comparisons",
                    "Confusion matrices", "Calibration", "Run manifest (run.json)"):
        assert section in headings
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000


def test_run_options_for_calibration_and_grades():
    from benchmarks.cli import build_parser
    from benchmarks.runner import BenchmarkConfig

    args = build_parser().parse_args(["run", "--calibrate", "isotonic", "--ordinal"])
    assert (args.calibrate, args.ordinal) == ("isotonic", True)
    assert build_parser().parse_args(["run", "--ordinal", "none,mild"]).ordinal == \
        ("none", "mild")
    with pytest.raises(ValueError, match="calibrate must be None or one of"):
        BenchmarkConfig(calibrate="platt").validate()
    with pytest.raises(ValueError, match="ordinal must be"):
        BenchmarkConfig(ordinal=("only-one",)).validate()


def test_learning_curves_are_shown_where_present(calibrated_run, tmp_path):
    from benchmarks.reports.html import render_html_report

    out, _ = calibrated_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    assert "Learning curves" not in render_html_report(run)  # optional section
    pd.DataFrame({"model": ["edge-xgb"] * 4, "n_train": [10, 10, 20, 20],
                  "seed": [0, 1, 0, 1], "roc_auc": [0.6, 0.7, 0.8, 0.9],
                  "f1": [0.5, 0.5, 0.7, 0.9]}).to_csv(run / "learning_curve.csv", index=False)
    shutil.copy(run / "plots" / "roc.png", run / "plots" / "learning_curve.png")
    page = render_html_report(run)
    section = page[page.index("Learning curves</h2>"):]
    section = section[:section.index("</section>")]
    assert "<td>0.650</td><td>0.500</td>" in section  # mean over seeds at n_train 10
    assert "<td>0.850</td><td>0.800</td>" in section
    assert section.count("<img") == 1
    (run / "learning_curve.csv").write_text("something,else\n1,2\n")
    assert "no model and n_train columns" in render_html_report(run)
