"""Tests of ``xray-bench serve``: the JSON API in-process and the page in a real browser."""

import json
import shutil
import threading
import time

import cv2
import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from benchmarks.app import UploadLimits, create_app  # noqa: E402
from benchmarks.bench.ood_sets import photo_like  # noqa: E402
from classifiers import FeatureXGBClassifier, ModelLoadError  # noqa: E402
from xray_features.synthetic import make_phantom_dataset  # noqa: E402

LIMITS = UploadLimits(max_bytes=300_000, max_pixels=600 * 600, max_files=3)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    images, labels, names = make_phantom_dataset("fracture", n_images=100, size=64, seed=0,
                                                 difficulty="easy")
    model = FeatureXGBClassifier("edge", image_size=64, n_estimators=30)
    model.fit(images[:70], labels[:70], validation_data=(images[70:], labels[70:]))
    directory = model.save(tmp_path_factory.mktemp("models") / "edge-xgb")
    (directory / "input.json").write_text(json.dumps(
        {"class_names": list(names), "task": "binary", "load_size": None}))
    return directory


@pytest.fixture(scope="module")
def client(model_dir):
    return TestClient(create_app(model_dir, limits=LIMITS))


def png(image):
    return cv2.imencode(".png", image)[1].tobytes()


@pytest.fixture(scope="module")
def film():
    images, labels, _ = make_phantom_dataset("fracture", n_images=4, size=64, seed=9,
                                             difficulty="easy")
    return images[int(np.argmax(labels))]          # a fractured phantom


def photo_jpeg(size=96):
    rgb = photo_like(np.random.default_rng(4), size)
    return cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def post(client, *files, **params):
    return client.post("/predict", params=params,
                       files=[("files", (name, data, "application/octet-stream"))
                              for name, data in files])


def test_good_upload_gives_label_probabilities_heatmap_and_verdict(client, film):
    response = post(client, ("film.png", png(film)))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert result["label"] == "fracture" and not result["refused"]
    assert set(result["probabilities"]) == {"intact", "fracture"}
    assert abs(sum(result["probabilities"].values()) - 1) < 1e-6
    assert result["ood"]["flagged"] is False and result["ood"]["score"] < 1
    assert result["overlay"].startswith("data:image/png;base64,")
    assert result["sha256"] and (result["width"], result["height"]) == (64, 64)


def test_photograph_is_refused_with_a_reason(client, film):
    response = post(client, ("film.png", png(film)), ("holiday.jpg", photo_jpeg()))
    results = response.json()["results"]
    assert [r["refused"] for r in results] == [False, True]
    assert "colour image" in results[1]["ood"]["reason"]
    assert results[1]["label"] is None and results[1]["probabilities"] == {}


def test_files_are_identified_by_content_not_name(client, film):
    # A PNG named .dcm, and the same bytes under two names, are one film.
    response = post(client, ("scan.dcm", png(film)), ("other.txt", png(film)))
    first, second = response.json()["results"]
    assert first["sha256"] == second["sha256"] and first["label"] == second["label"]


@pytest.mark.parametrize("name, data, status, message", [
    ("notes.txt", b"just some words, not a film", 415, "not a recognised image format"),
    ("report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", 415, "not a recognised image"),
    ("empty.png", b"", 422, "empty"),
])
def test_bad_uploads_get_4xx_with_a_message(client, name, data, status, message):
    response = post(client, (name, data))
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_corrupt_and_truncated_images(client, film):
    data = png(film)
    truncated = post(client, ("cut.png", data[:len(data) // 2]))
    assert truncated.status_code == 422 and "truncated" in truncated.json()["detail"]
    corrupt = bytearray(data)
    corrupt[60:200] = b"\0" * 140
    response = post(client, ("broken.png", bytes(corrupt)))
    assert response.status_code == 422 and response.json()["detail"]


def test_oversized_file_too_many_files_and_decompression_bomb(client, film):
    big = post(client, ("big.png", b"\x89PNG" + b"0" * 400_000))
    assert big.status_code == 413 and "limit" in big.json()["detail"]
    many = post(client, *[(f"f{i}.png", png(film)) for i in range(4)])
    assert many.status_code == 400 and "too many files" in many.json()["detail"]
    # A 4000 x 4000 black PNG is a few kB but 16 megapixels once decoded.
    bomb = png(np.zeros((4000, 4000), np.uint8))
    assert len(bomb) < 300_000
    response = post(client, ("bomb.png", bomb))
    assert response.status_code == 413 and "decompression bomb" in response.json()["detail"]


def test_mixed_batch_reports_bad_files_and_answers_good_ones(client, film):
    response = post(client, ("film.png", png(film)), ("junk.bin", b"\x00\x01garbage"))
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 1 and body["errors"][0]["name"] == "junk.bin"
    assert body["errors"][0]["status"] == 415


def test_server_keeps_serving_after_bad_requests(client, film):
    assert client.post("/predict", content=b"not multipart").status_code == 415
    assert client.post("/predict", files=[("other", ("x", b"1"))]).status_code == 400
    assert post(client, ("film.png", png(film))).status_code == 200
    assert client.get("/api/info").json()["ood_guard"] is True


def test_csv_and_page(client, film):
    response = post(client, ("film.png", png(film)), format="csv")
    lines = response.text.strip().splitlines()
    assert lines[0].startswith("file,sha256,label,probability,proba_intact,proba_fracture")
    assert lines[1].split(",")[2] == "fracture"
    page = client.get("/")
    assert page.status_code == 200 and 'id="files"' in page.text


def test_model_directory_problems_fail_at_start(model_dir, tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        create_app(tmp_path / "missing", warm_up=False)
    changed = shutil.copytree(model_dir, tmp_path / "changed")
    (changed / "model.ubj").write_bytes((changed / "model.ubj").read_bytes()[:-3])
    with pytest.raises(ModelLoadError, match="checksum"):
        create_app(changed, warm_up=False)
    newer = shutil.copytree(model_dir, tmp_path / "newer")
    sidecar = json.loads((newer / "model.json").read_text())
    sidecar["format_version"] = 99
    (newer / "model.json").write_text(json.dumps(sidecar))
    with pytest.raises(ModelLoadError, match="newer than this installation"):
        create_app(newer, warm_up=False)


def test_model_saved_before_guards_is_served_without_a_guard(model_dir, tmp_path, film):
    old = shutil.copytree(model_dir, tmp_path / "old")
    sidecar = json.loads((old / "model.json").read_text())
    del sidecar["ood_guard"]
    (old / "model.json").write_text(json.dumps(sidecar))
    client = TestClient(create_app(old, warm_up=False))
    result = post(client, ("film.png", png(film))).json()["results"][0]
    assert result["label"] == "fracture" and result["ood"]["score"] is None
    assert "earlier version" in result["ood"]["reason"]


# ----------------------------------------------------------------- real browser
@pytest.fixture
def live_server(model_dir):
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_app(model_dir, limits=LIMITS),
                                           host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_page_in_a_real_browser(browser_page, live_server, film, tmp_path):
    page = browser_page
    film_path = tmp_path / "film.png"
    film_path.write_bytes(png(film))
    photo_path = tmp_path / "holiday.jpg"
    photo_path.write_bytes(photo_jpeg())
    page.set_viewport_size({"width": 1000, "height": 900})
    page.goto(live_server)
    page.wait_for_function("document.getElementById('model').textContent.includes('Model:')")
    page.set_input_files("#files", [str(film_path), str(photo_path)])
    page.click("#predict")
    page.wait_for_selector("tr.result >> nth=1")
    rows = page.locator("tr.result")
    assert rows.nth(0).locator(".label").inner_text().startswith("fracture")
    assert "in distribution" in rows.nth(0).locator(".ood").inner_text()
    refused = rows.nth(1).locator(".ood").inner_text()
    assert "Refused" in refused and "colour image" in refused
    heatmap = rows.nth(0).locator("img.film")
    overlay_src = heatmap.get_attribute("src")
    assert overlay_src.startswith("data:image/png;base64,")
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 0",
                         heatmap.element_handle())
    page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
    page.uncheck("#show-heatmap")                        # toggle the overlay off
    assert heatmap.get_attribute("src") != overlay_src
    assert not page.locator("#download-csv").is_hidden()
    # A bad upload: a clear message on the page, and the page still works after.
    junk = tmp_path / "notes.png"
    junk.write_bytes(b"this is not an image")
    page.set_input_files("#files", str(junk))
    page.click("#predict")
    page.wait_for_function("document.getElementById('errors').textContent.length > 0")
    assert "not a recognised image format" in page.inner_text("#errors")
    page.screenshot(path=str(tmp_path / "bad-upload.png"))
    page.set_input_files("#files", str(film_path))
    page.click("#predict")
    page.wait_for_selector("tr.result")
    assert page.inner_text("#errors") == ""


def test_dicom_and_tiff_uploads_give_the_png_answer(client, film, tmp_path):
    from test_io import _write_dicom  # tests/ is on sys.path under pytest

    dicom = _write_dicom(tmp_path / "film", film.astype(np.uint16), bits=8).read_bytes()
    tiff = cv2.imencode(".tiff", film)[1].tobytes()
    response = post(client, ("film.png", png(film)), ("film-dicom", dicom),
                    ("film.tif", tiff))
    results = response.json()["results"]
    assert response.status_code == 200 and len(results) == 3
    assert len({r["label"] for r in results}) == 1
    probabilities = [r["probabilities"]["fracture"] for r in results]
    assert np.allclose(probabilities, probabilities[0])


# --- the command line's checks before serving ------------------------------------------
def _serve_main(argv):
    import contextlib
    import io

    from benchmarks.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in argv])
    return code, err.getvalue()


def test_serve_without_the_app_extra_names_the_pip_command(model_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)   # as if not installed
    code, stderr = _serve_main(["serve", model_dir])
    assert code == 2 and "Traceback" not in stderr
    assert 'pip install "xray-bench[app]"' in stderr and "uvicorn" in stderr


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_serve_refuses_a_port_out_of_range(model_dir, port):
    code, stderr = _serve_main(["serve", model_dir, "--port", port])
    assert code == 2 and f"--port must be from 1 to 65535; got {port}" in stderr


# --- spreadsheet formulas -----------------------------------------------------------
@pytest.mark.parametrize("name", ["=1+1.png", "=HYPERLINK(1).png", "@SUM(A1).png",
                                  "+1.png", "-1.png"])
def test_csv_answers_do_not_carry_formulas(client, film, name):
    import csv
    import io

    for response, table in [(post(client, (name, png(film)), format="csv"), None),
                            (post(client, (name, png(film))), "csv")]:
        assert response.status_code == 200
        text = response.text if table is None else response.json()[table]
        (row,) = list(csv.DictReader(io.StringIO(text)))
        assert row["file"] == "'" + name and row["label"] == "fracture"


# --- memory: decoded at the working size, a pixel budget per request ---------------------
def test_large_films_are_decoded_small_and_the_request_pixel_budget_holds(model_dir):
    import base64

    limits = UploadLimits(max_bytes=300_000, max_pixels=2000 * 2000, max_files=3,
                          max_request_pixels=3_000_000, max_decodes=1)
    client = TestClient(create_app(model_dir, limits=limits, warm_up=False))
    rgb = np.zeros((1500, 1200, 3), np.uint8)
    rgb[..., 2] = 200                                 # red in OpenCV's BGR
    big = png(rgb)
    response = post(client, ("first.png", big), ("second.png", big))
    assert response.status_code == 200
    (result,) = response.json()["results"]
    assert (result["width"], result["height"]) == (1200, 1500)
    assert result["refused"] and "colour image" in result["ood"]["reason"]
    preview = base64.b64decode(result["preview"].split(",", 1)[1])
    assert max(cv2.imdecode(np.frombuffer(preview, np.uint8), 0).shape) <= 384
    (error,) = response.json()["errors"]
    assert error["name"] == "second.png" and error["status"] == 413
    assert "pixel budget" in error["error"] and "--max-request-pixels" in error["error"]
    with pytest.raises(ValueError, match="max_decodes must be a positive integer"):
        UploadLimits(max_decodes=0)
