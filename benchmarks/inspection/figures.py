"""Figures of a dataset inspection, drawn from the computed summaries.

Each function takes arrays (never images still to be decoded) and a path,
writes one PNG and returns the path; figures use the Agg canvas of
:mod:`benchmarks.reports.plots`, so no pyplot state is created.
"""

import math

import numpy as np

from benchmarks.reports.plots import _figure, _save

__all__ = ["plot_counts", "plot_image_row", "plot_difference", "plot_eigen_images",
           "plot_histograms", "plot_contrast", "plot_examples", "plot_pairs",
           "plot_bars", "plot_cooccurrence", "plot_sizes"]

_DPI = 80


def plot_counts(counts, path, *, title="Images per class and split"):
    """Grouped bars: ``counts`` is ``{split: {class: n}}``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> plot_counts({"all": {"a": 3, "b": 5}}, pathlib.Path(tempfile.mkdtemp()) / "c.png").name
    'c.png'
    """
    splits = list(counts)
    classes = list(next(iter(counts.values()))) if counts else []
    figure = _figure(max(4.5, 1.2 + 0.5 * len(classes) * len(splits)), 3.2)
    ax = figure.add_subplot()
    width = 0.8 / max(len(splits), 1)
    x = np.arange(len(classes))
    for k, split in enumerate(splits):
        values = [counts[split].get(c, 0) for c in classes]
        bars = ax.bar(x + (k - (len(splits) - 1) / 2) * width, values, width, label=split)
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(x, classes, rotation=30 if len(classes) > 4 else 0, ha="right"
                  if len(classes) > 4 else "center")
    ax.set_ylabel("images")
    ax.set_title(title)
    if len(splits) > 1:
        ax.legend(fontsize=8)
    return _save(figure, path, _DPI)


def plot_bars(mapping, path, *, title, xlabel, ylabel):
    """One bar per key of ``mapping`` (e.g. patients per number of images)."""
    figure = _figure(5, 3)
    ax = figure.add_subplot()
    keys = list(mapping)
    ax.bar([str(k) for k in keys], [mapping[k] for k in keys], color="tab:gray")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return _save(figure, path, _DPI)


def plot_cooccurrence(matrix, names, path):
    """Label co-occurrence counts of multi-label data (diagonal: label counts)."""
    matrix = np.asarray(matrix)
    side = max(4, 0.45 * len(names) + 2)
    figure = _figure(side + 1, side)
    ax = figure.add_subplot()
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(int(value)), ha="center", va="center", fontsize=7,
                color="white" if np.log1p(value) > 0.6 * np.log1p(matrix.max()) else "black")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_title("Label co-occurrence (images with both labels)")
    figure.colorbar(shown, ax=ax, label="log(1 + images)")
    return _save(figure, path, _DPI)


def plot_sizes(widths, heights, labels, names, path):
    """Native width against height, one colour per class."""
    figure = _figure(4.8, 4)
    ax = figure.add_subplot()
    for k, name in enumerate(names):
        member = labels[:, k] if labels.ndim == 2 else labels == k
        ax.scatter(widths[member], heights[member], s=8, alpha=0.4, label=name)
    ax.set(xlabel="width (px)", ylabel="height (px)", title="Native image sizes")
    ax.legend(fontsize=8, markerscale=2)
    return _save(figure, path, _DPI)


def _image_axes(figure, rows, cols):
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    return axes


def plot_image_row(images, titles, path, *, title, vmax=255, cmap="gray"):
    """Images side by side on one gray scale (e.g. class means)."""
    figure = _figure(2.3 * len(images) + 0.8, 2.8)
    axes = _image_axes(figure, 1, len(images))
    for ax, image, name in zip(axes[0], images, titles):
        shown = ax.imshow(image, cmap=cmap, vmin=0, vmax=vmax)
        ax.set_title(name, fontsize=9)
    figure.colorbar(shown, ax=axes[0].tolist(), shrink=0.8, label="gray level")
    figure.suptitle(title)
    return _save(figure, path, _DPI)


def plot_difference(images, titles, path):
    """Mean-difference images on one symmetric diverging scale (gray levels)."""
    limit = max(float(np.max(np.abs(image))) for image in images) or 1.0
    figure = _figure(max(4.6, 2.6 * len(images) + 1), 3)
    axes = _image_axes(figure, 1, len(images))
    for ax, image, name in zip(axes[0], images, titles):
        shown = ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize=9)
    figure.colorbar(shown, ax=axes[0].tolist(), shrink=0.8,
                    label="difference of means (gray levels)")
    figure.suptitle("Mean difference (red: brighter in the first)")
    return _save(figure, path, _DPI)


def plot_eigen_images(rows, path):
    """``rows`` is ``[(class name, (k, H, W) components, ratios)]``."""
    cols = max(len(components) for _, components, _ in rows)
    figure = _figure(max(4.6, 1.9 * cols + 0.5), 2.0 * len(rows) + 0.4)
    axes = _image_axes(figure, len(rows), cols)
    for r, (name, components, ratios) in enumerate(rows):
        for c, (component, ratio) in enumerate(zip(components, ratios)):
            limit = float(np.max(np.abs(component))) or 1.0
            axes[r, c].imshow(component, cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[r, c].set_title(f"{name} PC{c + 1} ({ratio:.0%})", fontsize=8)
    figure.suptitle("Eigen-images (share of variance)")
    return _save(figure, path, _DPI)


def plot_histograms(histograms, names, path):
    """Mean intensity histogram per class (fraction of pixels per gray level)."""
    figure = _figure(6, 3.2)
    ax = figure.add_subplot()
    levels = np.arange(256)
    for histogram, name in zip(histograms, names):
        mean = float(histogram @ levels)
        ax.plot(levels, histogram, label=f"{name} (mean {mean:.1f})", lw=1.2)
    # Black borders or a burnt-in white label put most pixels at 0 or 255;
    # the axis is scaled to the levels between, and the ends are cut off.
    inner = max(float(np.max(h[2:254])) for h in histograms)
    ax.set(xlabel="gray level", ylabel="fraction of pixels", xlim=(0, 255),
           ylim=(0, 1.15 * inner if inner > 0 else None),
           title="Intensity histograms (mean over images)")
    ax.legend(fontsize=8)
    return _save(figure, path, _DPI)


def plot_contrast(rms, michelson, names, path):
    """Distributions of RMS and Michelson contrast per class."""
    figure = _figure(8, 3.2)
    axes = figure.subplots(1, 2)
    for ax, values, label in ((axes[0], rms, "RMS contrast (std on [0, 1])"),
                              (axes[1], michelson, "Michelson contrast (1st-99th pct.)")):
        finite = [v for v in values if len(v)]
        if not finite:
            continue
        edges = np.linspace(min(v.min() for v in finite), max(v.max() for v in finite) + 1e-9,
                            31)
        for value, name in zip(values, names):
            if len(value):
                ax.hist(value, bins=edges, histtype="step", lw=1.4, density=True,
                        label=f"{name} (median {np.median(value):.3f})")
        ax.set(xlabel=label, ylabel="density")
        ax.legend(fontsize=7)
    figure.suptitle("Contrast per image")
    return _save(figure, path, _DPI)


def plot_examples(examples, path, *, title, cols=8):
    """A grid of ``(id, image)`` examples, drawn as one montage (one axes is
    far quicker to lay out than one per image)."""
    from matplotlib.figure import Figure

    cols = min(cols, max(1, len(examples)))
    rows = max(1, math.ceil(len(examples) / cols))
    side = max(image.shape[0] for _, image in examples) if examples else 8
    gap = max(2, side // 16)
    step = side + gap
    montage = np.full((rows * step - gap, cols * step - gap), 255, dtype=np.uint8)
    figure = Figure(figsize=(1.45 * cols, 1.5 * rows + 0.35))
    ax = figure.add_axes((0, 0, 1, 1 - 0.35 / (1.5 * rows + 0.35)))
    for k, (identifier, image) in enumerate(examples):
        r, c = divmod(k, cols)
        montage[r * step:r * step + image.shape[0], c * step:c * step + image.shape[1]] = image
        ax.text(c * step + 1, r * step + 1, _short(identifier, 22), fontsize=5, va="top",
                color="yellow", backgroundcolor=(0, 0, 0, 0.5))
    ax.imshow(montage, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    figure.suptitle(title, y=0.995, va="top")
    return _save(figure, path, _DPI)


def plot_pairs(pairs, path, *, title):
    """Pairs ``(caption a, image a, caption b, image b)``, one pair per row."""
    figure = _figure(4.4, 2.1 * len(pairs) + 0.4)
    axes = _image_axes(figure, len(pairs), 2)
    for row, (caption_a, image_a, caption_b, image_b) in enumerate(pairs):
        for ax, caption, image in ((axes[row, 0], caption_a, image_a),
                                   (axes[row, 1], caption_b, image_b)):
            ax.imshow(image, cmap="gray", vmin=0, vmax=255)
            ax.set_title(caption, fontsize=6)
    figure.suptitle(title)
    return _save(figure, path, _DPI)


def _short(text, width=24):
    text = str(text)
    return text if len(text) <= width else "…" + text[-(width - 1):]
