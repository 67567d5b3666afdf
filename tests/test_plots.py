import numpy as np
import pytest

from benchmarks.reports.plots import (plot_confusion_matrix, plot_pr_curves, plot_roc_curves,
                                      plot_training_history)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_real_png(path):
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].std() > 0.02  # not a blank canvas


def binary_curves():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 120)
    good = np.clip(0.5 * y + 0.5 * rng.random(120), 0, 1)
    return {"good": (y, good), "chance": (y, rng.random(120))}


def test_confusion_matrix_plot_writes_a_png(tmp_path):
    counts = np.array([[50, 3, 2], [4, 40, 6], [1, 2, 30]])
    path = plot_confusion_matrix(counts, ["normal", "pneumonia", "covid"],
                                 tmp_path / "plots" / "cm.png", title="model")
    assert path == tmp_path / "plots" / "cm.png"
    assert_real_png(path)


def test_multilabel_confusion_matrices_get_one_panel_per_label(tmp_path):
    counts = np.array([[[30, 2], [3, 5]], [[20, 4], [6, 10]], [[35, 1], [2, 2]]])
    assert_real_png(plot_confusion_matrix(counts, ["a", "b", "c"], tmp_path / "ml.png"))


def test_confusion_matrix_plot_validates_its_input(tmp_path):
    with pytest.raises(ValueError, match="\\(K, K\\) matrix"):
        plot_confusion_matrix(np.ones((2, 3)), ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="one name per row"):
        plot_confusion_matrix(np.eye(2, dtype=int), ["a"], tmp_path / "x.png")


@pytest.mark.parametrize("plot", [plot_roc_curves, plot_pr_curves])
def test_curve_plots_overlay_models(plot, tmp_path):
    path = plot(binary_curves(), tmp_path / "curves.png")
    assert_real_png(path)


@pytest.mark.parametrize("plot", [plot_roc_curves, plot_pr_curves])
def test_curve_plots_micro_average_multiclass_and_multilabel(plot, tmp_path):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    proba = rng.random((90, 3)) + np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 2, (90, 4))
    curves = {"multiclass": (y, proba),
              "multilabel": (labels, np.clip(0.4 * labels + 0.6 * rng.random((90, 4)), 0, 1))}
    assert_real_png(plot(curves, tmp_path / "micro.png"))


def test_curve_plots_refuse_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match="matching shapes"):
        plot_roc_curves({"m": ([0, 1, 1], [0.2, 0.8])}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="non-empty dict"):
        plot_pr_curves({}, tmp_path / "x.png")


def test_training_history_plot(tmp_path):
    history = {"loss": [0.9, 0.6, 0.45, 0.4], "val_loss": [0.95, 0.7, 0.6, 0.62],
               "accuracy": [0.6, 0.75, 0.82, 0.85], "val_accuracy": [0.55, 0.7, 0.74, 0.73],
               "auc": [], "learning_rate": [1e-3, 1e-3, 5e-4, 5e-4]}
    assert_real_png(plot_training_history(history, tmp_path / "history.png"))
    with pytest.raises(ValueError, match="no values"):
        plot_training_history({"loss": []}, tmp_path / "empty.png")
    with pytest.raises(TypeError, match="dict of per-epoch lists"):
        plot_training_history([0.9, 0.6], tmp_path / "list.png")


def test_plots_leave_no_pyplot_figure_open(tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot_roc_curves(binary_curves(), tmp_path / "roc.png")
    plot_confusion_matrix(np.eye(2, dtype=int), ["a", "b"], tmp_path / "cm.png")
    assert plt.get_fignums() == before
