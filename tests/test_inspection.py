"""Tests of ``xray-bench inspect``: known answers on tiny generated datasets."""

import contextlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from benchmarks.cli import main
from benchmarks.datasets import DatasetWarning
from benchmarks.inspection.accumulate import ClassAccumulator
from benchmarks.inspection.confounding import confounding_report
from benchmarks.inspection.hashing import duplicate_report
from xray_features.io import save_image
from xray_features.stream import map_images
from xray_features.synthetic import make_phantom_dataset

FAST = ["--image-size", "32", "--components", "2", "--examples", "4", "--quiet"]
DELTA = 20


def _inspect(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inspect", *[str(a) for a in argv]])
    return code, out.getvalue(), err.getvalue()


def _record(out):
    return json.loads((Path(out) / "inspect.json").read_text(encoding="utf-8"))


def _phantoms(n, size=48, seed=0):
    """Phantom films kept within 30..200, so that adding DELTA never clips."""
    images, _, _ = make_phantom_dataset("fracture", n_images=n, size=size, seed=seed)
    return [np.clip(image, 30, 200).astype(np.uint8) for image in images]


@pytest.fixture(scope="module")
def brighter(tmp_path_factory):
    """Two classes of the same phantoms, one DELTA gray levels brighter, inspected once."""
    root = tmp_path_factory.mktemp("brighter")
    data = root / "data"
    for k, image in enumerate(_phantoms(10)):
        (data / "dark").mkdir(parents=True, exist_ok=True)
        (data / "bright").mkdir(parents=True, exist_ok=True)
        save_image(data / "dark" / f"d{k}.png", image)
        save_image(data / "bright" / f"b{k}.png", image + DELTA)
    out = root / "out"
    code, stdout, stderr = _inspect(data, "--out", out, *FAST)
    assert code == 0, stderr
    return out


def test_difference_image_and_histograms_show_the_brighter_class(brighter):
    record = _record(brighter)
    assert record["class_names"] == ["bright", "dark"]
    (difference,) = record["differences"]
    assert difference["title"] == "dark − bright"
    # Area resizing is linear, so the difference is -DELTA up to rounding.
    assert difference["mean"] == pytest.approx(-DELTA, abs=0.5)
    assert -DELTA - 1 <= difference["min"] <= difference["max"] <= -DELTA + 1
    bright, dark = record["classes"]
    assert bright["mean_intensity"] - dark["mean_intensity"] == pytest.approx(DELTA, abs=1e-6)
    histogram_bright, histogram_dark = (np.array(c["histogram"]) for c in (bright, dark))
    np.testing.assert_allclose(histogram_bright[DELTA:], histogram_dark[:-DELTA], atol=1e-6)
    assert record["n_read"] == 20 and record["n_unreadable"] == 0
    for name in ("counts.png", "mean_images.png", "std_images.png", "difference.png",
                 "eigen_images.png", "histograms.png", "contrast.png"):
        assert f"figures/{name}" in record["figures"]
        assert (brighter / "figures" / name).read_bytes()[:4] == b"\x89PNG"


def test_html_is_self_contained(brighter):
    text = (brighter / "inspect.html").read_text(encoding="utf-8")
    sources = re.findall(r'\bsrc="([^"]*)"', text)
    assert len(sources) == len(_record(brighter)["figures"])
    assert all(source.startswith("data:image/png;base64,") for source in sources)
    assert not re.search(r"<(script|link|iframe)\b", text)
    assert "href=" not in text and "url(" not in text


def test_html_loads_in_a_browser(brighter, browser_page, tmp_path):
    errors = []
    browser_page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    browser_page.on("pageerror", lambda e: errors.append(str(e)))
    browser_page.goto((brighter / "inspect.html").resolve().as_uri())
    widths = browser_page.eval_on_selector_all(
        "img", "images => images.map(i => i.complete ? i.naturalWidth : 0)")
    assert widths and all(w > 0 for w in widths), widths
    assert errors == []
    browser_page.screenshot(path=str(tmp_path / "inspect.png"), full_page=True)
    assert (tmp_path / "inspect.png").stat().st_size > 10_000


def test_planted_duplicate_and_patient_across_splits(tmp_path):
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (32, 32), dtype=np.uint8) for _ in range(8)]
    rows = []
    for k, image in enumerate(images):
        split = "test" if k >= 6 else "train"
        save_image(tmp_path / f"img{k}.png", image)
        rows.append(f"img{k}.png,{'ab'[k % 2]},{split},p{k}")
    save_image(tmp_path / "copy.png", images[0])           # img0 (train) again, in test
    rows.append("copy.png,a,test,p-copy")
    shifted = np.clip(images[2].astype(int) + 3, 0, 255).astype(np.uint8)
    save_image(tmp_path / "near.jpg", shifted)             # img2 (train), brighter JPEG
    rows.append("near.jpg,a,test,p-near")
    rows.append("img5b.png,b,test,p5")                      # patient p5 also in train
    save_image(tmp_path / "img5b.png", rng.integers(0, 256, (32, 32), dtype=np.uint8))
    (tmp_path / "labels.csv").write_text("file,label,split,patient\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, stderr = _inspect("--data", tmp_path / "labels.csv", "--group-col", "patient",
                               "--out", out, *FAST)
    assert code == 0, stderr
    record = _record(out)
    exact = record["duplicates"]["exact"]
    assert exact["by_splits"] == {"train/test": 1}
    assert {exact["pairs"][0]["a"], exact["pairs"][0]["b"]} == {"img0.png", "copy.png"}
    near = record["duplicates"]["near"]
    assert [(p["a"], p["b"]) for p in near["pairs"]] == [("img2.png", "near.jpg")]
    assert near["by_splits"] == {"train/test": 1}
    assert record["patients"]["across_splits"] == {"train/test": {"n": 1, "first": ["p5"]}}
    assert record["patients"]["n_patients"] == 10
    assert record["patients"]["images_per_patient"] == {"1": 9, "2": 1}
    page = (out / "inspect.html").read_text(encoding="utf-8")
    assert "1 identical images lie across splits" in page
    assert "1 patient(s) have images in both train and test" in page


def _sized_folder(root, sizes_a, sizes_b, seed=0):
    rng = np.random.default_rng(seed)
    for name, sizes in (("a", sizes_a), ("b", sizes_b)):
        (root / name).mkdir(parents=True)
        for k, (h, w) in enumerate(sizes):
            save_image(root / name / f"{k}.png", rng.integers(0, 256, (h, w), dtype=np.uint8))
    return root


def test_a_class_of_one_image_size_is_flagged(tmp_path):
    data = _sized_folder(tmp_path / "data", [(40, 40)] * 6, [(48, 32), (32, 48), (40, 40)] * 2)
    code, stdout, stderr = _inspect(data, "--out", tmp_path / "out", *FAST[:-1])
    assert code == 0, stderr
    warnings = _record(tmp_path / "out")["confounding"]["warnings"]
    assert "size: 100% of 'a' images are 40x40, against 33% of the other images" in warnings
    assert any(w.startswith("size is associated with the label") for w in warnings)
    assert "warning: size: 100% of 'a'" in stdout


def test_properties_spread_alike_over_the_classes_raise_no_warning():
    sizes = ["40x40", "48x32", "32x48"] * 4
    report = confounding_report({"size": sizes}, np.array([0, 1] * 6), "binary", ["a", "b"])
    assert report["warnings"] == []
    assert report["properties"]["size"]["cramers_v"] == pytest.approx(0.0)


def test_unreadable_file_is_skipped_and_counted(tmp_path):
    data = _sized_folder(tmp_path / "data", [(32, 32)] * 3, [(32, 32)] * 3)
    (data / "b" / "broken.png").write_bytes(b"not a png at all")
    code, _, stderr = _inspect(data, "--out", tmp_path / "out", *FAST)
    assert code == 0, stderr
    record = _record(tmp_path / "out")
    assert (record["n_listed"], record["n_read"], record["n_unreadable"]) == (7, 6, 1)
    assert record["unreadable"][0]["id"] == "b/broken.png"
    assert "not a recognised image format" in record["unreadable"][0]["reason"]
    assert record["counts"]["all"] == {"a": 3, "b": 3}
    code, _, stderr = _inspect(data, "--out", tmp_path / "strict", "--strict", *FAST)
    assert code == 2 and "broken.png" in stderr


def test_one_class_folder_writes_what_it_can_and_says_why(tmp_path):
    data = tmp_path / "data"
    (data / "only").mkdir(parents=True)
    for k, image in enumerate(_phantoms(3, size=32)):
        save_image(data / "only" / f"{k}.png", image)
    code, _, stderr = _inspect(data, "--out", tmp_path / "out", *FAST)
    assert code == 0, stderr
    record = _record(tmp_path / "out")
    assert record["counts"]["all"] == {"only": 3} and record["differences"] == []
    assert any(n.startswith("no mean-difference image: images of 1 class") for n in record["notes"])
    assert any(n.startswith("no confounding check") for n in record["notes"])
    assert "figures/mean_images.png" in record["figures"]
    assert "no mean-difference image" in (tmp_path / "out" / "inspect.html").read_text()


def test_folder_without_images_still_writes_a_report(tmp_path):
    (tmp_path / "data" / "empty").mkdir(parents=True)
    with pytest.warns(DatasetWarning, match="empty classes: 1"):
        code, _, stderr = _inspect(tmp_path / "data", "--out", tmp_path / "out", *FAST)
    assert code == 0, stderr
    record = _record(tmp_path / "out")
    assert record["n_read"] == 0 and record["figures"] == []
    assert any(n.startswith("no image could be read") for n in record["notes"])
    assert (tmp_path / "out" / "inspect.html").exists()


def test_output_folder_of_someone_else_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "inspect.html").write_text("mine")
    code, _, stderr = _inspect("--data-option", "n_images=8", "--out", out, *FAST)
    assert code == 2 and "not written by xray-bench inspect" in stderr
    assert (out / "inspect.html").read_text() == "mine"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    code, _, stderr = _inspect("--data-option", "n_images=8", "--out", link, *FAST)
    assert code == 2 and "symbolic link" in stderr
    assert not (tmp_path / "elsewhere").exists()
    ours = tmp_path / "ours"
    assert _inspect("--data-option", "n_images=8", "--out", ours, *FAST)[0] == 0
    target = tmp_path / "target.png"
    target.write_bytes(b"keep")
    (ours / "figures" / "counts.png").unlink()
    (ours / "figures" / "counts.png").symlink_to(target)
    code, _, stderr = _inspect("--data-option", "n_images=8", "--out", ours, *FAST)
    assert code == 2 and "symbolic links ['counts.png']" in stderr
    assert target.read_bytes() == b"keep"


def test_class_accumulator_matches_numpy_over_chunks():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(2, 16 * 16))
    weights = rng.normal(size=(50, 2)) * [30, 10]
    images = np.clip(120 + weights @ basis, 0, 255).round().astype(np.uint8).reshape(50, 16, 16)
    accumulator = ClassAccumulator(16, n_components=2, n_examples=5, pca_batch=8, pca_size=16)
    for start in range(0, 50, 7):
        chunk = images[start:start + 7]
        accumulator.add(chunk, np.zeros((len(chunk), 256)), np.zeros(len(chunk)),
                        np.zeros(len(chunk)), [str(i) for i in range(start, start + 7)])
    summary = accumulator.finish()
    np.testing.assert_allclose(summary["mean"], images.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(summary["std"], images.std(axis=0), atol=1e-6)
    assert summary["n"] == 50 and len(summary["examples"]) == 5
    # Nearly rank-2 data: two eigen-images hold nearly all the variance.
    assert summary["components"].shape == (2, 16, 16)
    assert summary["explained_variance_ratio"].sum() > 0.95


def test_map_images_counts_unreadable_files_and_keeps_order(tmp_path):
    good = save_image(tmp_path / "good.png", np.full((4, 4), 7, np.uint8))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    from xray_features.io import load_image

    chunks = list(map_images(load_image, [good, bad, good], chunk_size=2, progress=False,
                             ids=["g1", "b", "g2"]))
    results = [r for _, rs, _ in chunks for r in rs]
    assert [None if r is None else int(r[0, 0]) for r in results] == [7, None, 7]
    assert [s for _, _, skipped in chunks for s in skipped] == [
        (1, "b", "file is empty (0 bytes)")]


def test_duplicate_report_without_split():
    report = duplicate_report(["a", "b"], [b"x", b"x"], np.zeros((2, 4), np.uint64), None,
                              ["0", "1"])
    assert report["exact"]["by_splits"] == {"all": 1}
    assert report["exact"]["n_labels_differ"] == 1 and report["near"]["n_pairs"] == 0


def _shared_data():
    roots = [os.environ.get("XRAY_BENCH_SHARED_DATA"),
             Path(__file__).resolve().parents[1].parent / "shared" / "data",
             Path("/work/shared/data")]
    for root in roots:
        if root and (Path(root) / "pneumonia224" / "labels.csv").is_file():
            return Path(root) / "pneumonia224"
    return None


def test_inspect_a_slice_of_pneumonia224(tmp_path):
    root = _shared_data()
    if root is None:
        pytest.skip("pneumonia224 not found (set XRAY_BENCH_SHARED_DATA)")
    lines = (root / "labels.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    picked = [r for r in rows if ",NORMAL," in r][:12] + [r for r in rows if ",PNEUMONIA," in r][:12]
    (tmp_path / "slice.csv").write_text("\n".join([header] + picked) + "\n")
    code, _, stderr = _inspect("--data", tmp_path / "slice.csv", "--images", root,
                               "--out", tmp_path / "out", *FAST)
    assert code == 0, stderr
    record = _record(tmp_path / "out")
    assert record["n_read"] == 24 and record["counts"]["all"] == {"NORMAL": 12, "PNEUMONIA": 12}
    assert record["properties"]["size"] == {"224x224": 24}
    assert record["confounding"]["warnings"] == []
    shutil.rmtree(tmp_path / "out")


def test_dicom_tags_give_the_view_and_a_one_view_class_is_flagged(tmp_path):
    from test_io import _write_dicom

    rng = np.random.default_rng(2)
    rows = []
    views = {"effusion": ["AP"] * 6, "normal": ["PA", "PA", "AP"] * 2}
    data = tmp_path / "films"  # --out beside the data folder, not inside it
    data.mkdir()
    for label, label_views in views.items():
        for k, view in enumerate(label_views):
            name = f"{label}{k}.dcm"
            _write_dicom(data / name, rng.integers(0, 4096, (24, 24)), ViewPosition=view)
            rows.append(f"{name},{label}")
    (data / "labels.csv").write_text("file,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, stderr = _inspect(data, "--labels", "labels.csv", "--out", out, *FAST)
    assert code == 0, stderr
    record = _record(out)
    properties = record["properties"]
    assert properties["format"] == {"dcm": 12} and properties["modality"] == {"DX": 12}
    assert properties["bit depth"] == {"12": 12}
    assert properties["photometric"] == {"MONOCHROME2": 12}
    assert properties["view"] == {"AP": 8, "PA": 4}
    assert ("view: 100% of 'effusion' images are AP, against 33% of the other images"
            in record["confounding"]["warnings"])
    assert not any(w.startswith("size") for w in record["confounding"]["warnings"])


def test_multilabel_cooccurrence_and_a_csv_view_column(tmp_path):
    rng = np.random.default_rng(4)
    table = [("a|b", "AP"), ("a", "PA"), ("b", "AP"), ("a|b|c", "PA"), ("c", "PA"),
             ("a|c", "AP")]
    rows = []
    for k, (labels, view) in enumerate(table):
        save_image(tmp_path / f"{k}.png", rng.integers(0, 256, (16, 16), dtype=np.uint8))
        rows.append(f"{k}.png,{labels},{view}")
    (tmp_path / "labels.csv").write_text("file,label,View Position\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    code, _, stderr = _inspect("--data", tmp_path / "labels.csv", "--multilabel", "--out", out,
                               *FAST)
    assert code == 0, stderr
    record = _record(out)
    assert record["task"] == "multilabel" and record["class_names"] == ["a", "b", "c"]
    assert record["cooccurrence"] == [[4, 2, 2], [2, 3, 1], [2, 1, 3]]
    assert record["properties"]["view"] == {"PA": 3, "AP": 3}
    assert "figures/cooccurrence.png" in record["figures"]
    assert [d["title"] for d in record["differences"]] == ["a − rest", "b − rest", "c − rest"]


def test_popcount_without_numpy_bitwise_count(monkeypatch):
    from benchmarks.inspection.hashing import popcount

    words = np.random.default_rng(5).integers(0, 2**63, (7, 4)).astype(np.uint64)
    expected = [[bin(int(w)).count("1") for w in row] for row in words]
    assert popcount(words).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert popcount(words).tolist() == expected
